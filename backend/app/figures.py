"""Figures and HTML the pages display: live denoising frames (plotly) and structures (3Dmol.js).

3Dmol.js is served by the app itself (``static/3Dmol-min.js``), never from a CDN, so the viewer works
offline and in a classroom without internet.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from ase.data import chemical_symbols
from ase.data.colors import jmol_colors
from pymatgen.core import Structure

from backend.frames import Frame

LOCAL_3DMOL = "/app/static/3Dmol-min.js"
MASKED_COLOR = "rgb(150,150,150)"


MIN_COLOR_DIFFERENCE = 40.0  # CIE76 ΔE below which two elements' Jmol colours are hard to tell apart in one view
# replacements for an element whose Jmol colour is too close to one already shown (Plotly's Dark24, sRGB 0-255)
DISTINCT_COLORS = (
    (46, 145, 229),
    (225, 95, 153),
    (28, 167, 28),
    (251, 13, 13),
    (218, 22, 255),
    (34, 42, 42),
    (182, 129, 0),
    (117, 13, 134),
    (235, 102, 59),
    (81, 28, 251),
    (0, 160, 139),
    (251, 0, 209),
    (252, 0, 128),
    (178, 130, 141),
    (108, 124, 50),
    (119, 138, 174),
    (134, 42, 22),
    (167, 119, 241),
    (98, 0, 66),
    (22, 22, 167),
    (218, 96, 202),
    (108, 69, 22),
    (13, 42, 99),
    (175, 0, 56),
)


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIE L*a*b* (D65) of sRGB colours in 0-1: distances in it track how different colours look."""
    linear = np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = linear @ np.array([[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]])
    xyz = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def element_colors(numbers: Iterable[int]) -> dict[int, str]:
    """Jmol colours for the elements of one figure, except that an element whose colour is within
    :data:`MIN_COLOR_DIFFERENCE` of one already given takes the first of :data:`DISTINCT_COLORS` far enough from all
    of them (Dy, Er and Sm are three greens; O and Fe, ΔE 38, red and orange at marker size); lighter elements keep
    theirs."""
    given: dict[int, np.ndarray] = {}
    for z in sorted(set(numbers)):
        rgb = np.asarray(jmol_colors[z], dtype=float)
        if any(np.linalg.norm(_lab(rgb) - _lab(other)) < MIN_COLOR_DIFFERENCE for other in given.values()):
            for option in DISTINCT_COLORS:
                candidate = np.array(option) / 255
                if all(np.linalg.norm(_lab(candidate) - _lab(o)) >= MIN_COLOR_DIFFERENCE for o in given.values()):
                    rgb = candidate
                    break
        given[z] = rgb
    return {z: "rgb({},{},{})".format(*(255 * rgb).round().astype(int)) for z, rgb in given.items()}


def _corners(lattice: np.ndarray) -> dict[tuple[int, ...], np.ndarray]:
    """The cell's eight corners (Cartesian, Å) by fractional position."""
    return {c: np.array(c) @ lattice for c in itertools.product((0, 1), repeat=3)}


def _cell_edges(lattice: np.ndarray) -> tuple[list[float | None], ...]:
    xs, ys, zs = [], [], []
    corners = _corners(lattice)
    for a, b in itertools.combinations(corners, 2):
        if sum(abs(i - j) for i, j in zip(a, b)) == 1:
            for axis, values in zip((xs, ys, zs), zip(corners[a], corners[b])):
                axis += [*values, None]
    return xs, ys, zs


def frames_figure(
    frames: Sequence[Frame],
    columns: int = 4,
    height: int = 320,
    host_atoms: int = 0,
    shown: Sequence[Frame] = (),
) -> go.Figure:
    """One 3D panel per crystal: cell edges and atoms coloured by their current most likely element.

    Marker size grows with the model's confidence in that element; atoms whose type is still masked
    are grey. Hover shows element, confidence and position. With ``host_atoms`` (inpainting), the first
    that many atoms of every crystal are the host: drawn small and translucent, guests stand out.
    The figure is built from plain dicts: plotly's ``make_subplots`` took 60 ms for four panels, which
    every watching browser paid once a second. ``shown``: every frame an animation of the figure will show, so
    colours and legend entries stay the same across them.
    """
    frames = list(frames)
    colors, legend = _key(list(shown) or frames)
    return go.Figure(data=_panels(frames, host_atoms, colors) + legend, layout=_panel_layout(frames, columns, height))


