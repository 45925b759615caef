"""The ``rnnlab`` command line.

Subcommands live in :mod:`rnnlab.commands` (one module each, listed in :data:`COMMAND_MODULES`).
Bad input is reported as one line on stderr with a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rnnlab import __version__
from rnnlab.errors import RnnlabError

COMMAND_MODULES: list[str] = [
    "rnnlab.commands.gradcheck",
    "rnnlab.commands.bench",
    "rnnlab.commands.run",
    "rnnlab.commands.report",
    "rnnlab.commands.exercises",
    "rnnlab.commands.export",
]

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnlab",
        description=(
            "rnnlab: RNN, LSTM and GRU from scratch and in PyTorch, trained on real data, "
            "with figures and observations computed from measured numbers."
        ),
    )
    parser.add_argument("--version", action="version", version=f"rnnlab {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except RnnlabError as exc:
        print(f"rnnlab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("rnnlab: interrupted", file=sys.stderr)
        return 130
    return int(status or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
