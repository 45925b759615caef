"""``rnnlab run {SECTION,all}``: run sections of the lab into a results folder.

The section names come from :mod:`rnnlab.experiments.registry`. Each section declares its
options once, on its ``Config`` (``rnnlab.experiments.base.option``); this module generates
their flags. A flag two sections declare must have the same type and choices in both. An option
given for a section that does not declare it is refused (one line, exit status 2).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from rnnlab.errors import ConfigError, RnnlabError


def register(subparsers: argparse._SubParsersAction) -> None:
    from rnnlab.experiments import registry
    from rnnlab.experiments.runner import DEFAULT_OUT_ROOT, DEVICES

    names = list(registry.SECTIONS)
    parser = subparsers.add_parser(
        "run",
        help="run a section of the lab (or all) into a results folder",
        description=(
            "Run a section of the lab and write its results folder: metrics.json, "
            "observations.md, section.json, figures/*.png and the executed notebook; then "
            "rebuild the HTML report index.html. 'all' runs every section in order."
        ),
    )
    parser.add_argument("section", choices=[*names, "all"], help="which section to run")
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT_ROOT,
        metavar="DIR",
        help="results root folder (default: %(default)s)",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        dest="profile",
        action="store_const",
        const="quick",
        help="tiny settings that run in seconds (for tests and a first look)",
    )
    size.add_argument(
        "--full",
        dest="profile",
        action="store_const",
        const="full",
        help="the larger settings a GPU or patience allows",
    )
    parser.set_defaults(profile="default")
    parser.add_argument("--seed", type=int, default=0, help="base seed (default: %(default)s)")
    parser.add_argument(
        "--device",
        choices=DEVICES,
        default="auto",
        help="where PyTorch models run (default: %(default)s: cuda if available)",
    )
    parser.add_argument(
        "--no-notebook",
        dest="notebook",
        action="store_false",
        help="do not execute the section's notebook",
    )
    parser.add_argument(
        "--no-progress",
        dest="progress",
        action="store_false",
        help="no progress bars or status lines",
    )
    _add_declared_options(parser, names)
    parser.set_defaults(func=main)


def _declared(names: list[str]) -> dict[str, dict[str, Any]]:
    """field name -> {section name: DeclaredOption} over the registered sections."""
    from rnnlab.experiments.base import declared_options
    from rnnlab.experiments.runner import get_section

    owners: dict[str, dict[str, Any]] = {}
    for name in names:
        try:
            module = get_section(name)
        except RnnlabError as exc:  # keep the other sections usable; running this one says why
            print(f"rnnlab: warning: {exc}", file=sys.stderr)
            continue
        for field, opt in declared_options(module.Config).items():
            owners.setdefault(field, {})[name] = opt
    return owners


def _add_declared_options(parser: argparse.ArgumentParser, names: list[str]) -> None:
    """One flag per declared option; its help names the sections that take it."""
    groups: dict[str, Any] = {}
    for field, by_section in _declared(names).items():
        first = next(iter(by_section.values()))
        for other in by_section.values():
            if (other.kind, other.spec.choices, other.flag) != (first.kind, first.spec.choices, first.flag):
                raise ConfigError(f"sections declare {first.flag} differently ({', '.join(by_section)})")
        sections = ", ".join(by_section)
        group_name = f"{sections} options"
        group = groups.get(group_name) or groups.setdefault(group_name, parser.add_argument_group(group_name))
        kwargs: dict[str, Any] = {"dest": field, "default": argparse.SUPPRESS, "help": first.spec.help}
        if first.kind is bool:
            kwargs["action"] = "store_true" if not first.default else argparse.BooleanOptionalAction
        else:
            kwargs["type"] = first.kind
            if first.spec.choices is not None:
                kwargs["choices"] = first.spec.choices
            kwargs["metavar"] = first.spec.metavar
        group.add_argument(first.flag, **kwargs)


def _section_options(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """The options the user gave that belong to section ``name`` (refusing others' options)."""

    owners = _declared(list(_all_names()))
    given = {k: v for k, v in vars(args).items() if k in owners}
    mine = {k: v for k, v in given.items() if name in owners[k]}
    if args.section != "all":
        foreign = sorted(set(given) - set(mine))
        if foreign:
            flags = ", ".join(
                f"{next(iter(owners[k].values())).flag} (an option of {', '.join(owners[k])})"
                for k in foreign
            )
            raise ConfigError(f"expected options of section {name!r}, found {flags}")
    return mine


def _all_names() -> list[str]:
    from rnnlab.experiments import registry

    return list(registry.SECTIONS)


def main(args: argparse.Namespace) -> int:
    from rnnlab.experiments import runner
    from rnnlab.report import build_report, describe_report

    start = time.perf_counter()
    names = runner.section_names() if args.section == "all" else [args.section]
    options = {name: _section_options(name, args) for name in names}
    if args.section == "all":
        merged: dict[str, Any] = {}
        for section_options in options.values():
            merged.update(section_options)
        outcome = runner.run_all(
            args.out,
            args.profile,
            args.seed,
            args.device,
            args.progress,
            merged,
            notebook=args.notebook,
        )
        results, report = outcome.results, outcome.report
    else:
        result = runner.run_section(
            args.section,
            args.out,
            args.profile,
            args.seed,
            args.device,
            args.progress,
            options[args.section],
            notebook=args.notebook,
        )
        results = {args.section: result}
        report = build_report(args.out)
    wall = time.perf_counter() - start
    for name in results:
        folder = Path(args.out) / name
        files = ["metrics.json", "observations.md", "section.json"]
        if (folder / "figures").is_dir():
            files.append("figures/")
        if (folder / f"{name}.ipynb").is_file():
            files.append(f"{name}.ipynb")
        print(f"{name}: {folder}/ ({', '.join(files)})")
    print(f"report: {describe_report(report)}")
    print(f"wall time: {runner.format_seconds(wall)}")
    sys.stdout.flush()
    return 0
