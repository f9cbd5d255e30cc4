"""Uploaded structure files through the same gate as the CLI's files, in a private temporary folder, and the bundled
host structures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from pymatgen.core import Structure

from backend.structures import (
    read_checked,
    read_for_viewing,
    read_structure,
    safe_name,
)

T = TypeVar("T")


def _uploaded(name: str, data: bytes, reader: Callable[[Path], T]) -> T:
    """Run ``reader`` on an uploaded file kept in a private temp folder (never executed or unpickled)."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / safe_name(Path(name).name)
        path.write_bytes(data)
        return reader(path)


def read_upload(name: str, data: bytes, disorder_allowed: bool = False) -> Structure:
    """An upload through :func:`read_checked`, the gate before any job (a disordered host, when allowed)."""
    return _uploaded(name, data, lambda path: read_checked(path, disorder_allowed=disorder_allowed))


def read_upload_for_viewing(name: str, data: bytes) -> tuple[Structure, str | None]:
    """An upload through the viewer's side of the same gate: (structure, why no job would take it, or None)."""
    return _uploaded(name, data, read_for_viewing)


def bundled_hosts() -> dict[str, Structure]:
    """The Materials Project host structures shipped in assets/data/hosts, by file stem."""
    from backend.paths import ASSETS

    return {p.stem: read_structure(p) for p in sorted((ASSETS / "data" / "hosts").glob("*.cif"))}
