"""Candidate sets on a compute backend: the one place that touches the big (L x d) data.

The large-scale solvers (REX, screening) only need four things from the L candidates, so they never hold
an (L, d) float64 working copy:

- ``gram()``: B^T B in float64 (span and whitening, once);
- ``rows(index)``: a few candidates as float64 rows (working sets, supports, exact re-checks);
- ``leverage_pass(W, index)``: g_i = ||b_i^T W||^2 for all (or the listed) candidates, the cost floor;
- ``matvec(v)``: B v (the greedy start of REX).

Two layouts: :class:`DenseSet` holds the rows b_i; :class:`PairSet` holds per-response features X (R, d)
and the pairs (i, j), b_l = x_i - x_j (pair-shared leverages, see :mod:`duelbandit.design.pairs`). Two
backends: "numpy" (CPU) and "torch" (CPU or CUDA, imported only when asked for).

Passes run in float32 when ``dtype="float32"``. Every float32 pass also returns a rigorous bound e_i with
|sqrt(g_i) - sqrt(g32_i)| <= e_i: with u the unit round-off and (|b| |W|)_k <= ||b|| ||W_{:,k}||,
    |fl(b32 W32) - b W|_k <= (gamma_d + 2u) (|b| |W|)_k  =>  ||fl(b W) - b W||_2 <= (d + 3) u ||b|| ||W||_F
(Higham, Accuracy and Stability of Numerical Algorithms, §3.1; the bound holds for any summation order,
so for blocked BLAS and GPU reductions too), doubled for safety, plus the rounding of the final sum. The
certificate uses it to re-check in float64 only the candidates that could hold the maximum, so the
reported max leverage is exact while the pass itself ran in float32 ("float64 refinement").
"""

from __future__ import annotations

import contextlib
from typing import Protocol

import numpy as np

from duelbandit.design.pairs import PAIR_CHUNK, pair_differences, pair_gram, pair_leverages
from duelbandit.errors import DesignError

BACKENDS = ("numpy", "torch")
DTYPES = ("float32", "float64")
# rows per block of a dense numpy pass: the (CHUNK x r) product stays in a few MB
DENSE_CHUNK = 1 << 14


class CandidateSet(Protocol):
    """The candidates b_1..b_L as the solvers see them (see the module docstring)."""

    n: int
    dim: int
    backend: str
    dtype: str

    def gram(self) -> np.ndarray: ...

    def rows(self, index: np.ndarray) -> np.ndarray: ...

    def leverage_pass(
        self, W: np.ndarray, index: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]: ...

    def matvec(self, v: np.ndarray) -> np.ndarray: ...


_CONTROLLER: list = []


def small_blas(dim: int = 0):
    """Context in which BLAS/LAPACK run single-threaded when the matrices are small (``dim`` < 96, the
    size of the d x d and p x p algebra of Newton steps and exchanges for such d): too small to gain
    from threads, while on a shared machine a second BLAS thread that waits for a busy core makes each
    call several times slower (measured 15 ms -> 86 ms median for an 800 x 800 Cholesky under load).
    For larger d the support (~d^2 / 4 points) makes the Newton algebra big enough for threads, and the
    large passes always keep the BLAS configuration of the caller."""
    if dim >= 96:
        return contextlib.nullcontext()
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController())
        except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
            _CONTROLLER.append(None)
    ctl = _CONTROLLER[0]
    return contextlib.nullcontext() if ctl is None else ctl.limit(limits=1, user_api="blas")


def _unit_roundoff(backend: str, dtype: str, device: object = None) -> float:
    if dtype == "float64":
        return 0.0
    if backend == "torch":
        import torch

        dev = torch.device(device) if device is not None else torch.device("cpu")
        if dev.type == "cuda" and (torch.backends.cuda.matmul.allow_tf32
                                   or torch.get_float32_matmul_precision() != "highest"):
            return 2.0**-11  # TF32 keeps 10 mantissa bits
    return 2.0**-24


def _bound(sq_norm_b: np.ndarray, W: np.ndarray, g: np.ndarray, u: float) -> np.ndarray:
    """e_i >= |sqrt(g_i) - sqrt(g32_i)| (see the module docstring)."""
    d = W.shape[0]
    scale = 2.0 * (d + 3) * u * float(np.sqrt(np.einsum("ij,ij->", W, W)))
    return scale * np.sqrt(sq_norm_b) + 2.0 * (W.shape[1] + 2) * u * np.sqrt(g)


