"""Third-party patches: the pure-torch stand-ins against brute-force loops, and each patch active and checked."""

from pathlib import Path

import pytest
import torch

from backend.thirdparty import torch_extensions as compat


def _reference_scatter(src, index, dim_size, reduce):
    out = torch.zeros((dim_size, *src.shape[1:]), dtype=src.dtype)
    for slot in range(dim_size):
        rows = src[index == slot]
        if len(rows) == 0:
            continue
        out[slot] = {
            "sum": rows.sum(0),
            "add": rows.sum(0),
            "mean": rows.mean(0),
            "max": rows.max(0).values,
            "min": rows.min(0).values,
            "mul": rows.prod(0),
        }[reduce]
    return out


@pytest.mark.parametrize("reduce", ["sum", "add", "mean", "max", "min", "mul"])
@pytest.mark.parametrize("trailing", [(), (3,), (2, 4)])
def test_scatter_matches_loop(reduce, trailing):
    gen = torch.Generator().manual_seed(0)
    src = torch.randn((40, *trailing), generator=gen)
    index = torch.randint(0, 7, (40,), generator=gen)
    got = compat.scatter(src, index, dim=0, dim_size=9, reduce=reduce)
    torch.testing.assert_close(got, _reference_scatter(src, index, 9, reduce))


def test_scatter_defaults_and_last_dim():
    index = torch.tensor([0, 2, 2, 1, 0])
    src = torch.arange(5.0)
    torch.testing.assert_close(compat.scatter(src, index), torch.tensor([4.0, 3.0, 3.0]))
    torch.testing.assert_close(compat.scatter_add(src, index, dim=-1), torch.tensor([4.0, 3.0, 3.0]))
    matrix = torch.arange(10.0).reshape(2, 5)
    expected = torch.stack([_reference_scatter(row, index, 3, "sum") for row in matrix])
    torch.testing.assert_close(compat.scatter(matrix, index, dim=-1, reduce="sum"), expected)


def test_scatter_accepts_expanded_source_and_tensor_size():
    index = torch.tensor([0, 0, 1, 3])
    ones = index.new_ones(1).expand_as(index)
    got = compat.segment_coo(ones, index, dim_size=torch.tensor(5))
    assert got.tolist() == [2, 1, 0, 1, 0]


def test_segment_csr_matches_loop():
    gen = torch.Generator().manual_seed(1)
    src = torch.randn(20, 3, generator=gen)
    indptr = torch.tensor([0, 4, 4, 11, 20])
    got = compat.segment_csr(src, indptr, reduce="sum")
    expected = torch.stack([src[a:b].sum(0) for a, b in zip(indptr[:-1], indptr[1:])])
    torch.testing.assert_close(got, expected)
    counts = compat.segment_csr(torch.ones(20, dtype=torch.long), indptr)
    assert counts.tolist() == [4, 0, 7, 9]


def test_sparse_row_selection_matches_dense_loop():
    gen = torch.Generator().manual_seed(2)
    n_nodes, n_edges = 6, 30
    row = torch.randint(0, n_nodes, (n_edges,), generator=gen)
    col = torch.randint(0, n_nodes, (n_edges,), generator=gen)
    value = torch.arange(n_edges)
    adj = compat.SparseTensor(row=row, col=col, value=value, sparse_sizes=(n_nodes, n_nodes))
    select = torch.tensor([3, 0, 3, 5])
    picked = adj[select]
    expected_rows, expected_values = [], []
    for new_row, r in enumerate(select.tolist()):
        entries = sorted((int(c), int(v)) for rr, c, v in zip(row, col, value) if rr == r)
        expected_rows += [new_row] * len(entries)
        expected_values += [v for _, v in entries]
    assert picked.storage.row().tolist() == expected_rows
    assert sorted(picked.storage.value().tolist()) == sorted(expected_values)
    for new_row in range(len(select)):
        got = picked.storage.value()[picked.storage.row() == new_row]
        want = torch.tensor(expected_values)[torch.tensor(expected_rows) == new_row]
        assert sorted(got.tolist()) == sorted(want.tolist())


