"""A classroom on one server: N browser sessions, some submitting small generation jobs, all watching.

python benchmarks/load.py --sessions 30 --submitters 10 --crystals 2 --atoms 6 --steps 50

Starts ``streamlit run app.py`` on loopback with a fresh data folder, opens ``--sessions`` pages in
headless Chromium (one browser context per session, so one Streamlit session and one job owner each),
lets ``--submitters`` of them submit a job on Generate and the others open one of those jobs' links on
Live denoising, and waits until every job has finished or ``--timeout`` passes. Measured:

- time to first frame per session, from the submit click (or page open, for watchers): until the server has
  delivered the live figure over the session's websocket, and until Chromium has rendered it (rendering 30
  pages in software WebGL on one core is the browser machine's cost; in a classroom each student renders
  their own);
- jobs completed, and the order the worker took them in (one worker, round-robin between owners);
- server CPU: the sampling worker thread (the busiest thread: with one torch thread the sampler computes
  in it) against everything else in the server process (page reruns, live-view polling, websockets),
  as a share of one core over the window;
- server peak memory (RSS).

``--server-cpus``/``--browser-cpus`` pin the two sides to separate cores so that Chromium's rendering
(which in a classroom happens on the students' machines) does not count against the server.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from app_server import CHROMIUM, FLAGS, start_server  # noqa: E402

LIVE_FIGURE = b"scatter3d"  # the live view's plotly trace type, inside the websocket message that carries it


class ServerMonitor:
    """Per-thread CPU time of the server process between :meth:`start` and :meth:`stop`, and peak RSS."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.peak_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)

    def _threads(self) -> dict[int, float]:
        return {t.id: t.user_time + t.system_time for t in self.process.threads()}

    def _total(self) -> float:
        """Process CPU time, threads that have ended included (Streamlit starts one per script run)."""
        times = self.process.cpu_times()
        return times.user + times.system

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.peak_rss = max(self.peak_rss, self.process.memory_info().rss)
            self._last, self._last_total = self._threads(), self._total()

    def start(self) -> None:
        self._first, self._last, self._started = self._threads(), {}, time.time()
        self._first_total = self._last_total = self._total()
        self._sampler.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._sampler.join()
        wall = time.time() - self._started
        delta = {tid: cpu - self._first.get(tid, 0.0) for tid, cpu in self._last.items()}
        worker = max(delta.values())
        return {
            "wall": wall,
            "worker_share": worker / wall,
            "other_share": (self._last_total - self._first_total - worker) / wall,
            "peak_rss_mb": self.peak_rss / 2**20,
        }


async def session(browser, url: str, index: int, args: argparse.Namespace, jobs: list, ready: asyncio.Event) -> dict:
    """One student: a submitter fills Generate and watches its job; a watcher opens a submitted job's link."""
    context = await browser.new_context(viewport={"width": 1200, "height": 900})
    page = await context.new_page()
    timeout = args.timeout * 1000
    delivered: list[float] = []

    def watch_socket(socket) -> None:  # noqa: ANN001 - playwright's WebSocket
        def on_frame(payload: str | bytes) -> None:
            if not delivered and LIVE_FIGURE in (payload if isinstance(payload, bytes) else payload.encode()):
                delivered.append(time.time())

        socket.on("framereceived", on_frame)

    page.on("websocket", watch_socket)
    if index < args.submitters:
        await page.goto(f"{url}/Generate", timeout=timeout)
        fields = {"Crystals": args.crystals, "Atoms per cell": args.atoms, "Denoising steps": args.steps}
        for label, value in fields.items():
            field = page.get_by_label(label, exact=True)
            await field.fill(str(value))
            await field.press("Tab")
        started = time.time()
        await page.get_by_role("button", name="Generate").click()
        await page.wait_for_url("**/Live_denoising?job=*", timeout=timeout)
        jobs.append(page.url.split("job=")[1])
        if len(jobs) == args.submitters:
            ready.set()
    else:
        await ready.wait()
        started = time.time()
        await page.goto(f"{url}/Live_denoising?job={jobs[index % args.submitters]}", timeout=timeout)
    await page.locator(".js-plotly-plot").first.wait_for(timeout=timeout)
    return {
        "role": "submitter" if index < args.submitters else "watcher",
        "delivered": delivered[0] - started,
        "rendered": time.time() - started,
        "page": page,
    }


