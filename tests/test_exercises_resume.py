"""The exercises resume at the unit of a part: parts/<part>.json beside parts/config.json.

An interrupted measure (a later part raising, or the process killed by SIGKILL), resumed with
``--resume``, gives the numbers of an uninterrupted run; damaged part files and another config are
refused in one line before any work; without ``--resume`` the parts folder is cleared.
"""

import dataclasses
import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnlab.errors import ConfigError, DataError
from rnnlab.experiments import exercises as X
from rnnlab.experiments.base import RunContext
from rnnlab.results import dumps, loads

REPO = Path(__file__).resolve().parents[1]
LATE = "sentiment"  # the part made to fail: the parts before it finish and are saved


def _ctx(out: Path) -> RunContext:
    out.mkdir(parents=True, exist_ok=True)
    return RunContext(out_dir=out, profile="quick", seed=0, device="cpu", progress=False)


def _compare_metrics():
    spec = importlib.util.spec_from_file_location("compare_metrics", REPO / "scripts" / "compare_metrics.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_is_timing = _compare_metrics().is_timing  # a key one of whose words names a timing


def _numbers(metrics):
    """Every leaf of ``metrics`` but the timings (``timings_s``, ``time_per_step_us``, ...),
    NaN made comparable."""
    if isinstance(metrics, dict):
        return {k: _numbers(v) for k, v in metrics.items() if not _is_timing(k)}
    if isinstance(metrics, list):
        return [_numbers(v) for v in metrics]
    if isinstance(metrics, float) and math.isnan(metrics):
        return "nan"
    return metrics


def _boom(config, ctx):
    raise RuntimeError("interrupted")


def _no_work(config, ctx):
    raise AssertionError("a part ran before the saved parts were checked")


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The metrics of one uninterrupted quick measure, as metrics.json reads them back."""
    out = tmp_path_factory.mktemp("ex_full")
    return loads(dumps(X.measure(X.build_config("quick"), _ctx(out)))), out


def test_resume_is_declared_like_q1s():
    from rnnlab.experiments import q1
    from rnnlab.experiments.base import declared_options

    ours, theirs = declared_options(X.Config)["resume"], declared_options(q1.Config)["resume"]
    assert (ours.flag, ours.kind, ours.default, ours.spec.choices) == ("--resume", bool, False, None)
    assert (theirs.flag, theirs.kind, theirs.default) == (ours.flag, ours.kind, ours.default)
    assert "resume" not in X._parts_config(X.Config())


def test_every_part_saved_with_the_config(uninterrupted):
    metrics, out = uninterrupted
    parts = out / X.PARTS_DIR
    assert sorted(p.stem for p in parts.glob("*.json")) == sorted([*X.PARTS, "config"])
    assert json.loads((parts / "config.json").read_text()) == X._parts_config(X.build_config("quick"))
    for key in X.PARTS:
        record = loads((parts / f"{key}.json").read_text())
        assert record["part"] == key and record["metrics"] == metrics[key]
    assert metrics["timings_s"]["reused_parts"] == []


def test_interrupted_measure_resumed_gives_the_same_numbers(uninterrupted, tmp_path, monkeypatch, capsys):
    full, _ = uninterrupted
    config = X.build_config("quick")
    with monkeypatch.context() as m:
        m.setitem(X.PARTS, LATE, _boom)
        with pytest.raises(RuntimeError, match="interrupted"):
            X.measure(config, _ctx(tmp_path))
    keys = list(X.PARTS)
    done = keys[: keys.index(LATE)]
    assert sorted(p.stem for p in (tmp_path / X.PARTS_DIR).glob("*.json")) == sorted([*done, "config"])
    with monkeypatch.context() as m:  # the finished parts are read back, not run again
        for key in done:
            m.setitem(X.PARTS, key, _no_work)
        resumed = X.measure(dataclasses.replace(config, resume=True), _ctx(tmp_path))
    assert resumed["timings_s"]["reused_parts"] == done
    assert _numbers(loads(dumps(resumed))) == _numbers(full)
    # without --resume the finished parts are cleared, and stderr says so
    capsys.readouterr()
    with monkeypatch.context() as m:
        m.setitem(X.PARTS, keys[0], _boom)
        with pytest.raises(RuntimeError, match="interrupted"):
            X.measure(config, _ctx(tmp_path))
    assert "cleared the previous finished parts" in capsys.readouterr().err
    assert [p.name for p in (tmp_path / X.PARTS_DIR).glob("*.json")] == ["config.json"]


@pytest.mark.parametrize("text", ["{not json", '{"part": "toy", "seconds": 1.0}',
                                  '{"part": "counting", "seconds": 1.0, "metrics": {}}',
                                  '{"part": "toy", "seconds": "1", "metrics": {}}', "[]"])
def test_damaged_part_file_is_refused_before_any_work(tmp_path, monkeypatch, text):
    config = dataclasses.replace(X.build_config("quick"), resume=True)
    parts = tmp_path / X.PARTS_DIR
    parts.mkdir()
    (parts / "config.json").write_text(dumps(X._parts_config(config)))
    (parts / "counting.json").write_text(dumps({"part": "counting", "seconds": 0.1, "metrics": {}}))
    (parts / "toy.json").write_text(text)
    for key in X.PARTS:
        monkeypatch.setitem(X.PARTS, key, _no_work)
    with pytest.raises(DataError, match="toy.json") as info:
        X.measure(config, _ctx(tmp_path))
    assert "\n" not in str(info.value)


def test_other_config_or_missing_config_is_refused(tmp_path, monkeypatch):
    config = X.build_config("quick")
    parts = tmp_path / X.PARTS_DIR
    parts.mkdir()
    (parts / "config.json").write_text(dumps(X._parts_config(dataclasses.replace(config, toy_epochs=7))))
    (parts / "toy.json").write_text(dumps({"part": "toy", "seconds": 0.1, "metrics": {}}))
    for key in X.PARTS:
        monkeypatch.setitem(X.PARTS, key, _no_work)
    resume = dataclasses.replace(config, resume=True)
    with pytest.raises(ConfigError, match=r"config\.json.*--resume") as info:
        X.measure(resume, _ctx(tmp_path))
    assert "toy_epochs: 200" in str(info.value) and "\n" not in str(info.value)
    (parts / "config.json").unlink()
    with pytest.raises(DataError, match="config.json"):
        X.measure(resume, _ctx(tmp_path))


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_numbers(uninterrupted, tmp_path):
    full, _ = uninterrupted
    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    command = [sys.executable, "-m", "rnnlab", "run", "exercises", "--quick", "--no-notebook", "--out", str(out)]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "exercises" / X.PARTS_DIR / f"{next(iter(X.PARTS))}.json"
    deadline = time.monotonic() + 120
    while proc.poll() is None and not first.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    if proc.poll() is not None:
        pytest.skip("the run finished before it could be killed")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    if (out / "exercises" / "metrics.json").exists():
        pytest.skip("the run wrote its metrics before it was killed")
    done = subprocess.run([*command, "--resume"], env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    resumed = loads((out / "exercises" / "metrics.json").read_text())
    assert first.stem in resumed["timings_s"]["reused_parts"]
    assert _numbers(resumed) == _numbers(full)