def test_install_applies_every_patch_and_names_it_once():
    import numpy as np

    from backend.thirdparty.patches import install

    active = install()
    assert np.math.factorial(5) == 120
    assert install() == active  # idempotent: applied once per process
    for library in ("mattergen 1.0.3", "ase 3.29.0", "chgnet 0.4.2"):
        assert any(line.startswith(library) for line in active), (library, active)
    from mattergen.common.gemnet import gemnet

    from backend.thirdparty.mattergen import SCALE_FACTORS_ROOT

    assert (Path(gemnet.MODELS_PROJECT_ROOT) / "common/gemnet/gemnet-dT.json").is_file()
    assert Path(gemnet.MODELS_PROJECT_ROOT) == SCALE_FACTORS_ROOT


def test_a_version_other_than_the_patch_was_written_for_is_said(monkeypatch):
    from backend.thirdparty import patches

    monkeypatch.setattr(patches, "installed_version", lambda name: "9.9.9")
    (line,) = patches._checked("ase", "3.29.0", ["fast logm"])
    assert line == "ase 9.9.9 (patch written for 3.29.0): fast logm"


def test_the_cell_filter_uses_the_fast_logarithm():
    from ase.build import bulk

    from backend.thirdparty.ase import cell_filter, deformation_log

    target = cell_filter(bulk("Cu", cubic=True))
    assert getattr(target, "_utility", target).logm is deformation_log


def test_crystal_toolkit_patches_let_its_view_build_and_bond():
    """pymatgen 2026 lacks the graph constructors Crystal Toolkit calls; the aliases make CrystalNN bonds again."""
    from pymatgen.analysis.graphs import StructureGraph
    from pymatgen.analysis.local_env import CrystalNN
    from pymatgen.core import Lattice, Structure

    from backend.thirdparty import crystal_toolkit

    crystal_toolkit.install()
    rocksalt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(5.64), ["Na", "Cl"], [[0, 0, 0], [0.5, 0.5, 0.5]])
    graph = StructureGraph.with_local_env_strategy(rocksalt, CrystalNN())
    assert len(graph.get_connected_sites(0)) == 6
    assert crystal_toolkit.cache().config["CACHE_TYPE"] == "SimpleCache"


def test_the_crystal_toolkit_view_offers_voronoi_and_refuses_unknown_ids(tmp_path, monkeypatch):
    from backend.app import services as app_services
    from backend.app.ctk_view import build_app, job_structure
    from backend.thirdparty.crystal_toolkit import with_voronoi

    monkeypatch.setenv("CRYSTAL_CANVAS_DATA", str(tmp_path))
    app_services.reset_services()
    layout = str(build_app().layout)
    assert "VoronoiNN" in layout and "CrystalNN" in layout and "polyhedra" in layout and "accessible" in layout
    assert job_structure("abc123", "0000_NaCl") == (None, "no job 'abc123' in this app's store")
    assert job_structure("../etc", "passwd")[0] is None
    assert not (tmp_path / "jobs" / "abc123").exists()
    with pytest.raises(RuntimeError, match="no bonding menu"):
        from dash import html

        with_voronoi(html.Div([html.P("no menu")]), "structure-bonding_algorithm")
    app_services.reset_services()


def test_a_failed_upload_hides_the_last_structure_in_the_crystal_toolkit_view():
    import base64
    from pathlib import Path

    from backend.app.ctk_view import HIDDEN, view_state

    def upload(path: Path) -> str:
        return "data:;base64," + base64.b64encode(path.read_bytes()).decode()

    data = Path(__file__).parent / "data"
    structure, line, style = view_state(None, upload(data / "hosts" / "NaCl_mp-22862.cif"), "nacl.cif")
    assert structure is not None and style == {} and line == "nacl.cif: Na1 Cl1"
    structure, line, style = view_state(None, upload(data / "bad" / "nan_coordinate.cif"), "nan_coordinate.cif")
    assert structure is None and style == HIDDEN and "is not a number" in line


def test_streamlit_routes_deep_links_through_the_apps_navigation():
    """The flag Streamlit's old multipage mode hangs on exists in the installed version and is cleared."""
    from streamlit.runtime.pages_manager import PagesManager

    from backend.thirdparty import streamlit as patch

    before = PagesManager.uses_pages_directory
    try:
        assert patch.install()
        assert PagesManager.uses_pages_directory is False
    finally:
        PagesManager.uses_pages_directory = before