class _Numpy:
    name = "numpy"

    def __init__(self, device: object = None) -> None:
        if device not in (None, "cpu"):
            raise DesignError(f"device: the numpy backend runs on the CPU, got device={device!r}")
        self.device = "cpu"


class _Torch:
    name = "torch"

    def __init__(self, device: object = None) -> None:
        try:
            import torch
        except ImportError as exc:  # pragma: no cover - torch is an optional dependency
            raise DesignError("backend='torch' needs PyTorch: pip install 'duelbandit[embed]'") from exc
        self.torch = torch
        self.device = torch.device(device if device is not None else "cpu")
        if self.device.type == "cuda" and not torch.cuda.is_available():
            raise DesignError(f"device: {device!r} requested but torch.cuda.is_available() is False")
        # big blocks on a GPU (kernel launches are the overhead there), cache-sized ones on a CPU
        self.chunk = 1 << 20 if self.device.type == "cuda" else 1 << 14

    def put(self, a: np.ndarray, dtype: str):
        return self.torch.as_tensor(np.ascontiguousarray(a), dtype=getattr(self.torch, dtype), device=self.device)

    def index(self, idx: np.ndarray):
        return self.torch.as_tensor(np.array(idx, dtype=np.int64), device=self.device)

    def host(self, x) -> np.ndarray:
        return x.to(self.torch.float64).cpu().numpy()

    def source(self, a):
        """The caller's data on the device: a tensor stays (moved if needed), an array stays on the host."""
        return a.to(self.device) if is_tensor(a) else a


def is_tensor(a: object) -> bool:
    """True for a torch.Tensor (checked without importing torch)."""
    return type(a).__module__.split(".")[0] == "torch"


def check_tensor(X, *, name: str = "B"):
    """Validate a torch tensor of candidates or features on its device (2-d, finite, not all zero)."""
    import torch

    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise DesignError(f"{name}: expected a non-empty 2-d tensor, got shape {tuple(X.shape)}")
    if not X.is_floating_point():
        X = X.to(torch.float64)
    if not bool(torch.isfinite(X).all()):
        raise DesignError(f"{name}: expected finite values, got NaN or inf in the tensor")
    if not bool((X != 0).any()):
        raise DesignError(f"{name}: all {X.shape[0]} rows are zero; a design needs a nonzero candidate")
    return X


def _backend(backend: str, device: object):
    if backend not in BACKENDS:
        raise DesignError(f"backend: expected one of {BACKENDS}, got {backend!r}")
    return _Numpy(device) if backend == "numpy" else _Torch(device)


