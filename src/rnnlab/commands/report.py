"""``rnnlab report``: rebuild ``index.html`` (and, with ``--rebuild``, every section's
observations, tables and figures) from a results folder, without retraining."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    from rnnlab.results import DEFAULT_OUT_ROOT

    parser = subparsers.add_parser(
        "report",
        help="rebuild the HTML report (and, with --rebuild, the figures and sentences) from results",
        description=(
            "Rebuild <out>/index.html from the section folders in <out>. With --rebuild, first "
            "present every finished section again from its saved measurements alone: read "
            "<out>/<section>/metrics.json and the config in section.json (plus saved artifacts "
            "such as Q2's checkpoints), redraw figures/*.png and rewrite observations.md and "
            "section.json. Nothing is trained again: delete a section's figures and "
            "observations.md and `rnnlab report --rebuild` brings them back."
        ),
    )
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT_ROOT,
        metavar="DIR",
        help="results root folder (default: %(default)s)",
    )
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="redraw every section's figures and rewrite its observations and tables from its "
        "metrics.json before building the page (no retraining)",
    )
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rnnlab.errors import DataError
    from rnnlab.report import build_report, describe_report
    from rnnlab.results import SECTION_FILE

    root = Path(args.out)
    if not str(args.out).strip() or not root.is_dir():
        raise DataError(f"expected a results folder at {args.out!r}, found none; run `rnnlab run` first")
    if args.rebuild:
        from rnnlab.experiments.runner import rebuild_section

        folders = sorted(p for p in root.iterdir() if (p / SECTION_FILE).is_file())
        if not folders:
            raise DataError(f"expected finished sections (*/{SECTION_FILE}) in {root}, found none")
        for folder in folders:
            rebuild_section(folder)
            print(f"{folder.name}: observations, tables and figures rebuilt from {folder}/metrics.json")
    print(f"report: {describe_report(build_report(args.out))}")
    return 0
