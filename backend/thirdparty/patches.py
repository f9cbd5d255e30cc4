"""The one entry point for third-party patches: apply them all, check versions, log what is active.

Each module in this package names the library version its patch was written for (``WRITTEN_FOR``).
A different installed version is not refused -- the patches check the structure they change -- but it
is said in the log line, so a behaviour change after an upgrade has an obvious first suspect.
"""

from __future__ import annotations

import logging
import threading
from importlib.metadata import PackageNotFoundError, version

log = logging.getLogger("backend.thirdparty")
_LOCK = threading.Lock()
_ACTIVE: list[str] = []


def installed_version(distribution: str) -> str | None:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


def _checked(distribution: str, written_for: str, what: list[str]) -> list[str]:
    found = installed_version(distribution)
    if found is None or found.startswith(written_for):
        return [f"{distribution} {found}: {item}" for item in what]
    return [f"{distribution} {found} (patch written for {written_for}): {item}" for item in what]


def log_patch(distribution: str, written_for: str, what: str) -> None:
    """Log a patch applied outside :func:`install` (the server's own, before its first session)."""
    log.info("third-party patch: %s", _checked(distribution, written_for, [what])[0])


def install() -> list[str]:
    """Apply every patch once per process; return (and log once) one description per active patch.

    Call it before the first ``import mattergen`` (model loading, request validation and training do):
    the torch_scatter/torch_sparse stand-ins must be in ``sys.modules`` when mattergen imports them. The
    ASE and CHGNet patches take effect where those libraries are used
    (:func:`backend.thirdparty.ase.cell_filter`, :func:`backend.thirdparty.chgnet.inference_chgnet_class`),
    which check the structure they change; here only their versions are checked, so that a process that
    only samples does not import them.
    """
    with _LOCK:
        if _ACTIVE:
            return list(_ACTIVE)
        from backend.thirdparty import ase, chgnet, mattergen, numpy, torch_extensions

        active = [f"{name}: pure-torch stand-in" for name in torch_extensions.install()]
        if numpy.install():
            active += _checked("numpy", numpy.WRITTEN_FOR, ["numpy.math restored"])
        active += _checked("mattergen", mattergen.WRITTEN_FOR, mattergen.install())
        active += _checked("ase", ase.WRITTEN_FOR, ["fast logm in FrechetCellFilter"])
        active += _checked("chgnet", chgnet.WRITTEN_FOR, ["first-order forces and stresses"])
        _ACTIVE.extend(active)
        log.info("third-party patches: %s", "; ".join(active))
        return list(_ACTIVE)
