"""The pure-torch stand-ins for torch_scatter / torch_sparse against brute-force loops."""

import pytest
import torch

from backend.sampling import compat


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


def test_install_keeps_numpy_math():
    import numpy as np

    compat.install()
    assert np.math.factorial(5) == 120
