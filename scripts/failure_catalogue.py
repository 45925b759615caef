"""Try every failure mode rnnlab promises to handle and print what each gives, as a Markdown table.

Usage: python scripts/failure_catalogue.py > /tmp/catalogue.md   (about 2-3 minutes on 2 cores)

Each case builds its bad input in a temporary folder, runs the real command line
(``python -m rnnlab ...``) or the engine API in a subprocess, and records the exit status and the
last line on stderr. docs/FAILURES.md holds this script's output.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

PY = sys.executable
ENV = {k: v for k, v in os.environ.items() if not k.startswith("RNNLAB_")}


def rnnlab(*args: str, cwd: Path) -> tuple[int, str]:
    out = subprocess.run([PY, "-m", "rnnlab", *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                         check=False)
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    return out.returncode, (lines[-1] if lines else "(nothing on stderr)")


def python(code: str, cwd: Path) -> tuple[int, str]:
    out = subprocess.run([PY, "-c", textwrap.dedent(code)], cwd=cwd, env=ENV, capture_output=True, text=True,
                         check=False)
    text = (out.stdout + out.stderr).strip().splitlines()
    last = text[-1] if text else "(no output)"
    # an API case prints the exception it caught: its status is the exception's class
    status = last.split(":", 1)[0] if out.returncode == 0 and "Error:" in last else out.returncode
    return status, last


def flip_bytes(path: Path) -> None:
    """Overwrite 8 bytes in the middle of a safetensors file's tensor data (header intact)."""
    data = bytearray(path.read_bytes())
    header = struct.unpack("<Q", data[:8])[0]
    middle = 8 + header + (len(data) - 8 - header) // 2
    data[middle:middle + 8] = b"\xff" * 8
    path.write_bytes(bytes(data))


def cases(tmp: Path):
    """(what, command shown, callable) for every case."""
    q = ["--quick", "--no-notebook", "--no-progress"]
    bad_text = tmp / "latin1.txt"
    bad_text.write_bytes("caf\xe9 au lait\n".encode("latin-1") * 50)
    idx0 = tmp / "idx0"
    idx0.mkdir()
    for split in ("train", "t10k"):
        (idx0 / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, 0, 28, 28))
        (idx0 / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, 0))
    junk = tmp / "junk.pth"
    junk.write_bytes(b"this is not a checkpoint")
    nan_w, wrong = tmp / "nan.pth", tmp / "wrong.pth"
    python(f"""
        import torch, torchvision
        sd = torchvision.models.resnet18(weights=None).state_dict()
        torch.save({{k: torch.full_like(v, float('nan')) if v.is_floating_point() else v for k, v in sd.items()}}, {str(nan_w)!r})
        torch.save({{'conv.weight': torch.zeros(3)}}, {str(wrong)!r})
    """, tmp)
    imdb = tmp / "aclImdb"
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            (imdb / split / label).mkdir(parents=True)
            for i in range(3):
                (imdb / split / label / f"{i}_7.txt").write_text("a fine film, truly. " * 5)
    (imdb / "train" / "pos" / "9_9.txt").write_bytes(b"bad \xff\xfe bytes")
    yield "option of another section", "rnnlab run q1 --mnist-dir DIR", lambda: rnnlab("run", "q1", *q, "--mnist-dir", str(idx0), "--out", str(tmp / "o1"), cwd=tmp)
    yield "option out of range", "rnnlab run q2 --image-epochs 0", lambda: rnnlab("run", "q2", *q, "--image-epochs", "0", "--out", str(tmp / "o2"), cwd=tmp)
    yield "seed too large", "rnnlab run q2 --seed 2**64", lambda: rnnlab("run", "q2", *q, "--seed", str(2**64), "--out", str(tmp / "o3"), cwd=tmp)
    yield "empty results folder name", 'rnnlab run exercises --out ""', lambda: rnnlab("run", "exercises", *q, "--out", "", cwd=tmp)
    yield "missing text file", "rnnlab run q1 --text missing.txt", lambda: rnnlab("run", "q1", *q, "--text", str(tmp / "missing.txt"), "--out", str(tmp / "o4"), cwd=tmp)
    yield "text file not UTF-8", "rnnlab run q1 --text latin1.txt", lambda: rnnlab("run", "q1", *q, "--text", str(bad_text), "--out", str(tmp / "o5"), cwd=tmp)
    yield "IDX files with no images", "rnnlab run q2 --mnist-dir idx0/", lambda: rnnlab("run", "q2", *q, "--mnist-dir", str(idx0), "--out", str(tmp / "o6"), cwd=tmp)
    yield "forecast horizon too large", "rnnlab run q2 --horizon 5000", lambda: rnnlab("run", "q2", *q, "--horizon", "5000", "--out", str(tmp / "o7"), cwd=tmp)
    yield "review that is not UTF-8", "rnnlab run q2 --imdb-dir aclImdb/", lambda: rnnlab("run", "q2", *q, "--imdb-dir", str(imdb), "--out", str(tmp / "o8"), cwd=tmp)
    yield "CNN weights that are not a checkpoint", "rnnlab run q3 --cnn-weights junk.pth", lambda: rnnlab("run", "q3", *q, "--cnn-weights", str(junk), "--out", str(tmp / "o9"), cwd=tmp)
    yield "CNN weights all NaN", "rnnlab run q3 --cnn-weights nan.pth", lambda: rnnlab("run", "q3", *q, "--cnn-weights", str(nan_w), "--out", str(tmp / "o10"), cwd=tmp)
    yield "CNN weights of another model", "rnnlab run q3 --cnn-weights wrong.pth", lambda: rnnlab("run", "q3", *q, "--cnn-weights", str(wrong), "--out", str(tmp / "o11"), cwd=tmp)
    yield "no GPU for --device cuda", "rnnlab run q2 --device cuda", lambda: rnnlab("run", "q2", *q, "--device", "cuda", "--out", str(tmp / "o12"), cwd=tmp)
    yield "report of a folder that does not exist", "rnnlab report --out nowhere", lambda: rnnlab("report", "--out", str(tmp / "nowhere"), cwd=tmp)


