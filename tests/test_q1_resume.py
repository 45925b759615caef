"""Q1 --resume: finished (task, cell, seed) runs are saved, reused bit for bit, checked against the
config, refused when damaged; an interrupted run (an exception, or SIGKILL of the CLI) resumed
gives the same metrics as an uninterrupted one (timings aside)."""

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnlab.errors import ConfigError, DataError
from rnnlab.experiments import q1
from rnnlab.experiments.base import RunContext
from rnnlab.results import dumps, loads

TIMING_WORDS = {"second", "seconds", "time", "times", "timing", "timings", "wall", "elapsed"}


def _without_timings(value):
    """``value`` without the keys that name a timing (as scripts/compare_metrics.py decides)."""
    if isinstance(value, dict):
        return {k: _without_timings(v) for k, v in value.items()
                if not TIMING_WORDS & set(re.split(r"[^a-z]+", str(k).lower()))}
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def _numbers(metrics: dict) -> str:
    """The metrics without timings, as exact JSON (floats by repr: bitwise)."""
    return dumps(_without_timings(loads(dumps(metrics))))


def _measure(out: Path, **changes) -> dict:
    config = dataclasses.replace(q1.build_config("quick", 0), **changes)
    return q1.measure(config, RunContext(out_dir=out, profile="quick", progress=False))


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("q1_full")
    return out, _measure(out)


def test_finished_runs_are_saved_with_their_config(full_run):
    out, metrics = full_run
    runs = out / "runs"
    config = json.loads((runs / "config.json").read_text())
    assert "resume" not in config and config["seed"] == 0
    names = {p.name for p in runs.iterdir()}
    for task in ("sine", "text"):
        for cell in ("rnn", "lstm", "gru"):
            for seed in (0, 1):
                assert {f"{task}-{cell}-seed{seed}.json", f"{task}-{cell}-seed{seed}.safetensors"} <= names
    saved = json.loads((runs / "text-lstm-seed0.json").read_text())
    assert len(saved["sha256"]) == 64 and saved["extra"]["samples"]
    assert metrics["timing"]["reused_runs"] == 0


def test_resume_after_an_exception_gives_the_same_metrics(full_run, tmp_path, monkeypatch):
    _, expected = full_run
    real, calls = q1.train_model, []

    def train_then_fail(*args, **kwargs):
        if len(calls) == 7:
            raise KeyboardInterrupt
        calls.append(args[:2])
        return real(*args, **kwargs)

    monkeypatch.setattr(q1, "train_model", train_then_fail)
    with pytest.raises(KeyboardInterrupt):
        _measure(tmp_path)
    monkeypatch.setattr(q1, "train_model", real)
    assert len(list((tmp_path / "runs").glob("*-seed*.json"))) == 7
    resumed = _measure(tmp_path, resume=True)
    assert resumed["timing"]["reused_runs"] == 7
    assert _numbers(resumed) == _numbers(expected)


def test_resume_of_a_complete_folder_trains_nothing(full_run, monkeypatch, tmp_path):
    out, expected = full_run
    monkeypatch.setattr(q1, "train_model", lambda *a, **k: pytest.fail("trained a finished run"))
    resumed = _measure(out, resume=True)
    assert resumed["timing"]["reused_runs"] == 12
    assert _numbers(resumed) == _numbers(expected)
    assert resumed["timing"]["runs_seconds"] == pytest.approx(expected["timing"]["runs_seconds"])


def test_resume_refuses_another_config_before_training(full_run, monkeypatch):
    out, _ = full_run
    monkeypatch.setattr(q1, "train_model", lambda *a, **k: pytest.fail("trained before refusing"))
    with pytest.raises(ConfigError, match=r"^expected the runs in .* found another \(lr: 0\.01\)"):
        _measure(out, resume=True, lr=0.02)


