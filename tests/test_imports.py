"""The backend's layering: packages import one another without cycles; the store and the pages open without torch."""

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


def test_every_page_but_learn_imports_without_torch():
    """The modules the app and its pages import (at any level of the page script) load no torch: the server
    warms the model once, but a page that lists jobs or draws a hull must not depend on it. The Learn page is
    the exception by design: it runs the model as it draws (noised crystals, the model's predictions)."""
    modules = set()
    pages = [ROOT / "app.py", *(p for p in (ROOT / "pages").glob("*.py") if "Learn" not in p.name)]
    for page in pages:
        for node in ast.walk(ast.parse(page.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("backend."):
                modules.add(node.module)
    assert {
        "backend.app.services",
        "backend.app.figures",
        "backend.jobs.kinds.generate",
        "backend.jobs.kinds.screen",
        "backend.jobs.specs",
        "backend.sampling.composition",
    } <= modules
    code = f"import importlib, sys\nfor m in {sorted(modules)!r}:\n    importlib.import_module(m)\n"
    code += "sys.exit(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))[:1] or 0)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
