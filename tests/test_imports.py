"""The backend's layering: packages import one another without cycles, and the job store opens without torch."""

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).parent.parent


def package_imports() -> dict[str, set[str]]:
    """``backend.X`` -> the other ``backend.Y`` it imports, function-level (lazy) imports included."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / "backend").rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        source = ".".join(parts[:2])
        graph.setdefault(source, set())
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            for name in names:
                if name.startswith("backend."):
                    target = ".".join(name.split(".")[:2])
                    if target != source:
                        graph[source].add(target)
    return graph


def test_backend_packages_import_each_other_without_a_cycle():
    graph = package_imports()
    assert "backend.sampling" in graph["backend.csp"] and "backend.sampling" in graph["backend.jobs"]  # it reads
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import cycle among backend packages: {' -> '.join(exc.args[1])}") from None
    assert order.index("backend.symmetry") < order.index("backend.sampling")  # the projection hook is sampling's


def test_the_job_store_and_its_frames_open_without_torch():
    """Thirty pages poll the store every second: opening it must not load the sampler's torch."""
    code = "import sys, backend.jobs.store, backend.frames; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0