class DenseSet:
    """Candidates given as rows of B (L, d).

    Memory: the caller's float64 B (kept, not copied) plus, for float32 passes, one float32 copy on the
    backend (4 L d bytes), plus O(chunk * d) per pass.
    """

    def __init__(self, B: np.ndarray, *, backend: str = "numpy", device: object = None,
                 dtype: str = "float32") -> None:
        if dtype not in DTYPES:
            raise DesignError(f"dtype: expected one of {DTYPES}, got {dtype!r}")
        self._be = _backend(backend, device)
        self.B = B
        self.n, self.dim = B.shape
        self.backend, self.dtype = backend, dtype
        self.u = _unit_roundoff(backend, dtype, device)
        if backend == "numpy":
            self._data = B if dtype == "float64" else B.astype(np.float32)
        elif is_tensor(B):  # already on the device (no host copy at all)
            self.B = self._be.source(B)
            self._data = self.B.to(getattr(self._be.torch, dtype))
        else:
            self._data = self._be.put(B, dtype)
        self._sq_norms: np.ndarray | None = None

    def gram(self) -> np.ndarray:
        if self.backend == "numpy":
            return self.B.T @ self.B
        torch, be = self._be.torch, self._be
        G = torch.zeros((self.dim, self.dim), dtype=torch.float64, device=be.device)
        for s in range(0, self.n, be.chunk):
            blk = self.B[s : s + be.chunk].double() if is_tensor(self.B) else be.put(self.B[s : s + be.chunk], "float64")
            G += blk.T @ blk
        return be.host(G)

    def rows(self, index: np.ndarray) -> np.ndarray:
        if is_tensor(self.B):
            return self._be.host(self.B.index_select(0, self._be.index(index)))
        return self.B[index]

    def matvec(self, v: np.ndarray) -> np.ndarray:
        if self.backend == "numpy":
            return self._data @ v.astype(self._data.dtype)
        return self._be.host(self._data @ self._be.put(v, self.dtype))

    def sq_norms(self) -> np.ndarray:
        """||b_i||^2 in float64 (cached; used by the float32 error bound)."""
        if self._sq_norms is None:
            if is_tensor(self.B):
                Bd = self.B
                self._sq_norms = np.concatenate([self._be.host((Bd[s : s + self._be.chunk].double() ** 2).sum(1))
                                                 for s in range(0, self.n, self._be.chunk)])
            else:
                self._sq_norms = np.einsum("ij,ij->i", self.B, self.B)
        return self._sq_norms

    def leverage_pass(self, W: np.ndarray, index: np.ndarray | None = None):
        k = self.n if index is None else index.shape[0]
        if self.backend == "numpy":
            W_ = W.astype(self._data.dtype)
            g = np.empty(k, dtype=self._data.dtype)
            for s in range(0, k, DENSE_CHUNK):
                blk = self._data[s : s + DENSE_CHUNK] if index is None else self._data[index[s : s + DENSE_CHUNK]]
                Y = blk @ W_
                g[s : s + DENSE_CHUNK] = np.einsum("ij,ij->i", Y, Y)
            g = g.astype(np.float64, copy=False)
        else:
            be = self._be
            W_ = be.put(W, self.dtype)
            idx = None if index is None else be.index(index)
            g_dev = be.torch.empty(k, dtype=W_.dtype, device=be.device)
            for s in range(0, k, be.chunk):
                blk = self._data[s : s + be.chunk] if idx is None else self._data.index_select(0, idx[s : s + be.chunk])
                Y = blk @ W_
                g_dev[s : s + be.chunk] = (Y * Y).sum(1)
            g = be.host(g_dev)
        if not self.u:
            return g, None
        nb = self.sq_norms() if index is None else self.sq_norms()[index]
        return g, _bound(nb, W, g, self.u)


