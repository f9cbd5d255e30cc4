"""Plotly figures of a verification: phonon bands beside their DOS, and the equation of state with its fit."""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from backend.verify.phonons import IMAGINARY_THZ, PhononResult
from backend.verify.properties import Properties

BANDS_TRACE = "Phonon bands"


def phonon_figure(result: PhononResult, title: str) -> go.Figure:
    """Bands along the high-symmetry path (imaginary modes as negative frequencies) and the total DOS."""
    figure = make_subplots(rows=1, cols=2, shared_yaxes=True, column_widths=[0.78, 0.22], horizontal_spacing=0.02)
    modes = list(zip(*result.bands))
    for index, mode in enumerate(modes):
        figure.add_trace(
            go.Scatter(
                x=result.distances,
                y=mode,
                mode="lines",
                line=dict(color="#1f4e79", width=1.5),
                name=BANDS_TRACE,
                legendgroup="bands",
                showlegend=index == 0,
                hovertemplate="%{y:.2f} THz<extra></extra>",
            ),
            row=1,
            col=1,
        )
    figure.add_trace(
        go.Scatter(x=result.dos, y=result.dos_thz, mode="lines", fill="tozerox", name="DOS", line=dict(color="#555")),
        row=1,
        col=2,
    )
    positions, labels = _ticks(result.ticks)
    for position in positions:
        figure.add_vline(x=position, line=dict(color="#bbb", width=1), row=1, col=1)
    figure.add_hline(y=IMAGINARY_THZ, line=dict(color="#e4002b", dash="dot", width=1), row=1, col=1)
    verdict = (
        "dynamically stable" if result.stable else f"imaginary mode {result.lowest_thz:.2f} THz at {result.lowest_at}"
    )
    figure.update_xaxes(tickvals=positions, ticktext=labels, row=1, col=1)
    figure.update_xaxes(title_text="DOS", showticklabels=False, row=1, col=2)
    figure.update_yaxes(title_text="frequency (THz; imaginary < 0)", row=1, col=1)
    figure.update_layout(
        title=f"{title}: {verdict} (supercell {'x'.join(map(str, result.supercell))})",
        margin=dict(l=10, r=10, t=50, b=10),
        legend=dict(x=0.01, y=0.99),
    )
    return figure


def _ticks(ticks: list[tuple[float, str]]) -> tuple[list[float], list[str]]:
    """Merge the labels of segment ends that meet ("X|K" where the path jumps, one label where it continues)."""
    merged: dict[float, list[str]] = {}
    for position, label in ticks:
        key = round(position, 6)
        if label not in merged.setdefault(key, []):
            merged[key].append(label)
    return list(merged), ["|".join(labels) for labels in merged.values()]


def eos_figure(properties: Properties, title: str) -> go.Figure:
    """Energies at the strained cells and the Birch-Murnaghan fit, with the bulk modulus in the title."""
    figure = go.Figure()
    figure.add_trace(
        go.Scatter(
            x=properties.eos_volumes, y=properties.eos_energies, mode="markers", name="CHGNet", marker=dict(size=9)
        )
    )
    figure.add_trace(
        go.Scatter(
            x=properties.eos_fit_volumes, y=properties.eos_fit_energies, mode="lines", name="Birch-Murnaghan fit"
        )
    )
    figure.update_layout(
        title=f"{title}: bulk modulus {properties.bulk_modulus_gpa:.0f} GPa",
        xaxis_title="volume (Å³/atom)",
        yaxis_title="energy (eV/atom)",
        margin=dict(l=10, r=10, t=50, b=10),
    )
    return figure
