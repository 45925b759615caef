"""The results module: strict JSON that any parser accepts, atomic writes, section files."""

from __future__ import annotations

import json
import math
import shutil
import subprocess

import numpy as np
import pytest

from rnnlab.errors import DataError
from rnnlab.results import (
    atomic_write_text,
    dumps,
    ensure_writable_dir,
    format_seconds,
    load_metrics,
    loads,
    read_json,
    write_json,
)

VALUES = {
    "nan": float("nan"),
    "inf": float("inf"),
    "-inf": -float("inf"),
    "np": np.float32(1.5),
    "array": np.array([[1.0, np.nan], [np.inf, -2.0]]),
    "nested": [{"x": (1, 2)}, None, True, "text"],
}


def refuse(name):
    raise AssertionError(f"non-standard JSON constant {name}")


def test_non_finite_floats_are_strict_json_and_round_trip():
    text = dumps(VALUES)
    json.loads(text, parse_constant=refuse)  # a strict parser accepts it
    back = loads(text)
    assert math.isnan(back["nan"]) and back["inf"] == math.inf and back["-inf"] == -math.inf
    assert back["np"] == 1.5 and back["nested"] == [{"x": [1, 2]}, None, True, "text"]
    assert math.isnan(back["array"][0][1]) and back["array"][1][0] == math.inf


def test_python_nan_constants_are_refused_on_read(tmp_path):
    path = tmp_path / "metrics.json"
    path.write_text('{"loss": NaN}')
    with pytest.raises(DataError, match="expected valid JSON"):
        read_json(path)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed: no JavaScript JSON.parse to check against")
def test_javascript_json_parse_accepts_the_files(tmp_path):
    path = write_json(tmp_path / "metrics.json", VALUES)
    script = f"const d = JSON.parse(require('fs').readFileSync({json.dumps(str(path))}, 'utf8'));" \
             "console.log(Number.isNaN(Number(d.nan)), Number(d.inf) === Infinity);"
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["true", "true"]


def test_atomic_write_leaves_no_temporary_file(tmp_path):
    path = atomic_write_text(tmp_path / "a.txt", "one")
    atomic_write_text(path, "two")
    assert path.read_text() == "two" and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_bad_files_are_one_line_errors(tmp_path):
    with pytest.raises(DataError, match="found no such file"):
        load_metrics(tmp_path)
    (tmp_path / "metrics.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="expected a JSON object"):
        load_metrics(tmp_path)
    (tmp_path / "metrics.json").write_bytes(b"\xff\xfe")
    with pytest.raises(DataError, match="UTF-8"):
        load_metrics(tmp_path)
    with pytest.raises(DataError, match="empty string"):
        ensure_writable_dir("")
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="a file with that name"):
        ensure_writable_dir(tmp_path / "file")


def test_format_seconds():
    assert format_seconds(12.34) == "12.3 s" and format_seconds(245) == "4 min 05 s"
    assert format_seconds(float("nan")) == "—" and format_seconds("x") == "—"
