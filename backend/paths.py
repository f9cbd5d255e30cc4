"""Where the project's shipped files live (assets/ beside backend/), and how a file that a page may be reading
while a worker writes it is written."""

import os
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
DEFAULT_MODEL_DIR = ASSETS / "models" / "default"


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader sees the old file or the new one, never a half-written one.

    ``Path.write_text`` truncates first: a Screening page listing screens every second read an empty
    ``screen.json`` the moment a worker created it and showed a JSON decoding error. The text goes to a temporary
    file in the same folder, which then replaces ``path`` in one step (``os.replace``).
    """
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
