"""Process-wide settings that must happen before numpy or torch load.

Default BLAS/OpenMP threading oversubscribes small machines: a CHGNet relaxation ran 80x slower with it
than with one thread on the 2-core CI machine. Entry points (CLI, app, training) call
:func:`configure_threads` first; users override with ``OMP_NUM_THREADS``.
"""

import os
import threading

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def configure_threads(default: int = 1) -> int:
    """Pin BLAS/OpenMP (and torch, once imported) to ``OMP_NUM_THREADS`` or ``default`` threads."""
    threads = int(os.environ.get("OMP_NUM_THREADS", default))
    for var in THREAD_VARS:
        os.environ.setdefault(var, str(threads))
    import torch

    torch.set_num_threads(threads)
    return threads


def quiet_library_warnings() -> None:
    """Keep third-party warnings (pymatgen's CIF notes, SMACT's missing electronegativities, torch
    deprecations) out of the CLI and the app; they say nothing the user can act on."""
    import warnings

    for category in (UserWarning, FutureWarning, DeprecationWarning, RuntimeWarning):
        warnings.filterwarnings("ignore", category=category)


def steady_import_path(*directories: str) -> None:
    """Keep ``directories`` on ``sys.path`` for good, so that Streamlit stops editing it on every rerun.

    Each script run inserts the script's folder at ``sys.path[0]`` and removes it afterwards. A job
    thread importing a module at that moment walks a list that shifts under it, can skip site-packages
    and fails with ``No module named 'chgnet'`` (seen in CI). Streamlit leaves the path alone when the
    folder is already on it; appended at the end, the folders shadow nothing.
    """
    import sys

    for directory in directories:
        if directory not in sys.path:
            sys.path.append(directory)


TORCH_RNG = threading.RLock()
"""Held by everything that draws from torch's process-wide random generator.

A seeded sampler draws from it at every step; building a network (random initial weights, before the
checkpoint overwrites them) draws from it too. CHGNet loading in the screening relax thread while a
batch sampled in the main thread made that batch differ from the same batch sampled alone. Samplers
hold this for their whole run and model construction takes it, so the streams never interleave.
"""
