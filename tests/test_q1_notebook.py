"""The Q1 notebook (source only, no execution): every figure of the section in order, live cells
that call the engine, and the runs folder shown for --resume."""

import re
from pathlib import Path

from rnnlab.experiments import q1

SOURCE = (Path(q1.__file__).parents[1] / "notebooks" / "q1.py").read_text(encoding="utf-8")


def test_every_figure_is_shown_in_the_order_present_draws_them():
    shown = re.findall(r'show_figure\(result, "(\w+)"\)', SOURCE)
    assert shown == [name.removesuffix(".png") for name in q1.FIGURE_TOPICS]


def test_live_cells_run_the_engine_check_and_torch_parity():
    for call in ("LSTM(D, H", "layer.forward(", "layer.backward(", "gradcheck.check_layer(",
                 "gradcheck.compare_with_torch(", "reference.lstm_step", "train_model(",
                 "grad_norms_last_step("):
        assert call in SOURCE, call
    assert SOURCE.index("rnnlab.scratch.reference") < SOURCE.index("rnnlab.scratch.functional")


def test_sentences_come_from_the_results_and_resume_is_shown():
    assert 'metrics["sine_predictions"]["sequences"]' in SOURCE and 'seq["mse"]' in SOURCE
    assert "q1.TEXT_FOCUS_LAST" in SOURCE
    assert "q1.RUNS_DIR" in SOURCE and "reused_runs" in SOURCE
    assert "result.findings" in SOURCE and "result.limitations" in SOURCE
