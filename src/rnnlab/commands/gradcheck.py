"""``rnnlab gradcheck``: prove the NumPy engine's gradients on the spot."""

from __future__ import annotations

import argparse

TOLERANCE_FD = 1e-7
TOLERANCE_TORCH = 1e-10


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "gradcheck",
        help="check the NumPy engine's BPTT against finite differences and torch autograd",
        description=(
            "For RNN, LSTM, GRU (PyTorch's variant) and GRU (Cho et al. 2014), in float64: the max "
            "relative error of every hand-written gradient against centred finite differences, "
            "and the max absolute difference of outputs and gradients from torch.nn on the same "
            "weights. Exits non-zero if any check fails."
        ),
    )
    p.add_argument("--batch", type=int, default=2, help="N, sequences per batch (default 2)")
    p.add_argument("--steps", type=int, default=6, help="T, time steps (default 6)")
    p.add_argument("--input-size", type=int, default=3, help="D (default 3)")
    p.add_argument("--hidden-size", type=int, default=4, help="H (default 4)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def _positive(args: argparse.Namespace) -> None:
    from rnnlab.errors import ConfigError

    for name in ("batch", "steps", "input_size", "hidden_size"):
        value = getattr(args, name)
        if value < 1:
            raise ConfigError(f"expected --{name.replace('_', '-')} >= 1, found {value}")


def run(args: argparse.Namespace) -> int:
    from rnnlab.scratch.gradcheck import report

    _positive(args)
    rows = report(N=args.batch, T=args.steps, D=args.input_size, H=args.hidden_size, seed=args.seed)
    print(
        f"Gradient check, float64, N={args.batch} T={args.steps} D={args.input_size} "
        f"H={args.hidden_size} seed={args.seed}"
    )
    print(f"  finite differences: max relative error per gradient (pass < {TOLERANCE_FD:.0e})")
    print(f"  torch.nn parity:    max absolute difference, outputs and gradients (pass < {TOLERANCE_TORCH:.0e})")
    print()
    header = f"{'cell':<9}{'gradient':<15}{'vs finite diff':>16}{'vs torch':>12}"
    print(header)
    print("-" * len(header))
    ok = True
    for row in rows:
        names = list(row.gradcheck)
        for i, name in enumerate(names):
            fd = row.gradcheck[name]
            tv = row.torch_abs.get(name) if row.torch_abs else None
            ok &= fd < TOLERANCE_FD and (tv is None or tv < TOLERANCE_TORCH)
            torch_cell = "n/a" if tv is None else f"{tv:.1e}"
            print(f"{row.cell if i == 0 else '':<9}{name:<15}{fd:>16.1e}{torch_cell:>12}")
        if row.torch_abs is not None:
            print(f"{'':<9}{'outputs hs':<15}{'':>16}{row.torch_abs['hs']:>12.1e}")
            ok &= row.torch_abs["hs"] < TOLERANCE_TORCH
        else:
            print(f"{'':<9}(torch.nn has no Cho-variant GRU; the test suite checks it against autograd)")
    worst = max(max(r.gradcheck.values()) for r in rows)
    worst_torch = max(max(r.torch_abs.values()) for r in rows if r.torch_abs)
    print()
    print(f"{'PASS' if ok else 'FAIL'}: worst finite-difference error {worst:.1e}, worst torch difference {worst_torch:.1e}")
    return 0 if ok else 1



