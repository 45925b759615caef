"""``rnnlab report``: rebuild ``index.html`` from the section folders already in a results root."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from rnnlab.experiments.runner import DEFAULT_OUT_ROOT

    parser = subparsers.add_parser(
        "report",
        help="rebuild the HTML report from existing results",
        description="Rebuild <out>/index.html (one self-contained file) from <out>/<section>/.",
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT_ROOT,
        metavar="DIR",
        help="results root folder (default: %(default)s)",
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rnnlab.errors import DataError
    from rnnlab.report import build_report

    if not Path(args.out).is_dir():
        raise DataError(
            f"expected a results folder at {args.out}, found none; run `rnnlab run` first"
        )
    print(f"report: {build_report(args.out)}")
    return 0
