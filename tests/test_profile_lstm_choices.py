"""scripts/profile_lstm_choices.py times the kernels' real switches: every constant it names
exists in rnnlab.scratch.kernels, the value it sets switches the choice off, and a timing leaves
the constant as shipped."""

import importlib.util
from pathlib import Path

import numpy as np

from rnnlab.scratch import kernels as K

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "profile_lstm_choices.py"


def _script():
    spec = importlib.util.spec_from_file_location("profile_lstm_choices", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_choice_is_a_kernels_constant_that_the_off_value_switches_off(monkeypatch):
    script = _script()
    for constant, off, shapes in script.CHOICES:
        assert isinstance(getattr(K, constant), int), constant
        for N, T, D, H in shapes:
            flops = K._flops(T, N, D, H)
            x = np.zeros((T, N, D), np.float32)
            shipped = {"PROJECT_IN_LOOP_D": D <= K.PROJECT_IN_LOOP_D,
                       "PROJECT_WIDE_D": D >= K.PROJECT_WIDE_D and N <= K.PROJECT_THIN_N,
                       "UNITS_MIN_H": K.units_split(N, H, flops) is not None}[constant]
            assert shipped, (constant, (N, T, D, H))  # the shape is one where the choice applies
            monkeypatch.setattr(K, constant, off)
            switched = {"PROJECT_IN_LOOP_D": D <= K.PROJECT_IN_LOOP_D,
                        "PROJECT_WIDE_D": K._wide_rows(np.zeros((4 * H, D), np.float32), x, flops) is not None,
                        "UNITS_MIN_H": K.units_split(N, H, flops) is not None}[constant]
            assert not switched, (constant, (N, T, D, H))
            monkeypatch.undo()


def test_a_timing_restores_the_constant():
    script = _script()
    before = K.UNITS_MIN_H
    on_ms, off_ms = script.step_time((4, 3, 2, 4), 1, "UNITS_MIN_H", 10**9)
    assert K.UNITS_MIN_H == before
    assert on_ms > 0 and off_ms > 0
