"""Q2 training: the model, checkpoint round trip, refusal of pickles, resume equivalence,
non-finite handling and clipping counts."""

from __future__ import annotations

import json
import math

import pytest
import torch

from rnnlab import cells
from rnnlab.errors import ConfigError, DataError, ShapeError
from rnnlab.models.recurrent import RecurrentNet
from rnnlab.train import checkpoints as ckpt
from rnnlab.train.torch_loop import TensorSet, TrainConfig, TrainingDiverged, fit


def toy_sets(n=60, T=6, D=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, D, generator=g)
    y = (x[:, :, 0].sum(1) > 0).long()
    return TensorSet(x[:48], y[:48]), TensorSet(x[48:], y[48:])


def make(cell="lstm", seed=1, **kw):
    torch.manual_seed(seed)
    return RecurrentNet(cell, 3, 8, 2, **kw)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_shapes_and_names(cell):
    model = make(cell)
    out = model(torch.randn(5, 6, 3))
    assert out.shape == (5, 2)
    gates = cells.cell(cell).blocks  # the one table of gates
    assert model.rnn.weight_hh_l0.shape == (gates * 8, 8)
    with pytest.raises(ShapeError):
        model(torch.randn(5, 6, 4))
    with pytest.raises(ConfigError):
        RecurrentNet("transformer", 3, 8, 2)


def test_packed_sequences_ignore_padding():
    torch.manual_seed(0)
    model = RecurrentNet("gru", 4, 5, 2, vocab_size=10)
    ids = torch.tensor([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2]])
    lengths = torch.tensor([3, 5])
    out = model(ids, lengths)
    alone = model(ids[:1, :3], torch.tensor([3]))
    torch.testing.assert_close(out[:1], alone)
    hidden = model.hidden_states(ids, lengths)
    assert hidden.mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5]
    assert hidden.states.shape == (2, 5, 5) and hidden.inputs.shape == (2, 5, 4)


def test_checkpoint_round_trip_and_atomic_files(tmp_path):
    model = make("gru")
    ckpt.save_weights(tmp_path, 3, model.state_dict())
    loaded = ckpt.load_weights(ckpt.weights_path(tmp_path, 3))
    assert loaded.keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(loaded[k], v)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary files left behind
    assert ckpt.saved_epochs(tmp_path) == [3]
    opt = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.8, 0.9))
    model(torch.randn(2, 4, 3)).sum().backward()
    opt.step()
    tensors, scalars = ckpt.split_optimizer_state(opt.state_dict())
    json.dumps(scalars)  # the scalars are plain JSON
    restored = ckpt.join_optimizer_state(tensors, json.loads(json.dumps(scalars)))
    assert restored["param_groups"][0]["betas"] == (0.8, 0.9)
    opt2 = torch.optim.Adam(model.parameters(), lr=0.01)
    opt2.load_state_dict(restored)
    for a, b in zip(opt.state.values(), opt2.state.values()):
        assert torch.equal(a["exp_avg_sq"], b["exp_avg_sq"])


