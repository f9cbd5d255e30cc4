"""A job's result folder: what is written is read back typed, by the one type that knows the file names."""

from pathlib import Path

import pandas as pd
from pymatgen.core import Structure

from backend.evaluation import relax_and_assess
from backend.relax.potentials import chgnet
from backend.results.folder import RESULTS, ResultFolder, crystal_file, relaxed_file

HOSTS = Path(__file__).parent / "data" / "hosts"


def test_a_relaxation_folder_reads_back_what_it_wrote(tmp_path):
    names = ["NaCl_mp-22862", "GaN_mp-830"]
    structures = [Structure.from_file(HOSTS / f"{name}.cif") for name in names]
    folder = ResultFolder(tmp_path)
    assert folder.results() is None and folder.rates() is None and folder.table() is None
    written = folder.write_results(relax_and_assess(names, structures, chgnet(), steps=5))
    assert list(written.name) == names and (tmp_path / RESULTS).is_file()
    assert sorted(p.name for p in tmp_path.glob("*.cif")) == sorted(relaxed_file(name) for name in names)
    relaxed = folder.relaxed_structures()
    assert list(relaxed) == names and relaxed["NaCl_mp-22862"].composition.reduced_formula == "NaCl"
    assert list(folder.table().name) == names  # results.csv is the folder's table without a ranking
    (tmp_path / "summary.csv").write_text(
        pd.DataFrame(
            [
                {"index": 0, "status": "ok", "error": "", "file": f"{names[0]}.cif"},
                {"index": 1, "status": "failed", "error": "lattice diverged", "file": ""},
                {"index": 2, "status": "ok", "error": "", "file": f"{names[1]}.cif"},
            ]
        ).to_csv(index=False)
    )
    outcomes, rates = folder.write_rates(relaxed, folder.summary())
    assert [s is not None for s in outcomes] == [True, False, True]  # the failed crystal keeps its place
    assert rates.requested == 3 and folder.rates() == rates
    assert crystal_file(7, "Li2O") == "0007_Li2O.cif"


def test_structures_come_back_in_their_own_site_order_with_their_labels(tmp_path):
    """A CIF read back is regrouped by element; the folder reads the exact copy it keeps beside each CIF."""
    olivine = Structure.from_file(HOSTS / "LiFePO4_olivine_mp-19017.cif")
    shuffled = Structure.from_sites([olivine[i] for i in reversed(range(len(olivine)))])
    for site in shuffled:
        site.label = f"{site.specie.symbol}_mine"
    folder = ResultFolder(tmp_path)
    folder.write_structure(shuffled, crystal_file(0, "LiFePO4"))
    from_cif = Structure.from_file(tmp_path / crystal_file(0, "LiFePO4"))
    assert [s.specie for s in from_cif] != [s.specie for s in shuffled]  # the reason for the exact copy
    again = folder.structures()["0000_LiFePO4"]
    assert [s.specie for s in again] == [s.specie for s in shuffled]
    assert [s.label for s in again] == [s.label for s in shuffled]
    assert abs(again.frac_coords - shuffled.frac_coords).max() < 1e-9
