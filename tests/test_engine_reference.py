"""The fast path (scratch.functional) equals the reference path (scratch.reference), and its
helper thread never changes a number."""

import numpy as np
import pytest

from rnnlab.scratch import functional as F
from rnnlab.scratch import reference as R
from rnnlab.scratch.gradcheck import numerical_gradient, relative_error
from rnnlab.threads import engine_threads, limit_engine_threads

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
CELLS = [("rnn", "tanh"), ("rnn", "relu"), ("lstm", None), ("gru", "torch"), ("gru", "cho")]


def _problem(cell, T, N, D, H, dtype="float64", seed=0, random_state=True):
    """Parameters, inputs, initial state, upstream gradients and final-state gradients."""
    rng = np.random.default_rng(seed)
    G, k = GATES[cell], 1.0 / np.sqrt(H)
    params = {
        R.W_IH: rng.uniform(-k, k, (G * H, D)), R.W_HH: rng.uniform(-k, k, (G * H, H)),
        R.B_IH: rng.uniform(-k, k, G * H), R.B_HH: rng.uniform(-k, k, G * H),
    }
    params = {name: p.astype(dtype) for name, p in params.items()}
    x = rng.standard_normal((T, N, D)).astype(dtype)
    dhs = rng.standard_normal((T, N, H)).astype(dtype)

    def state():
        return (rng.standard_normal((N, H)) * 0.5).astype(dtype) if random_state else np.zeros((N, H), dtype)

    if cell == "lstm":
        return params, x, (state(), state()), dhs, (state(), None if random_state else state())
    return params, x, state(), dhs, state()


def _run(module, cell, option, problem, truncate):
    params, x, state0, dhs, dstate_T = problem
    forward, backward = getattr(module, cell + "_forward"), getattr(module, cell + "_backward")
    hs, cache = forward(params, x, state0) if cell == "lstm" else forward(params, x, state0, option)
    result = backward(params, dhs, cache, dstate_T, truncate)
    dstate0 = result.dstate0 if cell == "lstm" else (result.dstate0,)
    return {"hs": hs, "dx": result.dx, "dh": result.dh, **result.grads,
            **{f"dstate0[{k}]": d for k, d in enumerate(dstate0)}}


@pytest.mark.parametrize("cell,option", CELLS)
@pytest.mark.parametrize("truncate", [None, 1, 3])
@pytest.mark.parametrize("shape,random_state", [((1, 1, 2, 3), True), ((7, 3, 4, 5), False), ((10, 2, 3, 4), True)])
def test_fast_path_equals_reference(cell, option, truncate, shape, random_state):
    """Outputs, every gradient, dL/dh_t and the initial-state gradient agree to 1e-10 in float64."""
    problem = _problem(cell, *shape, random_state=random_state, seed=shape[0])
    fast = _run(F, cell, option, problem, truncate)
    ref = _run(R, cell, option, problem, truncate)
    assert fast.keys() == ref.keys()
    errors = {k: float(np.max(np.abs(fast[k] - ref[k]))) for k in ref}
    assert max(errors.values()) < 1e-10, errors


@pytest.mark.parametrize("cell,option", CELLS)
@pytest.mark.parametrize("truncate", [None, 2])
def test_one_product_weight_gradients_equal_reference(cell, option, truncate, monkeypatch):
    """Large weights take their gradients as one product over all steps: still the same numbers
    as the reference (to rounding), with and without the helper thread."""
    monkeypatch.setattr(F, "ONE_PRODUCT_MIN_WEIGHTS", 0)
    problem = _problem(cell, 9, 3, 4, 5, seed=7)
    ref = _run(R, cell, option, problem, truncate)
    with limit_engine_threads(1):
        inline = _run(F, cell, option, problem, truncate)
    monkeypatch.setattr(F, "LANE_MIN_FLOPS", 0.0)
    with limit_engine_threads(2):
        threaded = _run(F, cell, option, problem, truncate)
    for k in ref:
        assert np.max(np.abs(inline[k] - ref[k])) < 1e-10, k
        np.testing.assert_array_equal(threaded[k], inline[k], err_msg=k)


@pytest.mark.parametrize("cell,option", CELLS)
def test_fast_path_equals_reference_in_float32(cell, option):
    problem = _problem(cell, 6, 3, 4, 5, dtype="float32", seed=1)
    fast = _run(F, cell, option, problem, 2)
    ref = _run(R, cell, option, problem, 2)
    for k in ref:
        assert fast[k].dtype == np.float32, k
        np.testing.assert_allclose(fast[k], ref[k], rtol=0, atol=2e-5 * max(1.0, np.max(np.abs(ref[k]))), err_msg=k)


