"""The entry point's defaults (issue 13, item 8): the documented fast path is the default call."""

from __future__ import annotations

import inspect

import numpy as np

from duelbandit.design import optimal_design
from duelbandit.design.optimal import auto_method


def test_default_method_is_auto():
    assert inspect.signature(optimal_design).parameters["method"].default == "auto"
    B = np.random.default_rng(0).standard_normal((300, 5))
    design = optimal_design(B)
    picked, why = auto_method(300, 5, reg=0.0, backend="numpy")
    assert design.certificate.method == f"auto:{picked}"
    assert design.info["auto"]  # says what it picked and why
    # and it certifies what the docs promise: efficiency >= 1 / (1 + eps), checked from the weights
    w = design.weights
    g = np.einsum("ij,jk,ik->i", B, np.linalg.inv(B.T @ (w[:, None] * B)), B)
    assert 5 / g.max() >= 1 / (1 + 1e-3) - 1e-9
