"""How long a screen will take on this machine, before it starts and while it runs.

The rates are measured, never assumed: seconds per atom per denoising step, the share of candidates the filter
passes, and seconds per relaxed atom at a step cap, read from the newest finished screen in the data folder (its
``timings.json``) or, before any, from a small calibration screen timed once and kept in ``screen_rates.json``.
Generation and relaxation overlap in a local screen (relaxation starts with the first batch), so the estimate is the
longer stage plus what the other leaves after it: the shorter stage's last batch.
"""

from __future__ import annotations

import json
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from backend.paths import write_whole
from backend.screening.config import ScreenConfig
from backend.screening.stages import StageLog

if TYPE_CHECKING:
    from backend.screening.screen import Screen

RATES_FILE = "screen_rates.json"
WARN_MINUTES = 30
DEFAULT_ATOMS = 8  # the proposer's cells without a fixed count: MP-20's median cell size (8 atoms)


@dataclass(frozen=True)
class MachineRates:
    """Measured throughput of this machine's generation and relaxation, as a screen uses them."""

    generate_s_per_atom_step: float
    relax_s_per_atom: float  # per relaxed atom, at ``relax_steps`` steps at most
    relax_steps: int
    pass_share: float  # generated candidates that reach relaxation
    source: str  # where the numbers come from, for the page

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> MachineRates:
        return cls(**json.loads(text))


@dataclass(frozen=True)
class ScreenEstimate:
    generate_s: float
    relax_s: float
    total_s: float
    rates: MachineRates

    @property
    def too_long(self) -> bool:
        return self.total_s > WARN_MINUTES * 60

    def text(self) -> str:
        warning = f" -- more than {WARN_MINUTES} min: fewer candidates or steps finish sooner" if self.too_long else ""
        return (
            f"about {minutes(self.total_s)} on this machine (generation {minutes(self.generate_s)}, "
            f"relaxation {minutes(self.relax_s)}; {self.rates.source}){warning}"
        )


def minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def cell_atoms(config: ScreenConfig) -> float:
    """Mean atoms per candidate: the fixed count, the compositions' mean, or the proposer's typical cell."""
    if config.compositions:
        from pymatgen.core import Composition

        return sum(Composition(c).num_atoms for c in config.compositions) / len(config.compositions)
    return float(config.atoms or DEFAULT_ATOMS)


def estimate(config: ScreenConfig, rates: MachineRates, done: tuple[int, int] = (0, 0)) -> ScreenEstimate:
    """Seconds for the work ``config`` still has; ``done`` = (candidates generated, candidates relaxed) so far."""
    generated, relaxed = done
    atoms = cell_atoms(config)
    to_generate = max(config.n - generated, 0)
    to_relax = max(config.n * rates.pass_share - relaxed, 0.0)
    generate_s = to_generate * atoms * config.steps * rates.generate_s_per_atom_step
    relax_s = to_relax * atoms * rates.relax_s_per_atom * config.relax_steps / rates.relax_steps
    batch = min(config.batch_size, config.n) / max(config.n, 1)
    if generate_s >= relax_s:  # relaxation keeps up: the last batch's relaxations remain after the last batch
        total = generate_s + relax_s * batch
    else:  # relaxation is the bottleneck: it waits for the first batch only
        total = relax_s + generate_s * batch
    return ScreenEstimate(generate_s, relax_s, total, rates)


def rates_of(folder: Path) -> MachineRates | None:
    """The rates a finished local screen measured (None when it holds no relaxation or ran on Ray)."""
    timings_path = folder / "timings.json"
    if not timings_path.is_file() or not (folder / "funnel.csv").is_file():
        return None
    timings = json.loads(timings_path.read_text())
    config = ScreenConfig.read(folder)
    log = StageLog(folder)
    generated = log.rows("generate")
    relaxed = log.rows("relax")
    if not len(generated) or not len(relaxed) or timings.get("generate", 0) <= 0 or timings.get("relax", 0) <= 0:
        return None
    atoms = cell_atoms(config)
    return MachineRates(
        generate_s_per_atom_step=timings["generate"] / (len(generated) * atoms * config.steps),
        relax_s_per_atom=timings["relax"] / (len(relaxed) * atoms),
        relax_steps=config.relax_steps,
        pass_share=len(relaxed) / len(generated),
        source=f"rates measured by screen '{folder.name}'",
    )


