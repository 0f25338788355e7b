"""Bradley–Terry reward fit on difference vectors, its Hessian and projection, the curvature constant
``kappa`` and the confidence radius of Lemma 2 (the theory's bounds, in :mod:`duelbandit.theory.bounds`,
build on these).

Model (Scheid et al. 2024, §2): a label on the pair (y, y') of one prompt has
P(y preferred) = sigma(<theta, b>) with b = psi(x, y) - psi(x, y'). The estimator maximises the
regularised log-likelihood (spec §4)

    L(theta) = sum_s w_s [y_s log sigma(<theta, b_s>) + (1 - y_s) log sigma(-<theta, b_s>)]
               - (lam/2) ||theta||^2

which is scikit-learn's LogisticRegression(fit_intercept=False, C=1/lam) on the rows b_s.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.special import expit, log_expit
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from duelbandit.errors import RewardError

# ---------------------------------------------------------------------------------------------------
# validation of the theory's arguments (one place: every bound takes the same arguments)


def _count(name: str, v: object, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer, float)):
        raise RewardError(f"{name}: expected an integer >= {lo}, got {v!r}")
    if not float(v).is_integer() or v < lo:
        raise RewardError(f"{name}: expected an integer >= {lo}, got {v!r}")
    return int(v)


def _positive(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not (
        np.isfinite(v) and v > 0
    ):
        raise RewardError(f"{name}: expected a finite value > 0, got {v!r}")
    return float(v)


def _delta(delta: object) -> float:
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.floating)) or not 0 < delta < 1:
        raise RewardError(f"delta: expected a probability in (0, 1), got {delta!r}")
    return float(delta)


# ---------------------------------------------------------------------------------------------------
# curvature and confidence radius


def kappa(S: float) -> float:
    """kappa(S) = 1 / sigma'(2 S) = 2 + 2 cosh(2 S): the worst-case curvature ratio when ||psi|| <= 1 and
    ||theta|| <= S, so |<theta, b>| <= 2 S (spec §1; S = 1 gives 9.52, the paper's "kappa <= 10").

    The cosh form avoids the underflow of sigma'(2 S) for large S; S > ~177 gives inf (honest in float64).
    """
    S = float(S)
    if not np.isfinite(S) or S < 0:
        raise RewardError(f"S: expected a finite norm bound >= 0, got {S!r}")
    with np.errstate(over="ignore"):
        return float(2.0 + 2.0 * np.cosh(2.0 * S))


def confidence_radius(t: int, d: int, *, lam: float, delta: float, S: float = 1.0) -> float:
    """Radius beta_t of the ellipsoid ||theta^P - theta*||_V <= beta_t, V = lam I + sum_s b_s b_s^T
    (Scheid et al. 2024, Lemma 2, as printed for S = 1):

        beta_t = C [ sqrt(2 log(1/delta) + d log(lam^(1 - 1/d) + 4 t / (d lam^(1/d)))) + sqrt(lam) S ]

    C = 20 for S = 1 (the paper: 2 kappa with kappa = 9.52 <= 10); C = 2 kappa(S) otherwise.

    Deviations from the printed text (derivation in docs/concepts/bounds.md):

    - General S. The proof bounds ||g(theta^P) - g(theta*)||_{V^{-1}}
      <= 2 ||sum_s eta_s b_s - lam theta*||_{V^{-1}} and lam ||theta*||_{V^{-1}} <= sqrt(lam) ||theta*||,
      so the ridge term is sqrt(lam) S, not sqrt(lam); the curvature step needs kappa(S). With S = 1 this
      is the printed formula.
    - Log-determinant (kept as printed, flagged). d log(lam^(1-1/d) + 4t/(d lam^(1/d)))
      = d log(lam + 4t/d) - log lam, where the self-normalised bound gives log det V - d log lam
      <= d log(lam + 4t/d) - d log lam (det(lam I) = lam^d, not lam). The printed radius still holds
      because it also drops the factor 1/2 of the noise's sub-Gaussian constant (eta in [-1, 1] with a
      range of 1): it dominates :func:`self_normalized_radius` as soon as 400 A_p >= kappa(1)^2 A_c
      (A_p, A_c the two arguments of the square roots), which holds for every t >= d(d+1)/2 when
      lam = 1/d (checked for d <= 10^4). :func:`applicability` checks it at each (t, d) it is asked about.
    - The argument of the outer square root is clipped at 0 (for tiny t the printed bound on the
      log-determinant can be negative, where the true term is >= 0).

    Args:
        t: number of labels (>= 0).
        d: dimension (>= 1).
        lam: ridge lambda > 0.
        delta: failure probability in (0, 1).
        S: bound on ||theta*|| (>= 0).

    Returns:
        beta_t.
    """
    t, d = _count("t", t, 0), _count("d", d, 1)
    lam, delta = _positive("lam", lam), _delta(delta)
    C = 20.0 if S == 1 else 2.0 * kappa(S)
    inner = lam ** (1.0 - 1.0 / d) + 4.0 * t / (d * lam ** (1.0 / d))
    arg = max(0.0, 2.0 * math.log(1.0 / delta) + d * math.log(inner))
    return float(C * (math.sqrt(arg) + math.sqrt(lam) * float(S)))


# ---------------------------------------------------------------------------------------------------
# pure functions


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    """sigma'(z) = sigma(z) sigma(-z), elementwise; never overflows."""
    return expit(z) * expit(-z)