def _scene(index: int) -> str:
    return "scene" if index == 0 else f"scene{index + 1}"


HOST_ATOM_SIZE = 4  # an inpainting host's atoms: the smallest marker guests can have, so guests stand out


def _panels(frames: Sequence[Frame], host_atoms: int, colors: dict[int, str]) -> list[dict]:
    """Cell edges and atoms of every crystal, each in its own scene."""
    traces = []
    for index, frame in enumerate(frames):
        xs, ys, zs = _cell_edges(frame.lattice)
        scene = _scene(index)
        traces.append(
            dict(
                type="scatter3d",
                scene=scene,
                x=xs,
                y=ys,
                z=zs,
                mode="lines",
                line=dict(color="black", width=2),
                hoverinfo="skip",
                showlegend=False,
            )
        )
        cart = (frame.frac_coords % 1.0) @ frame.lattice
        shades = [MASKED_COLOR if m else colors[int(z)] for z, m in zip(frame.likely_z, frame.masked)]
        text = [
            f"{chemical_symbols[int(z)]}{' (undecided)' if m else ''} p={c:.2f}"
            for z, m, c in zip(frame.likely_z, frame.masked, frame.confidence)
        ]
        sizes = 4 + 8 * np.asarray(frame.confidence, dtype=float)
        sizes[:host_atoms] = HOST_ATOM_SIZE
        for part, opacity in ((slice(0, host_atoms), 0.35), (slice(host_atoms, None), 1.0)):
            if not len(cart[part]):
                continue
            traces.append(
                dict(
                    type="scatter3d",
                    scene=scene,
                    x=cart[part, 0],
                    y=cart[part, 1],
                    z=cart[part, 2],
                    mode="markers",
                    showlegend=False,
                    hovertext=text[part],
                    hoverinfo="text",
                    opacity=opacity,
                    marker=dict(size=sizes[part], color=shades[part], line=dict(width=0.5, color="black")),
                )
            )
    return traces


def _key(frames: Sequence[Frame]) -> tuple[dict[int, str], list[dict]]:
    """Colours of the elements decided anywhere in ``frames`` and one legend entry for each (grey for atoms whose
    element is undecided): the same traces in every animation frame, so the legend never repeats an element."""
    colors = element_colors(int(z) for f in frames for z, m in zip(f.likely_z, f.masked) if not m)
    entries = [(chemical_symbols[z], color) for z, color in colors.items()]
    if any(m for f in frames for m in f.masked):
        entries.append(("undecided", MASKED_COLOR))
    return colors, [
        dict(
            type="scatter3d",
            scene="scene",
            x=[None],
            y=[None],
            z=[None],
            mode="markers",
            name=name,
            marker=dict(size=8, color=color),
            showlegend=True,
            hoverinfo="skip",
        )
        for name, color in entries
    ]