def machine_rates(data: Path) -> MachineRates | None:
    """The newest measured rates: a finished screen under ``data/screens`` or the calibration; None before both."""
    screens = sorted(
        (p.parent for p in (data / "screens").glob("*/timings.json")), key=lambda p: p.stat().st_mtime, reverse=True
    )
    for folder in screens:
        rates = rates_of(folder)
        if rates is not None:
            return rates
    path = data / RATES_FILE
    return MachineRates.from_json(path.read_text()) if path.is_file() else None


def calibrate(data: Path, model: str = "default", device: str | None = None) -> MachineRates:
    """Time a small real screen (8 candidates of 8 atoms in Li-Fe-O, 100 steps, the default relaxation) and keep
    its rates in ``data/screen_rates.json``: about a minute on a 2-core laptop CPU, once per machine."""
    from backend.screening.screen import Screen

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "calibration"
        config = ScreenConfig(
            out=folder, model=model, n=8, atoms=8, chemsys="Li-Fe-O", steps=100, batch_size=8, device=device
        )
        started = time.perf_counter()
        Screen(config).run()
        rates = rates_of(folder)
        seconds = time.perf_counter() - started
    if rates is None:
        raise RuntimeError("the calibration screen relaxed nothing: no rates to measure")
    rates = replace(rates, source=f"rates from an 8-candidate calibration screen timed here ({seconds:.0f} s)")
    data.mkdir(parents=True, exist_ok=True)
    write_whole(data / RATES_FILE, rates.to_json())
    return rates


@dataclass(frozen=True)
class ScreenProgress:
    """Where a running screen stands, from its stage files, with the time its remaining work should take."""

    n: int
    generated: int
    passed: int
    relaxed: int
    remaining: ScreenEstimate | None  # None until a rate is known (no screen timed here, no batch finished yet)
    whole: ScreenEstimate | None  # the whole screen at the same rates

    @property
    def fraction(self) -> float:
        """Share of the expected work done: generation and relaxation weighted by their estimated seconds."""
        if self.remaining is None or self.whole is None:
            return 0.5 * self.generated / max(self.n, 1)
        whole = self.whole.generate_s + self.whole.relax_s
        left = self.remaining.generate_s + self.remaining.relax_s
        return min(max(1 - left / whole, 0.0), 1.0) if whole else 0.0

    def message(self) -> str:
        generate_eta = relax_eta = ""
        if self.remaining is not None:
            generate_eta = f", ETA {minutes(self.remaining.generate_s)}" if self.generated < self.n else ""
            relax_eta = f", ETA {minutes(self.remaining.total_s)}"
        return (
            f"generated {self.generated}/{self.n}{generate_eta}; "
            f"relaxed {self.relaxed}/{self.passed} that passed the filter{relax_eta}"
        )


def progress_of(screen: Screen, before: tuple[int, int], fallback: MachineRates | None) -> ScreenProgress:
    """Progress of ``screen`` while it runs; rates from this run's own timings once each stage has some, else
    ``fallback``. ``before`` = (generated, relaxed) when this run started (a resumed screen had some already)."""
    config = screen.config
    generated = len(screen.log.rows("generate"))
    filtered = screen.log.rows("filter")
    passed = int((filtered.passed.astype(str) == "True").sum())
    relaxed = len(screen.log.rows("relax"))
    atoms = cell_atoms(config)
    new_generated, new_relaxed = generated - before[0], relaxed - before[1]
    rates = fallback
    if new_generated and screen.timings["generate"] > 0:
        rates = MachineRates(
            generate_s_per_atom_step=screen.timings["generate"] / (new_generated * atoms * config.steps),
            relax_s_per_atom=(
                screen.timings["relax"] / (new_relaxed * atoms)
                if new_relaxed and screen.timings["relax"] > 0
                else fallback.relax_s_per_atom * config.relax_steps / fallback.relax_steps
                if fallback
                else 0.0
            ),
            relax_steps=config.relax_steps,
            pass_share=passed / generated if generated else 1.0,
            source="rates of this run",
        )
    if rates is None:
        return ScreenProgress(config.n, generated, passed, relaxed, None, None)
    return ScreenProgress(
        config.n, generated, passed, relaxed, estimate(config, rates, (generated, relaxed)), estimate(config, rates)
    )
