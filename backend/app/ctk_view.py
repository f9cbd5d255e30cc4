"""The analysis view: one structure from the job store (by job and structure id) or uploaded through the app's gate,
in Crystal Toolkit's ``StructureMoleculeComponent`` (bonding strategy, polyhedra, colour schemes, cell choice, image
and CIF export). Structures come only from the store by id or from an upload's bytes: no file path comes from the
browser.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs

from pymatgen.core import Structure

from backend.thirdparty import crystal_toolkit as patch

PREFIX = "/ctk/"
UPLOAD_HINT = "or drop a CIF, POSCAR, extxyz or pymatgen JSON file here"


def job_structure(job_id: str, name: str) -> tuple[Structure | None, str]:
    """A finished job's structure by ids, with a line for the page; unknown ids are said, not raised."""
    from backend.app.job_views import job_structures
    from backend.app.services import services

    store, _ = services()
    job = store.get(job_id) if job_id.isalnum() else None
    if job is None:
        return None, f"no job '{job_id}' in this app's store"
    structures = job_structures(store, job.id)
    if name not in structures:
        known = ", ".join(list(structures)[:5]) or "none"
        return None, f"job {job.id} has no structure '{name}' (it has: {known})"
    structure = structures[name]
    return structure, f"{name} from job {job.id} ({job.kind}): {structure.composition.formula}"


HIDDEN = {"display": "none"}


def uploaded_structure(contents: str, filename: str) -> tuple[Structure | None, str]:
    """An upload (a data URL from the browser) through the same gate as every other upload in the app."""
    from backend.app.uploads import read_upload_for_viewing
    from backend.structures import StructureFileError

    try:
        data = base64.b64decode(contents.split(",", 1)[1])
    except (IndexError, ValueError):  # not a data URL: the browser sent no file content
        return None, f"{filename}: the upload could not be read"
    try:
        structure, warning = read_upload_for_viewing(filename, data)
    except StructureFileError as exc:  # the gate's own reason, as every other upload widget says it
        return None, str(exc)
    return structure, warning or f"{filename}: {structure.composition.formula}"


def facts_lines(structure: Structure) -> list[str]:
    """The side panel's facts, the Structure viewer's (Crystal Toolkit's own title shows only the formula)."""
    from backend.app.structure_facts import structure_facts

    facts = structure_facts(structure)
    return [
        f"Cell content: {facts.cell_content}",
        f"Space group: {facts.space_group}",
        f"Lattice: {facts.lattice}",
        f"Density: {facts.density:.3f} g/cm³, volume {facts.volume_per_atom:.2f} Å³/atom",
        f"Charge balance: {facts.charge_balance}",
        f"Sanity: {facts.sanity}",
        f"Closest known phase: {facts.known_phase}",
    ]


def view_state(search: str | None, contents: str | None, filename: str | None) -> tuple[object, str, dict]:
    """(structure, status line, scene style) for the page's query or an upload. Without a structure the scene is
    hidden: Crystal Toolkit keeps drawing the last structure it was given, which under an error line misleads."""
    if contents:
        structure, line = uploaded_structure(contents, filename or "upload")
    else:
        query = parse_qs((search or "").lstrip("?"))
        job, name = query.get("job", [""])[0], query.get("structure", [""])[0]
        if not job:
            return None, "Open a structure from the Structure viewer, " + UPLOAD_HINT.removeprefix("or "), HIDDEN
        structure, line = job_structure(job, name)
    return structure, line, {} if structure is not None else HIDDEN


def build_app() -> object:
    """The Dash app, routed at / and requested under :data:`PREFIX`, with its CSS and fonts served locally."""
    import crystal_toolkit.components as ctc
    from crystal_toolkit.core.plugin import CrystalToolkitPlugin
    from dash import Dash, Input, Output, State, dcc, html

    patch.install()
    component = ctc.StructureMoleculeComponent(id="structure", color_scheme="VESTA", bonding_strategy="CrystalNN")
    scene = patch.with_voronoi(component.layout(size="100%"), component.id("bonding_algorithm"))
    layout = html.Div(
        [
            dcc.Location(id="url"),
            html.H1("Crystal Toolkit view", className="title"),
            html.P(id="status", className="subtitle"),
            dcc.Upload(html.Div(UPLOAD_HINT), id="upload", className="box upload"),
            html.Div(
                [
                    html.Div(scene, className="column is-two-thirds", style={"height": "600px"}),
                    html.Div([component.title_layout(), html.Ul(id="facts", className="content")], className="column"),
                ],
                id="scene",
                className="columns",
            ),
        ],
        className="section",
    )
    app = Dash(
        __name__,
        requests_pathname_prefix=PREFIX,
        routes_pathname_prefix="/",
        assets_folder=str(patch.CSS_FOLDER),
        serve_locally=True,
        title="Crystal Toolkit - Crystal Canvas",
        plugins=[CrystalToolkitPlugin(layout=layout, cache=patch.cache(), use_default_css=False)],
    )
    # the app's 5 MB upload limit (.streamlit/config.toml), base64-encoded in the callback's request
    app.server.config["MAX_CONTENT_LENGTH"] = 7 * 1024 * 1024

    @app.callback(
        Output(component.id(), "data"),
        Output("status", "children"),
        Output("scene", "style"),
        Output("facts", "children"),
        Input("url", "search"),
        Input("upload", "contents"),
        State("upload", "filename"),
    )
    def show(search: str | None, contents: str | None, filename: str | None) -> tuple[object, str, dict, list]:
        structure, line, style = view_state(search, contents, filename)
        facts = [html.Li(text) for text in facts_lines(structure)] if structure is not None else []
        return structure, line, style, facts

    return app
