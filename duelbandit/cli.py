"""The ``duelbandit`` command. Each subcommand lives in its own module exposing
``add_arguments(parser)`` and ``run(args) -> int``; this file only wires them."""

from __future__ import annotations

import argparse
import importlib
import sys

from duelbandit.errors import DuelbanditError

# subcommand -> (module, one-line help). Modules are imported lazily so `duelbandit --help` stays fast.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("duelbandit.commands.demo", "uniform vs odpo on the bundled text pool and a synthetic pool"),
    "select": ("duelbandit.commands.select", "choose T pairs of a pool to label; write annotation tasks"),
    "rl": ("duelbandit.rl.cli", "run RandQL and baselines on finite MDPs; write regret curves"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="duelbandit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        importlib.import_module(module).add_arguments(p)
        p.set_defaults(_module=module)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except DuelbanditError as exc:
        print(f"duelbandit {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
