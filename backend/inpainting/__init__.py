"""Inpainting guests into a host framework (the CHGGen method) on the engine's per-step hook.

The host's kept atoms are pinned at every step to their own positions forward-noised to the noise level
the loop is about to denoise from, with their types fixed; the lattice is the host's. Guest atoms start
uniform in the cell (ordering a disordered host: at its partial sites, part-way down the chain) and follow
the model. RePaint resampling (Lugmayr et al. 2022; CHGGen used jump j=10, r=3) walks the schedule back
j steps r-1 times per block, re-noising the whole state, so guests harmonise with the host. The sampler
loop is the engine's, the pin is :mod:`backend.sampling.hooks.host_pin`; everything here is planning around it.
"""
