"""Where the project's shipped files live (assets/ beside backend/)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
DEFAULT_MODEL_DIR = ASSETS / "models" / "default"
