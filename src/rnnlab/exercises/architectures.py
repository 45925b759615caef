"""The five input/output patterns of recurrent networks, each as a tiny working PyTorch model.

=====================  =================  ===========================  ==========================
task                   architecture       input (B = batch)            output
=====================  =================  ===========================  ==========================
image classification   one-to-one         one vector (B, D)            one label (B, C)
music generation       one-to-many        one start token (B,)         T notes (B, T, V)
sentiment analysis     many-to-one        T tokens (B, T)              one label (B, C)
named-entity tagging   many-to-many       T tokens (B, T)              one tag per token (B, T, K)
                       (aligned)
machine translation    encoder-decoder    T_src tokens (B, T_src)      T_tgt tokens (B, T_tgt, V)
                       (many-to-many)
=====================  =================  ===========================  ==========================

:func:`demonstrate_architectures` builds each model (:mod:`rnnlab.models.architectures`) with
random weights, runs it on dummy input and records the shapes that actually came out, so the
table is demonstrated, not only stated.
The one-to-one row (no recurrence) is there for contrast.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnlab.errors import ConfigError


@dataclass(frozen=True)
class ArchitectureDemo:
    """One row of the architecture table, with the shapes measured on dummy input."""

    task: str
    architecture: str
    example: str
    model: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    input_meaning: str
    output_meaning: str
    num_parameters: int


def demonstrate_architectures(*, batch: int = 2, seed: int = 0) -> list[ArchitectureDemo]:
    """Build and run the five tiny models on dummy input; return the measured shapes.

    Sizes: vocabulary V = 20 (source) / 24 (target), T = 7 input tokens, 6 generated notes over
    12 pitches, 9 entity tags, 5 target tokens, 2 classes.
    """
    import torch

    if batch < 1:
        raise ConfigError(f"expected batch >= 1, found {batch}")
    from rnnlab.models.architectures import (
        EncoderDecoder,
        ManyToManyAligned,
        ManyToOne,
        OneToMany,
        OneToOne,
    )

    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    B, T, V, C, K, PITCHES, NOTES, T_TGT, V_TGT, D = batch, 7, 20, 2, 9, 12, 6, 5, 24, 10

    def count(m) -> int:
        return int(sum(p.numel() for p in m.parameters()))

    rows = []
    with torch.no_grad():
        m = OneToOne(D, C)
        x = torch.randn(B, D, generator=g)
        rows.append(ArchitectureDemo("image / tabular classification", "one-to-one",
                                     "a feature vector -> its class", "MLP (no recurrence)",
                                     tuple(x.shape), tuple(m(x).shape), "(B, D) features",
                                     "(B, C) class scores", count(m)))
        m = OneToMany(PITCHES)
        start = torch.zeros(B, dtype=torch.long)
        logits, _notes = m(start, NOTES)
        rows.append(ArchitectureDemo("music generation", "one-to-many",
                                     "a start token -> a melody of T notes",
                                     "GRUCell, output fed back as next input", tuple(start.shape),
                                     tuple(logits.shape), "(B,) start token",
                                     "(B, T, V) note scores per step", count(m)))
        m = ManyToOne(V, C)
        tokens = torch.randint(0, V, (B, T), generator=g)
        rows.append(ArchitectureDemo("sentiment analysis", "many-to-one",
                                     "a review -> positive / negative", "LSTM, readout of h_T",
                                     tuple(tokens.shape), tuple(m(tokens).shape),
                                     "(B, T) word ids", "(B, C) class scores", count(m)))
        m = ManyToManyAligned(V, K)
        rows.append(ArchitectureDemo("named-entity tagging", "many-to-many (aligned)",
                                     "each word -> its tag (PER, LOC, O...)",
                                     "BiLSTM, readout at every step", tuple(tokens.shape),
                                     tuple(m(tokens).shape), "(B, T) word ids",
                                     "(B, T, K) tag scores per word", count(m)))
        m = EncoderDecoder(V, V_TGT)
        tgt = torch.randint(0, V_TGT, (B, T_TGT), generator=g)
        rows.append(ArchitectureDemo("machine translation", "encoder-decoder (many-to-many)",
                                     "a sentence -> its translation, another length",
                                     "GRU encoder -> state -> GRU decoder", tuple(tokens.shape),
                                     tuple(m(tokens, tgt).shape), "(B, T_src) source ids",
                                     "(B, T_tgt, V) target word scores", count(m)))
    return rows


def format_architectures(rows) -> str:
    """The measured shapes as printable lines.

    ``rows``: :class:`ArchitectureDemo` objects or their dicts (as read back from metrics.json,
    shapes as lists).
    """
    lines = []
    for r in rows:
        r = r if isinstance(r, dict) else r.__dict__
        shape_in, shape_out = tuple(r["input_shape"]), tuple(r["output_shape"])
        lines.append(f"{r['task']:<32} {r['architecture']:<32} input {shape_in!s:<9} -> "
                     f"output {shape_out!s:<12} ({r['model']}, {r['num_parameters']} parameters)")
    return "\n".join(lines)
