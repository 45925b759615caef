"""Q2 checkpoints are verified end to end: a changed byte, NaN weights, a malformed history or
other settings are refused with one line (exit status 2 through the CLI) before anything is
trained or overwritten; a run killed mid-way resumes to the uninterrupted numbers."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnlab.cli import main
from rnnlab.errors import DataError
from rnnlab.experiments import q2
from rnnlab.train import checkpoints as ckpt

QUICK = ["run", "q2", "--quick", "--no-notebook", "--no-progress"]
REPO = Path(__file__).resolve().parents[1]


def run_cli(out: Path, *extra: str) -> int:
    return main([*QUICK, "--out", str(out), *extra])


@pytest.fixture(scope="module")
def finished(q2_quick) -> Path:
    """One uninterrupted quick Q2 run (the results root, shared with test_q2_section through
    conftest.py); tests that change files work on copies of it."""
    return q2_quick[0]


@pytest.fixture
def copy(finished, tmp_path) -> Path:
    shutil.copytree(finished, tmp_path / "root")
    return tmp_path / "root"


def folder(root: Path, task: str = "images", model: str = "LSTM") -> Path:
    return root / "q2" / "checkpoints" / task / model


def flip_tensor_bytes(path: Path, count: int = 8) -> None:
    """Overwrite ``count`` bytes inside the tensor data, leaving the header intact."""
    raw = bytearray(path.read_bytes())
    start = 8 + int.from_bytes(raw[:8], "little")  # the data follow the JSON header
    assert len(raw) > start + 40 + count
    for k in range(start + 40, start + 40 + count):
        raw[k] ^= 0xFF
    path.write_bytes(bytes(raw))


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    """Every checkpoint file's bytes and modification time."""
    base = root / "q2" / "checkpoints"
    return {str(p.relative_to(base)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(base.rglob("*")) if p.is_file()}


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("rnnlab: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_digest_is_recorded_beside_every_tensor_file(finished):
    run = folder(finished)
    for tensor_file in run.glob("*.safetensors"):
        record = ckpt.digest_path(tensor_file).read_text()
        digest, name = record.split()
        assert name == tensor_file.name and len(digest) == 64
    assert ckpt.load_weights(ckpt.weights_path(run, 1))  # intact files load


def test_flipped_bytes_refuse_resume_and_nothing_is_overwritten(copy, capsys):
    damaged = ckpt.weights_path(folder(copy), 1)
    flip_tensor_bytes(damaged)
    before = snapshot(copy)
    assert run_cli(copy, "--resume") == 2
    line = error_line(capsys)
    assert str(damaged) in line and "SHA-256" in line and "changed or damaged" in line
    assert snapshot(copy) == before  # neither the damaged file nor any later one rewritten


def test_flipped_bytes_refuse_rebuild_and_weights_analysis(copy):
    from rnnlab.experiments.runner import rebuild_section

    out = copy / "q2"
    damaged = ckpt.weights_path(folder(copy, "series", "GRU"), 2)
    flip_tensor_bytes(damaged)
    figures = {p.name: p.stat().st_mtime_ns for p in (out / "figures").iterdir()}
    observations = (out / "observations.md").read_bytes()
    with pytest.raises(DataError, match=r"expected SHA-256 \w+ recorded at write time for .*"
                                        r"epoch_002\.safetensors, found \w+: the file was"):
        rebuild_section(out)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "figures").iterdir()} == figures
    assert (out / "observations.md").read_bytes() == observations
    metrics = json.loads((out / "metrics.json").read_text())
    with pytest.raises(DataError, match="epoch_002.safetensors"):
        q2.load_gate_weights(out, metrics["series"]["models"]["GRU"])
    with pytest.raises(DataError, match="changed or damaged"):
        ckpt.load_weights(damaged)


def test_damaged_or_missing_digest_record_is_refused(copy):
    path = ckpt.weights_path(folder(copy), 0)
    ckpt.digest_path(path).write_text("not a digest\n")
    with pytest.raises(DataError, match=r"epoch_000\.safetensors\.sha256"):
        ckpt.load_weights(path)
    ckpt.digest_path(path).unlink()
    with pytest.raises(DataError, match=r"recorded at write time in epoch_000"):
        ckpt.load_weights(path)


