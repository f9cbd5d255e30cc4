"""Space groups as data: Wyckoff assignments of a crystal's orbits and the symmetry check (the per-step projection
that uses them is a sampling hook, ``backend.sampling.hooks.symmetry``)."""
