"""Pure-torch stand-ins for ``torch_scatter`` and ``torch_sparse``, as mattergen 1.0.3 uses them.

mattergen imports both, compiled extensions that PyPI ships only as sources (20 minutes to build here,
and tied to one torch build). MatterGen uses a handful of their functions, all expressible with plain
torch. :func:`install` registers these stand-ins under those module names *only when the real
extensions cannot be imported*, so a CUDA workstation with the real wheels keeps them.
"""

from __future__ import annotations

import importlib.util
import sys
import types

import torch

_REDUCTIONS = {"sum": "sum", "add": "sum", "mean": "mean", "max": "amax", "min": "amin", "mul": "prod"}


def _broadcast_index(index: torch.Tensor, src: torch.Tensor, dim: int) -> torch.Tensor:
    """Expand a 1-D index along ``dim`` to the shape of ``src``, as torch_scatter does."""
    if index.dim() == src.dim():
        return index
    shape = [1] * src.dim()
    shape[dim] = -1
    return index.view(shape).expand_as(src)


def scatter(
    src: torch.Tensor,
    index: torch.Tensor,
    dim: int = -1,
    out: torch.Tensor | None = None,
    dim_size: int | None = None,
    reduce: str = "sum",
) -> torch.Tensor:
    """``torch_scatter.scatter``: reduce ``src`` into slots given by ``index`` along ``dim``.

    Empty slots are 0 for every reduction, matching torch_scatter.
    """
    if reduce not in _REDUCTIONS:
        raise ValueError(f"unsupported reduction {reduce!r}")
    dim = dim % src.dim()
    if dim_size is None:
        dim_size = int(index.max()) + 1 if index.numel() > 0 else 0
    size = list(src.shape)
    size[dim] = dim_size
    idx = _broadcast_index(index, src, dim)
    if out is None:
        out = torch.zeros(size, dtype=src.dtype, device=src.device)
        include_self = False
    else:
        include_self = True
    return out.scatter_reduce(dim, idx, src, reduce=_REDUCTIONS[reduce], include_self=include_self)


def scatter_add(
    src: torch.Tensor,
    index: torch.Tensor,
    dim: int = -1,
    out: torch.Tensor | None = None,
    dim_size: int | None = None,
) -> torch.Tensor:
    """``torch_scatter.scatter_add``."""
    return scatter(src, index, dim=dim, out=out, dim_size=dim_size, reduce="sum")


def segment_coo(
    src: torch.Tensor,
    index: torch.Tensor,
    out: torch.Tensor | None = None,
    dim_size: int | None = None,
    reduce: str = "sum",
) -> torch.Tensor:
    """``torch_scatter.segment_coo``: reduce along the first dimension of ``index`` (sorted)."""
    return scatter(src, index, dim=index.dim() - 1, out=out, dim_size=dim_size, reduce=reduce)


def segment_csr(
    src: torch.Tensor,
    indptr: torch.Tensor,
    out: torch.Tensor | None = None,
    reduce: str = "sum",
) -> torch.Tensor:
    """``torch_scatter.segment_csr`` for a 1-D ``indptr``: reduce ``src[indptr[i]:indptr[i+1]]``."""
    counts = indptr[1:] - indptr[:-1]
    segments = torch.repeat_interleave(torch.arange(counts.numel(), device=src.device), counts)
    dim = indptr.dim() - 1
    used = src.narrow(dim, int(indptr[0]), segments.numel())
    return scatter(used, segments, dim=dim, out=out, dim_size=counts.numel(), reduce=reduce)


class _Storage:
    """The slice of ``torch_sparse.SparseStorage`` that GemNet reads: COO rows, columns, values."""

    def __init__(self, row: torch.Tensor, col: torch.Tensor, value: torch.Tensor | None):
        self._row, self._col, self._value = row, col, value

    def row(self) -> torch.Tensor:
        return self._row

    def col(self) -> torch.Tensor:
        return self._col

    def value(self) -> torch.Tensor | None:
        return self._value


class SparseTensor:
    """Row-sorted COO matrix supporting what GemNet's triplet search needs: ``adj[rows]``.

    ``adj[idx]`` returns a matrix whose row ``i`` is row ``idx[i]`` of ``adj``, entries in
    (row, column) order, exactly as torch_sparse's CSR row selection does.
    """

    def __init__(
        self,
        row: torch.Tensor,
        col: torch.Tensor,
        value: torch.Tensor | None = None,
        sparse_sizes: tuple[int, int] | None = None,
        is_sorted: bool = False,
    ):
        n_rows = int(sparse_sizes[0]) if sparse_sizes is not None else int(row.max()) + 1
        n_cols = int(sparse_sizes[1]) if sparse_sizes is not None else int(col.max()) + 1
        if not is_sorted and row.numel() > 0:
            order = torch.argsort(row * max(n_cols, 1) + col, stable=True)
            row, col = row[order], col[order]
            value = value[order] if value is not None else None
        self._sizes = (n_rows, n_cols)
        self.storage = _Storage(row, col, value)
        counts = torch.bincount(row, minlength=n_rows)
        self._rowptr = torch.cat([counts.new_zeros(1), counts.cumsum(0)])

    def sparse_sizes(self) -> tuple[int, int]:
        return self._sizes

    def to(self, device: torch.device) -> SparseTensor:
        s = self.storage
        value = s.value().to(device) if s.value() is not None else None
        return SparseTensor(s.row().to(device), s.col().to(device), value, self._sizes, is_sorted=True)

    def __getitem__(self, rows: torch.Tensor) -> SparseTensor:
        rows = rows.to(torch.long)
        starts = self._rowptr[rows]
        counts = self._rowptr[rows + 1] - starts
        new_row = torch.repeat_interleave(torch.arange(rows.numel(), device=rows.device), counts)
        offsets = torch.cumsum(counts, 0) - counts
        within = torch.arange(new_row.numel(), device=rows.device) - offsets[new_row]
        take = starts[new_row] + within
        s = self.storage
        value = s.value()[take] if s.value() is not None else None
        return SparseTensor(new_row, s.col()[take], value, (rows.numel(), self._sizes[1]), is_sorted=True)


def _module(name: str, **attrs: object) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    module.__dict__["__crystal_canvas_stand_in__"] = True
    return module


def _importable(name: str) -> bool:
    if name in sys.modules:
        return True
    try:
        return importlib.util.find_spec(name) is not None and _imports_cleanly(name)
    except (ImportError, ValueError):
        return False


def _imports_cleanly(name: str) -> bool:
    """A compiled extension built for another torch is found but fails to load: treat it as absent."""
    try:
        importlib.import_module(name)
        return True
    except (ImportError, OSError):
        return False


def install() -> list[str]:
    """Register the stand-ins where the real extensions are missing; return the names now standing in."""
    standing_in = []
    for name, attrs in (
        (
            "torch_scatter",
            dict(scatter=scatter, scatter_add=scatter_add, segment_coo=segment_coo, segment_csr=segment_csr),
        ),
        ("torch_sparse", dict(SparseTensor=SparseTensor)),
    ):
        if not _importable(name):
            sys.modules[name] = _module(name, **attrs)
        if getattr(sys.modules[name], "__crystal_canvas_stand_in__", False):
            standing_in.append(name)
    return standing_in
