"""``rnnlab export tensorboard``: Q2's saved checkpoints as TensorBoard event files."""

from __future__ import annotations

import pytest
import torch

from rnnlab.cli import main
from rnnlab.train import checkpoints as ckpt

pytest.importorskip("tensorboard", reason="tensorboard is not installed (pip install 'rnnlab[tensorboard]')")


def fake_q2(root):
    """A Q2-shaped results folder: two epochs of an LSTM's weights and its history."""
    folder = root / "q2" / "checkpoints" / "series" / "LSTM"
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(3, 4, batch_first=True)
    for epoch in (0, 1):
        ckpt.save_weights(folder, epoch, {k: v.detach().clone() for k, v in lstm.state_dict().items()})
    records = [{"epoch": e, "train_loss": 1.0 / (e + 1), "test_loss": 2.0 / (e + 1), "lr": 0.01} for e in (0, 1)]
    ckpt.write_history(folder, {"model": {"cell": "lstm"}}, records)
    return root / "q2"


def test_export_writes_weight_histograms_per_gate_and_losses(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    section = fake_q2(tmp_path)
    assert main(["export", "tensorboard", str(section)]) == 0
    assert "1 models, 2 epochs" in capsys.readouterr().out
    events = EventAccumulator(str(section / "tensorboard" / "series" / "LSTM"), size_guidance={"histograms": 0})
    events.Reload()
    tags = events.Tags()
    assert {"weights/weight_hh_l0/f", "weights/weight_ih_l0/i", "weights/bias_hh_l0/o"} <= set(tags["histograms"])
    assert [e.step for e in events.Histograms("weights/weight_hh_l0/g")] == [0, 1]
    assert [round(e.value, 6) for e in events.Scalars("training/test_loss")] == [2.0, 1.0]


def test_export_refuses_a_folder_without_checkpoints_and_damaged_weights(tmp_path, capsys):
    assert main(["export", "tensorboard", str(tmp_path)]) == 2
    assert "expected Q2 checkpoints" in capsys.readouterr().err
    section = fake_q2(tmp_path)
    path = ckpt.weights_path(section / "checkpoints" / "series" / "LSTM", 1)
    data = bytearray(path.read_bytes())
    data[-4:] = b"\xff\xff\xff\xff"
    path.write_bytes(bytes(data))
    assert main(["export", "tensorboard", str(section)]) == 2
    err = capsys.readouterr().err
    assert "SHA-256" in err and str(path) in err and len(err.strip().splitlines()) == 1
