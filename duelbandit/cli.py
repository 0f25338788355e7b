"""The ``duelbandit`` command. Each subcommand lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them."""

from __future__ import annotations

import argparse
import importlib
import sys

from duelbandit.errors import DuelbanditError

# subcommand -> (module, one-line help). Only the module of the command being run is imported, so
# `duelbandit --help` stays fast and one subcommand's optional dependencies never break another.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("duelbandit.commands.demo", "uniform vs odpo on the bundled text pool and a synthetic pool"),
    "select": ("duelbandit.commands.select", "choose T pairs of a pool to label; write annotation tasks"),
    "collect": ("duelbandit.commands.collect", "rounds of select -> label -> fit, with crash-safe resume"),
    "export": ("duelbandit.commands.export", "write annotation tasks (Label Studio, Argilla) or TRL pairs"),
    "ingest": ("duelbandit.commands.ingest", "read human labels back (JSONL or CSV), checked line by line"),
    "verify-bounds": ("duelbandit.commands.verify_bounds", "check the regret bounds against experiments"),
    "pipeline": ("duelbandit.commands.pipeline", "pool to aligned model: embed, select, label, fit, fine-tune, DeRa, report"),
    "realign": ("duelbandit.commands.realign", "DeRa: sweep lambda at decoding time, reward vs KL, no retraining"),
    "embed": ("duelbandit.commands.embed", "embed a pool (hashing, MiniLM or a model folder; local or Ray) to F.npy"),
    "skills": ("duelbandit.commands.skills", "cluster prompts into named skills; write the pool back with them"),
    "rl": ("duelbandit.rl.cli", "run RandQL and baselines on finite MDPs; write regret curves"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``command`` given, only that subcommand's module is imported."""
    parser = argparse.ArgumentParser(prog="duelbandit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if name == command:
            importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    args = build_parser(command if command in COMMANDS else None).parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except DuelbanditError as exc:
        print(f"duelbandit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
