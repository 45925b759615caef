"""``rnnlab bench NAME``: run one benchmark. Each lives in ``rnnlab.bench.<module>``, which defines
``add_arguments(parser)`` and ``main(args) -> int``. Results go to docs/BENCHMARKS.md by hand,
with the machine they came from."""

from __future__ import annotations

import importlib

BENCHMARKS: dict[str, tuple[str, str]] = {
    # name: (module, one-line help)
    "engine": ("rnnlab.bench.engine", ("NumPy engine vs torch.nn forward+backward speed on CPU, each at its best "
                                       "thread setting, timed in alternating blocks (--shapes: the table for "
                                       "docs/BENCHMARKS.md)")),
    "q2": ("rnnlab.bench.q2", "Q2 accuracy goals: MNIST-5k, Fashion-MNIST, temperature vs persistence"),
    "exercises": ("rnnlab.bench.exercises", "exercise accuracy goals: increasing/decreasing >= 98%, BiLSTM sentiment vs baselines"),
}


def register(subparsers) -> None:
    p = subparsers.add_parser("bench", help="run a benchmark (speed or accuracy goals)")
    sub = p.add_subparsers(dest="bench", metavar="NAME")
    sub.required = True
    for name, (module_name, help_text) in BENCHMARKS.items():
        escaped = help_text.replace("%", "%%")  # argparse formats help strings with %
        bp = sub.add_parser(name, help=escaped, description=escaped)
        module = importlib.import_module(module_name)
        module.add_arguments(bp)
        bp.set_defaults(func=module.main)
