"""``rnnlab exercises ...``: the introductory exercises one at a time, printed in the terminal.

- ``rnnlab exercises forward-pass``: every h_t of the manual forward pass to 8 decimals, by a
  plain loop and by the NumPy engine, shown equal;
- ``rnnlab exercises count --cell lstm --input 4 --hidden 3 [--layers 2] [--bidirectional]``:
  the parameter count with its formula, next to PyTorch's;
- ``rnnlab exercises architectures``: the five input/output patterns run as tiny PyTorch models;
- ``rnnlab exercises toy``: the many-to-one NumPy RNN trained by hand-written BPTT on the four
  toy sequences, predictions before and after.

``rnnlab run exercises`` runs all seven parts with figures, the notebook and the report.
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "exercises",
        help="the introductory exercises one at a time (forward pass, counting, architectures, toy)",
        description="Print one introductory exercise in the terminal. `rnnlab run exercises` runs them all.",
    )
    sub = parser.add_subparsers(dest="exercise", metavar="EXERCISE")
    sub.required = True

    p = sub.add_parser("forward-pass", help="h_t = tanh(W_xh x_t + W_hh h_{t-1} + b) on the exercise's numbers",
                       description="Every h_t of the exercise's forward pass, computed by a plain Python loop "
                                   "and by the NumPy engine's RNN (bias_ih = b, bias_hh = 0), shown equal.")
    p.add_argument("--decimals", type=int, default=8, help="decimals printed (default 8)")
    p.set_defaults(func=_forward_pass)

    p = sub.add_parser("count", help="parameters of an RNN/LSTM/GRU layer, with the formula and PyTorch's count",
                       description="Count the parameters of a recurrent layer (shared over time, so the "
                                   "sequence length does not matter) and compare with torch.nn.")
    p.add_argument("--cell", choices=("rnn", "lstm", "gru"), default="rnn")
    p.add_argument("--input", dest="input_size", type=int, default=4, help="D, input size (default 4)")
    p.add_argument("--hidden", dest="hidden_size", type=int, default=3, help="H, hidden size (default 3)")
    p.add_argument("--layers", type=int, default=1, help="stacked layers (default 1)")
    p.add_argument("--bidirectional", action="store_true", help="two directions per layer")
    p.set_defaults(func=_count)

    p = sub.add_parser("architectures", help="one-to-one ... encoder-decoder, each run as a tiny PyTorch model")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_architectures)

    p = sub.add_parser("toy", help="the many-to-one NumPy RNN on the four toy sequences, trained by BPTT")
    p.add_argument("--hidden", dest="hidden_size", type=int, default=4, help="H (default 4)")
    p.add_argument("--epochs", type=int, default=200, help="full-batch updates (default 200)")
    p.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (default 0.05)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_toy)


def _check_positive(args: argparse.Namespace, *names: str) -> None:
    from rnnlab.errors import ConfigError

    for name in names:
        value = getattr(args, name)
        if value < 1:
            flag = {"input_size": "input", "hidden_size": "hidden"}.get(name, name)
            raise ConfigError(f"expected --{flag.replace('_', '-')} >= 1, found {value}")


def _forward_pass(args: argparse.Namespace) -> int:
    from rnnlab.errors import ConfigError
    from rnnlab.exercises.forward_pass import EXERCISE, format_forward_pass

    if not 0 <= args.decimals <= 17:
        raise ConfigError(f"expected --decimals between 0 and 17, found {args.decimals}")
    text, diff = format_forward_pass(EXERCISE, args.decimals)
    print(text)
    return 0 if diff < 1e-12 else 1


def _count(args: argparse.Namespace) -> int:
    from rnnlab.exercises.counting import count_parameters, macs_per_step, torch_parameter_count

    _check_positive(args, "input_size", "hidden_size", "layers")
    kw = {"num_layers": args.layers, "bidirectional": args.bidirectional}
    two = count_parameters(args.cell, args.input_size, args.hidden_size, biases=2, **kw)
    one = count_parameters(args.cell, args.input_size, args.hidden_size, biases=1, **kw)
    torch_count = torch_parameter_count(args.cell, args.input_size, args.hidden_size, **kw)
    desc = (f"{args.cell.upper()}, input D = {args.input_size}, hidden H = {args.hidden_size}, "
            f"{args.layers} layer(s){', bidirectional' if args.bidirectional else ''}")
    print(desc)
    print(f"  {'one bias vector per block (textbook):':<40}{one.formula}")
    print(f"  {'two bias vectors (PyTorch):':<40}{two.formula}")
    print(f"  {f'torch.nn.{args.cell.upper()} reports:':<40}{torch_count}"
          f"  ({'matches' if torch_count == two.total else 'DOES NOT MATCH'})")
    print(f"  of which W_ih {two.weight_ih}, W_hh {two.weight_hh}, biases {two.bias}")
    print(f"  multiply-adds per time step and sequence: {macs_per_step(args.cell, args.input_size, args.hidden_size, **kw)}")
    print("  The count is the same for every sequence length: the weights are shared across time steps.")
    return 0 if torch_count == two.total else 1


def _architectures(args: argparse.Namespace) -> int:
    from rnnlab.exercises.architectures import demonstrate_architectures, format_architectures

    print(format_architectures(demonstrate_architectures(seed=args.seed)))
    return 0


def _toy(args: argparse.Namespace) -> int:
    from rnnlab.exercises.toy_classifier import format_predictions, train_toy_classifier

    _check_positive(args, "hidden_size", "epochs")
    _, result = train_toy_classifier(hidden_size=args.hidden_size, epochs=args.epochs, lr=args.lr, seed=args.seed)
    print(format_predictions(result))
    return 0
