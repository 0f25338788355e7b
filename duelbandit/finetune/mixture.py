"""The geometric mixture of two (log-)probability tables, the one helper behind DeRa, Nash-MD and IPO-MD.

    log pi_w(v) = log_softmax(w h_a + (1 - w) h_b)(v),

i.e. pi_w ∝ pi_a^w pi_b^(1 - w) when h_a, h_b are logits or log-probabilities (per-row constants cancel in
the softmax). DeRa (Liu et al. 2024) uses w = lambda on (h_aligned, h_ref); Nash-MD (Munos et al. 2023) and
IPO-MD (Calandriello et al. 2024) use w = 1 - eta tau resp. 1 - beta on (h_theta, h_ref).

Works on numpy arrays and torch tensors alike (torch is never imported here: a tensor argument brings its
own module).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from duelbandit.errors import OnlineError


def _check_weight(weight: Any) -> None:
    if isinstance(weight, (bool, np.bool_)):
        raise OnlineError(f"weight: expected a finite real number, got {weight!r}")
    if isinstance(weight, (int, float, np.integer, np.floating)) and not math.isfinite(float(weight)):
        raise OnlineError(f"weight: expected a finite real number, got {weight!r}")


def geometric_mixture(h_a: Any, h_b: Any, weight: Any) -> Any:
    """Log-probabilities of the geometric mixture pi ∝ exp(w h_a + (1 - w) h_b), over the last axis.

    A token that either side forbids (log-prob -inf) stays forbidden whatever the weight (the limit of
    the mixture as that logit -> -inf, for 0 < w < 1; for w = 0 or 1 only the selected side counts, and
    for extrapolation w > 1 a token forbidden by either side remains forbidden: we never turn -inf * (1 -
    w) into +inf). Computed in log space with the max-shift, so large logits do not overflow.

    Args:
        h_a: (..., V) logits or log-probabilities of the first model (numpy array or torch tensor).
        h_b: (..., V) those of the second model, same shape (or broadcastable).
        weight: w, a finite float or an array/tensor broadcastable to (..., 1) (e.g. one per row).

    Returns:
        (..., V) log-probabilities log_softmax(w h_a + (1 - w) h_b), same library and dtype as ``h_a``.

    References:
        Liu et al. 2024, "Decoding-time Realignment of Language Models" (DeRa), eq. (9);
        Munos et al. 2023, "Nash Learning from Human Feedback", §6 (the mixture pi^{1 - eta tau} mu^{eta tau}).
    """
    _check_weight(weight)
    if type(h_a).__module__.startswith("torch"):
        import torch

        h_b = h_b.to(h_a.dtype) if isinstance(h_b, torch.Tensor) else torch.as_tensor(h_b, dtype=h_a.dtype)
        w = weight if isinstance(weight, torch.Tensor) else torch.as_tensor(weight, dtype=h_a.dtype)
        w = w.to(device=h_a.device, dtype=h_a.dtype)
        if not torch.all(torch.isfinite(w)):
            raise OnlineError("weight: expected finite values, got NaN or inf")
        bad = torch.isneginf(h_a) | torch.isneginf(h_b)
        z = w * torch.where(bad, 0.0, h_a) + (1 - w) * torch.where(bad, 0.0, h_b)
        z = z.masked_fill(bad, float("-inf"))
        return torch.log_softmax(z, dim=-1)
    a = np.asarray(h_a, dtype=np.float64)
    b = np.asarray(h_b, dtype=np.float64)
    w = np.asarray(weight, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise OnlineError("weight: expected finite values, got NaN or inf")
    bad = np.isneginf(a) | np.isneginf(b)
    z = w * np.where(bad, 0.0, a) + (1 - w) * np.where(bad, 0.0, b)
    z = np.where(bad, -np.inf, z)
    m = np.max(z, axis=-1, keepdims=True)
    if np.any(np.isneginf(m)):
        raise OnlineError("geometric_mixture: a row has no token allowed by both sides (all -inf)")
    z = z - m
    return z - np.log(np.sum(np.exp(z), axis=-1, keepdims=True))