def _panel_layout(frames: Sequence[Frame], columns: int, height: int) -> dict:
    """A grid of hidden-axis scenes with the crystal's formula above each."""
    rows = max(1, -(-len(frames) // columns))
    cols = min(columns, max(1, len(frames)))
    title = 30 / (height * rows)  # 30 px above every panel for its title
    hidden = dict(visible=False)
    layout: dict = dict(
        height=height * rows,
        margin=dict(l=0, r=0, t=0, b=0),
        uirevision="keep-camera",
        legend=dict(title=dict(text="element"), itemclick=False, itemdoubleclick=False),
        # upright along the right edge: across the top, the toolbar covered the fourth panel's title
        modebar=dict(orientation="v"),
    )
    layout["annotations"] = []
    for index, frame in enumerate(frames):
        row, col = divmod(index, cols)
        top = 1 - row / rows - title
        layout[_scene(index)] = dict(
            domain=dict(x=[col / cols + 0.005, (col + 1) / cols - 0.005], y=[1 - (row + 1) / rows + 0.01, top]),
            xaxis=hidden,
            yaxis=hidden,
            zaxis=hidden,
            **_box(frame.lattice),
        )
        layout["annotations"].append(
            dict(
                text=_title(frame),
                x=(col + 0.5) / cols,
                y=top,
                xref="paper",
                yref="paper",
                xanchor="center",
                yanchor="bottom",
                showarrow=False,
                font=dict(size=14),
            )
        )
    return layout


def _box(lattice: np.ndarray) -> dict:
    """True proportions with the cell's longest extent as the unit: plotly's ``aspectmode="data"`` scales the
    extents' geometric mean to one instead, so a tall or flat cell ran out of its panel."""
    span = np.ptp(np.array(list(_corners(lattice).values())), axis=0)
    ratio = span / span.max() if span.max() > 0 else np.ones(3)
    return dict(aspectmode="manual", aspectratio=dict(x=ratio[0], y=ratio[1], z=ratio[2]))


def _title(frame: Frame) -> str:
    from pymatgen.core import Composition

    symbols = [chemical_symbols[int(z)] for z, m in zip(frame.likely_z, frame.masked) if not m]
    formula = Composition(" ".join(symbols)).reduced_formula if symbols else "types undecided"
    status = ": cell diverged, crystal dropped" if frame.failed else ""  # the engine's guard is what sets it
    return f"#{frame.crystal} {formula}{status}"


def structure_html(
    structure: Structure,
    supercell: tuple[int, int, int] = (1, 1, 1),
    style: str = "ball and stick",
    labels: bool = False,
    width: int = 640,
    height: int = 480,
) -> str:
    """A 3Dmol.js viewer (served locally) with the unit cell box, as HTML for an iframe."""
    import py3Dmol

    view = py3Dmol.view(width=width, height=height, js=LOCAL_3DMOL)
    view.addModel(structure.to(fmt="cif"), "cif", {"doAssembly": True, "duplicateAssemblyAtoms": True})
    if style == "spacefill":
        view.setStyle({"sphere": {"scale": 0.8, "colorscheme": "Jmol"}})
    else:
        view.setStyle(
            {"stick": {"radius": 0.12, "colorscheme": "Jmol"}, "sphere": {"scale": 0.3, "colorscheme": "Jmol"}}
        )
    view.addUnitCell()
    view.replicateUnitCell(*supercell)
    if labels:
        view.addPropertyLabels("elem", {}, {"fontSize": 11, "showBackground": False, "fontColor": "black"})
    view.zoomTo()
    return view.write_html()  # py3Dmol's public API: with no file it returns the HTML


def trajectory_figure(
    frames_by_step: dict[int, Sequence[Frame]], columns: int = 4, max_frames: int = 60, host_atoms: int = 0
) -> go.Figure:
    """The whole denoising trajectory as an animation with a step slider and a play button."""
    steps = sorted(frames_by_step)
    if len(steps) > max_frames:  # keep the page light: evenly spaced steps, always the last one
        keep = np.linspace(0, len(steps) - 1, max_frames).round().astype(int)
        steps = [steps[i] for i in sorted(set(keep))]
    shown = [f for s in steps for f in frames_by_step[s]]
    colors, legend = _key(shown)
    figure = frames_figure(frames_by_step[steps[-1]], columns=columns, host_atoms=host_atoms, shown=shown)
    figure.frames = [go.Frame(data=_panels(frames_by_step[s], host_atoms, colors) + legend, name=str(s)) for s in steps]
    figure.update_layout(
        updatemenus=[
            dict(
                type="buttons",
                showactive=False,
                x=0,
                y=-0.02,
                xanchor="left",
                yanchor="top",
                buttons=[
                    dict(
                        label="Play",
                        method="animate",
                        args=[None, dict(frame=dict(duration=120, redraw=True), fromcurrent=True)],
                    ),
                    dict(
                        label="Pause",
                        method="animate",
                        args=[[None], dict(frame=dict(duration=0, redraw=False), mode="immediate")],
                    ),
                ],
            )
        ],
        sliders=[
            dict(
                active=len(steps) - 1,
                x=0.12,
                len=0.88,
                y=-0.02,
                currentvalue=dict(prefix="step "),
                steps=[
                    dict(
                        label=str(s),
                        method="animate",
                        args=[[str(s)], dict(mode="immediate", frame=dict(duration=0, redraw=True))],
                    )
                    for s in steps
                ],
            )
        ],
    )
    return figure


def funnel_figure(funnel: pd.DataFrame) -> go.Figure:
    """A screen's funnel: survivors after every stage."""
    figure = go.Figure(go.Funnel(y=list(funnel.stage), x=list(funnel.survivors), textinfo="value+percent initial"))
    figure.update_layout(title="Screening funnel", margin=dict(l=10, r=10, t=40, b=10))
    return figure
