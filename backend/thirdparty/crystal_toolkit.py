"""Crystal Toolkit beside pymatgen 2026 and Flask-Caching 2.5, offline (written for crystal-toolkit 2026.7.20).

Three things break when its structure view is served from this app, each handled here:
- pymatgen 2026 removed ``StructureGraph.with_local_env_strategy`` / ``with_empty_graph`` (and the
  ``MoleculeGraph`` ones), which the component still calls (crystaltoolkit #473); the ``from_*`` constructors that
  replaced them take the same arguments, so the old names are aliased to them when missing.
- Flask-Caching 2.5 rejects the ``CACHE_TYPE="simple"`` the plugin defaults to: :func:`cache` passes ``SimpleCache``.
- The plugin's default CSS loads Bulma and Font Awesome from a CDN: :data:`CSS_FOLDER` holds local copies
  (served by Dash from its assets folder) and the plugin is built with ``use_default_css=False``.
The bonding menu also gains VoronoiNN, which the component supports but does not list.
"""

from __future__ import annotations

from backend.paths import ASSETS

WRITTEN_FOR = "2026.7.20"
CSS_FOLDER = ASSETS / "crystal_toolkit"
ALIASES = {"with_local_env_strategy": "from_local_env_strategy", "with_empty_graph": "from_empty_graph"}
EXTRA_BONDING = {"label": "Voronoi (VoronoiNN)", "value": "VoronoiNN"}


def install() -> list[str]:
    """Alias the removed graph constructors; return what was aliased (empty when pymatgen still has them)."""
    from pymatgen.analysis.graphs import MoleculeGraph, StructureGraph

    done = []
    for graph in (StructureGraph, MoleculeGraph):
        for old, new in ALIASES.items():
            if hasattr(graph, old):
                continue
            if not hasattr(graph, new):
                raise RuntimeError(f"pymatgen's {graph.__name__} has neither {old} nor {new}: the alias needs updating")
            setattr(graph, old, getattr(graph, new))
            done.append(f"{graph.__name__}.{old} -> {new}")
    return done


def cache() -> object:
    """The in-process cache the plugin wants, named the way Flask-Caching 2.5 accepts."""
    from flask_caching import Cache

    return Cache(config={"CACHE_TYPE": "SimpleCache"})


def with_voronoi(options_layout: object, component_id: str) -> object:
    """The component's options layout with VoronoiNN in its bonding menu (found by the dropdown's id)."""
    stack = [options_layout]
    while stack:
        node = stack.pop()
        if getattr(node, "id", None) == component_id and EXTRA_BONDING not in node.options:
            node.options = [*node.options, EXTRA_BONDING]
            return options_layout
        children = getattr(node, "children", None)
        stack += children if isinstance(children, list) else [children] if children is not None else []
    raise RuntimeError(f"no bonding menu '{component_id}' in Crystal Toolkit's options (written for {WRITTEN_FOR})")
