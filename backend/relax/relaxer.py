"""Batched structure relaxation: every structure steps together, each stops when converged.

Each structure keeps its own ASE ``FIRE`` optimiser on a ``FrechetCellFilter`` -- the same recipe as
CHGNet's ``StructOptimizer`` -- but the potential is evaluated for all unconverged structures in one
batched call per step, instead of one model call per structure per step. The potential says how many
lanes to use: on CPU each step's batch is split between threads (one per core), so that one lane's
Python work overlaps another's network arithmetic. A structure that cannot be relaxed (rejected input,
exploding cell, non-finite energy) is reported with its reason and the rest of the batch carries on.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from pymatgen.core import Structure

from backend.limits import FIX_SYMMETRY_SYMPREC
from backend.relax.interface import Evaluation, Potential
from backend.structures import check_structure
from backend.thirdparty.ase import cell_filter

MAX_EDGE_REDUCTION = 1.5  # a cell whose longest edge is this much longer than its reduced cell's relaxes reduced
MAX_VOLUME_CHANGE = 5.0  # a cell that grows or shrinks 5x is exploding, not relaxing


@dataclass(frozen=True)
class RelaxResult:
    """Outcome for one input structure (``structure`` is None when it failed)."""

    index: int
    initial: Structure | None
    structure: Structure | None
    energy_per_atom: float
    steps: int
    converged: bool
    rmsd: float
    volume_change: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class RelaxProgress:
    """Per-structure progress, reported after every batched step."""

    step: int
    active: int
    finished: int
    total: int


ProgressCallback = Callable[[RelaxProgress], None]


class RelaxationStopped(Exception):
    """``stop`` asked to end a relaxation between two steps (a cancelled job); nothing half-relaxed is returned."""


def reduced_basis(structure: Structure) -> tuple[Structure, np.ndarray | None]:
    """``structure`` in its Niggli-reduced cell where its own cell is badly shaped (the longest edge more than
    :data:`MAX_EDGE_REDUCTION` times the reduced cell's), with the integer matrix ``T`` that maps back
    (``lattice = T @ reduced lattice``); else ``structure`` itself and None.

    A diffusion sample can come out as a sliver of a cell -- a 493 Å edge at a 17° angle, at a normal volume -- and
    the potential's neighbour search walks every periodic image such a cell needs: its relaxation took minutes per
    step. The same crystal in its reduced cell relaxes in seconds, and is handed back in the caller's basis.
    """
    reduced = structure.lattice.get_niggli_reduced_lattice()
    if max(structure.lattice.abc) <= MAX_EDGE_REDUCTION * max(reduced.abc):
        return structure, None
    basis = np.rint(structure.lattice.matrix @ np.linalg.inv(reduced.matrix))
    return structure.get_reduced_structure(), basis


class _Run:
    """One structure's ASE state: atoms, cell filter and optimiser (in a reduced cell where its own is badly
    shaped, see :func:`reduced_basis`)."""

    def __init__(
        self, index: int, structure: Structure, fmax: float, relax_cell: bool, fixed: Sequence[int], symmetric: bool
    ):
        from ase.constraints import FixAtoms, FixSymmetry
        from ase.optimize import FIRE
        from pymatgen.io.ase import AseAtomsAdaptor

        self.index = index
        self.initial = structure
        working, self.basis = reduced_basis(structure)
        self.atoms = AseAtomsAdaptor.get_atoms(working)
        constraints = [FixAtoms(indices=list(fixed))] if fixed else []
        if symmetric:  # forces, stress and steps symmetrised: numerical noise cannot lower the space group
            constraints.append(FixSymmetry(self.atoms, symprec=FIX_SYMMETRY_SYMPREC))
        if constraints:
            self.atoms.set_constraint(constraints)
        target = self.atoms
        if relax_cell:
            target = cell_filter(self.atoms)
        self.optimizer = FIRE(target, logfile=None)
        self.optimizer.fmax = fmax
        self.energy = math.nan
        self.done = False
        self.converged = False
        self.error: str | None = None

    def working(self) -> Structure:
        """The current state in the cell the optimiser works in: what the potential evaluates."""
        from pymatgen.io.ase import AseAtomsAdaptor

        return AseAtomsAdaptor.get_structure(self.atoms)

    def structure(self) -> Structure:
        """The current state, site for site as given and in the cell basis given, labels kept (inpainting marks its
        guests by label)."""
        from pymatgen.core import Lattice

        current = self.working()
        if self.basis is not None:
            lattice = Lattice(self.basis @ current.lattice.matrix)
            current = Structure(lattice, current.species, current.cart_coords, coords_are_cartesian=True)
        for site, label in zip(current, self.initial.labels):
            site.label = label
        return current

    def apply(self, evaluation: Evaluation, max_steps: int) -> None:
        """Attach the batched result, test convergence as ASE does, and take one FIRE step if needed."""
        from ase.calculators.singlepoint import SinglePointCalculator
        from ase.stress import full_3x3_to_voigt_6_stress

        if not (np.isfinite(evaluation.energy) and np.isfinite(evaluation.forces).all()):
            self._fail("the potential returned a non-finite energy or force")
            return
        self.energy = evaluation.energy
        self.atoms.calc = SinglePointCalculator(
            self.atoms,
            energy=evaluation.energy,
            free_energy=evaluation.energy,
            forces=evaluation.forces,
            stress=full_3x3_to_voigt_6_stress(evaluation.stress),
        )
        optimizer = self.optimizer
        gradient = optimizer.optimizable.get_gradient()  # the cell filter's gradient is costly: once per step
        if optimizer.gradient_converged(gradient):
            self.done, self.converged = True, True
            return
        if optimizer.nsteps >= max_steps:
            self.done = True
            return
        with warnings.catch_warnings():  # ASE asks not to pass forces to step(); it still honours them
            warnings.simplefilter("ignore")
            optimizer.step(-gradient)
        optimizer.nsteps += 1
        ratio = self.atoms.get_volume() / self.initial.volume
        if not 1 / MAX_VOLUME_CHANGE < ratio < MAX_VOLUME_CHANGE:
            self._fail(f"cell volume changed {ratio:.2g}x during relaxation (exploding structure)")

    def _fail(self, reason: str) -> None:
        self.done, self.error = True, reason


def relax_structures(
    structures: Sequence[Structure],
    potential: Potential,
    fmax: float = 0.05,
    steps: int = 500,
    relax_cell: bool = True,
    fixed: Sequence[Sequence[int]] | None = None,
    progress: ProgressCallback | None = None,
    keep_symmetry: bool = False,
    stop: Callable[[], bool] | None = None,
) -> list[RelaxResult]:
    """Relax positions (and the cell) of every structure until max force < ``fmax`` eV/Å or ``steps``.

    ``keep_symmetry`` adds ASE's ``FixSymmetry`` (spglib at 0.01 Å): each structure keeps the space group it starts in.
    ``stop`` is asked before every batched step; when it says so, :class:`RelaxationStopped` is raised, so a cancel
    takes effect within one step instead of after the whole batch.
    """
    results: dict[int, RelaxResult] = {}
    runs: list[_Run] = []
    for index, structure in enumerate(structures):
        problem = check_structure(structure, potential)
        if problem:
            results[index] = _failed(index, structure, problem)
            continue
        runs.append(_Run(index, structure, fmax, relax_cell, fixed[index] if fixed else (), keep_symmetry))
    step = 0
    with ThreadPoolExecutor(max_workers=potential.lanes, thread_name_prefix="relax-lane") as lanes:
        while True:
            active = [run for run in runs if not run.done]
            if not active:
                break
            if stop is not None and stop():
                raise RelaxationStopped
            chunks = [active[i :: potential.lanes] for i in range(min(potential.lanes, len(active)))]
            for future in [lanes.submit(_step, potential, chunk, steps) for chunk in chunks]:
                future.result()
            step += 1
            if progress:
                still = sum(not run.done for run in runs)
                total = len(structures)
                progress(RelaxProgress(step=step, active=still, finished=total - still, total=total))
    for run in runs:
        results[run.index] = _result(run)
    return [results[i] for i in range(len(structures))]


def _step(potential: Potential, runs: Sequence[_Run], max_steps: int) -> None:
    """One batched evaluation and one FIRE step for each of ``runs`` (one lane's share of the batch)."""
    for run, evaluation in zip(runs, _evaluate(potential, runs)):
        if isinstance(evaluation, str):
            run._fail(evaluation)
        else:
            run.apply(evaluation, max_steps)


def _evaluate(potential: Potential, runs: Sequence[_Run]) -> list[Evaluation | str]:
    """One batched call; if it fails, isolate the culprit by evaluating one structure at a time."""
    structures = [run.working() for run in runs]
    try:
        return list(potential.evaluate(structures))
    except Exception:  # a bad structure in the batch must not sink the others
        outcomes: list[Evaluation | str] = []
        for structure in structures:
            try:
                outcomes.append(potential.evaluate([structure])[0])
            except Exception as exc:
                outcomes.append(f"{potential.name} failed: {type(exc).__name__}: {exc}")
        return outcomes


def _failed(index: int, structure: Structure | None, error: str) -> RelaxResult:
    return RelaxResult(index, structure, None, math.nan, 0, False, math.nan, math.nan, error)


def _result(run: _Run) -> RelaxResult:
    if run.error:
        return _failed(run.index, run.initial, run.error)
    final = run.structure()
    return RelaxResult(
        index=run.index,
        initial=run.initial,
        structure=final,
        energy_per_atom=run.energy / len(final),
        steps=run.optimizer.nsteps,
        converged=run.converged,
        rmsd=displacement_rmsd(run.initial, final),
        volume_change=final.volume / run.initial.volume - 1,
    )


def displacement_rmsd(before: Structure, after: Structure) -> float:
    """RMS displacement (Å) of atoms between two states of the same structure, each atom's shortest periodic image
    in the final cell (pymatgen's LLL-based search: rounding fractional differences is not the shortest image in a
    skewed cell)."""
    from pymatgen.util.coord import pbc_shortest_vectors

    vectors = [pbc_shortest_vectors(after.lattice, b, a)[0, 0] for b, a in zip(before.frac_coords, after.frac_coords)]
    return float(np.sqrt((np.asarray(vectors) ** 2).sum(axis=1).mean()))
