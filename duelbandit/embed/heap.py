"""Keep freed heap memory in the process instead of handing it back to the kernel (glibc only).

The hashing embedder allocates and frees tens of MB of numpy temporaries per 2,000 texts. Under glibc's default
(a dynamic threshold that starts at 128 KiB) much of it goes back to the kernel after every call, so the next
call takes a page fault on every 4 KiB page it touches again: ~8,400 minor faults per 2,000-text embed, which
cost it ~18% of its throughput on the 2-core VM we measure on (benchmarks/results/bench_embed.md: 24.0k vs 29.2k
texts/s). :func:`retain_heap` fixes the two thresholds at the values glibc's own dynamic rule grows them to
at most (mmap 32 MiB, trim 64 MiB): blocks below 32 MiB come from the heap, and up to 64 MiB of free heap stays
in the process for reuse. It is called by the hashing embedder and is process-wide.

Nothing is changed when the platform is not glibc, when the user already tunes malloc (``MALLOC_*`` or
``GLIBC_TUNABLES`` in the environment), or when ``DUELBANDIT_KEEP_HEAP=0``.
"""

from __future__ import annotations

import ctypes
import os
import sys

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # what the dynamic rule pairs with it
_done: bool | None = None


def _libc_mallopt():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - present only in glibc (musl has mallopt but ignores it)
        return libc.mallopt
    except (OSError, AttributeError):
        return None


def retain_heap() -> bool:
    """Apply the thresholds once per process; True when they are in effect."""
    global _done
    if _done is None:
        _done = False
        user_tuned = any(k.startswith("MALLOC_") for k in os.environ) or "GLIBC_TUNABLES" in os.environ
        mallopt = None if user_tuned or os.environ.get("DUELBANDIT_KEEP_HEAP") == "0" else _libc_mallopt()
        if mallopt is not None:
            # mmap first: setting either value switches the dynamic rule off, and the pair must hold together
            _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
                mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
