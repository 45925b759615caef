"""The parts of rnnlab.train.torch_loop.fit: one step, one epoch, the epoch record, checkpoints."""

from __future__ import annotations

import math

import pytest
import torch

from rnnlab.models.recurrent import RecurrentNet
from rnnlab.train import checkpoints as ckpt
from rnnlab.train.torch_loop import (
    EpochSteps,
    StepOutcome,
    TensorSet,
    TrainConfig,
    TrainingDiverged,
    epoch_record,
    fit,
    train_epoch,
    train_step,
)


def batch(n=8, T=5, D=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, T, D, generator=g)
    return x, (x[:, :, 0].sum(1) > 0).long()


def model_and_optimizer(seed=1):
    torch.manual_seed(seed)
    model = RecurrentNet("gru", 3, 6, 2)
    return model, torch.optim.Adam(model.parameters(), lr=0.01)


def weights(model):
    return [p.detach().clone() for p in model.parameters()]


def norm_of_first_step():
    model, opt = model_and_optimizer()
    x, y = batch()
    return train_step(model, opt, x, y, None, "classification", math.inf).grad_norm


def test_step_updates_and_measures_the_norm_before_clipping():
    norm = norm_of_first_step()
    assert math.isfinite(norm) and norm > 0
    for clip, clipped in ((norm * 0.99, True), (norm * 1.01, False)):  # both sides
        model, opt = model_and_optimizer()
        before = weights(model)
        x, y = batch()
        out = train_step(model, opt, x, y, None, "classification", clip)
        assert out.problem is None and out.clipped is clipped
        assert out.grad_norm == norm  # measured before clipping
        assert any(not torch.equal(a, b) for a, b in zip(weights(model), before))


def test_step_with_a_nonfinite_loss_changes_nothing():
    model, opt = model_and_optimizer()
    before = weights(model)
    x, y = batch()
    x[2, 1, 0] = float("nan")
    out = train_step(model, opt, x, y, None, "classification", 1.0)
    assert out.problem == "non-finite training loss (nan)"
    assert math.isnan(out.grad_norm) and not out.clipped and math.isnan(out.loss)
    assert all(torch.equal(a, b) for a, b in zip(weights(model), before))
    assert all(p.grad is None for p in model.parameters())


def test_step_with_a_nonfinite_gradient_changes_nothing():
    model, opt = model_and_optimizer()
    model.head.bias.register_hook(lambda grad: grad * float("inf"))
    before = weights(model)
    x, y = batch()
    out = train_step(model, opt, x, y, None, "classification", 1.0)
    assert out.problem is not None and out.problem.startswith("non-finite gradient norm")
    assert math.isfinite(out.loss)
    assert all(torch.equal(a, b) for a, b in zip(weights(model), before))
    assert all(p.grad is None for p in model.parameters())


def poisoned_set(bad_rows):
    x, y = batch(n=16)
    for row in bad_rows:
        x[row, 0, 0] = float("nan")
    return TensorSet(x, y)


def test_epoch_stops_on_a_nonfinite_step_naming_where():
    model, opt = model_and_optimizer()
    config = TrainConfig(batch_size=4, seed=0)
    with pytest.raises(
        TrainingDiverged,
        match=r"non-finite training loss \(nan\) at epoch 3, step \d of LSTM on toy; expected",
    ):
        train_epoch(model, opt, poisoned_set([5]), config, torch.Generator().manual_seed(0),
                    epoch=3, label="LSTM on toy")  # fmt: skip


def test_epoch_skips_and_counts_nonfinite_steps():
    model, opt = model_and_optimizer()
    config = TrainConfig(batch_size=4, nonfinite="skip", clip_norm=1e-9)
    steps = train_epoch(model, opt, poisoned_set([5]), config, torch.Generator(), epoch=1)
    assert len(steps.losses) == 4 and steps.skipped == 1 and steps.clipped == 3
    assert sum(math.isnan(n) for n in steps.grad_norms) == 1
    assert len(steps.applied_norms) == 3
    with pytest.raises(TrainingDiverged, match=r"all 4 steps of epoch 2 had non-finite"):
        train_epoch(model, opt, poisoned_set(range(16)), config, torch.Generator(), epoch=2)


