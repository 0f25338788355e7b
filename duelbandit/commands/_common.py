"""Checks shared by the commands, run before a command writes its first byte.

- :func:`add_memory_argument` / :func:`check_memory`: refuse a plan whose memory estimate exceeds
  ``--max-memory`` (default: half of physical RAM), naming the numbers.
- :func:`check_dim`: a feature dimension that the design can hold.

The estimate (bytes), for L candidate pairs, n responses, dimension d and T labels:

    features      n d 8 x 2      (the embedding and its normalised copy, float64)
    candidates    L d 8 x 3      (differences, whitened copy, one leverage pass)
    d x d         d^2 8 x 8      (information matrix, inverse, Cholesky, Hessian, ...)
    labels        T x per-label  (select: 4 x the mean task line + 200 bytes, for the task strings, their
                                  join and encoding; collect: 1,500 bytes for the label arrays, log rows
                                  and the checkpoint's hash of the log)

The per-label constants were measured on the bundled pool (select: 1.15 KB per task of ~350 bytes;
collect: 1.2 KB per label, peak RSS at T = 2e4 and 2e5) and rounded up: the guard is meant to stop a
plan that is 10x too big before it starts, not to predict the peak to the byte.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass

from duelbandit.errors import ConfigError
from duelbandit.types import Pool

COLLECT_BYTES_PER_LABEL = 1500
_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
          "g": 2**30, "gb": 2**30, "gib": 2**30, "t": 2**40, "tb": 2**40, "tib": 2**40}


class ResourceError(ConfigError):
    """A plan would need more memory than the limit allows."""


def physical_memory() -> int:
    """Physical RAM in bytes (psutil; ``os.sysconf`` where psutil is missing)."""
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:  # pragma: no cover - psutil is a core dependency
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def parse_size(text: str) -> int:
    """``"8G"``, ``"512MB"``, ``"1.5GiB"``, ``"1000000"`` -> bytes (binary units).

    Raises:
        ConfigError: naming the value and the accepted forms.
    """
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if m is None or m.group(2).lower() not in _UNITS:
        raise ConfigError(f"--max-memory: expected a size such as 8G, 512M or a number of bytes, got {text!r}")
    value = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if value <= 0:
        raise ConfigError(f"--max-memory: expected a positive size, got {text!r}")
    return int(value)


def fmt_bytes(n: float) -> str:
    for unit, size in (("TB", 2**40), ("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def add_memory_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--max-memory", default=None, metavar="SIZE",
                   help="refuse a plan whose memory estimate exceeds SIZE (e.g. 8G; default: half of "
                        "physical RAM)")


def add_csv_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv-field-limit", type=int, default=None, metavar="BYTES",
                   help="largest field of a CSV pool in bytes (default 131072)")


def memory_limit(args: argparse.Namespace) -> int:
    spec = getattr(args, "max_memory", None)
    return physical_memory() // 2 if spec is None else parse_size(spec)


@dataclass(frozen=True)
class MemoryPlan:
    """The memory estimate of a plan, by part (bytes)."""

    features: int
    candidates: int
    matrices: int
    labels: int

    @property
    def total(self) -> int:
        return self.features + self.candidates + self.matrices + self.labels

    def describe(self) -> str:
        return (f"features {fmt_bytes(self.features)}, candidate differences {fmt_bytes(self.candidates)}, "
                f"d x d matrices {fmt_bytes(self.matrices)}, labels {fmt_bytes(self.labels)}")


def plan_memory(pool: Pool, dim: int, budget: int, bytes_per_label: float) -> MemoryPlan:
    """The estimate of the module docstring."""
    L, n, d = pool.n_pairs, pool.n_responses, dim
    return MemoryPlan(features=2 * 8 * n * d, candidates=3 * 8 * L * d, matrices=8 * 8 * d * d,
                      labels=int(budget * bytes_per_label))


def select_bytes_per_label(pool: Pool) -> float:
    """Bytes per task of ``select``: a task line holds the prompt and two responses (+ ids, ~150 bytes)."""
    mean_prompt = sum(len(p.encode("utf-8")) for p in pool.prompts) / max(pool.n_prompts, 1)
    mean_resp = sum(len(r.encode("utf-8")) for r in pool.responses) / max(pool.n_responses, 1)
    return 4 * (mean_prompt + 2 * mean_resp + 150) + 200


def check_memory(pool: Pool, dim: int, budget: int, limit: int, bytes_per_label: float) -> MemoryPlan:
    """Refuse a plan above ``limit`` bytes, naming the estimate, its largest part and the limit.

    Raises:
        ResourceError: before any work starts.
    """
    plan = plan_memory(pool, dim, budget, bytes_per_label)
    if plan.total > limit:
        raise ResourceError(
            f"this plan needs about {fmt_bytes(plan.total)} of memory ({plan.describe()}; --budget {budget}, "
            f"--dim {dim}, {pool.n_pairs} candidate pairs), above the limit of {fmt_bytes(limit)}. Lower "
            "--budget or --dim, or raise --max-memory if the machine has the room")
    return plan


def check_positive(flag: str, value: int) -> int:
    if value < 1:
        raise ConfigError(f"{flag}: expected an integer >= 1, got {value}")
    return value
