"""Q3 question encoders: packing invariance, seeded initialisation, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnlab.errors import ConfigError, ShapeError
from rnnlab.models.encoders import CELLS, encode, init_recurrent_, make_encoder


def _sequences(lengths, D=6, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((T, D)).astype(np.float32) for T in lengths]


@pytest.mark.parametrize("cell", CELLS)
def test_states_are_the_same_alone_or_in_a_padded_batch(cell):
    enc = make_encoder(cell, 6, 5, seed=1)
    seqs = _sequences([3, 7, 1, 5])
    batch = encode(enc, seqs)
    for i, seq in enumerate(seqs):
        alone = encode(enc, [seq])
        np.testing.assert_allclose(batch.states[i], alone.states[0], atol=1e-6)
        np.testing.assert_allclose(batch.final[i], alone.states[0][-1], atol=1e-6)
        assert batch.states[i].shape == (len(seq), 5)


@pytest.mark.parametrize("cell", CELLS)
def test_packed_states_equal_a_hand_loop_over_the_cell(cell):
    enc = make_encoder(cell, 6, 5, seed=2)
    seq = _sequences([4])[0]
    out = encode(enc, _sequences([9, 2], seed=5) + [seq]).states[2]
    with torch.no_grad():
        full, _ = enc(torch.from_numpy(seq)[None])  # unpadded, unpacked reference
    np.testing.assert_allclose(out, full[0].numpy(), atol=1e-6)


def test_same_seed_same_weights_and_same_scheme_for_every_cell():
    for cell in CELLS:
        a, b = make_encoder(cell, 6, 5, seed=3), make_encoder(cell, 6, 5, seed=3)
        c = make_encoder(cell, 6, 5, seed=4)
        for (name, pa), (_, pb), (_, pc) in zip(
            a.named_parameters(), b.named_parameters(), c.named_parameters()
        ):
            assert torch.equal(pa, pb)
            if not name.startswith("bias"):
                assert not torch.equal(pa, pc)
        H = 5
        w_hh = a.weight_hh_l0.detach().numpy()
        for g in range(w_hh.shape[0] // H):  # every gate block is orthogonal
            block = w_hh[g * H : (g + 1) * H]
            np.testing.assert_allclose(block @ block.T, np.eye(H), atol=1e-5)
        assert torch.count_nonzero(a.bias_ih_l0) == 0 and torch.count_nonzero(a.bias_hh_l0) == 0


def test_torch_scheme_is_uniform_in_the_default_bound():
    enc = make_encoder("GRU", 6, 16, seed=0, init="torch")
    for p in enc.parameters():
        assert p.abs().max() <= 1 / 4 + 1e-7


def test_bad_input_is_reported():
    enc = make_encoder("rnn", 6, 5)
    with pytest.raises(ShapeError, match=r"expected sequence 1 of shape \(T >= 1, 6\)"):
        encode(enc, [np.zeros((2, 6)), np.zeros((2, 4))])
    with pytest.raises(ShapeError, match="at least one sequence"):
        encode(enc, [])
    with pytest.raises(ShapeError, match=r"T >= 1"):
        encode(enc, [np.zeros((0, 6))])
    with pytest.raises(ConfigError, match="expected a cell"):
        make_encoder("transformer", 6, 5)
    with pytest.raises(ConfigError, match="init scheme"):
        init_recurrent_(enc, "he")


def test_gate_blocks_come_from_the_cells_table_and_fit_torch():
    from rnnlab import cells
    from rnnlab.models.encoders import GATES

    for cell in CELLS:
        assert GATES[cell] == cells.cell(cell).blocks
        module = make_encoder(cell, 5, 3)
        assert module.weight_ih_l0.shape == (GATES[cell] * 3, 5)
        assert module.weight_hh_l0.shape == (GATES[cell] * 3, 3)
