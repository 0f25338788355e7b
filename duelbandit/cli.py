"""The ``duelbandit`` command. Each subcommand lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them.

Errors a user can cause (a :class:`DuelbanditError`, or an ``OSError`` such as a read-only folder or a
full disk) end with one line on stderr and exit code 2; warnings print as one plain line.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import sys
import warnings

from duelbandit.errors import DuelbanditError

# subcommand -> (module, one-line help). Only the module of the command being run is imported, so
# `duelbandit --help` stays fast and one subcommand's optional dependencies never break another.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("duelbandit.commands.demo", "compare uniform and optimal-design labelling on bundled pools (no input needed)"),
    "select": ("duelbandit.commands.select", "choose the T pairs of your pool most worth a label; write annotation tasks"),
    "collect": ("duelbandit.commands.collect", "label in rounds (select, label, fit), resumable after a crash"),
    "export": ("duelbandit.commands.export", "write tasks for Label Studio / Argilla, or labels as TRL preference pairs"),
    "ingest": ("duelbandit.commands.ingest", "read human labels (JSONL, CSV, Parquet, Label Studio, Argilla) into a label log"),
    "embed": ("duelbandit.commands.embed", "embed a pool (hashing, MiniLM or a model folder; local or Ray) to F.npy"),
    "skills": ("duelbandit.commands.skills", "cluster prompts into named skills; write the pool back with them"),
    "finetune": ("duelbandit.commands.finetune", "DPO/IPO/GPO/mDPO/mIPO fine-tune of a causal LM on preference pairs"),
    "generate": ("duelbandit.commands.generate", "sample responses from a fine-tuned (or base) causal LM"),
    "realign": ("duelbandit.commands.realign", "DeRa: sweep lambda at decoding time, reward vs KL, no retraining"),
    "pipeline": ("duelbandit.commands.pipeline", "pool to aligned model: embed, select, label, fit, fine-tune, DeRa, report"),
    "verify-bounds": ("duelbandit.commands.verify_bounds", "check the regret bounds against simulated experiments"),
    "rl": ("duelbandit.rl.cli", "run RandQL and baseline agents on finite MDPs; write regret curves"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command`` given, only that subcommand's module is imported."""
    parser = argparse.ArgumentParser(
        prog="duelbandit",
        description="Choose the prompt/response pairs worth a human preference label, collect the labels, "
        "and export them for training. Run `duelbandit COMMAND --help` for a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == command:
            importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return parser


# the way out of each OS error a command can meet while writing
_OS_FIXES = {
    errno.ENOSPC: "the disk is full: free some space and rerun the same command (nothing committed is lost)",
    errno.EDQUOT: "the disk quota is exceeded: free some space and rerun the same command",
    errno.EROFS: "the file system is read-only: choose a writable folder",
    errno.EACCES: "permission denied: choose a folder you can write to, or fix its permissions",
    errno.EPERM: "operation not permitted: choose a folder you can write to, or fix its permissions",
}


def _os_error_line(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else "a file"
    fix = _OS_FIXES.get(exc.errno or -1, "check the path and rerun")
    return f"{where}: {exc.strerror or exc}; {fix}"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    plain = f"duelbandit {args.command}"
    old_format = warnings.formatwarning
    # one plain line per warning (no class name, no source line); recording (pytest) is unaffected
    warnings.formatwarning = lambda message, category, filename, lineno, line=None: (
        f"{plain}: warning: {message}\n")
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except DuelbanditError as exc:
        print(f"{plain}: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{plain}: error: {_os_error_line(exc)}", file=sys.stderr)
        return 2
    except MemoryError as exc:  # the memory guard (--max-memory) refuses plans it can see coming
        print(f"{plain}: error: out of memory ({exc}); lower --budget or --dim", file=sys.stderr)
        return 2
    finally:
        warnings.formatwarning = old_format


if __name__ == "__main__":
    raise SystemExit(main())
