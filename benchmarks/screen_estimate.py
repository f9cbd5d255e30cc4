"""The Screening page's time estimate against the measured time of the default screen, on this machine.

A fresh data folder: the calibration screen times the machine once, the page's default screen is estimated from
those rates and then run (local threads, as the server's worker runs it), and the estimate from the finished
screen's own rates is shown too (what the next user is told). Prints a Markdown table for benchmarks/README.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from backend.runtime import configure_threads

configure_threads()

from backend.screening.config import small_screen  # noqa: E402
from backend.screening.estimate import calibrate, estimate, machine_rates, minutes  # noqa: E402
from backend.screening.screen import Screen  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=None, help="data folder (default: a fresh temporary one)")
    args = parser.parse_args()
    data = args.data or Path(tempfile.mkdtemp())
    started = time.perf_counter()
    rates = calibrate(data)
    calibration_s = time.perf_counter() - started
    config = small_screen(data / "screens" / "default")
    before = estimate(config, rates)
    print(f"calibration {calibration_s:.0f} s; estimate {before.total_s:.0f} s", flush=True)
    started = time.perf_counter()
    funnel = Screen(config).run()
    measured = time.perf_counter() - started
    after = estimate(config, machine_rates(data))
    print(funnel.to_string(index=False))
    print("| estimate from | generation (s) | relaxation (s) | estimate (s) | measured (s) | measured / estimate |")
    print("|---|---|---|---|---|---|")
    for label, value in (
        (f"calibration screen, 8 candidates ({calibration_s:.0f} s)", before),
        ("the finished default screen's own rates", after),
    ):
        print(
            f"| {label} | {value.generate_s:.0f} | {value.relax_s:.0f} | {value.total_s:.0f} | {measured:.0f} | "
            f"{measured / value.total_s:.2f} |"
        )
    print(f"default screen: {config.n} candidates, {config.steps} steps, measured {minutes(measured)}")


if __name__ == "__main__":
    main()