def test_pickles_are_refused(tmp_path):
    model = make()
    torch.save(model.state_dict(), tmp_path / "model.bin")  # zip-based torch.save, neutral suffix
    with pytest.raises(DataError, match=r"never unpickles"):
        ckpt.load_weights(tmp_path / "model.bin")
    torch.save(model.state_dict(), tmp_path / "old.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(DataError, match=r"pickle"):
        ckpt.load_weights(tmp_path / "old.pt")
    import pickle

    (tmp_path / "w.safetensors").write_bytes(pickle.dumps({"a": 1}))  # a pickle in disguise
    with pytest.raises(DataError, match=r"pickle"):
        ckpt.load_weights(tmp_path / "w.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00not json")
    with pytest.raises(DataError, match=r"safetensors header"):
        ckpt.load_weights(tmp_path / "junk.safetensors")
    with pytest.raises(DataError, match=r"found none"):
        ckpt.load_weights(tmp_path / "absent.safetensors")


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("cell", ["lstm"])  # the cell with the most state (h, c)
def test_resume_gives_the_uninterrupted_result(tmp_path, cell):
    train, test = toy_sets()
    config = TrainConfig(epochs=4, batch_size=8, lr=0.02, seed=3)
    full_model = make(cell)
    full = fit(full_model, train, test, config, checkpoint_dir=tmp_path / "full")

    def stop_after_two(record):
        if record["epoch"] == 2:
            raise Interrupt

    with pytest.raises(Interrupt):
        fit(
            make(cell),
            train,
            test,
            config,
            checkpoint_dir=tmp_path / "cut",
            on_epoch=stop_after_two,
        )
    history = ckpt.read_history(tmp_path / "cut")
    assert history["last_epoch"] == 2
    (tmp_path / "cut" / ".epoch_003.safetensors.tmp-123").write_bytes(b"half")  # a killed write
    resumed_model = make(cell, seed=99)  # other initial weights: they must be overwritten
    resumed = fit(resumed_model, train, test, config, checkpoint_dir=tmp_path / "cut", resume=True)
    assert resumed.resumed_from == 2
    for k, v in full_model.state_dict().items():
        assert torch.equal(resumed_model.state_dict()[k], v), k

    def strip(records):  # wall times differ; NaN (no gradient at epoch 0) compared as None
        return [
            {
                k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in r.items()
                if k != "time_s"
            }
            for r in records
        ]

    assert strip(resumed.history) == strip(full.history)
    assert ckpt.saved_epochs(tmp_path / "cut") == [0, 1, 2, 3, 4]
    assert not list((tmp_path / "cut").glob(".*tmp*"))
    assert not ckpt.state_paths(tmp_path / "cut", 2)[0].exists()  # only the newest state is kept
    # a finished run resumes to itself without training
    again = fit(make(cell), train, test, config, checkpoint_dir=tmp_path / "cut", resume=True)
    assert again.resumed_from == 4 and strip(again.history) == strip(full.history)
    # other settings refuse to resume
    with pytest.raises(ConfigError, match=r"same settings"):
        fit(
            make(cell),
            train,
            test,
            TrainConfig(epochs=4, batch_size=8, lr=0.03, seed=3),
            checkpoint_dir=tmp_path / "cut",
            resume=True,
        )


def test_resume_with_missing_files_is_an_error(tmp_path):
    train, test = toy_sets()
    config = TrainConfig(epochs=1, batch_size=16)
    fit(make(), train, test, config, checkpoint_dir=tmp_path)
    ckpt.weights_path(tmp_path, 1).unlink()
    with pytest.raises(DataError, match=r"epoch_001.safetensors"):
        fit(make(), train, test, config, checkpoint_dir=tmp_path, resume=True)


def test_nonfinite_loss_stops_or_is_skipped(tmp_path):
    train, test = toy_sets()
    bad_x = train.x.clone()
    bad_x[9, 2, 1] = float("nan")  # lands in some batch of the first epoch
    bad = TensorSet(bad_x, train.y)
    with pytest.raises(
        TrainingDiverged, match=r"non-finite training loss \(nan\) at epoch 1, step \d+ of toy"
    ):
        fit(make(), bad, test, TrainConfig(epochs=2, batch_size=8), label="toy")
    model = make()
    result = fit(model, bad, test, TrainConfig(epochs=2, batch_size=8, nonfinite="skip"))
    assert [r["skipped_steps"] for r in result.history] == [0, 1, 1]
    assert all(math.isfinite(p.sum().item()) for p in model.parameters())
    all_bad = TensorSet(torch.full_like(train.x, float("nan")), train.y)
    with pytest.raises(TrainingDiverged, match=r"all 6 steps of epoch 1"):
        fit(make(), all_bad, test, TrainConfig(epochs=1, batch_size=8, nonfinite="skip"))


def test_clipping_is_on_by_default_and_counted():
    train, test = toy_sets()
    assert TrainConfig().clip_norm == 1.0
    tiny = fit(make(), train, test, TrainConfig(epochs=1, batch_size=8, clip_norm=1e-6))
    assert tiny.history[1]["clipped_steps"] == tiny.history[1]["steps"] == 6
    off = fit(make(), train, test, TrainConfig(epochs=1, batch_size=8, clip_norm=None))
    assert off.history[1]["clipped_steps"] == 0
    assert len(off.history[1]["step_grad_norms"]) == 6
    with pytest.raises(ConfigError):
        TrainConfig(task="ranking")