def job_table(data: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{data / 'jobs.sqlite3'}?mode=ro", uri=True) as db:
        return db.execute("SELECT id, owner, status, created, started, finished FROM jobs ORDER BY created").fetchall()


async def run(args: argparse.Namespace) -> None:
    from playwright.async_api import async_playwright

    data = Path(tempfile.mkdtemp(prefix="crystal-canvas-load-"))
    server, url = start_server(data, args.server_cpus)
    monitor = ServerMonitor(server.pid)
    try:
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            if args.browser_cpus:
                for child in psutil.Process().children(recursive=True):
                    if "chrom" in child.name():
                        child.cpu_affinity(args.browser_cpus)
            warm = await browser.new_page()  # the first session loads the model; students arrive after that
            await warm.goto(url)
            await warm.get_by_text("Model ready").wait_for(timeout=args.timeout * 1000)
            await warm.close()
            monitor.start()
            jobs: list[str] = []
            ready = asyncio.Event()
            results = await asyncio.gather(
                *(session(browser, url, i, args, jobs, ready) for i in range(args.sessions)), return_exceptions=True
            )
            deadline = time.time() + args.timeout
            while time.time() < deadline and any(row[2] in ("queued", "running") for row in job_table(data)):
                await asyncio.sleep(1.0)
            usage = monitor.stop()
            await browser.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    report(args, results, job_table(data), usage)


def report(args: argparse.Namespace, results: list, jobs: list[tuple], usage: dict[str, float]) -> None:
    ok = [r for r in results if isinstance(r, dict)]
    failed = [r for r in results if not isinstance(r, dict)]
    times = {
        (role, when): [r[when] for r in ok if r["role"] == role]
        for role in ("submitter", "watcher")
        for when in ("delivered", "rendered")
    }
    done = sum(row[2] == "done" for row in jobs)
    in_start_order = [row[0] for row in sorted(jobs, key=lambda row: row[4] or float("inf"))]
    fair = in_start_order == [row[0] for row in jobs]

    def spread(values: list[float]) -> str:
        return f"{statistics.median(values):.1f} / {max(values):.1f}" if values else "-"

    print(
        "| sessions | jobs done | first frame delivered, submitters / watchers, median / max (s) "
        "| first frame rendered, submitters / watchers, median / max (s) | sessions without frames "
        "| server CPU: sampling / rest (% of a core) | server peak RSS (MB) | wall (s) |"
    )
    print("|---|---|---|---|---|---|---|---|")
    print(
        f"| {args.sessions} | {done} / {len(jobs)} "
        f"| {spread(times['submitter', 'delivered'])} / {spread(times['watcher', 'delivered'])} "
        f"| {spread(times['submitter', 'rendered'])} / {spread(times['watcher', 'rendered'])} | {len(failed)} | "
        f"{usage['worker_share']:.0%} / {usage['other_share']:.0%} | {usage['peak_rss_mb']:.0f} | {usage['wall']:.0f} |"
    )
    print(
        f"\njobs: {args.crystals} crystals x {args.atoms} atoms x {args.steps} steps each; "
        f"one job per owner, taken in submission order: {fair}"
    )
    for error in failed[:3]:
        print(f"session error: {str(error).splitlines()[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=30)
    parser.add_argument("--submitters", type=int, default=10)
    parser.add_argument("--crystals", type=int, default=2)
    parser.add_argument("--atoms", type=int, default=6)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=600, help="seconds; bounds every wait")
    parser.add_argument("--server-cpus", type=lambda s: [int(c) for c in s.split(",")], default=None)
    parser.add_argument("--browser-cpus", type=lambda s: [int(c) for c in s.split(",")], default=None)
    args = parser.parse_args()
    if not 0 < args.submitters <= args.sessions:
        raise SystemExit("--submitters must be between 1 and --sessions")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
