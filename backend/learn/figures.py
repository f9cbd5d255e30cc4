"""Figures of the Learn page: the 2D mixture with its score field, reverse sampling, type probabilities."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from backend.learn import toy
from backend.learn.crystal import Prediction

GRID = 15  # score arrows per axis
SAMPLES = 600
SHOWN_PATHS = 12  # sample paths drawn whole in the reverse figure
FRAMES = 20  # animation frames of the reverse figure


def _plane(half: float, title: str) -> dict:
    """A square plot of the plane from -half to half (fixed size: plotly's scaleanchor widened it to the page)."""
    return dict(
        height=500,
        width=560,
        xaxis=dict(range=[-half, half]),
        yaxis=dict(range=[-half, half]),
        title=title,
        legend=dict(x=0, y=1.15, orientation="h"),
    )


def _axes(process: str) -> float:
    return 4.0 if process == "VP" else 6.0


def mixture_figure(mixture: toy.Mixture, t: float, process: str, seed: int = 0) -> go.Figure:
    """Samples of the data noised to ``t`` and the exact score field (arrows, length scaled to fit)."""
    rng = np.random.default_rng(seed)
    a, s = toy.signal_and_noise(t, process)
    noisy = float(a) * mixture.sample(SAMPLES, rng) + float(s) * rng.standard_normal((SAMPLES, 2))
    half = _axes(process)
    axis = np.linspace(-half, half, GRID)
    grid = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    field = toy.score(mixture, grid, max(t, 1e-3), process)
    length = np.linalg.norm(field, axis=1, keepdims=True)
    arrows = field / np.maximum(length, 1e-12) * (2 * half / GRID) * 0.8 * np.tanh(length / length.mean())
    xs, ys = [], []
    for start, step in zip(grid, arrows):
        xs += [start[0], start[0] + step[0], None]
        ys += [start[1], start[1] + step[1], None]
    figure = go.Figure(
        [
            go.Scatter(
                x=noisy[:, 0],
                y=noisy[:, 1],
                mode="markers",
                name=f"samples at t = {t:.2f}",
                marker=dict(size=4, color="#1f77b4", opacity=0.6),
            ),
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                name="score (direction of growing density)",
                line=dict(color="#d62728", width=1.5),
            ),
        ]
    )
    figure.update_layout(_plane(half, f"{process} forward process at t = {t:.2f}"))
    return figure


def reverse_figure(mixture: toy.Mixture, steps: int, process: str, sampler: str, seed: int = 0) -> go.Figure:
    """Reverse sampling from the prior with the exact score, animated (play button), a few paths drawn whole."""
    path = toy.reverse(mixture, SAMPLES, steps, process, sampler, seed=seed)
    shown = np.linspace(0, steps, min(FRAMES, steps + 1)).round().astype(int)
    half = _axes(process)
    truth = go.Scatter(
        x=mixture.means[:, 0],
        y=mixture.means[:, 1],
        mode="markers",
        name="data blob centres",
        marker=dict(size=14, symbol="x", color="black"),
    )
    lines = [
        go.Scatter(
            x=path[:, i, 0],
            y=path[:, i, 1],
            mode="lines",
            line=dict(width=1, color="#999999"),
            showlegend=i == 0,
            name="sample paths",
        )
        for i in range(SHOWN_PATHS)
    ]

    def points(k: int) -> go.Scatter:
        return go.Scatter(
            x=path[k, :, 0],
            y=path[k, :, 1],
            mode="markers",
            name="samples",
            marker=dict(size=4, color="#2ca02c", opacity=0.6),
        )

    figure = go.Figure(
        [*lines, truth, points(steps)],
        frames=[go.Frame(data=[points(k)], traces=[len(lines) + 1], name=str(k)) for k in shown],
    )
    figure.update_layout(
        _plane(half, f"{sampler}, {steps} steps"),
        updatemenus=[
            dict(
                type="buttons",
                x=1.0,
                y=1.12,
                buttons=[
                    dict(
                        label="Play",
                        method="animate",
                        args=[None, dict(frame=dict(duration=150, redraw=True), fromcurrent=False)],
                    )
                ],
            )
        ],
        sliders=[
            dict(
                steps=[dict(label=f"{k}/{steps}", method="animate", args=[[str(k)]]) for k in shown],
                currentvalue=dict(prefix="step "),
            )
        ],
    )
    return figure


def prediction_bars(prediction: Prediction, atom: int) -> go.Figure:
    """The model's clean-type probabilities for one atom, the true element marked."""
    truth, top = prediction.type_bars[atom]
    colours = ["#2ca02c" if element == truth else "#1f77b4" for element, _ in top]
    figure = go.Figure(go.Bar(x=[e for e, _ in top], y=[p for _, p in top], marker_color=colours))
    figure.update_layout(
        height=300,
        yaxis=dict(range=[0, 1], title="probability"),
        title=f"atom {atom}: truly {truth} (green where the model names it)",
    )
    return figure
