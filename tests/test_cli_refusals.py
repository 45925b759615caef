"""Bad input to the real sections is refused through the CLI before any work: exit status 2 and
one line on stderr, no traceback, nothing written but the refusal."""

from __future__ import annotations

import struct

import pytest

from rnnlab.cli import main

QUICK = ["--quick", "--no-notebook", "--no-progress"]


def refused(capsys, argv, expected):
    status = main(argv)
    err = capsys.readouterr().err.strip()
    assert status == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert expected in err, err
    return err


def aclimdb(root, bad=False):
    for split in ("train", "test"):
        for label in ("pos", "neg"):
            (root / split / label).mkdir(parents=True)
            for i in range(3):
                (root / split / label / f"{i}_7.txt").write_text("a fine film, truly.")
    if bad:
        (root / "train" / "pos" / "9_9.txt").write_bytes(b"bad \xff\xfe bytes")
    return root


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["run", "q1", "--mnist-dir", "DIR"], "--mnist-dir (an option of q2)"),
        (["run", "exercises", "--cnn-weights", "x.pth"], "--cnn-weights (an option of q3)"),
        (["run", "q3", "--text", "x.txt"], "--text (an option of q1)"),
        (["run", "q2", "--image-epochs", "0"], "expected a value >= 1 for --image-epochs, found 0"),
        (["run", "q2", "--series-epochs", "0"], "expected a value >= 1 for --series-epochs, found 0"),
        (["run", "q2", "--seed", str(2**63 + 5)], "expected a seed from 0 to"),
        (["run", "q2", "--horizon", "5000"], "--horizon"),
        (["run", "q3", "--limit", "0"], "--limit"),
    ],
)
def test_bad_options_are_refused_before_any_work(tmp_path, capsys, argv, expected):
    out = tmp_path / "results"
    refused(capsys, [*argv, *QUICK, "--out", str(out)], expected)
    assert not any(out.rglob("metrics.json")) and not any(out.rglob("*.safetensors"))


def test_a_review_that_is_not_utf8_is_refused_before_training(tmp_path, capsys):
    imdb = aclimdb(tmp_path / "aclImdb", bad=True)
    out = tmp_path / "results"
    refused(capsys, ["run", "q2", *QUICK, "--imdb-dir", str(imdb), "--out", str(out)], "9_9.txt")
    assert not any(out.rglob("*.safetensors"))


def test_idx_files_with_no_images_are_refused(tmp_path, capsys):
    for split in ("train", "t10k"):
        (tmp_path / f"{split}-images-idx3-ubyte").write_bytes(struct.pack(">IIII", 0x803, 0, 28, 28))
        (tmp_path / f"{split}-labels-idx1-ubyte").write_bytes(struct.pack(">II", 0x801, 0))
    out = tmp_path / "results"
    refused(capsys, ["run", "q2", *QUICK, "--mnist-dir", str(tmp_path), "--out", str(out)],
            "expected at least one image")
    assert not any(out.rglob("*.safetensors"))