def test_nan_weights_with_a_valid_digest_are_refused(copy, capsys):
    from rnnlab.analysis.weights import weight_evolution

    run = folder(copy, "images", "RNN")
    state = ckpt.load_weights(ckpt.weights_path(run, 1))
    state["rnn.weight_hh_l0"][0, 0] = float("nan")
    ckpt.save_weights(run, 1, state)  # a valid SHA-256 of NaN weights
    with pytest.raises(DataError, match=r"finite values in .*epoch_001\.safetensors.*weight_hh"):
        ckpt.load_weights(ckpt.weights_path(run, 1))
    before = snapshot(copy)
    assert run_cli(copy, "--resume") == 2
    assert "epoch_001.safetensors" in error_line(capsys) and snapshot(copy) == before
    arrays = [{k: v.numpy() for k, v in state.items()}]
    with pytest.raises(DataError, match=r"finite values in the weights of epoch 0"):
        weight_evolution(arrays, "rnn")


@pytest.mark.parametrize(
    "history",
    [
        [1, 2, 3],
        {"format": ckpt.HISTORY_FORMAT, "settings": {}},
        {"format": ckpt.HISTORY_FORMAT, "settings": [], "last_epoch": 1, "records": []},
        {"format": ckpt.HISTORY_FORMAT, "settings": {}, "last_epoch": "2", "records": []},
        {"format": ckpt.HISTORY_FORMAT, "settings": {}, "last_epoch": 2, "records": [{}, 3]},
        {"format": ckpt.HISTORY_FORMAT, "settings": {}, "last_epoch": 2,
         "records": [{"epoch": 0}, {"epoch": 1}]},
    ],
)
def test_malformed_history_is_one_line(tmp_path, history):
    (tmp_path / ckpt.HISTORY_FILE).write_text(json.dumps(history))
    with pytest.raises(DataError, match=r"history\.json") as caught:
        ckpt.resume_point(tmp_path, {})
    assert "\n" not in str(caught.value)


def test_history_as_a_list_refuses_resume_through_the_cli(copy, capsys):
    history = folder(copy, "series", "RNN") / ckpt.HISTORY_FILE
    history.write_text("[1, 2, 3]\n")
    before = snapshot(copy)
    assert run_cli(copy, "--resume") == 2
    line = error_line(capsys)
    assert str(history) in line and "found a JSON list" in line
    assert snapshot(copy) == before


def test_other_settings_are_refused_before_any_model_trains(copy, capsys):
    shutil.rmtree(folder(copy, "images", "RNN"))  # the first model would train from scratch
    before = snapshot(copy)
    assert run_cli(copy, "--resume", "--series-epochs", "3") == 2
    line = error_line(capsys)
    assert str(folder(copy, "series", "RNN")) in line and "same settings" in line
    assert not folder(copy, "images", "RNN").exists()  # no checkpoint of it was written
    assert snapshot(copy) == before


def _compare_metrics():
    spec = importlib.util.spec_from_file_location("compare_metrics",
                                                  REPO / "scripts" / "compare_metrics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numbers(metrics: object, prefix: str = "") -> dict[str, object]:
    """Leaves of metrics.json by path, without timings and the resume marker."""
    is_timing = _compare_metrics().is_timing
    if isinstance(metrics, dict):
        out = {}
        for k, v in metrics.items():
            if not (is_timing(k) or k == "resumed_from"):
                out.update(numbers(v, f"{prefix}.{k}"))
        return out
    if isinstance(metrics, list):
        return {k: v for i, item in enumerate(metrics)
                for k, v in numbers(item, f"{prefix}[{i}]").items()}
    if isinstance(metrics, float) and math.isnan(metrics):
        return {prefix: "nan"}
    return {prefix: metrics}


def test_killed_run_resumes_to_the_uninterrupted_numbers(finished, tmp_path):
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "rnnlab", *QUICK, "--out", str(out)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "q2" / "checkpoints" / "images" / "RNN" / "epoch_000.safetensors"
    deadline = time.monotonic() + 120
    while proc.poll() is None and not first.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "q2" / "metrics.json").exists()
    done = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = json.loads((out / "q2" / "metrics.json").read_text())
    full = json.loads((finished / "q2" / "metrics.json").read_text())
    assert numbers(resumed) == numbers(full)
    for task in ("images", "series"):
        for model in ("RNN", "LSTM", "GRU"):
            run = folder(out, task, model)
            for epoch in ckpt.saved_epochs(run):
                a = ckpt.load_weights(ckpt.weights_path(run, epoch))
                b = ckpt.load_weights(ckpt.weights_path(folder(finished, task, model), epoch))
                assert all(torch.equal(a[k], b[k]) for k in b), (task, model, epoch)
    assert np.array_equal(np.load(out / "q2" / q2.FORECAST_FILE)["model_LSTM"],
                          np.load(finished / "q2" / q2.FORECAST_FILE)["model_LSTM"])
