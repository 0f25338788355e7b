"""Output paths that never destroy an input: the checks every command runs before it writes a byte.

:func:`check_outputs` refuses an output that is the same file as an input (same real path after
resolving symlinks, or the same inode: a hard link or a bind mount), and an output that already exists
unless the user said ``--force``. Outputs are then written atomically (:func:`duelbandit.io.write_text_atomic`),
so even a forced overwrite leaves the old file intact until the new one is complete.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from duelbandit.errors import OutputError


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name one file: same real path, or (both existing) same device and inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def check_outputs(
    outputs: Mapping[str, str | os.PathLike] | Sequence[tuple[str, str | os.PathLike]],
    inputs: Mapping[str, str | os.PathLike | None],
    *,
    force: bool,
    append: bool = False,
) -> None:
    """Refuse outputs that would destroy an input or (without ``force``) an existing file.

    Args:
        outputs: ``{flag or description: path}`` of every file the command will write (e.g.
            ``{"--out": "tasks.jsonl", "--out's design file": "tasks.jsonl.design.json"}``).
        inputs: ``{flag: path}`` of the files it reads; None entries (options not given, a bundled pool)
            are ignored.
        force: the user passed ``--force``: an existing output may be replaced (atomically).
        append: the outputs are appended to (``ingest``): an existing one is expected, not refused.

    Raises:
        OutputError: naming the output, the input it collides with, and what to do.
    """
    items = list(outputs.items()) if isinstance(outputs, Mapping) else list(outputs)
    for flag, out in items:
        for in_flag, inp in inputs.items():
            if inp is None or not os.path.exists(inp):
                continue
            if same_file(out, inp):
                raise OutputError(
                    f"{flag} {out}: is the same file as {in_flag} {inp}; writing it would destroy the input. "
                    "Choose another output path")
        if os.path.isdir(out):
            raise OutputError(f"{flag} {out}: is a folder; expected a file path")
        if os.path.exists(out) and not force and not append:
            raise OutputError(
                f"{flag} {out}: the file exists; pass --force to replace it (the new file is written "
                "atomically: the old one stays intact until the new one is complete), or choose another path")


def output_paths(out: str | os.PathLike, *suffixes: str) -> dict[str, Path]:
    """``{"--out": OUT, "--out's .design.json": OUT.design.json, ...}``: an output and its side files."""
    out = Path(out)
    return {"--out": out, **{f"--out's {s} file": Path(str(out) + s) for s in suffixes}}
