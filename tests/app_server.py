"""A real Crystal Canvas server and the Chromium that talks to it: shared by the e2e tests and
``benchmarks/load.py``."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import urlopen

ROOT = Path(__file__).resolve().parent.parent
SERVER = ROOT / "backend" / "app" / "server.py"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--enable-unsafe-swiftshader",
    "--disable-component-update",
    "--no-first-run",
]


class ServerDidNotStart(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data: Path, cpus: list[int] | None = None, wait: float = 90) -> tuple[subprocess.Popen, str]:
    """The app the README's way (Streamlit and the Crystal Toolkit view at /ctk in one server) on a free loopback
    port with ``data`` as its data folder; (process, url)."""
    port = free_port()
    env = {**os.environ, "CRYSTAL_CANVAS_DATA": str(data), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "streamlit", "run", str(SERVER), "--server.port", str(port)]
    command += ["--server.address", "127.0.0.1", "--server.headless", "true"]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if cpus:
        os.sched_setaffinity(process.pid, cpus)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + wait
    while time.time() < deadline:
        try:
            if urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return process, url
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise ServerDidNotStart(f"streamlit did not start within {wait:.0f} s")
