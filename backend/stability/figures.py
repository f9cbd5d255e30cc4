"""Plotly figures for stability: the hull of a chemical system with candidates on it, E_hull histogram.

The hull itself is pymatgen's ``PDPlotter(backend="plotly")`` figure (the one Crystal Toolkit shows);
candidates are added as their own trace in the hull's own coordinates, so they sit exactly where an MP
entry of the same composition and energy would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go
from pymatgen.analysis.phase_diagram import PDPlotter, tet_coord
from pymatgen.core import Composition

from backend.stability.hull import phase_diagram
from backend.stability.reference import HULL_LABEL, reference_table

CANDIDATE_TRACE = "Candidates"
CANDIDATE_COLOR = "#e4002b"  # one strong colour no MP point uses: candidates must stand out, not blend in
CANDIDATE_SYMBOL = {2: "star", 3: "star", 4: "cross"}  # Scatter3d has no star
COLOR_SCALE = "Viridis"
COLOR_MAX = 0.2  # eV/atom: the top of the E_above_hull colour scale of MP's phases


@dataclass(frozen=True)
class Candidate:
    """A structure to draw on the hull: its label, composition and energies (eV/atom)."""

    label: str
    composition: Composition
    formation_energy_per_atom: float
    e_above_hull: float


def hull_figure(chemical_system: str, candidates: Sequence[Candidate] = ()) -> go.Figure:
    """pymatgen's hull for 1-4 elements with ``candidates`` in the hull's own coordinates, drawn last.

    Binary: composition vs formation energy; ternary: on the Gibbs triangle; quaternary: in the tetrahedron. MP's
    phases above the hull are coloured by E_above_hull (colour bar on the right); candidates are large red stars
    (crosses in 3D) with a black outline and their E_above_hull in the label, so one on top of an MP point at the
    same formula stays visible. The legend sits top left, clear of the colour bar; the title says how complete
    the reference hull is.
    """
    diagram = phase_diagram(chemical_system)
    dim = diagram.dim
    figure = PDPlotter(diagram, backend="plotly", show_unstable=0.2).get_plot()
    for trace in figure.data:
        if trace.name == "Above Hull":
            trace.marker.update(
                colorscale=COLOR_SCALE,
                cmin=0,
                cmax=COLOR_MAX,
                showscale=True,
                colorbar=dict(title="MP E_above_hull (eV/atom)", x=1.02),
            )
    own = {e.symbol for e in diagram.elements}
    inside = [c for c in candidates if {e.symbol for e in c.composition.elements} <= own]
    if inside:
        hover = [
            f"{c.label}<br>{c.composition.reduced_formula}<br>E_above_hull = {1000 * c.e_above_hull:.0f} meV/atom<br>"
            f"E_form = {c.formation_energy_per_atom:.3f} eV/atom"
            for c in inside
        ]
        marker = dict(
            symbol=CANDIDATE_SYMBOL[max(dim, 2)],
            size=18 if dim < 4 else 8,
            color=CANDIDATE_COLOR,
            line=dict(width=1.5, color="black"),
        )
        labels = [f"{c.label} ({1000 * c.e_above_hull:+.0f} meV)" for c in inside]
        common = dict(
            mode="markers+text",
            name=CANDIDATE_TRACE,
            text=labels,
            textposition="top center",
            hovertext=hover,
            hoverinfo="text",
            marker=marker,
        )
        if dim == 3:
            order = [e.symbol for e in diagram.elements]
            a, b, c = ([x.composition.get_atomic_fraction(e) for x in inside] for e in order)
            figure.add_trace(go.Scatterternary(a=a, b=b, c=c, **common))
        else:
            coords = np.array([_coordinates(diagram, c) for c in inside])
            if dim == 4:
                figure.add_trace(go.Scatter3d(x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], **common))
            else:
                figure.add_trace(go.Scatter(x=coords[:, 0], y=coords[:, 1], **common))
    coverage = reference_table().coverage(chemical_system.split("-"))
    figure.update_layout(
        title=dict(text=f"{chemical_system}: {coverage.text}", y=0.98, yanchor="top"),
        legend=dict(x=0.0, y=1.0, xanchor="left", yanchor="top", bgcolor="rgba(255,255,255,0.7)"),
        margin=dict(t=90),
    )
    return figure


def _coordinates(diagram: object, candidate: Candidate) -> list[float]:
    """pymatgen's plot coordinates (see ``PDPlotter.pd_plot_data``) of a binary or quaternary composition."""
    data = diagram.pd_coords(candidate.composition)
    if diagram.dim < 3:
        return [float(data[0]) if diagram.dim == 2 else 0.0, candidate.formation_energy_per_atom]
    x, y, z = tet_coord(np.array([data[0:3]]))
    return [float(x[0]), float(y[0]), float(z[0])]


def e_hull_histogram(e_above_hull: Sequence[float], threshold: float = 0.1) -> go.Figure:
    """Distribution of E_above_hull of a batch (meV/atom) with the stability threshold marked."""
    values = 1000 * np.asarray([v for v in e_above_hull if np.isfinite(v)])
    figure = go.Figure(go.Histogram(x=values, nbinsx=30, name="candidates"))
    figure.add_vline(x=1000 * threshold, line_dash="dash", annotation_text=f"{1000 * threshold:.0f} meV/atom")
    figure.update_layout(
        xaxis_title="E_above_hull (meV/atom)", yaxis_title="structures", title=f"E_above_hull ({HULL_LABEL})"
    )
    return figure