def design_matrix(X: np.ndarray, lam: float, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """V = lam I + sum_s w_s b_s b_s^T, shape (d, d), float64 (rows of X are the b_s)."""
    X = np.asarray(X, dtype=np.float64)
    Xw = X if sample_weight is None else X * np.asarray(sample_weight, dtype=np.float64)[:, None]
    return lam * np.eye(X.shape[1]) + Xw.T @ X


def logistic_hessian(
    theta: np.ndarray, X: np.ndarray, lam: float, sample_weight: np.ndarray | None = None
) -> np.ndarray:
    """H(theta) = lam I + sum_s w_s sigma'(<theta, b_s>) b_s b_s^T, shape (d, d) (spec §4; the negative
    Hessian of L, used by the sequential selectors and the local design)."""
    X = np.asarray(X, dtype=np.float64)
    c = sigmoid_prime(X @ np.asarray(theta, dtype=np.float64))
    if sample_weight is not None:
        c = c * np.asarray(sample_weight, dtype=np.float64)
    return lam * np.eye(X.shape[1]) + (X * c[:, None]).T @ X


def _objective(theta: np.ndarray, X: np.ndarray, y: np.ndarray, w: np.ndarray, lam: float) -> float:
    """-L(theta) (minimised), with log sigma computed stably."""
    z = X @ theta
    return float(-(w * (y * log_expit(z) + (1.0 - y) * log_expit(-z))).sum() + 0.5 * lam * theta @ theta)


def _solve_spd(H: np.ndarray, g: np.ndarray) -> np.ndarray:
    try:
        return cho_solve(cho_factor(H), g)
    except np.linalg.LinAlgError:  # only when lam I is swamped by rounding; lstsq still gives a direction
        return np.linalg.lstsq(H, g, rcond=None)[0]


def _project_faury(
    theta_hat: np.ndarray, X: np.ndarray, w: np.ndarray, lam: float, S: float, max_iter: int, tol: float
) -> tuple[np.ndarray, int]:
    """argmin_{||theta|| <= S} F(theta), F = 1/2 ||g(theta) - g(theta_hat)||^2_{V^{-1}} by projected gradient.

    g(theta) = lam theta + sum_s w_s sigma(<theta, b_s>) b_s, so
    grad F = H(theta) V^{-1} (g(theta) - g(theta_hat)).
    Start: the radial projection S theta_hat / ||theta_hat||; steps: Barzilai–Borwein length with an
    Armijo backtracking on the projection arc, so F never increases. F is non-convex: this returns a
    stationary point of the constrained problem at least as good as the start.
    """
    Vc = cho_factor(design_matrix(X, lam, w))

    def g_of(th: np.ndarray) -> np.ndarray:
        return lam * th + X.T @ (w * expit(X @ th))

    def proj(th: np.ndarray) -> np.ndarray:
        nrm = np.linalg.norm(th)
        return th if nrm <= S else th * (S / nrm)

    target = g_of(theta_hat)

    def F_grad(th: np.ndarray) -> tuple[float, np.ndarray]:
        r = g_of(th) - target
        u = cho_solve(Vc, r)
        return 0.5 * float(r @ u), logistic_hessian(th, X, lam, w) @ u

    theta = proj(theta_hat)
    F, grad = F_grad(theta)
    step = 1.0 / max(float(np.linalg.norm(design_matrix(X, lam, w), 2)), 1e-300)
    it = 0
    for it in range(1, max_iter + 1):
        while True:
            cand = proj(theta - step * grad)
            Fc, gc = F_grad(cand)
            if Fc <= F - 1e-4 / step * float((theta - cand) @ (theta - cand)):
                break
            step *= 0.5
            if step < 1e-20:  # no feasible descent visible in float64: stationary
                return theta, it
        s, yk = cand - theta, gc - grad
        moved = float(np.linalg.norm(s))
        theta, F, grad = cand, Fc, gc
        if moved <= tol * (1.0 + S) or F <= 0.0:
            break
        sy = float(s @ yk)
        step = float(s @ s) / sy if sy > 0 else 2.0 * step  # BB1 step, safeguarded by the Armijo loop
    return theta, it


# ---------------------------------------------------------------------------------------------------
# estimator


class BradleyTerry(BaseEstimator):
    """Regularised Bradley–Terry (logistic) MLE on difference vectors, by Newton / IRLS (spec §4).

    Maximises sum_s w_s [y_s log sigma(<theta, b_s>) + (1 - y_s) log sigma(-<theta, b_s>)]
    - (lam/2)||theta||^2
    in float64. Each Newton step solves H(theta) p = grad with H = lam I + sum w sigma' b b^T (Cholesky),
    then backtracks (Armijo) on the objective; it stops when the Newton decrement grad^T H^{-1} grad
    falls below ``tol`` (after taking that last, full step). y may be fractional (ties 0.5, soft labels).
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
        tol: stop when the Newton decrement is <= tol.

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
        self, lam: float | None = None, S: float | None = None, max_iter: int = 100, tol: float = 1e-10
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
        if not np.all(np.isfinite(X)):
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

        theta = np.zeros(d)
        converged = T == 0
        it = 0
        if T:
            f = _objective(theta, X, y, w, lam)
            for it in range(1, self.max_iter + 1):  # noqa: B007 - it is n_iter_ after the loop
                z = X @ theta
                grad = lam * theta - X.T @ (w * (y - expit(z)))
                p = _solve_spd(logistic_hessian(theta, X, lam, w), grad)
                dec = float(grad @ p)
                if dec <= self.tol:  # quadratic convergence: this last full step lands well below tol
                    theta = theta - p
                    converged = True
                    break
                step = 1.0
                while True:
                    cand = theta - step * p
                    fc = _objective(cand, X, y, w, lam)
                    if fc <= f - 1e-4 * step * dec:
                        break
                    step *= 0.5
                    if step < 1e-12:  # no decrease left that float64 can see: we are at the optimum
                        cand, fc = theta, f
                        converged = dec <= 1e-8 * max(1.0, abs(f))
                        break
                if cand is theta:
                    break
                theta, f = cand, fc
        self.lam_ = lam
        self.n_iter_ = it
        self.converged = converged
        self.converged_ = converged
        self.coef_unprojected_ = theta
        self.projected_ = False
        self.projection_iter_ = 0
        if self.S is not None and T and np.linalg.norm(theta) > self.S:
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