@pytest.mark.parametrize("cell,option", CELLS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_helper_thread_changes_no_number(cell, option, dtype, monkeypatch):
    """The fast path with its helper thread (chunks of steps handed over) and without it gives
    bitwise the same outputs and gradients."""
    problem = _problem(cell, 11, 4, 3, 6, dtype=dtype, seed=2)
    with limit_engine_threads(1):
        inline = _run(F, cell, option, problem, 4)
    monkeypatch.setattr(F, "LANE_MIN_FLOPS", 0.0)  # hand over even this small problem
    with limit_engine_threads(2):
        lane = F._lane(problem[1].shape, GATES[cell], 6)
        assert lane.parallel
        lane.close()
        threaded = _run(F, cell, option, problem, 4)
    for k in inline:
        np.testing.assert_array_equal(threaded[k], inline[k], err_msg=k)


@pytest.mark.parametrize("cell,option", CELLS)
def test_step_loop_equals_reference_sequence(cell, option):
    """step(params, carry, x_t) -> (carry, h_t) driven by hand gives the sequence's states."""
    params, x, state0, _, _ = _problem(cell, 5, 2, 3, 4, seed=3)
    step = {"rnn": R.rnn_step, "lstm": R.lstm_step, "gru": R.gru_step}[cell]
    carry = state0
    hs = []
    for x_t in x:
        carry, h_t = step(params, carry, x_t) if option is None else step(params, carry, x_t, option)
        hs.append(h_t)
    fast_hs, cache = (F.lstm_forward(params, x, state0) if cell == "lstm"
                      else getattr(F, cell + "_forward")(params, x, state0, option))
    np.testing.assert_allclose(np.stack(hs), fast_hs, rtol=0, atol=1e-14)
    final_h = carry[0] if cell == "lstm" else carry
    np.testing.assert_allclose(final_h, cache.h[-1].T, rtol=0, atol=1e-14)


@pytest.mark.parametrize("cell,option", CELLS)
def test_reference_step_backward_matches_finite_differences(cell, option):
    """The reference's own step backward is right, independently of the fast path."""
    params, x, state0, dhs, _ = _problem(cell, 1, 2, 3, 4, seed=4)
    step = {"rnn": R.rnn_step, "lstm": R.lstm_step, "gru": R.gru_step}[cell]
    step_backward = {"rnn": R.rnn_step_backward, "lstm": R.lstm_step_backward, "gru": R.gru_step_backward}[cell]
    extra = () if option is None else (option,)
    rng = np.random.default_rng(5)
    dcarry = (dhs[0], rng.standard_normal(dhs[0].shape)) if cell == "lstm" else dhs[0]

    def loss():
        carry, _ = step(params, state0, x[0], *extra)
        parts = zip(carry, dcarry) if cell == "lstm" else [(carry, dcarry)]
        return float(sum(np.sum(a * g) for a, g in parts))

    dcarry_prev, dx, dparams = step_backward(params, state0, x[0], dcarry, *extra)
    for name, p in params.items():
        assert relative_error(dparams[name], numerical_gradient(loss, p)) < 1e-7, name
    assert relative_error(dx, numerical_gradient(loss, x[0])) < 1e-7
    for prev, s in zip(dcarry_prev if cell == "lstm" else (dcarry_prev,), state0 if cell == "lstm" else (state0,)):
        assert relative_error(prev, numerical_gradient(loss, s)) < 1e-7


def test_reference_needs_only_numpy():
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(R))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"numpy", "__future__", "collections", "typing", "rnnlab"}, imported
    assert not [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                and n.module.startswith("rnnlab") and n.module != "rnnlab.errors"]


def test_engine_thread_setting():
    with limit_engine_threads(1):
        assert engine_threads() == 1
        with limit_engine_threads(2):
            assert engine_threads() == 2
        assert engine_threads() == 1
    from rnnlab.errors import ConfigError

    with pytest.raises(ConfigError, match="expected an engine thread count >= 1 or None, found 0"), \
            limit_engine_threads(0):
        pass


def test_helper_thread_reraises_a_task_error():
    from rnnlab.scratch._lanes import Lane

    def boom():
        raise RuntimeError("task failed")

    with Lane() as lane:
        if not lane.parallel:  # another caller holds the helper: the task runs inline
            pytest.skip("helper busy")
        lane.add(boom)
        with pytest.raises(RuntimeError, match="task failed"):
            lane.finish()
    with Lane(enabled=False) as lane, pytest.raises(RuntimeError, match="task failed"):
        lane.add(boom)
