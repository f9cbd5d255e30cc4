"""The chemical sanity verdict: every known crystal passes, overlapping atoms fail, with the threshold stated."""

import pandas as pd
from pymatgen.core import Lattice, Structure

from backend.limits import COVALENT_FRACTION
from backend.metrics.sanity import sanity
from backend.paths import ASSETS


def test_known_crystals_pass():
    frame = pd.read_csv(ASSETS / "data" / "mp20" / "mp20_subset.csv.gz", usecols=["cif"]).sample(2000, random_state=0)
    verdicts = [sanity(Structure.from_str(cif, fmt="cif")) for cif in frame.cif]
    assert all(v.ok for v in verdicts)
    assert min(v.ratio for v in verdicts) < COVALENT_FRACTION + 0.05  # the threshold is not loose either


def test_overlapping_atoms_fail_and_say_which_pair():
    squeezed = Structure(Lattice.cubic(6), ["Li", "O"], [[0, 0, 0], [1.05 / 6, 0, 0]])
    verdict = sanity(squeezed)
    assert not verdict.ok and verdict.pair == "Li-O" and abs(verdict.distance - 1.05) < 1e-6
    assert verdict.text == "atoms too close: closest Li-O 1.05 Å, 0.54 of the covalent-radius sum"
    copper = Structure(Lattice([[0, 1.805, 1.805], [1.805, 0, 1.805], [1.805, 1.805, 0]]), ["Cu"], [[0, 0, 0]])
    assert sanity(copper).ok


def test_the_screening_filter_and_relax_results_carry_the_verdict(tmp_path):
    from backend.evaluation import relax_and_assess
    from backend.relax.potentials import chgnet
    from backend.screening.config import ScreenConfig
    from backend.screening.stages import Candidate, sanity_filter

    squeezed = Structure(Lattice.cubic(6), ["Li", "O"], [[0, 0, 0], [1.05 / 6, 0, 0]])
    kept, reason = sanity_filter(ScreenConfig(out=tmp_path), Candidate("b0-0", 0, squeezed.to(fmt="cif")))
    assert not kept and reason == "Li-O 1.05 Å apart (< 0.65 of the covalent radii)"
    rock_salt = Structure.from_file(ASSETS / "data" / "hosts" / "NaCl_mp-22862.cif")
    row = relax_and_assess(["nacl"], [rock_salt], chgnet(), steps=5)[0].row()
    assert row["sanity_before"].startswith("ok: closest Cl-Na 2.8")


def test_the_verdict_is_counted_in_the_rates():
    """The rates carry "Sane" over every crystal asked for: a squeezed Li-O passes V (0.5 Å) but not sanity."""
    from backend.metrics.rates import batch_rates

    squeezed = Structure(Lattice.cubic(6), ["Li", "O"], [[0, 0, 0], [1.05 / 6, 0, 0]])
    rock_salt = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.2), ["Li", "O"], [[0, 0, 0], [0.5] * 3])
    table, rates = batch_rates([squeezed, rock_salt, None])
    assert list(table.sane) == [False, True, False]
    sane = rates["Sane (covalent radii)"]
    assert (sane.numerator, sane.denominator) == (1, 3)
    assert rates["V (structural)"].numerator == 2
