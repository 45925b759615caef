"""``rnnlab export tensorboard RESULTS/q2``: Q2's saved training as TensorBoard event files."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export saved results to other tools (TensorBoard)",
        description=(
            "Write TensorBoard event files of Q2's per-epoch weight histograms (per weight matrix "
            "and per gate block) and losses, read from the saved, verified checkpoints; nothing is "
            "trained again. Needs the optional tensorboard package: pip install 'rnnlab[tensorboard]'. "
            "Then: tensorboard --logdir RESULTS/q2/tensorboard"
        ),
    )
    parser.add_argument("format", choices=["tensorboard"], help="what to export to")
    parser.add_argument("section_dir", metavar="RESULTS/q2", help="a Q2 results folder (with checkpoints/)")
    parser.add_argument("--logdir", metavar="DIR", default=None,
                        help="where the event files go (default: RESULTS/q2/tensorboard)")
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from rnnlab.report.tensorboard import export_tensorboard

    logdir, models, epochs = export_tensorboard(args.section_dir, args.logdir)
    print(f"tensorboard: {models} models, {epochs} epochs of weights written to {logdir}")
    print(f"open with: tensorboard --logdir {logdir}")
    return 0