def q2_cases(tmp: Path):
    """Cases on a finished quick Q2 run: damaged checkpoints, history and settings on --resume."""
    q = ["--quick", "--no-notebook", "--no-progress"]
    out = tmp / "q2run"
    code, last = rnnlab("run", "q2", *q, "--out", str(out), cwd=tmp)
    assert code == 0, last
    folder = out / "q2" / "checkpoints" / "series" / "LSTM"

    def damaged():
        flip_bytes(folder / "epoch_001.safetensors")
        return rnnlab("run", "q2", *q, "--resume", "--out", str(out), cwd=tmp)

    def history_list():
        (folder / "history.json").write_text("[1, 2, 3]")
        return rnnlab("run", "q2", *q, "--resume", "--out", str(out), cwd=tmp)

    def other_settings():
        code, last = rnnlab("run", "q2", *q, "--out", str(out), cwd=tmp)  # a fresh, intact run
        assert code == 0, last
        return rnnlab("run", "q2", *q, "--resume", "--series-epochs", "3", "--out", str(out), cwd=tmp)

    def rebuild_damaged():
        flip_bytes(folder / "epoch_000.safetensors")
        return rnnlab("report", "--rebuild", "--out", str(out), cwd=tmp)

    yield "checkpoint bytes changed (header intact)", "rnnlab run q2 --resume", damaged
    yield "history.json holding a list", "rnnlab run q2 --resume", history_list
    yield "resume with other settings", "rnnlab run q2 --resume --series-epochs 3", other_settings
    yield "figures rebuilt from a damaged checkpoint", "rnnlab report --rebuild", rebuild_damaged


def other_cases(tmp: Path):
    q = ["--quick", "--no-notebook", "--no-progress"]
    out = tmp / "q1run"

    def q1_damaged():
        code, last = rnnlab("run", "q1", *q, "--out", str(out), cwd=tmp)
        assert code == 0, last
        victim = min((out / "q1" / "runs").glob("*.safetensors"))
        flip_bytes(victim)
        return rnnlab("run", "q1", *q, "--resume", "--out", str(out), cwd=tmp)

    def malformed_section():
        data = json.loads((out / "q1" / "section.json").read_text())
        data["settings"] = ["not", "an", "object"]
        (out / "q1" / "section.json").write_text(json.dumps(data))
        code, last = rnnlab("report", "--out", str(out), cwd=tmp)
        shown = "unreadable" in (out / "index.html").read_text()
        return code, f"{last} (the section is shown as unreadable: {shown})"

    yield "Q1 saved run damaged", "rnnlab run q1 --resume", q1_damaged
    yield "section.json with malformed settings", "rnnlab report", malformed_section
    yield "engine: a cache from another layer", "lstm_b.backward(dhs, lstm_a_cache)", lambda: python("""
        import numpy as np
        from rnnlab.scratch import LSTM
        a, b = LSTM(3, 4, seed=0), LSTM(3, 4, seed=1)
        x = np.zeros((2, 5, 3))
        hs, cache = a.forward(x)
        try:
            b.backward(np.ones_like(hs), cache)
        except Exception as exc:
            print(f"{type(exc).__name__}: {exc}")
    """, tmp)
    yield "engine: float32 input of 1e40", "layer.forward(np.full(..., 1e40))", lambda: python("""
        import numpy as np
        from rnnlab.scratch import GRU
        layer = GRU(3, 4, seed=0, dtype=np.float32)
        try:
            layer.forward(np.full((2, 5, 3), 1e40))
        except Exception as exc:
            print(f"{type(exc).__name__}: {exc}")
    """, tmp)


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        for group in (cases, q2_cases, other_cases):
            for what, shown, call in group(tmp):
                code, last = call()
                last = last.replace("|", "\\|").replace(str(tmp), "TMP")
                rows.append(f"| {what} | `{shown}` | {code} | {last} |")
                print(rows[-1], file=sys.stderr, flush=True)
    print("| failure | command | exit status (or exception) | what it says |")
    print("|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
