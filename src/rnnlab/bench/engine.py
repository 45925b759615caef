"""Speed of the NumPy engine against torch.nn on the CPU (``rnnlab bench engine``).

One batch's recurrent work, forward plus backward, of RNN, LSTM and GRU in the NumPy engine
(``rnnlab.scratch``) and in ``torch.nn`` (oneDNN on the CPU), float32 by default, in one process.

Fair by construction:

- **Each side at its best thread setting.** The engine is timed with one thread, with its helper
  thread (two threads, one BLAS thread each: ``rnnlab.threads.engine_threads``) and with two
  BLAS threads; torch with 1 and with 2 intra-op threads. The table reports each side's fastest
  setting and names it.
- **Alternating blocks.** Every setting of both sides runs one block of ``--block`` iterations
  in turn, and that round is repeated ``--repeats`` times; a setting's time is the median over
  its blocks. Load from other jobs on the machine then hits both sides alike. Each block starts
  with one untimed call, and after a block with two BLAS threads the process pauses
  (``--settle``): idle OpenBLAS threads spin for a while and would slow the setting timed next.

``--shapes`` measures the issue's shapes and a ladder that doubles N, T and H in turn from one
base shape, to show how the cost grows with each. The output is Markdown, printed as measured,
for docs/BENCHMARKS.md (with the date, the machine and the load average before and after).
FLOPs of one pass: about 6 N T G H (D + H) (2 forward, 4 backward), G = 4 (LSTM), 3 (GRU), 1 (RNN).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rnnlab.errors import ConfigError

GATES = {"lstm": 4, "gru": 3, "rnn": 1}
LABELS = {"lstm": "LSTM", "gru": "GRU", "rnn": "RNN"}

# (N, T, D, H): the shapes of the issue (row-wise MNIST, a small model, a large hidden state, large
# inputs), then a ladder from one base shape doubling N, then T, then H.
ISSUE_SHAPES = [(128, 28, 28, 128), (32, 50, 32, 32), (64, 100, 128, 256), (32, 50, 512, 512)]
LADDER_BASE = (32, 50, 64, 128)
LADDER = [LADDER_BASE, (64, 50, 64, 128), (32, 100, 64, 128), (32, 50, 64, 256)]

# thread settings: name -> (engine threads, BLAS threads) for NumPy; (intra-op threads, oneDNN on)
# for torch, whose LSTM runs oneDNN's fused RNN primitive on the CPU unless it is switched off
NUMPY_SETTINGS = {"1": (1, 1), "2": (2, 1), "2blas": (1, 2)}
TORCH_SETTINGS = {"1": (1, True), "2": (2, True), "2-no-onednn": (2, False)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shapes", action="store_true",
                   help="measure the table of shapes (issue shapes and an N, T, H ladder) instead of one shape")
    p.add_argument("--batch", type=int, default=128, help="N (one shape; default 128)")
    p.add_argument("--steps", type=int, default=28, help="T (default 28)")
    p.add_argument("--input-size", type=int, default=28, help="D (default 28)")
    p.add_argument("--hidden-size", type=int, default=128, help="H (default 128)")
    p.add_argument("--cells", default="lstm,gru,rnn", help="comma-separated cells (default lstm,gru,rnn)")
    p.add_argument("--repeats", type=int, default=7, help="rounds of alternating blocks (median reported; default 7)")
    p.add_argument("--block", type=int, default=2, help="iterations per timed block (default 2)")
    p.add_argument("--settle", type=float, default=0.3,
                   help="seconds to pause after a block with 2 BLAS threads (default 0.3)")
    p.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    p.add_argument("--numpy-threads", default="1,2,2blas",
                   help="engine settings to try: 1 (one thread), 2 (its helper thread, one BLAS thread "
                   "each), 2blas (two BLAS threads); default all three")
    p.add_argument("--torch-threads", "--threads", dest="torch_threads", default="1,2",
                   help="torch settings to try: 1, 2 (intra-op threads), 2-no-onednn (2 threads with "
                   "oneDNN switched off, torch's own loops); default 1,2")


@dataclass
class Row:
    shape: tuple[int, int, int, int]
    cell: str
    numpy_ms: dict[str, float]  # setting -> median ms
    torch_ms: dict[str, float]

    @property
    def best_numpy(self) -> tuple[str, float]:
        return min(self.numpy_ms.items(), key=lambda kv: kv[1])

    @property
    def best_torch(self) -> tuple[str, float]:
        return min(self.torch_ms.items(), key=lambda kv: kv[1])

    @property
    def speed(self) -> float:
        """torch time / NumPy time, each at its best setting (above 1: the engine is faster)."""
        return self.best_torch[1] / self.best_numpy[1]

    @property
    def gflops(self) -> float:
        N, T, D, H = self.shape
        return 6.0 * N * T * GATES[self.cell] * H * (D + H) / 1e9


def _parse_list(text: str, allowed, what: str) -> list[str]:
    items = [s.strip() for s in str(text).split(",") if s.strip()]
    bad = [s for s in items if s not in allowed]
    if not items or bad:
        raise ConfigError(f"expected {what} from {', '.join(allowed)}, found {text!r}")
    return items


def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def _time_block(fn: Callable[[], None], block: int) -> float:
    """Mean ms of ``block`` calls, after one untimed call (caches warm again after the other side)."""
    fn()
    t0 = time.perf_counter()
    for _ in range(block):
        fn()
    return 1e3 * (time.perf_counter() - t0) / block


def measure(shape, cell: str, *, repeats: int = 7, block: int = 2, dtype: str = "float32",
            numpy_settings=("1", "2", "2blas"), torch_settings=("1", "2"), settle: float = 0.3) -> Row:
    """Median ms of one forward + backward for each thread setting, timed in alternating blocks.

    After a block with two BLAS threads the process pauses ``settle`` seconds: idle OpenBLAS
    threads keep spinning for a while (measured: torch's two-thread blocks ran 3x slower right
    after one), and every block starts with one untimed call.
    """
    import torch

    from rnnlab.scratch import make_layer
    from rnnlab.threads import limit_engine_threads

    N, T, D, H = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D)).astype(dtype)
    dhs = rng.standard_normal((N, T, H)).astype(dtype)
    layer = make_layer(cell, D, H, seed=0, dtype=dtype)
    module = layer.to_torch()
    xt = torch.tensor(x, requires_grad=True)
    gt = torch.tensor(dhs)

    def numpy_step():
        _, cache = layer.forward(x)
        layer.backward(dhs, cache)

    def torch_step():
        module.zero_grad(set_to_none=True)
        out, _ = module(xt)
        out.backward(gt)

    controller = _controller()
    torch_before = torch.get_num_threads()
    times: dict[str, list[float]] = {f"numpy {s}": [] for s in numpy_settings}
    times.update({f"torch {s}": [] for s in torch_settings})
    try:
        for round_ in range(repeats + 1):  # round 0 warms every setting up and is not kept
            for s in numpy_settings:
                engine, blas = NUMPY_SETTINGS[s]
                torch.set_num_threads(1)
                with controller.limit(limits=blas, user_api="blas"), limit_engine_threads(engine):
                    ms = _time_block(numpy_step, block)
                if blas > 1:
                    time.sleep(settle)  # OpenBLAS's idle threads spin for a while: let them sleep first
                if round_:
                    times[f"numpy {s}"].append(ms)
            for s in torch_settings:
                threads, onednn = TORCH_SETTINGS[s]
                torch.set_num_threads(threads)
                with controller.limit(limits=1, user_api="blas"), _onednn(torch, onednn):
                    ms = _time_block(torch_step, block)
                if round_:
                    times[f"torch {s}"].append(ms)
    finally:
        torch.set_num_threads(torch_before)
    med = {k: float(np.median(v)) for k, v in times.items()}
    return Row(tuple(shape), cell, {s: med[f"numpy {s}"] for s in numpy_settings},
               {s: med[f"torch {s}"] for s in torch_settings})


@contextlib.contextmanager
def _onednn(torch, enabled: bool):
    """torch with oneDNN (mkldnn) on or off for the block, restored after."""
    before = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = enabled
    try:
        yield
    finally:
        torch.backends.mkldnn.enabled = before


def _setting_name(side: str, s: str) -> str:
    if side == "numpy":
        return {"1": "1 thread", "2": "2 threads (helper)", "2blas": "2 BLAS threads"}[s]
    threads, onednn = TORCH_SETTINGS[s]
    return f"{threads} thread" + ("s" if threads != 1 else "") + ("" if onednn else ", oneDNN off")


def table(rows: list[Row]) -> list[str]:
    """Markdown table: each side's best time and setting, speed, and every setting's time."""
    numpy_settings = list(rows[0].numpy_ms) if rows else []
    torch_settings = list(rows[0].torch_ms) if rows else []
    head = ["shape (N T D H)", "cell", "NumPy ms (best)", "torch ms (best)", "NumPy/torch speed", "GFLOP",
            *[f"NumPy {_setting_name('numpy', s)}" for s in numpy_settings],
            *[f"torch {_setting_name('torch', s)}" for s in torch_settings]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        (ns, nms), (ts, tms) = r.best_numpy, r.best_torch
        cells = [
            "N{} T{} D{} H{}".format(*r.shape), LABELS[r.cell],
            f"{nms:.1f} ({_setting_name('numpy', ns)})", f"{tms:.1f} ({_setting_name('torch', ts)})",
            f"{r.speed:.2f}x", f"{r.gflops:.2f}",
            *[f"{r.numpy_ms[s]:.1f}" for s in numpy_settings], *[f"{r.torch_ms[s]:.1f}" for s in torch_settings],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def machine_line() -> str:
    import torch
    from threadpoolctl import threadpool_info

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = [f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')})"
            for i in threadpool_info() if i.get("user_api") == "blas"]
    return (f"{model}, {os.cpu_count()} CPUs, {platform.system()} {platform.machine()}; NumPy {np.__version__} "
            f"({', '.join(dict.fromkeys(blas)) or 'BLAS unknown'}), torch {torch.__version__}")


def _load() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "unknown"


def main(args: argparse.Namespace) -> int:
    for name in ("batch", "steps", "input_size", "hidden_size", "repeats", "block"):
        if getattr(args, name) < 1:
            raise ConfigError(f"expected --{name.replace('_', '-')} >= 1, found {getattr(args, name)}")
    if not args.settle >= 0:
        raise ConfigError(f"expected --settle >= 0 seconds, found {args.settle}")
    cells = _parse_list(args.cells, GATES, "--cells")
    numpy_settings = _parse_list(args.numpy_threads, NUMPY_SETTINGS, "--numpy-threads")
    torch_settings = _parse_list(args.torch_threads, TORCH_SETTINGS, "--torch-threads")
    shapes = ISSUE_SHAPES + LADDER if args.shapes else [(args.batch, args.steps, args.input_size, args.hidden_size)]
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    print(f"`rnnlab bench engine{' --shapes' if args.shapes else ''}`: forward + backward, {args.dtype}, "
          f"median of {args.repeats} alternating blocks of {args.block} (each after one untimed call; "
          f"{args.settle:g} s pause after 2 BLAS threads), {now}")
    print()
    print(f"Machine: {machine_line()}. Load average before: {_load()}.")
    print()
    rows = []
    for shape in shapes:
        for cell in cells:
            if args.shapes and shape in LADDER and shape not in ISSUE_SHAPES and cell != "lstm":
                continue  # the ladder is for the LSTM
            rows.append(measure(shape, cell, repeats=args.repeats, block=args.block, dtype=args.dtype,
                                numpy_settings=numpy_settings, torch_settings=torch_settings,
                                settle=args.settle))
    lines = table(rows)
    if args.shapes:
        n_issue = sum(1 for r in rows if r.shape in ISSUE_SHAPES)
        lines.insert(2 + n_issue, "| *N, T, H ladder (LSTM)* |" + " |" * (len(lines[0].split("|")) - 3))
    print("\n".join(lines))
    print()
    print(f"Load average after: {_load()}. Speed = torch ms / NumPy ms, each at its fastest setting "
          f"(above 1.00x the engine is faster).")
    return 0
