"""The live view's figures: one scene per crystal, host atoms apart, built once per new frame for all viewers."""

from pathlib import Path

import numpy as np

from backend.app.figures import frames_figure, trajectory_figure
from backend.app.job_views import live_figure
from backend.frames import Frame
from backend.jobs.store import JobStore


def frame(crystal: int, step: int, atoms: int = 5) -> Frame:
    rng = np.random.default_rng(crystal * 1000 + step)
    return Frame(
        crystal=crystal,
        step=step,
        t=1 - step / 10,
        noise=0.5,
        lattice=np.eye(3) * 4.0,
        frac_coords=rng.random((atoms, 3)),
        likely_z=np.array([3, 3, 8, 8, 26][:atoms]),
        confidence=np.full(atoms, 0.7, dtype=np.float32),
        masked=np.array([False, False, False, True, False][:atoms]),
        failed=False,
    )


def test_one_scene_per_crystal_with_host_atoms_apart():
    figure = frames_figure([frame(i, 3) for i in range(6)], columns=4, host_atoms=2)
    scenes = {trace.scene for trace in figure.data}
    assert scenes == {"scene", *(f"scene{i}" for i in range(2, 7))}
    assert len(figure.data) == 6 * 3 + 4  # cell edges, translucent host, guests; legend Li, O, Fe, undecided
    assert [trace.opacity for trace in figure.data[:3]] == [None, 0.35, 1.0]
    host, guests = figure.data[1].marker.size, figure.data[2].marker.size
    assert max(host) < min(guests), "the host is drawn smaller than every guest, as the page says"
    assert [t.name for t in figure.data[-4:]] == ["Li", "O", "Fe", "undecided"]
    assert [a.text for a in figure.layout.annotations][:2] == ["#0 Li2FeO", "#1 Li2FeO"]  # the masked O is left out
    assert figure.layout.height == 2 * 320
    assert figure.layout.modebar.orientation == "v"  # not across the panels' titles


def test_trajectory_animation_keeps_the_host_apart_in_every_frame():
    by_step = {step: [frame(0, step), frame(1, step)] for step in range(100)}
    figure = trajectory_figure(by_step, max_frames=10, host_atoms=2)
    assert 9 <= len(figure.frames) <= 10 and figure.frames[-1].name == "99"
    assert all(len(f.data) == 6 + 4 for f in figure.frames)  # two crystals' traces and the element legend


def test_animation_legend_lists_each_element_once_in_every_frame():
    """Elements decided late (Fe here) are in the legend from the first frame on; Play never adds entries."""
    by_step = {}
    for step in range(12):
        crystal = frame(0, step)
        late = np.array([3, 3, 8, 8, 26 if step >= 6 else 8])
        by_step[step] = [Frame(**{**crystal.__dict__, "likely_z": late})]
    figure = trajectory_figure(by_step, max_frames=12)
    legends = [[t.name for t in f.data if t.showlegend] for f in figure.frames]
    assert all(names == ["Li", "O", "Fe", "undecided"] for names in legends)
    assert [t.name for t in figure.data if t.showlegend] == ["Li", "O", "Fe", "undecided"]


def test_elements_of_alike_jmol_colours_are_told_apart():
    from backend.app.figures import MIN_COLOR_DIFFERENCE, _lab, element_colors

    def rgb(text: str) -> np.ndarray:
        return np.array([int(v) for v in text[4:-1].split(",")]) / 255

    for numbers in ([8, 26], [62, 66, 68], [3, 8, 15, 26]):  # O/Fe; Sm, Dy, Er; olivine's Li, O, P, Fe
        colors = [rgb(c) for c in element_colors(numbers).values()]
        gaps = [np.linalg.norm(_lab(a) - _lab(b)) for i, a in enumerate(colors) for b in colors[i + 1 :]]
        assert min(gaps) >= MIN_COLOR_DIFFERENCE
    assert element_colors([11, 17]) == {11: "rgb(171,92,242)", 17: "rgb(31,240,31)"}  # distinct Jmol colours stay


def test_tall_and_flat_cells_fit_their_panel():
    crystals = [
        Frame(**{**frame(i, 0).__dict__, "lattice": np.diag(d)}) for i, d in enumerate([[4, 4, 24], [15, 15, 3]])
    ]
    figure = frames_figure(crystals)
    tall, flat = figure.layout.scene.aspectratio, figure.layout.scene2.aspectratio
    assert (tall.x, tall.y, tall.z) == (4 / 24, 4 / 24, 1.0)
    assert max(flat.x, flat.y, flat.z) == 1.0 and flat.z == 3 / 15


def test_live_figure_is_built_once_per_new_frame(tmp_path):
    store = JobStore(tmp_path)
    job = store.submit("generate", "x", {})
    assert live_figure(store, job) is None
    store.add_frames(job, [frame(0, 0), frame(1, 0)])
    first = live_figure(store, job)
    assert live_figure(store, job) is first
    store.add_frames(job, [frame(0, 1), frame(1, 1)])
    assert live_figure(store, job) is not first


