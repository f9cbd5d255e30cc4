"""Where a batch's compositions come from: given, proposed (the proposer, with the symmetry or prototype filter the
request asks for), or the model's own. The hook that makes every crystal end with its composition is
:mod:`backend.sampling.hooks.composition`.
"""

from __future__ import annotations

from dataclasses import replace

from pymatgen.core import Composition

from backend.compositions.proposer import CompositionProposer, NoComposition, Proposal
from backend.sampling.model_info import ModelInfo
from backend.sampling.request import GenerationRequest, InvalidRequest, allowed_elements, cell_histogram


def proposals(request: GenerationRequest, model: ModelInfo) -> list[Proposal] | None:
    """The proposer's compositions for this request (seeded: the page shows what the job will sample), or None
    where compositions are given or the model chooses its own types."""
    source = request.resolved(model).composition_source
    if request.compositions or source == "model":
        return None
    accept = _symmetry_filter(request)
    if source == "prototypes":
        from backend.prototypes.seeding import has_foreign_prototype

        accept = {"accept": has_foreign_prototype, "constraint": "with a known prototype of another composition"}
    try:
        proposer = CompositionProposer(
            seed=request.seed,
            allowed_elements=allowed_elements(),
            max_atoms=request.max_atoms,
            cell_histogram=cell_histogram(request.num_atoms_distribution),
            chemical_system=request.chemical_system,
            novelty=request.novelty,
            cell_atoms=request.atoms,
            **accept,
        )
        return proposer.propose(request.n)
    except NoComposition as exc:
        if request.composition_source == "auto" and source == "prototypes":  # no seedable composition: propose freely
            return proposals(replace(request, composition_source="proposer"), model)
        raise InvalidRequest(str(exc)) from None


def composition_preview_note(request: GenerationRequest, model: ModelInfo) -> str:
    """What "Preview compositions" says where nothing is proposed: the given composition, starts or the model."""
    if request.compositions:
        return (
            f"Every crystal has exactly the composition given ({', '.join(request.compositions)}): nothing to propose."
        )
    if request.start_structures:
        return "The start structures fix each crystal's composition: nothing to propose."
    return f"Model '{model.name}' chooses its own atom types: there is no composition to preview."


def _symmetry_filter(request: GenerationRequest) -> dict[str, object]:
    """With a space-group constraint, only compositions that some Wyckoff assignment of the group can hold."""
    if not request.constrains_symmetry:
        return {}
    from backend.symmetry.wyckoff import has_assignment

    number = request.space_group
    return {
        "accept": lambda c: has_assignment(number, {el.symbol: int(n) for el, n in c.items()}),
        "constraint": f"with a Wyckoff assignment in space group {number}",
    }


def batch_compositions(request: GenerationRequest, model: ModelInfo) -> list[Composition] | None:
    """Each crystal's cell content (request order), or None where the model chooses the atom types."""
    if request.compositions:
        given = [Composition(text) for text in request.compositions]
        return given * request.n if len(given) == 1 else given
    proposed = proposals(request, model)
    return None if proposed is None else [Composition(p.formula) for p in proposed]
