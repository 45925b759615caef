"""The plumbing of ``rnnlab bench engine`` at a tiny size (no timing is asserted)."""

import argparse

import pytest

from rnnlab.bench import engine
from rnnlab.errors import ConfigError


def _args(**kw):
    p = argparse.ArgumentParser()
    engine.add_arguments(p)
    args = p.parse_args([])
    for k, v in kw.items():
        setattr(args, k, v)
    return args


def test_bench_engine_prints_a_markdown_table(capsys):
    args = _args(batch=2, steps=3, input_size=2, hidden_size=3, repeats=1, block=1, cells="lstm,rnn", settle=0.0)
    assert engine.main(args) == 0
    out = capsys.readouterr().out
    assert "Machine:" in out and "Load average before" in out
    header = next(line for line in out.splitlines() if line.startswith("| shape"))
    assert "NumPy 2 threads (helper)" in header and "torch 2 threads" in header
    rows = [line for line in out.splitlines() if line.startswith("| N2 T3 D2 H3")]
    assert [r.split("|")[2].strip() for r in rows] == ["LSTM", "RNN"]
    assert all(r.count("|") == header.count("|") for r in rows)


def test_each_side_is_reported_at_its_fastest_setting():
    row = engine.Row((1, 2, 3, 4), "lstm", {"1": 10.0, "2": 8.0}, {"1": 6.0, "2": 9.0})
    assert row.best_numpy == ("2", 8.0) and row.best_torch == ("1", 6.0)
    assert row.speed == pytest.approx(0.75)
    line = engine.table([row])[2]
    assert "8.0 (2 threads (helper))" in line and "6.0 (1 thread)" in line and "0.75x" in line


def test_the_shapes_table_covers_the_issue_and_the_ladder():
    assert (128, 28, 28, 128) in engine.ISSUE_SHAPES and (32, 50, 512, 512) in engine.ISSUE_SHAPES
    base = engine.LADDER_BASE
    doubled = {tuple(b // a for a, b in zip(base, s)) for s in engine.LADDER[1:]}
    assert doubled == {(2, 1, 1, 1), (1, 2, 1, 1), (1, 1, 1, 2)}  # N, T and H each doubled


@pytest.mark.parametrize("option,value,message", [
    ("cells", "elman", "expected --cells from lstm, gru, rnn, found 'elman'"),
    ("numpy_threads", "4", "expected --numpy-threads from 1, 2, 2blas, found '4'"),
    ("torch_threads", "", "expected --torch-threads from 1, 2, 2-no-onednn, found ''"),
    ("repeats", 0, "expected --repeats >= 1, found 0"),
])
def test_bad_options(option, value, message):
    with pytest.raises(ConfigError, match=message):
        engine.main(_args(**{option: value}))
