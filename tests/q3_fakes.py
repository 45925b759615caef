"""Fabricated Q3 metrics shared by the Q3 observation tests (not a test module).

Import it from a test module as a sibling file (tests/ is no package)::

    sys.path.insert(0, str(Path(__file__).parent))
    from q3_fakes import fabricated, honest, retrieval, stat
"""

from __future__ import annotations

from rnnlab.experiments import q3


def stat(mean, std=0.01, n=3):
    return {"mean": mean, "std": std, "per_seed": [mean] * n}


def retrieval(mean_rank, p, seeds_passing=0, n=3, M=16):
    return {
        "mean_rank": stat(mean_rank, 0.3, n),
        "median_rank": stat(mean_rank),
        "top1": stat(0.06),
        "top5": stat(0.3),
        "p_value": stat(p),
        "chance_mean_rank": (M + 1) / 2,
        "chance_top1": 1 / M,
        "chance_top5": 5 / M,
        "n_seeds": n,
        "seeds_at_chance": n - seeds_passing,
        "pooled_p_value": p,
        "at_chance": not p < 0.05,
    }


def fabricated(status="untrained", p=0.6):
    values = {"RNN": 0.5, "LSTM": 0.85, "GRU": 0.8}
    enc = {c: {k: stat(v) for k in q3.ENCODER_METRICS} for c, v in values.items()}
    from_file = status != "untrained"
    return {
        "dataset": {"name": "demo", "n_questions": 82, "n_images": 16, "image_labels": ["a"]},
        "cnn": {
            "pretrained": status == "imagenet-verified",
            "weights_status": status,
            "source": "hub-cache" if from_file else "untrained",
            "top1": {"astronaut": ["space shuttle", 0.4]} if from_file else None,
        },
        "glove": {"n_tokens": 525, "n_oov": 2, "oov_rate": 2 / 525},
        "encoders": enc,
        "fusion": {"n_images": 16, "encoders": {c: retrieval(8.4, p) for c in values}},
        "grounded": retrieval(3.1, 0.001, 1, 1) if from_file else None,
        "seeds": [0, 1, 2],
    }


def honest(raw=0.98, centred=-0.2, agreement=(0.1, 0.2, 0.3), status="untrained", same=True):
    m = fabricated(status)
    m["cnn"].update(feature_cosine_mean=raw, feature_cosine_mean_centred=centred)
    cells = list(m["fusion"]["encoders"])
    m["fusion"]["image_dominance"] = {
        "chance_top_image_share": 1 / 16,
        "encoders": {c: {"rank_agreement": stat(a), "top_image_share": stat(0.5)}
                     for c, a in zip(cells, agreement)}}
    m["fusion"]["centred_features"] = {
        "encoders": {c: {"mean_rank": stat(8.4), "top1": stat(0.06)} for c in cells},
        "max_abs_similarity_change": 3e-16, "same_ranks": same}
    return m
