"""Preference losses as pure torch functions returning one value per pair (the caller reduces).

Notation (docs/concepts/losses.md): a(y) = log pi_theta(y|x) - log pi_ref(y|x), the sequence log-ratio;
for a labelled pair (y_w preferred to y_l), rho = a(y_w) - a(y_l). Every function here takes rho (or the
per-sample log-ratios a_w, a_l of a multi-sample group) and returns a (batch,) tensor.

References:
    Rafailov et al. 2023 (DPO); Azar et al. 2023 (IPO, "A General Theoretical Paradigm ..."); Zhao et al.
    2023 (SLiC-HF); Tang et al. 2024 (GPO, "Generalized Preference Optimization"); Wang et al. 2024
    (mDPO / mIPO, multi-sample comparisons); Llama Team 2024 ("The Llama 3 Herd of Models", DPO + NLL).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from duelbandit.errors import ConfigError

if TYPE_CHECKING:  # torch is imported lazily so that `import duelbandit` stays light
    from torch import Tensor

__all__ = [
    "GPO_FUNCTIONS",
    "REGULARISATION",
    "dpo_loss",
    "gpo_function",
    "gpo_loss",
    "ipo_loss",
    "mdpo_loss",
    "mipo_loss",
    "nll_loss",
    "slic_loss",
]


def _logistic(x: Tensor) -> Tensor:
    import torch.nn.functional as F

    return F.softplus(-x)  # log(1 + e^{-x}), stable for large |x|


def _hinge(x: Tensor) -> Tensor:
    return (1.0 - x).clamp(min=0.0)


def _squared(x: Tensor) -> Tensor:
    return (x - 1.0) ** 2


def _exponential(x: Tensor) -> Tensor:
    return (-x).exp()


def _truncated_quadratic(x: Tensor) -> Tensor:
    return (1.0 - x).clamp(min=0.0) ** 2


def _savage(x: Tensor) -> Tensor:
    import torch

    return torch.sigmoid(-x) ** 2  # 1 / (1 + e^x)^2


# name -> f, the convex (savage: quasi-convex) function of beta * rho of Tang et al. 2024, Table 1
GPO_FUNCTIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "logistic": _logistic,
    "hinge": _hinge,
    "squared": _squared,
    "exponential": _exponential,
    "truncated_quadratic": _truncated_quadratic,
    "savage": _savage,
}

# beta f''(0) / |f'(0)| / beta: the offline regulariser strength per unit beta (Tang et al. 2024, Sec. 4)
REGULARISATION: dict[str, float] = {
    "logistic": 0.5,
    "hinge": 0.0,
    "squared": 1.0,
    "exponential": 1.0,
    "truncated_quadratic": 1.0,
    "savage": 0.5,
}


def gpo_function(f: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """The GPO function named ``f`` (a key of :data:`GPO_FUNCTIONS`), or ``f`` itself if callable."""
    if callable(f):
        return f
    if f not in GPO_FUNCTIONS:
        raise ConfigError(f"f: expected one of {sorted(GPO_FUNCTIONS)} or a callable, got {f!r}")
    return GPO_FUNCTIONS[f]


def _positive(name: str, v: float) -> float:
    if not (isinstance(v, (int, float)) and not isinstance(v, bool)) or not v > 0:
        raise ConfigError(f"{name}: expected a positive number, got {v!r}")
    return float(v)


def gpo_loss(rho: Tensor, *, beta: float, f: str | Callable[[Tensor], Tensor] = "logistic") -> Tensor:
    """Generalized preference optimisation: ``f(beta * rho)`` per pair.

    Args:
        rho: (B,) log-ratio margins a(y_w) - a(y_l).
        beta: the scale (beta > 0); the effective regulariser is ``beta * REGULARISATION[f]``.
        f: a name of :data:`GPO_FUNCTIONS` (logistic = DPO, hinge = reference-normalised SLiC, squared = IPO
            with tau = beta / 2, exponential, truncated_quadratic, savage) or any convex callable with
            f'(0) < 0.

    Returns:
        (B,) per-pair losses. Tang et al. 2024, Eq. (4).
    """
    return gpo_function(f)(_positive("beta", beta) * rho)


def dpo_loss(rho: Tensor, *, beta: float, margin: Tensor | float = 0.0, label: Tensor | float = 1.0) -> Tensor:
    """DPO: ``-log sigma(beta rho)`` per pair (Rafailov et al. 2023, Eq. 7), with two optional extras.

    ``margin`` m (>= 0, per pair or scalar) asks the chosen response to win by at least m nats of implicit
    reward: ``-log sigma(beta rho - m)`` (the preference-strength margin of Llama 2's reward model, carried
    to DPO). ``label`` y in [0, 1] is a soft label (the probability that y_w is preferred):
    ``-y log sigma(beta rho - m) - (1 - y) log sigma(-(beta rho - m))``; y = 1/2 is a tie, whose loss is
    minimised at beta rho = m.

    Args:
        rho: (B,) margins a(y_w) - a(y_l).
        beta: KL strength (> 0).
        margin: scalar or (B,) margins in nats.
        label: scalar or (B,) soft labels in [0, 1].

    Returns:
        (B,) per-pair losses.
    """
    import torch.nn.functional as F

    z = _positive("beta", beta) * rho - margin
    if isinstance(label, (int, float)) and label == 1.0:
        return F.softplus(-z)
    return label * F.softplus(-z) + (1.0 - label) * F.softplus(z)


def ipo_loss(rho: Tensor, *, tau: float) -> Tensor:
    """IPO: ``(rho - 1/(2 tau))^2`` per pair (Azar et al. 2023, Eq. 17; the constant is exactly 1/(2 tau)).

    Equals ``gpo_loss(rho, beta=2*tau, f="squared") / (2 tau)^2``. With sequence log-probs averaged per token
    (``normalize="mean"``), this is TRL's ``loss_type="ipo"`` with TRL's ``beta`` = our ``tau``.
    """
    return (rho - 1.0 / (2.0 * _positive("tau", tau))) ** 2


def slic_loss(logp_w: Tensor, logp_l: Tensor, *, delta: float = 1.0, lam: float = 0.0,
              logp_ref_target: Tensor | None = None) -> Tensor:
    """SLiC-HF: ``max(0, delta - log pi(y_w) + log pi(y_l)) - lam log pi(y_ref)`` per pair (Zhao et al. 2023).

    A hinge on the UNnormalised likelihood gap (policy log-probs, no reference model), plus an SFT term on a
    target sequence (``logp_ref_target``, by default the chosen response). Distinct from the GPO hinge,
    which is ``relu(1 - beta rho)`` on reference-normalised margins.

    Args:
        logp_w, logp_l: (B,) policy sequence log-probs of the chosen and rejected responses.
        delta: the hinge margin (> 0).
        lam: weight of the SFT term (>= 0).
        logp_ref_target: (B,) policy log-probs of the SFT target; defaults to ``logp_w``.
    """
    target = logp_w if logp_ref_target is None else logp_ref_target
    return (_positive("delta", delta) - logp_w + logp_l).clamp(min=0.0) - lam * target


def _group(name: str, a: Tensor) -> Tensor:
    if a.ndim != 2 or a.shape[1] < 1:
        raise ConfigError(f"{name}: expected shape (batch, k) with k >= 1, got {tuple(a.shape)}")
    return a


def mdpo_loss(a_w: Tensor, a_l: Tensor, *, beta: float) -> Tensor:
    """Multi-sample DPO: ``-log sigma(beta (mean_i a(y_w^i) - mean_j a(y_l^j)))`` (Wang et al. 2024).

    Args:
        a_w, a_l: (B, k_w), (B, k_l) log-ratios of the samples of each side of a group.

    Returns:
        (B,) per-group losses; with k = 1 exactly :func:`dpo_loss`.
    """
    rho = _group("a_w", a_w).mean(dim=1) - _group("a_l", a_l).mean(dim=1)
    return dpo_loss(rho, beta=beta)


def mipo_loss(a_w: Tensor, a_l: Tensor, *, tau: float, unbiased: bool = True) -> Tensor:
    """Multi-sample IPO: ``(mean_i a_w^i - mean_j a_l^j - 1/(2 tau))^2`` (Wang et al. 2024), per group.

    The plug-in square of sample means overestimates the population loss
    ``(E a_w - E a_l - 1/(2 tau))^2`` by ``Var(mean a_w) + Var(mean a_l)``. With ``unbiased=True`` each side's
    unbiased variance of the mean, ``s^2 / k`` with ``s^2 = sum_i (a^i - mean)^2 / (k - 1)``, is subtracted
    (the U-statistic over i != i'; derivation in docs/concepts/losses.md), giving an unbiased estimate of
    the population loss and of its gradient. A side with k = 1 has no variance estimate and is left as is,
    so k = 1 is exactly :func:`ipo_loss` either way. The unbiased value can be negative for one group.

    Args:
        a_w, a_l: (B, k_w), (B, k_l) per-sample log-ratios.
        tau: IPO regularisation (> 0).
        unbiased: subtract the variance of the group means (default) or return the plug-in value.

    Returns:
        (B,) per-group values.
    """
    a_w, a_l = _group("a_w", a_w), _group("a_l", a_l)
    out = ipo_loss(a_w.mean(dim=1) - a_l.mean(dim=1), tau=tau)
    if unbiased:
        for a in (a_w, a_l):
            k = a.shape[1]
            if k > 1:
                out = out - a.var(dim=1, correction=1) / k
    return out


def nll_loss(logp: Tensor, n_tokens: Tensor) -> Tensor:
    """Per-token negative log-likelihood ``-log pi(y) / |y|`` per sequence: the SFT term that Llama 3 adds to
    DPO on the chosen response (weight 0.2, length-normalised; Llama Team 2024, Sec. 4.1.4)."""
    return -logp / n_tokens.clamp(min=1)
