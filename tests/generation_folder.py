"""A generation job's folder as the sampler writes it, from real structure files, plus one crystal that failed."""

import shutil
from pathlib import Path

import pandas as pd

DATA = Path(__file__).parent / "data"
FAILURE = "lattice diverged at step 45"


def write_generation_folder(folder: Path, files: list[Path]) -> None:
    """One CIF per file (``0000_NaCl.cif`` ...) and summary.csv with a last, failed crystal (no file)."""
    rows = []
    for index, path in enumerate(files):
        name = f"{index:04d}_{path.stem.split('_')[0]}.cif"
        shutil.copy(path, folder / name)
        rows.append({"index": index, "status": "ok", "error": "", "file": name})
    rows.append({"index": len(files), "status": "failed", "error": FAILURE, "file": ""})
    pd.DataFrame(rows).to_csv(folder / "summary.csv", index=False)