def test_viewer_facts_say_charge_balance_known_phase_and_give_a_symmetrised_cif():
    from pymatgen.core import Structure

    from backend.app.structure_facts import structure_downloads, structure_facts

    olivine = Structure.from_file(Path(__file__).parent / "data" / "hosts" / "LiFePO4_olivine_mp-19017.cif")
    facts = structure_facts(olivine)
    assert facts.formula == "LiFePO4" and facts.cell_content.endswith("(28 atoms)")
    assert facts.charge_balance == "charge-balanced (SMACT, smact14): Li+1 Fe+2 P+5 O-2"
    assert facts.known_phase.startswith("mp-19017 (LiFePO4), E_above_hull 0.000")
    assert facts.sanity.startswith("ok: closest ") and facts.sanity.endswith("(too close below 0.65)")
    name, text = structure_downloads(olivine, "olivine")["CIF (symmetrised, conventional cell)"]
    assert name == "olivine_symmetrised.cif" and "_symmetry_space_group_name_H-M   Pnma" in text


def test_tables_carry_units_one_formula_style_and_few_decimals():
    import pandas as pd

    from backend.app.display import for_display

    summary = pd.DataFrame(
        {"formula": ["Li1Fe1O6"], "reduced_formula": ["LiFeO6"], "volume_per_atom": [12.345678901234], "error": [""]}
    )
    shown = for_display(summary)
    assert list(shown.columns) == ["formula", "volume (Å³/atom)", "error"]
    assert shown.formula[0] == "LiFeO6" and shown["volume (Å³/atom)"][0] == 12.35
    results = for_display(pd.DataFrame({"e_above_hull": ["0.1234567", ""], "energy_per_atom": [-5.123456789, None]}))
    assert list(results.columns) == ["E_above_hull (eV/atom)", "E (eV/atom)"]
    assert results["E_above_hull (eV/atom)"][0] == 0.123


def test_shortest_bond_counts_a_bond_to_the_sites_own_image():
    """One-atom fcc Cu: every neighbour is the atom's own image, 2.55 Å away (the table read 0 before)."""
    from pymatgen.core import Lattice, Structure

    from backend.app.structure_facts import structure_facts

    half = 3.61 / 2
    copper = Structure(Lattice([[0, half, half], [half, 0, half], [half, half, 0]]), ["Cu"], [[0, 0, 0]])
    row = structure_facts(copper).coordination.iloc[0]
    assert row["coordination"] == 12 and abs(row["shortest bond (Å)"] - 2.553) < 0.01


def test_an_element_without_oxidation_data_is_said_not_raised():
    from pymatgen.core import Lattice, Structure

    from backend.app.structure_facts import structure_facts

    facts = structure_facts(Structure(Lattice.cubic(5), ["Og", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]]))
    assert facts.charge_balance == "not assessed: SMACT has no oxidation states for Og"


def test_frame_titles_say_what_a_question_mark_and_a_failure_meant():
    from backend.app.figures import _title

    undecided = frame(0, 0)
    undecided = Frame(**{**undecided.__dict__, "masked": np.ones(5, dtype=bool)})
    assert _title(undecided) == "#0 types undecided"
    diverged = Frame(**{**frame(1, 3).__dict__, "failed": True})
    assert _title(diverged).endswith(": cell diverged, crystal dropped")


def test_job_zips_built_at_once_agree_and_leave_the_job_folder_alone(tmp_path):
    """Two downloads at once: the trajectory is written in memory, never as a file both would share."""
    import io
    import zipfile
    from concurrent.futures import ThreadPoolExecutor

    from backend.app.job_views import job_zip

    store = JobStore(tmp_path)
    job = store.submit("generate", "x", {})
    store.add_frames(job, [frame(c, s) for s in range(5) for c in range(3)])
    (store.folder(job) / "summary.csv").write_text("index\n0\n")
    before = sorted(p.name for p in store.folder(job).iterdir())
    with ThreadPoolExecutor(max_workers=4) as pool:
        zips = list(pool.map(lambda _: job_zip(store, job), range(8)))
    names = [sorted(zipfile.ZipFile(io.BytesIO(z)).namelist()) for z in zips]
    assert all(n == [f"{job}/summary.csv", f"{job}/trajectory.extxyz"] for n in names)
    texts = {zipfile.ZipFile(io.BytesIO(z)).read(f"{job}/trajectory.extxyz") for z in zips}
    assert len(texts) == 1 and next(iter(texts)).count(b"Lattice=") == 15
    assert sorted(p.name for p in store.folder(job).iterdir()) == before


def test_crystal_toolkit_side_panel_carries_the_viewers_facts():
    from pymatgen.core import Lattice, Structure

    from backend.app.ctk_view import facts_lines

    salt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.69), ["Na", "Cl"], [[0, 0, 0], [0.5] * 3])
    lines = facts_lines(salt)
    assert any(line.startswith("Space group: Fm-3m") for line in lines)
    assert any(line.startswith("Density: 2.1") for line in lines)
    assert any(line.startswith("Sanity: ok") for line in lines)
