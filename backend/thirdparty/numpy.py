"""``numpy.math`` for GemNet: NumPy 2 removed the alias, and mattergen 1.0.3's basis functions call
``np.math.factorial``. The alias is the standard-library module it always was."""

from __future__ import annotations

import math

import numpy as np

WRITTEN_FOR = "2."  # any NumPy 2


def install() -> bool:
    """Restore ``numpy.math`` where it is missing; say whether it had to."""
    if hasattr(np, "math"):
        return False
    np.math = math  # type: ignore[attr-defined]
    return True
