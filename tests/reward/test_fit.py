"""Bradley–Terry fit against scikit-learn, finite differences and closed forms (spec §4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from duelbandit.errors import RewardError
from duelbandit.reward import BradleyTerry, confidence_radius, design_matrix, kappa, logistic_hessian


def _data(T=300, d=5, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((T, d)) / np.sqrt(d)
    theta = scale * rng.standard_normal(d)
    y = (rng.random(T) < 1 / (1 + np.exp(-X @ theta))).astype(float)
    return X, y


def _neg_loglik(theta, X, y, w, lam):
    # independent of the package: plain log1p form (fine for the moderate z used here)
    z = X @ theta
    return np.sum(w * (y * np.log1p(np.exp(-z)) + (1 - y) * np.log1p(np.exp(z)))) + 0.5 * lam * theta @ theta


def _grad(theta, X, y, w, lam):
    return -X.T @ (w * (y - 1 / (1 + np.exp(-X @ theta)))) + lam * theta


def _sk(X, y, lam, sample_weight=None):
    m = LogisticRegression(
        fit_intercept=False, C=1 / lam, tol=1e-12, max_iter=10_000, solver="newton-cholesky"
    )
    return m.fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("lam", [0.05, 0.3, 2.0])
def test_matches_sklearn_binary_labels(lam):
    X, y = _data()
    ours = BradleyTerry(lam=lam).fit(X, y)
    ref = _sk(X, y, lam)
    assert ours.converged
    np.testing.assert_allclose(ours.coef_, ref.coef_.ravel(), atol=1e-6)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    # and lbfgs, a different solver, agrees too
    ref2 = LogisticRegression(fit_intercept=False, C=1 / lam, tol=1e-12, max_iter=10_000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref2.coef_.ravel(), atol=1e-6)


def _conditioned(T, d, seed=0, cond=1e4, scale=3.0):
    """Rows with a geometric spectrum (condition number ``cond`` of X^T X), ||b|| ~ 1, like embedding
    differences; labels from a theta* of norm ``scale``."""
    rng = np.random.default_rng(seed)
    s = cond ** (-0.5 * np.arange(d) / (d - 1))
    X = rng.standard_normal((T, d)) * (s / np.linalg.norm(s))
    theta = rng.standard_normal(d)
    theta *= scale / np.linalg.norm(theta)
    return X, (rng.random(T) < 1 / (1 + np.exp(-X @ theta))).astype(float)


@pytest.mark.parametrize("conditioned", [False, True])
def test_warm_start_from_a_subsample_reaches_the_same_optimum(conditioned):
    # T >= SUBSAMPLE_RATIO * SUBSAMPLE_PER_DIM * d: the fit starts from a subsample's optimum and Hessian;
    # it must still land on scikit-learn's optimum, with uneven weights (rescaled on the subsample)
    from duelbandit.reward.fit import SUBSAMPLE_PER_DIM, SUBSAMPLE_RATIO, _subsample

    d = 3
    T = SUBSAMPLE_RATIO * SUBSAMPLE_PER_DIM * d + 1234
    X, y = _conditioned(T, d) if conditioned else _data(T=T, d=d, scale=2.0)
    w = np.random.default_rng(1).uniform(0.2, 3.0, T)
    assert _subsample(X, y, w) is not None
    ours = BradleyTerry(lam=0.5).fit(X, y, sample_weight=w)
    ref = _sk(X, y, 0.5, sample_weight=w)
    assert ours.converged
    np.testing.assert_allclose(ours.coef_, ref.coef_.ravel(), atol=1e-6)


def test_ill_conditioned_rows_match_sklearn_in_every_direction():
    # cond(X^T X) = 1e6 and a small ridge: the decrement is dominated by the strong directions and a float32
    # Hessian contracts the weakest one slowly, so neither a small decrement nor a fast-looking contraction
    # may stop the fit early (the optimum has a coordinate ~19 along that direction)
    X, y = _conditioned(50_000, 3, cond=1e6)
    ours = BradleyTerry(lam=1e-3).fit(X, y)
    ref = LogisticRegression(fit_intercept=False, C=1e3, tol=1e-14, max_iter=200, solver="newton-cholesky")
    np.testing.assert_allclose(ours.coef_, ref.fit(X, y).coef_.ravel(), atol=1e-6)


def test_default_lambda_is_one_over_d():
    X, y = _data(d=8)
    ours = BradleyTerry().fit(X, y)
    assert ours.lam_ == pytest.approx(1 / 8)
    np.testing.assert_allclose(ours.coef_, _sk(X, y, 1 / 8).coef_.ravel(), atol=1e-6)


def test_fractional_labels_and_weights_match_duplicated_rows():
    rng = np.random.default_rng(1)
    X, _ = _data(T=120, d=4, seed=1)
    y = rng.choice([0.0, 0.25, 0.5, 1.0], size=120)
    w = rng.uniform(0.2, 3.0, size=120)
    lam = 0.2
    ours = BradleyTerry(lam=lam).fit(X, y, sample_weight=w)
    # y in [0,1] with weight w == a "first wins" row of weight w y plus a "second wins" row of weight w (1-y)
    X2 = np.vstack([X, X])
    y2 = np.r_[np.ones(120), np.zeros(120)]
    w2 = np.r_[w * y, w * (1 - y)]
    ref = _sk(X2, y2, lam, sample_weight=w2)
    np.testing.assert_allclose(ours.coef_, ref.coef_.ravel(), atol=1e-6)


def test_integer_weights_equal_repeated_rows():
    X, y = _data(T=60, d=3, seed=2)
    counts = np.random.default_rng(2).integers(1, 4, size=60)
    a = BradleyTerry(lam=0.1).fit(X, y, sample_weight=counts)
    b = BradleyTerry(lam=0.1).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(a.coef_, b.coef_, atol=1e-10)


def test_gradient_zero_at_optimum_by_finite_differences():
    X, y = _data(T=200, d=4, seed=3)
    w = np.ones(200)
    lam = 0.25
    th = BradleyTerry(lam=lam).fit(X, y).coef_
    h = 1e-6
    fd = np.array(
        [
            (_neg_loglik(th + h * e, X, y, w, lam) - _neg_loglik(th - h * e, X, y, w, lam)) / (2 * h)
            for e in np.eye(4)
        ]
    )
    assert np.max(np.abs(fd)) < 1e-6


def test_hessian_matches_finite_differences():
    X, y = _data(T=150, d=4, seed=4)
    w = np.ones(150)
    lam = 0.5
    model = BradleyTerry(lam=lam).fit(X, y)
    H = model.hessian(X)
    h = 1e-6
    for th in (model.coef_, np.array([0.3, -1.0, 2.0, 0.1])):
        fd = np.column_stack(
            [(_grad(th + h * e, X, y, w, lam) - _grad(th - h * e, X, y, w, lam)) / (2 * h) for e in np.eye(4)]
        )
        np.testing.assert_allclose(logistic_hessian(th, X, lam), fd, atol=1e-6)
    np.testing.assert_allclose(H, logistic_hessian(model.coef_, X, lam), atol=1e-14)
    np.testing.assert_allclose(design_matrix(X, lam), lam * np.eye(4) + X.T @ X)


def _faury_F(theta, theta_hat, X, lam):
    def g(t):
        return lam * t + X.T @ (1 / (1 + np.exp(-X @ t)))

    V = lam * np.eye(X.shape[1]) + X.T @ X
    r = g(theta) - g(theta_hat)
    return float(r @ np.linalg.solve(V, r))


def test_projection_is_feasible_and_beats_random_feasible_points():
    X, y = _data(T=400, d=4, scale=6.0, seed=5)
    S, lam = 0.5, 0.25
    model = BradleyTerry(lam=lam, S=S).fit(X, y)
    free = BradleyTerry(lam=lam).fit(X, y)
    assert np.linalg.norm(free.coef_) > S
    assert model.projected_
    np.testing.assert_allclose(model.coef_unprojected_, free.coef_, atol=1e-12)
    assert np.linalg.norm(model.coef_) <= S + 1e-12
    F = _faury_F(model.coef_, free.coef_, X, lam)
    rng = np.random.default_rng(0)
    dirs = rng.standard_normal((300, 4))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    radii = S * rng.random(300) ** (1 / 4)
    radii[:100] = S  # on the sphere, where the optimum lies when theta_hat is outside
    others = [_faury_F(r * u, free.coef_, X, lam) for r, u in zip(radii, dirs)]
    assert F <= min(others)
    radial = S * free.coef_ / np.linalg.norm(free.coef_)
    assert F <= _faury_F(radial, free.coef_, X, lam) + 1e-15


def test_no_projection_inside_the_ball():
    X, y = _data(T=200, d=3, seed=6)
    model = BradleyTerry(lam=1.0, S=100.0).fit(X, y)
    assert not model.projected_
    np.testing.assert_array_equal(model.coef_, model.coef_unprojected_)


def test_kappa_hand_values():
    # 1 / sigma'(x) = (1 + e^x)(1 + e^-x) = 2 + e^x + e^-x
    for S, expected in [
        (1.0, 2 + math.e**2 + math.e**-2),
        (0.5, 2 + math.e + 1 / math.e),
        (2.0, 2 + math.e**4 + math.e**-4),
    ]:
        assert kappa(S) == pytest.approx(expected, rel=1e-12)
    assert kappa(1.0) == pytest.approx(9.52, abs=5e-3)
    assert kappa(0.5) == pytest.approx(5.09, abs=5e-3)
    assert kappa(2.0) == pytest.approx(56.6, abs=5e-2)
    sig = 1 / (1 + math.exp(-3.0))
    assert kappa(1.5) == pytest.approx(1 / (sig * (1 - sig)), rel=1e-12)
    assert kappa(400.0) == np.inf
    with pytest.raises(RewardError, match="S"):
        kappa(-1.0)


def test_confidence_radius_hand_values():
    t, d, lam, delta = 100, 10, 0.1, 0.05
    inner = 0.1**0.9 + 400 / (10 * 0.1**0.1)
    expected = 20 * (math.sqrt(2 * math.log(20) + 10 * math.log(inner)) + math.sqrt(0.1))
    assert confidence_radius(t, d, lam=lam, delta=delta) == pytest.approx(expected, rel=1e-12)
    k2 = 2 + math.e**4 + math.e**-4
    # general S: C = 2 kappa(S) and the ridge term is sqrt(lam) S (see duelbandit.theory.bounds.confidence_radius)
    assert confidence_radius(t, d, lam=lam, delta=delta, S=2.0) == pytest.approx(
        2 * k2 * (math.sqrt(2 * math.log(20) + 10 * math.log(inner)) + 2 * math.sqrt(0.1)), rel=1e-12
    )
    # t = 0: the log term of the paper's bound is negative here; clipped at 0
    assert confidence_radius(0, 10, lam=0.1, delta=0.5) == pytest.approx(20 * math.sqrt(0.1), rel=1e-12)
    assert confidence_radius(1000, d, lam=lam, delta=delta) > confidence_radius(100, d, lam=lam, delta=delta)
    with pytest.raises(RewardError, match="delta"):
        confidence_radius(10, 2, lam=0.5, delta=1.5)
    with pytest.raises(RewardError, match="lam"):
        confidence_radius(10, 2, lam=0.0, delta=0.1)


def test_no_labels_gives_the_prior():
    model = BradleyTerry().fit(np.zeros((0, 6)), np.zeros(0))
    np.testing.assert_array_equal(model.coef_, np.zeros(6))
    assert model.converged and model.n_iter_ == 0
    np.testing.assert_allclose(model.predict_proba(np.ones((2, 6))), 0.5)


def test_extreme_scale_stays_finite():
    X, y = _data(T=100, d=3, seed=7)
    model = BradleyTerry(lam=1e-3).fit(1e3 * X, y)
    assert np.all(np.isfinite(model.coef_)) and model.converged
    p = model.predict_proba(1e6 * X)
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1.0)


def test_sklearn_contract():
    model = BradleyTerry(lam=0.5, S=2.0, max_iter=7, tol=1e-9)
    assert model.get_params() == {"lam": 0.5, "S": 2.0, "max_iter": 7, "tol": 1e-9}
    assert not hasattr(model, "coef_")
    X, y = _data(T=50, d=2)
    fitted = model.fit(X, y)
    assert fitted is model
    assert clone(model).get_params() == model.get_params()
    np.testing.assert_allclose(model.decision_function(X), X @ model.coef_)
    np.testing.assert_array_equal(model.predict(X), (X @ model.coef_ > 0).astype(int))


@pytest.mark.parametrize(
    "X,y,w,field",
    [
        (np.ones((3, 2)), np.array([0.0, 1.0, 2.0]), None, "y"),
        (np.ones((3, 2)), np.array([0.0, np.nan, 1.0]), None, "y"),
        (np.ones((3, 2)), np.array([0.0, 1.0]), None, "y"),
        (np.array([[1.0, np.nan], [0, 1], [1, 1]]), np.ones(3), None, "X"),
        (np.ones(3), np.ones(3), None, "X"),
        (np.ones((3, 2)), np.ones(3), np.array([1.0, -1.0, 1.0]), "sample_weight"),
    ],
)
def test_validation_names_the_field(X, y, w, field):
    with pytest.raises(RewardError, match=field):
        BradleyTerry().fit(X, y, sample_weight=w)


def test_bad_lambda_is_refused():
    with pytest.raises(RewardError, match="lam"):
        BradleyTerry(lam=-1.0).fit(np.ones((2, 2)), np.ones(2))
    model = BradleyTerry().fit(np.eye(2), np.ones(2))
    with pytest.raises(RewardError, match="columns"):
        model.predict_proba(np.ones((1, 3)))


def test_projection_matches_a_multistart_scipy_solve():
    from scipy.optimize import minimize

    X, y = _data(T=300, d=4, scale=6.0, seed=8)
    S, lam = 0.5, 0.25
    model = BradleyTerry(lam=lam, S=S).fit(X, y)
    th = model.coef_unprojected_
    rng = np.random.default_rng(8)
    best = np.inf
    for _ in range(6):
        x0 = rng.standard_normal(4)
        x0 *= S / np.linalg.norm(x0)
        r = minimize(
            lambda t: _faury_F(t, th, X, lam),
            x0,
            method="SLSQP",
            constraints=[{"type": "ineq", "fun": lambda t: S**2 - t @ t}],
            options={"ftol": 1e-14, "maxiter": 500},
        )
        if r.x @ r.x <= S**2 + 1e-9:
            best = min(best, r.fun)
    assert _faury_F(model.coef_, th, X, lam) <= best * (1 + 1e-7)
