"""How a CSP ranking orders its relaxed candidates: by energy, or by the consensus of three orders.

Kept apart from :mod:`backend.csp` so that the command line's arguments and the job spec the pages submit can name
the orders without loading the sampler and the potential.
"""

from __future__ import annotations

from collections.abc import Sequence

# How a ranking orders its relaxed candidates (rank(..., order=)), and what it is ranked by, in the user's words
ORDERS = {
    "energy": "CHGNet energy per atom",
    "consensus": "the consensus of retrieval score, energy as dressed and relaxed energy",
}


def consensus_order(keys: Sequence[Sequence[float | None]]) -> list[int]:
    """Indices of the candidates ordered by the sum of their places in each key's order (a Borda count; lower is
    better, None last, equal values one place), ties by the last key. With one key it is that key's order.

    Retrieval score, energy as dressed and relaxed energy each misplace the right structure type now and then,
    and each in its own way: on the 100 validation targets of ``benchmarks/csp.py`` (MPTS-52 validation split,
    none among the test targets) their consensus put it first for 50 and in the first five for 65, relaxed energy
    alone for 48 and 65, retrieval score for 42 and 62.
    """
    n = len(keys[0])
    places = [0] * n
    for key in keys:
        value = [float("inf") if v is None else v for v in key]
        for i in range(n):
            places[i] += sum(other < value[i] for other in value)
    last = [float("inf") if v is None else v for v in keys[-1]]
    return sorted(range(n), key=lambda i: (places[i], last[i]))
