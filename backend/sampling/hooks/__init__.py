"""Hooks on the engine's one per-step callback, each a :data:`~backend.sampling.hooks.protocol.StepCallback` that
reads a step's state and may replace part of it: ``protocol`` (the state, the control, ``chain``), ``trajectory``
(recorders for the live view and files), ``composition`` (exact cell contents), ``symmetry`` (space group and Wyckoff
orbits), ``cell_volume`` (the composition's volume), ``host_pin`` (inpainting's host)."""