class PairSet:
    """Candidates b_l = x_{i_l} - x_{j_l} given as per-response features X (R, d) and pairs (i, j).

    A pass costs O(R d r + L r) (see :mod:`duelbandit.design.pairs`); the (L, d) difference matrix is
    never formed, only blocks of it. Memory: the caller's float64 X, one copy of X in the pass dtype on the
    backend (4 R d bytes in float32), the pair indices (16 L bytes as int64) and O(chunk * d) per pass.
    """

    def __init__(self, X: np.ndarray, i: np.ndarray, j: np.ndarray, *, backend: str = "numpy",
                 device: object = None, dtype: str = "float32") -> None:
        if dtype not in DTYPES:
            raise DesignError(f"dtype: expected one of {DTYPES}, got {dtype!r}")
        self._be = _backend(backend, device)
        self.X, self.i, self.j = X, i, j
        self.n, self.dim = int(i.shape[0]), int(X.shape[1])
        self.backend, self.dtype = backend, dtype
        self.u = _unit_roundoff(backend, dtype, device)
        if backend == "numpy":
            self._data = X if dtype == "float64" else X.astype(np.float32)
        else:
            if is_tensor(X):  # features already on the device: no host copy
                self.X = self._be.source(X)
                self._data = self.X.to(getattr(self._be.torch, dtype))
            else:
                self._data = self._be.put(X, dtype)
            self._i, self._j = self._be.index(i), self._be.index(j)
        self._sq_norms: np.ndarray | None = None

    def gram(self) -> np.ndarray:
        if self.backend == "numpy":
            return pair_gram(self.X, self.i, self.j)
        torch, be = self._be.torch, self._be
        if is_tensor(self.X):
            # blocks of differences in float64 on the device: L d^2 flops, O(chunk d) memory
            G = torch.zeros((self.dim, self.dim), dtype=torch.float64, device=be.device)
            for s in range(0, self.n, be.chunk):
                D = (self.X.index_select(0, self._i[s : s + be.chunk]).double()
                     - self.X.index_select(0, self._j[s : s + be.chunk]).double())
                G += D.T @ D
            return be.host(G)
        # per-response form on the device in float64: A^T (D - S - S^T) A (see pair_gram)
        Xc = be.put(self.X - self.X.mean(axis=0), "float64")
        R = Xc.shape[0]
        deg = torch.bincount(self._i, minlength=R) + torch.bincount(self._j, minlength=R)
        SX = torch.zeros_like(Xc)
        for s in range(0, self.n, be.chunk):
            SX.index_add_(0, self._i[s : s + be.chunk], Xc.index_select(0, self._j[s : s + be.chunk]))
        cross = Xc.T @ SX
        G = (Xc * deg[:, None].to(Xc.dtype)).T @ Xc - cross - cross.T
        del Xc, SX
        return be.host((G + G.T) / 2.0)

    def rows(self, index: np.ndarray) -> np.ndarray:
        if is_tensor(self.X):
            be = self._be
            return be.host(self.X.index_select(0, be.index(self.i[index])).double()
                           - self.X.index_select(0, be.index(self.j[index])).double())
        return pair_differences(self.X, self.i, self.j, index)

    def matvec(self, v: np.ndarray) -> np.ndarray:
        if self.backend == "numpy":
            f = self._data @ v.astype(self._data.dtype)
            return (f[self.i] - f[self.j]).astype(np.float64)
        f = self._data @ self._be.put(v, self.dtype)
        return self._be.host(f.index_select(0, self._i) - f.index_select(0, self._j))

    def sq_norms(self) -> np.ndarray:
        """(||x_i|| + ||x_j||)^2 per pair: what the float32 error bound of g_l = ||F_i - F_j||^2 scales with."""
        if self._sq_norms is None:
            if is_tensor(self.X):
                nx = self._be.host(self.X.double().pow(2).sum(1).sqrt())
            else:
                nx = np.sqrt(np.einsum("ij,ij->i", self.X, self.X))
            self._sq_norms = (nx[self.i] + nx[self.j]) ** 2
        return self._sq_norms

    def leverage_pass(self, W: np.ndarray, index: np.ndarray | None = None):
        if self.backend == "numpy":
            g = pair_leverages(self._data, self.i, self.j, W.astype(self._data.dtype), index=index,
                               chunk=PAIR_CHUNK).astype(np.float64, copy=False)
        else:
            be, torch = self._be, self._be.torch
            W_ = be.put(W, self.dtype)
            ii_all = self._i if index is None else self._i.index_select(0, be.index(index))
            jj_all = self._j if index is None else self._j.index_select(0, be.index(index))
            k = ii_all.shape[0]
            g_dev = torch.empty(k, dtype=W_.dtype, device=be.device)
            if be.device.type == "cuda":
                # on a GPU the gather is cheap: F for all responses once (R x r), then blocks of pairs
                F = self._data @ W_
                for s in range(0, k, be.chunk):
                    D = F.index_select(0, ii_all[s : s + be.chunk]) - F.index_select(0, jj_all[s : s + be.chunk])
                    g_dev[s : s + be.chunk] = (D * D).sum(1)
                del F
            else:
                for s in range(0, k, be.chunk):
                    ii, jj = ii_all[s : s + be.chunk], jj_all[s : s + be.chunk]
                    lo = int(torch.minimum(ii.min(), jj.min()))
                    hi = int(torch.maximum(ii.max(), jj.max())) + 1
                    if hi - lo <= 4 * ii.shape[0]:
                        F = self._data[lo:hi] @ W_
                        D = F.index_select(0, ii - lo) - F.index_select(0, jj - lo)
                    else:
                        D = (self._data.index_select(0, ii) - self._data.index_select(0, jj)) @ W_
                    g_dev[s : s + be.chunk] = (D * D).sum(1)
            g = be.host(g_dev)
        if not self.u:
            return g, None
        nb = self.sq_norms() if index is None else self.sq_norms()[index]
        return g, _bound(nb, W, g, self.u)


def make_candidate_set(
    B: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    backend: str = "numpy",
    device: object = None,
    dtype: str = "float32",
) -> DenseSet | PairSet:
    """A :class:`DenseSet` on rows B, or a :class:`PairSet` on features B = X with pairs = (i, j)."""
    if pairs is None:
        return DenseSet(B, backend=backend, device=device, dtype=dtype)
    return PairSet(B, pairs[0], pairs[1], backend=backend, device=device, dtype=dtype)