def test_epoch_order_comes_from_the_generator_only():
    config = TrainConfig(batch_size=4)
    runs = []
    for global_seed in (0, 1):
        model, opt = model_and_optimizer()
        torch.manual_seed(global_seed)  # the global RNG plays no part
        steps = train_epoch(model, opt, poisoned_set([]), config,
                            torch.Generator().manual_seed(7), epoch=1)  # fmt: skip
        runs.append((steps.losses, weights(model)))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))


def test_epoch_record_from_fabricated_steps():
    steps = EpochSteps()
    steps.add(StepOutcome(0.9, 2.0, True, None))
    steps.add(StepOutcome(float("nan"), float("nan"), False, "non-finite training loss (nan)"))
    steps.add(StepOutcome(0.7, 0.5, False, None))
    train = {"loss": 0.8, "accuracy": 0.6}
    test = {"loss": 0.85, "accuracy": 0.55}
    record = epoch_record(4, 1e-3, train, test, "classification", steps, 1.5)
    assert list(record) == [
        "epoch", "lr", "train_loss", "train_accuracy", "test_loss", "test_accuracy",
        "grad_norm_mean", "grad_norm_max", "steps", "clipped_steps", "skipped_steps",
        "step_losses", "step_grad_norms", "time_s",
    ]  # fmt: skip
    assert record["epoch"] == 4 and record["lr"] == 1e-3 and record["time_s"] == 1.5
    assert record["train_loss"] == 0.8 and record["test_accuracy"] == 0.55
    assert record["grad_norm_mean"] == 1.25 and record["grad_norm_max"] == 2.0  # applied only
    assert (record["steps"], record["clipped_steps"], record["skipped_steps"]) == (3, 1, 1)
    assert record["step_losses"][0] == 0.9 and math.isnan(record["step_losses"][1])
    assert record["step_grad_norms"][::2] == [2.0, 0.5] and math.isnan(record["step_grad_norms"][1])
    untrained = epoch_record(0, 0.0, {"loss": 1.0, "mae": 3.0}, {"loss": 1.1, "mae": 3.3},
                             "regression", EpochSteps(), 0.1)  # fmt: skip
    assert untrained["train_mae"] == 3.0 and untrained["test_mae"] == 3.3
    assert math.isnan(untrained["grad_norm_mean"]) and math.isnan(untrained["grad_norm_max"])
    assert untrained["steps"] == 0 and untrained["step_losses"] == []


def test_fit_records_every_epoch_and_checkpoints_it(tmp_path):
    x, y = batch(n=20)
    train, test = TensorSet(x[:16], y[:16]), TensorSet(x[16:], y[16:])
    config = TrainConfig(epochs=2, batch_size=8, lr=0.01, seed=5)
    model, _ = model_and_optimizer()
    seen = []
    result = fit(model, train, test, config, checkpoint_dir=tmp_path, on_epoch=seen.append)
    assert [r["epoch"] for r in result.history] == [0, 1, 2] and seen == result.history
    assert [r["steps"] for r in result.history] == [0, 2, 2]
    assert result.history[1]["lr"] == config.lr_at(1) and result.history[0]["lr"] == 0.0
    assert ckpt.saved_epochs(tmp_path) == [0, 1, 2]
    saved = ckpt.load_weights(ckpt.weights_path(tmp_path, 2))
    for k, v in model.state_dict().items():
        assert torch.equal(saved[k], v)
    assert ckpt.read_history(tmp_path)["last_epoch"] == 2
    # a second fit without resume starts afresh: the same numbers, the folder rewritten
    model2, _ = model_and_optimizer()
    again = fit(model2, train, test, config, checkpoint_dir=tmp_path)
    assert again.resumed_from is None
    assert [r["train_loss"] for r in again.history] == [r["train_loss"] for r in result.history]
