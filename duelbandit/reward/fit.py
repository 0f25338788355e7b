"""Bradley–Terry reward fit on difference vectors by Newton / IRLS (spec §4).

Model (Scheid et al. 2024, §2): a label on the pair (y, y') of one prompt has
P(y preferred) = sigma(<theta, b>) with b = psi(x, y) - psi(x, y'). The estimator maximises the
regularised log-likelihood

    L(theta) = sum_s w_s [y_s log sigma(<theta, b_s>) + (1 - y_s) log sigma(-<theta, b_s>)]
               - (lam/2) ||theta||^2

which is scikit-learn's LogisticRegression(fit_intercept=False, C=1/lam) on the rows b_s.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit

from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from duelbandit.errors import RewardError
from duelbandit.reward.linalg import finish_gram, gram_block_add, logistic_hessian, small_blas
from duelbandit.reward.projection import _project_faury


# ---------------------------------------------------------------------------------------------------
# Newton / IRLS


def _logistic_block(z: np.ndarray, hessian: bool) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """(sigma(z), sigma'(z) if ``hessian`` else None, softplus(z) - max(z, 0) = log(1 + e^-|z|)) from one
    e = exp(-|z|): never overflows, and sigma' = e / (1 + e)^2 keeps its relative precision in the tails
    (1 - sigma(z) would not). sigma(z) = 1/2 + sign(z) (sigma(|z|) - 1/2), exact to 1e-16 absolute, which is
    what the gradient's y - sigma needs; a sign flip costs far less than a masked select (measured ~5x)."""
    e = np.abs(z)
    np.negative(e, out=e)
    np.exp(e, out=e)
    q = e + 1.0
    np.divide(1.0, q, out=q)
    dsig = e * q * q if hessian else None
    np.log1p(e, out=e)
    q -= 0.5
    np.copysign(q, z, out=q)
    q += 0.5
    return q, dsig, e


def _loss_z(z: np.ndarray, theta: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float) -> float:
    """-L(theta) given z = X theta: sum_s w_s [softplus(z_s) - y_s z_s] + lam/2 ||theta||^2, since
    -[y log sigma(z) + (1 - y) log sigma(-z)] = log(1 + e^z) - y z."""
    sp = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    return float(w @ (sp - y * z) + 0.5 * lam * theta @ theta)


def _block_rows(d: int) -> int:
    """Rows per block of a pass: about 2 MiB of X (L2-sized), at least 1,024 rows so numpy's per-call
    overhead stays small at large d, at most 8,192 so the rank-k temporaries stay in cache at small d."""
    return max(1024, min(8192, (1 << 18) // max(d, 1)))


def _pass(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float, theta: np.ndarray, z: np.ndarray | None,
    p: np.ndarray | None, hessian: bool, single: bool,
) -> tuple[np.ndarray, float, np.ndarray, np.ndarray | None]:
    """One pass over X, in row blocks that stay in cache, at theta' = theta - p (p None: theta' = theta):
    z' = z - X p, the loss -L(theta'), its gradient lam theta' - X^T w (y - sigma(z')) and, if asked,
    H(theta') = lam I + X^T diag(w sigma'(z')) X. Fusing these reads X from memory once instead of three
    times (the fit is memory-bound at small d)."""
    T, d = X.shape
    B = _block_rows(d)
    th = theta if p is None else theta - p
    zn = np.empty(T)
    grad, loss = lam * th, 0.5 * lam * float(th @ th)
    G = np.zeros((d, d), order="F") if hessian else None
    scaled = np.empty((min(B, T), d), dtype=np.float32 if single else np.float64) if hessian else None
    for s in range(0, T, B):
        Xb, wb, yb = X[s : s + B], w[s : s + B], y[s : s + B]
        if p is None:
            zb = z[s : s + B]
        else:  # z None: the pass starts from theta = 0, z = 0 (a warm start reads X once, not twice)
            zb = Xb @ p
            zb = np.negative(zb, out=zb) if z is None else np.subtract(z[s : s + B], zb, out=zb)
        zn[s : s + B] = zb
        sig, dsig, soft = _logistic_block(zb, hessian)
        # softplus(z) - y z = max(z, 0) + log(1 + e^-|z|) - y z, as three dot products
        loss += float(wb @ np.maximum(zb, 0.0)) + float(wb @ soft) - float((wb * yb) @ zb)
        np.subtract(yb, sig, out=sig)
        grad -= Xb.T @ np.multiply(wb, sig, out=sig)
        if hessian:
            Y = scaled[: Xb.shape[0]]
            np.multiply(Xb, np.sqrt(wb * dsig)[:, None], out=Y, casting="same_kind")
            G = gram_block_add(G, Y, single)
    return zn, loss, grad, None if G is None else finish_gram(G, lam)


def _factor(H: np.ndarray) -> tuple:
    """Cholesky factor of an SPD H, or ("lstsq", H) when lam I is swamped by rounding."""
    try:
        return cho_factor(H)
    except np.linalg.LinAlgError:
        return ("lstsq", H)


def _worth_refreshing(ratio: float, dec: float, tol: float, d: int) -> bool:
    """Whether a fresh H (about 1 + d / 32 gradient passes: the rank-k update next to the two matrix-vector
    products; a flop count, not a clock, so the path stays reproducible) costs less than the passes the
    current factor still needs at its observed contraction ``ratio`` to bring ``dec`` below ``tol`` (a
    fresh H then needs about one)."""
    if ratio >= 0.5:
        return True
    keep = np.log(tol / dec) / np.log(ratio)
    return keep - 1.0 > 1.0 + d / 32.0


def _precise(factor: tuple, single: bool) -> bool:
    """Whether a factored H is precise to ~1e-3 relative in every direction: cond(H) x (float32 or float64
    rounding) <= 1e-3, with cond(H) >= (max / min diagonal of its Cholesky factor)^2."""
    if isinstance(factor[0], str):
        return False
    diag = np.abs(np.diag(factor[0]))
    cond = (float(diag.max()) / max(float(diag.min()), 1e-300)) ** 2
    return cond * (6e-8 if single else 1.1e-16) <= 1e-3


def _solve(factor: tuple, g: np.ndarray) -> np.ndarray:
    if isinstance(factor[0], str):  # lstsq still gives a direction
        return np.linalg.lstsq(factor[1], g, rcond=None)[0]
    return cho_solve(factor, g)


# A warm start from an evenly spaced subsample of m = SUBSAMPLE_PER_DIM * d rows pays once T >= SUBSAMPLE_RATIO m:
# its optimum is within O(sqrt(d / m)) of the full one and its Hessian (weights scaled by T / m) is within
# a relative O(sqrt(d / m)), so the full-data Newton steps that follow contract the decrement ~(d / m)-fold
# each and no full-data Hessian is formed (measured in benchmarks/bench_reward.py).
SUBSAMPLE_PER_DIM = 2048
# The error the last Newton step leaves (max abs; predicted from the observed contraction where H is precise,
# else the step itself) must be below this: see _newton_from.
STEP_TOL = 1e-7
SUBSAMPLE_RATIO = 8


def _subsample(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple | None:
    """(X_s, y_s, w_s) on every k-th row with weights scaled to the full total, or None if not worth it."""
    T, d = X.shape
    m = SUBSAMPLE_PER_DIM * d
    if T < SUBSAMPLE_RATIO * m:
        return None
    k = T // m
    ws = w[::k]
    total = float(ws.sum())
    if total <= 0:
        return None
    return np.ascontiguousarray(X[::k]), y[::k], ws * (float(w.sum()) / total)


def _newton(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float, max_iter: int, tol: float
) -> tuple[np.ndarray, int, bool]:
    """Damped Newton for -L until the Newton decrement is <= tol per unit of label weight (tol sum w: the
    objective is a sum over labels, so an absolute threshold would ask more digits of a bigger problem);
    on a tall X, warm-started from a subsample's optimum and Hessian (see :data:`SUBSAMPLE_PER_DIM`).
    Returns (theta, full-data iterations, converged)."""
    stop = tol * max(1.0, float(w.sum()))
    sub = _subsample(X, y, w)
    if sub is None:
        return _newton_from(X, y, w, lam, np.zeros(X.shape[1]), None, max_iter, stop)[:3]
    Xs, ys, ws = sub
    # the subsample's own optimum is only a start: solving it past its O(d) distance to the full
    # optimum (in decrement) would be wasted work
    theta0, _, _, H0 = _newton_from(Xs, ys, ws, lam, np.zeros(X.shape[1]), None, max_iter, 1e-2 * X.shape[1],
                                    final_hessian=True, step_tol=np.inf)
    return _newton_from(X, y, w, lam, theta0, H0, max_iter, stop)[:3]


def _newton_from(
    X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float, theta: np.ndarray, H: np.ndarray | None,
    max_iter: int, tol: float, final_hessian: bool = False, step_tol: float = STEP_TOL,
) -> tuple[np.ndarray, int, bool, np.ndarray | None]:
    """Damped Newton from theta (with H, a Hessian estimate, or None to form it there): p = H^{-1} grad,
    Armijo backtracking on -L; stop when the decrement grad^T p <= tol (after that last full step). Returns
    (theta, iterations, converged, H at the returned theta if ``final_hessian`` else None).

    Cost per iteration: one fused pass over X (:func:`_pass`: z' = z - X p, the loss, X^T r and, when
    refreshed, the rank-k update for H, the dominant cost at d >= 32); a damped step backtracks along
    z - step X p without reading X, then takes one more pass at the accepted point. H only shapes the path,
    not the fixed point grad = 0 (the gradient is exact in float64), so (i) H is accumulated in float32 and
    (ii) it is reused while the decrement falls at least 100-fold per step (near the optimum H changes by
    O(||step||), so a reused H keeps the quadratic rate to first order); after a slower step it is refreshed
    when that is cheaper than the passes the old one still needs (:func:`_worth_refreshing`), always after a
    damped step, and computed in float64 once float32 steps stall (ill-conditioned H, cond ~ 1e7).
    When the decrement is below the rounding of the loss itself (|f| ~ T, so a decrease of 1e-4 dec is
    invisible), a step is also accepted if it shrinks the decrement, measured with the exact gradient.
    """
    T, d = X.shape
    if T == 0:
        return theta, 0, True, (finish_gram(np.zeros((d, d)), lam) if final_hessian else None)
    start = (theta, np.zeros(T), None) if not theta.any() else (np.zeros(d), None, -theta)
    z, f, grad, Hn = _pass(X, y, w, lam, *start, H is None, True)
    factor, single = _factor(Hn if H is None else H), True
    fresh = H is None  # the factor was computed at the current theta
    last = None  # (decrement, fresh) of the previous step: its ratio judges the factor that step used
    prev_step = np.inf  # max |p| of the previous step
    for it in range(1, max_iter + 1):
        p = _solve(factor, grad)
        dec = float(grad @ p)
        # stop once the decrement is small and so is the error this last step leaves, predicted as
        # |p| x (|p| / |previous p|) (the observed contraction): a small decrement alone allows a larger
        # error along H's weakest directions, which dominate |p| (scikit-learn is matched to 1e-6 in max
        # abs, spec §4); 1e-10 max |theta| is float64's floor for a large theta
        size = float(np.max(np.abs(p)))
        # the observed contraction predicts the next one only if H's own rounding is not what limits it
        # (a float32 H of condition ~1e6 contracts its weakest direction only ~0.1-0.5 per step)
        left = size * min(1.0, size / prev_step) if _precise(factor, single) else size
        if dec <= tol and left <= max(step_tol, 1e-10 * float(np.max(np.abs(theta)))):
            theta = theta - p
            if final_hessian:
                _, _, _, Hn = _pass(X, y, w, lam, theta, z - X @ p, None, True, True)
            return theta, it, True, Hn if final_hessian else None
        refresh = False
        if last is not None and dec > 1e-2 * last[0]:  # the previous step cut the decrement < 100-fold
            if last[1] and single and last[0] < 1e-3:  # even a fresh float32 H was slow: rounding
                single, refresh = False, True
            else:
                refresh = _worth_refreshing(dec / last[0], dec, tol, d)
        zc, fc, gc, Hn = _pass(X, y, w, lam, theta, z, p, refresh, single)
        step = 1.0
        noise = dec <= 1e-9 * max(1.0, abs(f))  # 1e-4 dec is below the loss's rounding
        if fc > f - 1e-4 * dec and not (noise and float(gc @ _solve(factor, gc)) < 0.25 * dec):
            zp = z - zc  # damped: backtrack along z - step X p (X p = z - zc), no pass over X
            while fc > f - 1e-4 * step * dec and step >= 1e-12:
                step *= 0.5
                fc = _loss_z(z - step * zp, theta - step * p, y, w, lam)
            if step < 1e-12:  # no decrease left that float64 can see
                if fresh and not single:  # with an exact, fresh H: we are at the optimum
                    return theta, it, dec <= 1e-8 * max(1.0, abs(f)), None
                _, _, _, Hn = _pass(X, y, w, lam, theta, z, None, True, False)  # retry: fresh float64 H
                factor, fresh, single, last, prev_step = _factor(Hn), True, False, None, np.inf
                continue
            zc, fc, gc, Hn = _pass(X, y, w, lam, theta, z, step * p, True, single)
        theta, z, f, grad, last, prev_step = theta - step * p, zc, fc, gc, (dec, fresh), step * size
        if Hn is not None:
            factor = _factor(Hn)
        fresh = Hn is not None
    return theta, max_iter, False, None


# ---------------------------------------------------------------------------------------------------
# estimator


class BradleyTerry(BaseEstimator):
    """Regularised Bradley–Terry (logistic) MLE on difference vectors, by Newton / IRLS (spec §4).

    Maximises sum_s w_s [y_s log sigma(<theta, b_s>) + (1 - y_s) log sigma(-<theta, b_s>)]
    - (lam/2)||theta||^2
    in float64. Each Newton step solves H p = grad with H = lam I + sum w sigma' b b^T (Cholesky) at the
    current iterate or a recent one (reused while the decrement falls 100-fold per step; accumulated in
    float32 blocks, see :func:`_newton`: the fixed point grad = 0 is exact in float64 either way), then
    backtracks (Armijo) on the objective; it stops when the Newton decrement grad^T H^{-1} grad falls below
    ``tol`` per unit of label weight (after taking that last, full step). With T >= 8 x 2048 d labels it
    starts from the optimum of an evenly spaced subsample (weights scaled up) and that subsample's Hessian. y may be fractional (ties 0.5, soft labels).
    With no labels (T = 0) the fit is theta = 0, the maximiser of the prior term alone.

    If ``S`` is set and ||theta_hat|| > S, ``coef_`` is the projection of Faury et al. 2020 used by
    Scheid et al. 2024 (Lemma 2): argmin_{||theta|| <= S} ||g(theta) - g(theta_hat)||_{V^{-1}} with
    g(theta) = lam theta + sum_s w_s sigma(<theta, b_s>) b_s and V = lam I + sum_s w_s b_s b_s^T. The problem
    is non-convex; it is solved by projected gradient (Barzilai–Borwein steps, Armijo backtracking on the
    ball) from the radial projection, giving a feasible stationary point no worse than that start.

    Args:
        lam: ridge parameter lambda > 0; None means 1/d (Scheid et al. 2024, Corollary 1).
        S: norm bound for the projection, or None for no projection.
        max_iter: Newton iterations (and 50x this for the projection).
        tol: stop when the Newton decrement is <= tol * max(1, sum of weights) (per label, as scikit-learn's
            tol is on the mean loss), then take that last step.

    Attributes:
        coef_: (d,) theta (projected when ``projected_``).
        coef_unprojected_: (d,) the MLE theta_hat before projection.
        projected_: whether the projection was applied.
        lam_: the lambda used.
        n_iter_: Newton iterations taken.
        converged: whether the Newton decrement reached ``tol`` (``converged_`` is the same flag).
        classes_: array([0, 1]) as in scikit-learn (class 1 = first response preferred).

    References:
        Scheid et al. 2024, "Optimal Design for Reward Modeling in RLHF", §2 and Lemma 2;
        Faury et al. 2020, "Improved Optimistic Algorithms for Logistic Bandits", §4.
    """

    def __init__(
        self, lam: float | None = None, S: float | None = None, max_iter: int = 100, tol: float = 1e-12
    ):
        self.lam = lam
        self.S = S
        self.max_iter = max_iter
        self.tol = tol

    # validation ---------------------------------------------------------------------------------
    def _check_X(self, X: np.ndarray, d: int | None = None) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise RewardError(f"X: expected a 2-d (T, d) array of difference vectors, got shape {X.shape}")
        if d is not None and X.shape[1] != d:
            raise RewardError(f"X: expected {d} columns (the fitted dimension), got {X.shape[1]}")
        # one sum finds any NaN/inf in a single pass without a (T, d) mask; the mask only when it fires
        # (or when finite values overflow the sum)
        with np.errstate(over="ignore", invalid="ignore"):
            total = X.sum()
        if not np.isfinite(total) and not np.all(np.isfinite(X)):
            r = int(np.argwhere(~np.isfinite(X))[0, 0])
            raise RewardError(f"X: row {r} has NaN or inf")
        return X

    def _check_params(self, d: int) -> float:
        lam = 1.0 / d if self.lam is None else float(self.lam)
        if not np.isfinite(lam) or lam <= 0:
            raise RewardError(f"lam: expected a finite value > 0 (or None for 1/d), got {self.lam!r}")
        if self.S is not None and (not np.isfinite(self.S) or self.S <= 0):
            raise RewardError(f"S: expected a finite norm bound > 0 or None, got {self.S!r}")
        if (
            isinstance(self.max_iter, bool)
            or not isinstance(self.max_iter, (int, np.integer))
            or self.max_iter < 1
        ):
            raise RewardError(f"max_iter: expected an integer >= 1, got {self.max_iter!r}")
        if not np.isfinite(self.tol) or self.tol <= 0:
            raise RewardError(f"tol: expected a finite value > 0, got {self.tol!r}")
        return lam

    # fit ----------------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> BradleyTerry:
        """Fit theta on rows b_s of X (T, d) with labels y (T,) in [0, 1]; returns self."""
        X = self._check_X(X)
        T, d = X.shape
        if d == 0:
            raise RewardError("X: expected at least one feature column, got d = 0")
        y = np.asarray(y, dtype=np.float64)
        if y.shape != (T,):
            raise RewardError(f"y: expected shape ({T},) to match X, got {y.shape}")
        bad = np.flatnonzero(~((y >= 0) & (y <= 1)))  # also catches NaN
        if bad.size:
            raise RewardError(f"y: y[{int(bad[0])}] = {y[bad[0]]!r}; expected a label in [0, 1]")
        if sample_weight is None:
            w = np.ones(T)
        else:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (T,):
                raise RewardError(f"sample_weight: expected shape ({T},) to match X, got {w.shape}")
            bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
            if bad.size:
                raise RewardError(
                    f"sample_weight: entry {int(bad[0])} = {w[bad[0]]!r}; expected a finite value >= 0"
                )
        lam = self._check_params(d)

        with small_blas(d):
            theta, it, converged = _newton(X, y, w, lam, self.max_iter, self.tol)
        self.lam_ = lam
        self.n_iter_ = it
        self.converged = converged
        self.converged_ = converged
        self.coef_unprojected_ = theta
        self.projected_ = False
        self.projection_iter_ = 0
        if self.S is not None and T and np.linalg.norm(theta) > self.S:
            with small_blas(d):
                self.coef_, self.projection_iter_ = _project_faury(
                    theta, X, w, lam, float(self.S), 50 * self.max_iter, 1e-12
                )
            self.projected_ = True
        else:
            self.coef_ = theta.copy()
        self.n_features_in_ = d
        self.classes_ = np.array([0, 1])
        return self

    # predict ------------------------------------------------------------------------------------
    def decision_function(self, X: np.ndarray) -> np.ndarray:
        """(T,) <theta, b_s>: the predicted reward difference (log-odds that the first response wins)."""
        check_is_fitted(self, "coef_")
        return self._check_X(X, self.n_features_in_) @ self.coef_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(T, 2): column 1 = sigma(<theta, b_s>) = P(first preferred), column 0 = its complement
        (scikit-learn's class order)."""
        z = self.decision_function(X)
        return np.column_stack([expit(-z), expit(z)])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """(T,) 1 where the first response is predicted preferred, else 0."""
        return (self.decision_function(X) > 0).astype(np.int64)

    def hessian(self, X: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        """H(coef_) = lam I + sum_s w_s sigma'(<theta, b_s>) b_s b_s^T over the rows of X, shape (d, d)."""
        check_is_fitted(self, "coef_")
        return logistic_hessian(self.coef_, self._check_X(X, self.n_features_in_), self.lam_, sample_weight)