def test_resume_refuses_a_damaged_run_naming_the_file(full_run, tmp_path):
    import shutil

    shutil.copytree(full_run[0] / "runs", tmp_path / "runs")
    weights = tmp_path / "runs" / "sine-gru-seed1.safetensors"
    good = weights.read_bytes()
    weights.write_bytes(good[:-8] + b"\0" * 8)
    with pytest.raises(DataError, match="sine-gru-seed1.safetensors"):
        _measure(tmp_path, resume=True)
    weights.write_bytes(good)
    (tmp_path / "runs" / "text-rnn-seed0.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="text-rnn-seed0.json"):
        _measure(tmp_path, resume=True)


def _copy_runs(full_run, tmp_path) -> Path:
    """A copy of the finished runs of ``full_run`` in ``tmp_path``."""
    import shutil

    runs = tmp_path / "runs"
    shutil.copytree(full_run[0] / "runs", runs)
    return runs


def test_resume_checks_every_run_file_before_any_training(full_run, tmp_path, monkeypatch):
    """A damaged last run is refused up front, although the first runs still have to train."""
    runs = _copy_runs(full_run, tmp_path)
    for name in ("sine-rnn-seed0", "sine-lstm-seed0"):  # these two would be trained first
        (runs / f"{name}.json").unlink()
    weights = runs / "text-gru-seed1.safetensors"  # the last run of the loop
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    monkeypatch.setattr(q1, "train_model", lambda *a, **k: pytest.fail("trained before checking the runs"))
    with pytest.raises(DataError, match="text-gru-seed1.safetensors") as err:
        _measure(tmp_path, resume=True)
    assert "\n" not in str(err.value)


def _rewrite_run(runs: Path, name: str, change) -> None:
    """Change the saved arrays and/or record of a run, keeping its SHA-256 consistent."""
    import hashlib

    from safetensors.numpy import load as st_load
    from safetensors.numpy import save as st_save

    record = json.loads((runs / f"{name}.json").read_text())
    arrays = st_load((runs / f"{name}.safetensors").read_bytes())
    change(arrays, record)
    blob = st_save(arrays)
    (runs / f"{name}.safetensors").write_bytes(blob)
    record["sha256"] = hashlib.sha256(blob).hexdigest()
    (runs / f"{name}.json").write_text(json.dumps(record))


def test_resume_refuses_non_finite_weights_up_front(full_run, tmp_path, monkeypatch):
    runs = _copy_runs(full_run, tmp_path)

    def nan_weight(arrays, record):
        arrays["weight_hh_l0"][0, 0] = np.nan

    _rewrite_run(runs, "text-lstm-seed1", nan_weight)
    monkeypatch.setattr(q1, "train_model", lambda *a, **k: pytest.fail("trained before checking the runs"))
    with pytest.raises(DataError, match=r"^expected finite weights in text-lstm-seed1\.safetensors.*weight_hh_l0"):
        _measure(tmp_path, resume=True)


def test_resume_refuses_a_record_without_samples_up_front(full_run, tmp_path, monkeypatch):
    runs = _copy_runs(full_run, tmp_path)
    _rewrite_run(runs, "sine-gru-seed1", lambda arrays, record: record["extra"].pop("wall_seconds"))
    monkeypatch.setattr(q1, "train_model", lambda *a, **k: pytest.fail("trained before checking the runs"))
    with pytest.raises(DataError, match=r"sine-gru-seed1\.json.*wall_seconds"):
        _measure(tmp_path, resume=True)


def test_check_runs_counts_the_finished_runs(full_run):
    out, _ = full_run
    config = q1.build_config("quick", 0)
    _, _, _, tasks = q1._load_data(config)
    assert q1.check_runs(config, tasks, [0, 1], out / "runs") == 12


def test_without_resume_the_runs_folder_is_cleared(tmp_path, capsys):
    runs = tmp_path / "runs"
    runs.mkdir()
    (runs / "stale-seed9.json").write_text("{}", encoding="utf-8")
    q1.prepare_runs(q1.build_config("quick", 0), tmp_path)
    assert not (runs / "stale-seed9.json").exists() and (runs / "config.json").is_file()
    assert "cleared the previous finished runs" in capsys.readouterr().err


def test_loaded_model_equals_the_saved_one(tmp_path):
    from rnnlab.data.toy import make_sine_data
    from rnnlab.train.scratch_loop import (
        SineTask,
        TrainSettings,
        load_run,
        make_model,
        save_run,
        train_model,
    )

    task = SineTask(make_sine_data(8, 4, 10, seed=0))
    settings = TrainSettings(hidden_size=4, epochs=1, batches_per_epoch=2, batch_size=4)
    model, history = train_model(task, "lstm", settings, 5)
    save_run(tmp_path / "run", model, history, {"note": "x"})
    loaded, again, extra = load_run(tmp_path / "run", make_model(task, "lstm", settings, 5))
    for k, v in model.get_params().items():
        assert np.array_equal(loaded.get_params()[k], v) and loaded.get_params()[k].dtype == v.dtype
    assert dumps(again.records) == dumps(history.records) and extra == {"note": "x"}


def _cli(out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(q1.__file__).resolve().parents[2])}
    return subprocess.Popen([sys.executable, "-m", "rnnlab", "run", "q1", "--quick", "--no-notebook",
                             "--no-progress", "--out", str(out), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)


def _cli_numbers(out: Path) -> str:
    return _numbers(loads((out / "q1" / "metrics.json").read_text(encoding="utf-8")))


def test_sigkill_then_resume_gives_the_same_metrics(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    proc = _cli(killed)
    runs = killed / "q1" / "runs"
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if any(runs.glob("*-seed*.json")):
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.001)
    code = proc.wait(timeout=60)
    if code == 0 or len(list(runs.glob("*-seed*.json"))) == 12:
        pytest.skip("the run finished before it could be killed")
    assert code == -signal.SIGKILL
    assert not (killed / "q1" / "metrics.json").exists()
    resumed, plain = _cli(killed, "--resume"), _cli(whole)  # side by side: the suite waits for the slower only
    assert resumed.wait(timeout=120) == 0
    assert plain.wait(timeout=120) == 0
    assert _cli_numbers(killed) == _cli_numbers(whole)


def test_sine_predictions_are_saved_last_and_the_text_axis_fits_the_trained_models(full_run):
    from rnnlab.viz.q1 import focus_range

    _, metrics = full_run
    seqs = metrics["sine_predictions"]["sequences"]
    assert [s["index"] for s in seqs] == [0, 1]
    assert set(seqs[0]["predictions"]) == {"RNN", "LSTM", "GRU"}
    assert len(seqs[0]["predictions"]["GRU"]) == len(seqs[0]["targets"]) == len(seqs[0]["inputs"])
    low, high = focus_range([np.array([[4.5, 4.0, 3.50, 3.43]]), np.array([[4.5, 4.1, 3.56, 3.50]])], 0.5)
    assert 3.40 < low < 3.43 and 3.56 < high < 3.60  # 4.5 at epoch 0 is off the axis


def test_runs_trained_side_by_side_give_the_same_numbers(full_run, tmp_path):
    """Two worker processes (one core each) train the runs: the metrics equal the one-at-a-time
    run's bitwise (timings aside), the timing records the workers, and a folder they filled is
    resumed by a run with another number of workers (workers is not part of the runs' config)."""
    _, expected = full_run
    side_by_side = _measure(tmp_path, workers=2)
    assert side_by_side["timing"]["workers"] == [2] and expected["timing"]["workers"] == [1]
    assert _numbers(side_by_side) == _numbers(expected)
    resumed = _measure(tmp_path, resume=True, workers=1)
    assert resumed["timing"]["reused_runs"] == 12 and _numbers(resumed) == _numbers(expected)
    assert resumed["timing"]["workers"] == [2]  # how the reused runs were trained, not this call's setting
    saved = json.loads((tmp_path / "runs" / "text-gru-seed1.json").read_text())
    assert saved["extra"]["workers"] == 2


def test_workers_default_to_the_cpus_and_never_exceed_the_jobs(monkeypatch):
    """--workers N is used as given (capped by the runs to train); unset, one per usable CPU."""
    config = q1.build_config("default", 0)
    assert config.workers is None and q1.build_config("quick", 0).workers == 1
    monkeypatch.setattr(q1, "_usable_cpus", lambda: 4)
    assert q1.workers_for(config, 18) == 4 and q1.workers_for(config, 3) == 3 and q1.workers_for(config, 0) == 1
    assert q1.workers_for(dataclasses.replace(config, workers=2), 18) == 2


def _group_size(pgid: int) -> int:
    """How many live processes are in process group ``pgid`` (zombies not counted), from /proc."""
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, pgrp
        except OSError:  # the process ended meanwhile
            continue
        count += int(fields[2]) == pgid and fields[0] != "Z"
    return count


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux's /proc to see the workers")
def test_ctrl_c_with_workers_stops_everything_and_reports_once(tmp_path):
    """Ctrl-C (SIGINT to the process group) while two workers train: the CLI exits 130 with one
    'interrupted' line and no traceback, and no worker process is left behind."""
    env = {**os.environ, "PYTHONPATH": str(Path(q1.__file__).resolve().parents[2])}
    out = tmp_path / "out"
    # A shell's background job (CI's, perhaps) ignores Ctrl-C and so would the CLI: it gets
    # Python's own handler back first, as in a terminal.
    argv = ["rnnlab", "run", "q1", "--quick", "--workers", "2", "--no-notebook", "--no-progress", "--out", str(out)]
    launch = ("import runpy, signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
              f"sys.argv = {argv!r}; runpy.run_module('rnnlab', run_name='__main__')")
    proc = subprocess.Popen([sys.executable, "-c", launch], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    runs = out / "q1" / "runs"
    deadline = time.monotonic() + 120  # interrupt once both workers train (the parent has work after them)
    while proc.poll() is None and time.monotonic() < deadline and (
            _group_size(proc.pid) < 3 or len(list(runs.glob("*-seed*.json"))) < 2):
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)
    output = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 130, output
    assert "rnnlab: interrupted" in output and "Traceback" not in output
    deadline = time.monotonic() + 20  # the group (parent, workers, their resource tracker) ends
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail("processes of the interrupted run were still alive 20 s after Ctrl-C")
