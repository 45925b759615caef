"""Every sentence of Q3: observations, figure captions and the fixed descriptions of the maps.

All are functions of the numbers Q3 saved in ``metrics.json`` (see
:mod:`rnnlab.experiments.q3`), tested with fabricated numbers on both sides of every threshold.
The rules:

- a difference between two encoders is "larger than the seed-to-seed spread" when the gap
  between their means exceeds the sum of their standard deviations (:func:`compare_sentence`);
- image-question retrieval is "better than chance" when the pooled permutation p-value is below
  :data:`P_THRESHOLD`; otherwise it is "not distinguishable from chance at this sample size"
  (not rejecting chance is no proof of chance);
- an encoder "barely notices word order" when its mean order sensitivity is below
  :data:`ORDER_INSENSITIVE`;
- the images are "nearly identical" as raw features when their mean pairwise cosine exceeds
  :data:`NEARLY_IDENTICAL`;
- the image, not the question, "decides" an encoder's rankings when the mean Spearman agreement
  of a question's image ranking with the other questions' average ranking exceeds
  :data:`IMAGE_DECIDES`;
- the region map says where a question looks only with verified ImageNet weights; otherwise
  its caption and sentence call it the network's spatial bias;
- the image features are named by the weights' status (:func:`rnnlab.models.cnn.cnn_label`):
  ImageNet only when the file's SHA-256 prefix was verified.
"""

from __future__ import annotations

import math
from typing import Any

from rnnlab.observations import MAX_FINDINGS, setting, top_findings  # noqa: F401 (MAX_FINDINGS re-exported)
from rnnlab.results import Finding

P_THRESHOLD = 0.05
ORDER_INSENSITIVE = 0.1
NEARLY_IDENTICAL = 0.9  # raw mean pairwise cosine of the image features above this: "nearly identical"
IMAGE_DECIDES = 0.5  # rank agreement (Spearman) above this: the image decides the ranking
IMAGENET_HASH_PREFIX = "f37072fd"

STATUS_LABELS = {
    "imagenet-verified": "ResNet18 with ImageNet weights",
    "user-supplied": "ResNet18 with user-supplied weights, not verified as ImageNet",
    "untrained": "untrained CNN",
}

FUSION_MAP = (
    "seeded random orthonormal projections: question embeddings (H) and pooled image features "
    "(512) are each centred over the set, projected to K dimensions by a random matrix with "
    "orthonormal rows (seed = encoder seed) and normalised; similarity = cosine. Nothing is "
    "fitted to image-question pairs."
)
GROUNDED_MAP = (
    "grounded reference: image -> sum over classifier classes of p(class | image) x mean GloVe "
    "vector of the class name; question -> mean GloVe vector of its words; both centred over "
    "the set; similarity = cosine"
)

METRIC_LABELS = {
    "trajectory_length": "trajectory length (sum of ||h_t - h_t-1||)",
    "step_length": "mean step length ||h_t - h_t-1||",
    "straightness": "straightness ||h_T - h_1|| / length",
    "consecutive_cosine": "cosine between consecutive states",
    "var_explained_2pc": "variance explained by 2 PCs",
    "participation_ratio": "participation ratio (effective dimensions)",
    "norm_first": "||h_1|| (first word)",
    "norm_last": "||h_T|| (last word)",
    "norm_growth": "norm growth ||h_T|| / ||h_1||",
    "question_distance": "mean 1 - cos between two questions",
    "order_sensitivity": "word-order sensitivity (shuffled / unrelated)",
    "one_word_sensitivity": "one-word-change sensitivity (changed / unrelated)",
}


def fmt(x: Any) -> str:
    """A number in 3 significant digits (small ones in scientific notation), "n/a" if missing."""
    if x is None or isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "n/a"
    return f"{x:.3g}" if abs(x) >= 0.01 or x == 0 else f"{x:.2e}"


def _capital(text: str) -> str:
    return text[0].upper() + text[1:]


def weights_status(cnn: dict[str, Any]) -> str:
    """The weights status of ``metrics["cnn"]`` (older results: from ``pretrained``)."""
    status = cnn.get("weights_status")
    if status in STATUS_LABELS:
        return status
    return "imagenet-verified" if cnn.get("pretrained") else "untrained"


def cnn_words(cnn: dict[str, Any]) -> str:
    """How captions and sentences name the image features."""
    return STATUS_LABELS[weights_status(cnn)]


def better_than_chance(r: dict[str, Any]) -> bool:
    """The verdict of the pooled permutation test of a retrieval result."""
    p = r["pooled_p_value"]
    return isinstance(p, (int, float)) and p < P_THRESHOLD


# --------------------------------------------------------------------------------------------
# Observations
# --------------------------------------------------------------------------------------------


def compare_sentence(label: str, stats: dict[str, dict[str, Any]], meaning: str = "") -> str:
    """One sentence ranking the encoders on a measure, with the seed-to-seed spread.

    ``stats`` maps encoder -> {"mean", "std", "per_seed"}. The gap between the first and the
    second is called larger than the spread when it exceeds the sum of their standard deviations.
    """
    items = [(c, s) for c, s in stats.items() if fmt(s.get("mean")) != "n/a"]
    if not items:
        return f"{_capital(label)}: not measured."
    items.sort(key=lambda cs: -cs[1]["mean"])
    n_seeds = max(len(s.get("per_seed", [])) for _, s in items)
    listed = ", ".join(f"{c} {fmt(s['mean'])} ± {fmt(s['std'])}" for c, s in items)
    text = f"{_capital(label)}: {listed}"
    if len(items) >= 2:
        (top, a), (second, b) = items[0], items[1]
        gap = a["mean"] - b["mean"]
        if n_seeds < 2:
            text += f"; {top} is highest (one seed: no spread measured)"
        elif gap > a["std"] + b["std"]:
            text += f"; {top} is highest, ahead of {second} by more than the seed-to-seed spread"
        else:
            text += (
                f"; {top} and {second} differ by {fmt(gap)}, within the seed-to-seed "
                f"spread, so neither is clearly higher"
            )
    if meaning:
        text += f" ({meaning})"
    return text + "."


def retrieval_sentence(name: str, r: dict[str, Any], n_images: int) -> str:
    """One sentence on retrieval against chance, verdict from the pooled permutation test."""
    p = r["pooled_p_value"]
    if better_than_chance(r):
        verdict = f"better than chance (permutation test p = {p:.3f})"
    else:
        verdict = (
            f"not distinguishable from chance at this sample size (permutation test p = {p:.2f})"
        )
    text = (
        f"{name}: the image a question was written about ranks {fmt(r['mean_rank']['mean'])} on "
        f"average among {n_images} images (chance {fmt(r['chance_mean_rank'])}), top-1 "
        f"{100 * r['top1']['mean']:.0f}% (chance {100 * r['chance_top1']:.0f}%): {verdict}"
    )
    seeds, at_chance = r["n_seeds"], r["seeds_at_chance"]
    if seeds > 1:
        text += (
            f"; {seeds - at_chance} of {seeds} seeds pass p < {P_THRESHOLD:g} on their own, where "
            f"chance alone passes about 1 in {round(1 / P_THRESHOLD)}"
        )
    return text + "."


def data_sentence(metrics: dict[str, Any]) -> str:
    data, glove = metrics["dataset"], metrics["glove"]
    return (
        f"{data['n_questions']} questions about {data['n_images']} images "
        f"({data['name']}); {glove['n_oov']} of {glove['n_tokens']} question tokens "
        f"({100 * glove['oov_rate']:.1f}%) are not in GloVe's 400k vocabulary and got fixed "
        f"seeded vectors."
    )


def _better(metrics: dict[str, Any]) -> list[str]:
    """The encoders whose fusion retrieval is better than chance."""
    enc = metrics["fusion"]["encoders"]
    return [c for c in enc if better_than_chance(enc[c])]


def cnn_sentence(metrics: dict[str, Any]) -> str:
    """Which weights gave the image features, and what that allows the later sentences to say."""
    cnn = metrics["cnn"]
    status = weights_status(cnn)
    top = cnn.get("top1") or {}
    shown = "; ".join(f"{img}: {lab} ({p:.2f})" for img, (lab, p) in list(top.items())[:4])
    if status == "imagenet-verified":
        return (
            f"Image features come from ResNet18 with ImageNet weights ({cnn['source']}; the "
            f"file's SHA-256 starts with {IMAGENET_HASH_PREFIX}, torchvision's published prefix); "
            f"top-1 ImageNet labels, as a sanity check: {shown}."
        )
    if status == "user-supplied":
        return (
            f"Image features come from ResNet18 with user-supplied weights, not verified as "
            f"ImageNet ({cnn['source']}; the file's SHA-256 does not start with "
            f"{IMAGENET_HASH_PREFIX}, torchvision's published prefix); top-1 labels of its "
            f"classifier: {shown or 'none'}."
        )
    better = _better(metrics)
    text = (
        "Image features come from an untrained CNN (ResNet18 with random weights: no ImageNet "
        "weights were found), so every image-question similarity below measures a random network"
    )
    if better:
        return text + (
            f"; where a match is better than chance ({', '.join(better)}), it rests on what "
            "random convolutions keep of the pixels (colour, texture, layout), not on a learned "
            "notion of what the images show."
        )
    return text + (
        "; no encoder matches questions to their images better than chance (below), consistent "
        "with features that carry no learned notion of what the images show."
    )


def _encoder_stats(metrics: dict[str, Any], key: str) -> dict[str, dict[str, Any]]:
    enc = metrics["encoders"]
    if key == "question_distance":  # shown as the mean cosine 1 - distance
        return {c: {"mean": 1.0 - enc[c][key]["mean"], "std": enc[c][key]["std"],
                    "per_seed": enc[c][key]["per_seed"]} for c in enc}
    return {c: enc[c][key] for c in enc}


# (metric key, sentence label, meaning, topic key): the encoder comparison, measure by measure
COMPARED = (
    ("consecutive_cosine", "cosine between consecutive hidden states",
     "near 1: each word nudges the state; near 0: each word replaces it", "trajectories"),
    ("step_length", "mean step length ||h_t - h_t-1|| per word",
     "how far one word moves the state", "trajectories"),
    ("var_explained_2pc", "variance of all hidden states explained by two principal components",
     "high: the trajectories are nearly flat, the PCA plot shows most of the motion",
     "trajectories"),
    ("participation_ratio", "participation ratio (effective number of dimensions used)", "",
     "trajectories"),
    ("norm_growth", "norm growth ||h_T|| / ||h_1|| over a question", "", "trajectories"),
    ("question_distance", "mean cosine between the final states of two different questions",
     "near 1: the question embeddings hardly tell questions apart", "similarity"),
    ("order_sensitivity",
     ("word-order sensitivity (shift of the final state when the words are shuffled, relative "
     "to the distance between two unrelated questions)"),
     "1 = a shuffled question is as far as an unrelated one", "encoders"),
    ("one_word_sensitivity", "one-word-change sensitivity (same scale)", "", "encoders"),
)


def order_insensitive(metrics: dict[str, Any]) -> list[str]:
    """The encoders whose mean order sensitivity is below :data:`ORDER_INSENSITIVE`."""
    enc = metrics["encoders"]
    return [c for c in enc if fmt(enc[c]["order_sensitivity"]["mean"]) != "n/a"
            and enc[c]["order_sensitivity"]["mean"] < ORDER_INSENSITIVE]


def _insensitive_sentence(metrics: dict[str, Any]) -> list[str]:
    insensitive = order_insensitive(metrics)
    if not insensitive:
        return []
    return [(f"{', '.join(insensitive)} barely notices word order: shuffling moves its final "
            f"state by less than a tenth of the distance between unrelated questions.")]


def encoder_topic_sentences(metrics: dict[str, Any]) -> dict[str, list[str]]:
    """The encoder comparison by topic: trajectories, similarity, encoders (sensitivity)."""
    out: dict[str, list[str]] = {"trajectories": [], "similarity": [], "encoders": []}
    for key, label, meaning, topic in COMPARED:
        out[topic].append(compare_sentence(label, _encoder_stats(metrics, key), meaning))
    out["encoders"] += _insensitive_sentence(metrics)
    return out


def encoder_sentences(metrics: dict[str, Any]) -> list[str]:
    """The encoder comparison, one sentence per measure, plus word-order insensitivity."""
    return [compare_sentence(label, _encoder_stats(metrics, key), meaning)
            for key, label, meaning, _ in COMPARED] + _insensitive_sentence(metrics)


def fusion_sentences(metrics: dict[str, Any]) -> list[str]:
    """Retrieval per encoder, the summary over encoders, and the grounded reference."""
    fusion, cnn = metrics["fusion"], metrics["cnn"]
    n_images, words = fusion["n_images"], cnn_words(cnn)
    cells = list(fusion["encoders"])
    obs = [
        retrieval_sentence(f"Fusion with the {c} encoder ({words})", fusion["encoders"][c], n_images)
        for c in cells
    ]
    better = _better(metrics)
    n_questions = metrics["dataset"]["n_questions"]
    if not better:
        obs.append(
            f"Without training, the random shared space does not match questions to their images "
            f"measurably better than chance for any encoder: with {n_questions} questions about "
            f"{n_images} images the ranks are not distinguishable from random guessing (which "
            f"does not show that they are random; a larger set could detect a small effect)."
        )
    elif len(better) < len(cells):
        rest = [c for c in cells if c not in better]
        obs.append(
            f"Even without training, the random shared space matches questions to their images "
            f"better than chance for {', '.join(better)}, but not distinguishably so for "
            f"{', '.join(rest)}."
        )
    else:
        obs.append(
            "Even without training, the random shared space matches questions to their images "
            "better than chance for every encoder."
        )
    grounded = metrics.get("grounded")
    if grounded:
        obs.append(retrieval_sentence(
            f"Grounded reference (classifier label probabilities of the {words} and GloVe label "
            f"vectors vs. the question's mean word vector)", grounded, n_images))
    else:
        obs.append(
            "No grounded reference: it maps images to words through the classifier's label "
            "probabilities, which an untrained CNN does not have."
        )
    return obs


def image_similarity_sentence(metrics: dict[str, Any]) -> str | None:
    """How alike the images are before and after centring, and what the fusion uses."""
    cnn, fusion = metrics["cnn"], metrics["fusion"]
    raw, centred = cnn.get("feature_cosine_mean"), cnn.get("feature_cosine_mean_centred")
    if fmt(raw) == "n/a" or fmt(centred) == "n/a":
        return None
    M = fusion["n_images"]
    alike = ("nearly identical" if raw > NEARLY_IDENTICAL else "distinct")
    text = (
        f"As raw features ({cnn_words(cnn)}) the {M} images are {alike}: mean pairwise cosine "
        f"{fmt(raw)}; after subtracting the mean feature over the images it is {fmt(centred)} "
        f"({fmt(-1 / (M - 1))} for {M} equally different images)"
    )
    c = fusion.get("centred_features")
    if c:
        same = ("the same ranks" if c["same_ranks"] else "different ranks")
        text += (
            f". The shared space centres the image features before projecting, so retrieval "
            f"already compares centred features: recomputed from pre-centred features it gives "
            f"{same} (largest similarity change {fmt(c['max_abs_similarity_change'])})"
        )
    return text + "."


def dominance_sentence(metrics: dict[str, Any]) -> str | None:
    """Whether the image alone, not the question, decides each encoder's rankings."""
    dom = metrics["fusion"].get("image_dominance")
    if not dom:
        return None
    enc = dom["encoders"]
    cells = [c for c in enc if fmt(enc[c]["rank_agreement"]["mean"]) != "n/a"]
    if not cells:
        return None
    listed = ", ".join(
        f"{c} {fmt(enc[c]['rank_agreement']['mean'])} (same top image "
        f"{100 * enc[c]['top_image_share']['mean']:.0f}%)" for c in cells)
    decided = [c for c in cells if enc[c]["rank_agreement"]["mean"] > IMAGE_DECIDES]
    head = (
        "How much the image alone decides the ranking (Spearman correlation of a question's "
        "image ranking with the average ranking of the other questions; in brackets, how often "
        "its top image is the others' top image, chance "
        f"{100 * dom['chance_top_image_share']:.0f}%): {listed}"
    )
    if not decided:
        tail = ("; for no encoder does the image decide the ranking: the question changes which "
                "images come first")
        if any(enc[c]["rank_agreement"]["mean"] < 0 for c in cells):
            tail += (" (below 0 because the shared space centres the questions, so the other "
                     "questions' average leans the opposite way)")
    elif len(decided) == len(cells):
        tail = ("; for every encoder the image, not the question, decides most of each ranking, "
                "so a good rank says little about the question")
    else:
        tail = (f"; the image, not the question, decides most of each ranking for "
                f"{', '.join(decided)}, but not for "
                f"{', '.join(c for c in cells if c not in decided)}")
    return head + tail + "."


def region_sentence(metrics: dict[str, Any]) -> str:
    """What the region map (region_similarity.png) can show with these weights."""
    cnn = metrics["cnn"]
    if weights_status(cnn) == "imagenet-verified":
        return ("The region map compares each cell of the 7x7 feature grid of the ResNet18 with "
                "ImageNet weights with the question: where the fused question 'looks'.")
    return (f"The region map shows only the spatial bias of the {cnn_words(cnn)} (which cells "
            "respond strongly to any question), not where the question looks: that reading "
            "needs verified ImageNet weights.")


# --------------------------------------------------------------------------------------------
# Topics, findings and limitations
# --------------------------------------------------------------------------------------------

TOPICS = (  # (key, title), in the order of the report and the notebook
    ("data", "Data and CNN weights"),
    ("trajectories", "Hidden-state trajectories"),
    ("similarity", "Similarity heatmaps: within a question and between questions"),
    ("encoders", "Encoder comparison: word order and one-word changes"),
    ("fusion", "Fusion and retrieval against chance"),
    ("dominance", "Image dominance and centring"),
    ("region", "Region similarity"),
)


def topic_sentences(metrics: dict[str, Any]) -> dict[str, list[str]]:
    """The sentences of each topic, by topic key, in the order of :data:`TOPICS`."""
    by_encoder = encoder_topic_sentences(metrics)
    return {
        "data": [data_sentence(metrics), cnn_sentence(metrics)],
        "trajectories": by_encoder["trajectories"],
        "similarity": by_encoder["similarity"],
        "encoders": by_encoder["encoders"],
        "fusion": fusion_sentences(metrics),
        "dominance": [t for t in (image_similarity_sentence(metrics),
                                  dominance_sentence(metrics)) if t],
        "region": [region_sentence(metrics)],
    }


def observations(metrics: dict[str, Any]) -> list[str]:
    """The sentences of the section, computed from ``metrics`` only, topic by topic."""
    return [s for sentences in topic_sentences(metrics).values() for s in sentences]


# Priorities of the findings (lower first): the retrieval verdict and what the image features
# are (the headline and its main caveat), then results against expectation, then the largest
# effect, then confirmed expectations.
HEADLINE, SURPRISE, EFFECT, CONFIRMED = 0, 1, 2, 3


def largest_encoder_difference(metrics: dict[str, Any]) -> tuple[str, float] | None:
    """The compared measure whose highest and lowest encoder differ most, relative to the spread.

    Returns ``(metric key, ratio)`` with ratio = (highest mean - lowest mean) / (sum of their
    standard deviations); with one seed (no spread), the gap relative to the largest absolute
    mean instead. None when fewer than two encoders have a value of any measure.
    """
    best: tuple[str, float] | None = None
    n_seeds = len(metrics.get("seeds") or [])
    for key, *_ in COMPARED:
        items = [s for s in _encoder_stats(metrics, key).values() if fmt(s.get("mean")) != "n/a"]
        if len(items) < 2:
            continue
        hi = max(items, key=lambda s: s["mean"])
        lo = min(items, key=lambda s: s["mean"])
        gap = hi["mean"] - lo["mean"]
        if n_seeds >= 2:
            spread = (hi["std"] or 0.0) + (lo["std"] or 0.0)
            ratio = gap / spread if spread > 0 else (math.inf if gap > 0 else 0.0)
        else:
            scale = max(abs(hi["mean"]), abs(lo["mean"]))
            ratio = gap / scale if scale > 0 else 0.0
        if best is None or ratio > best[1]:
            best = (key, ratio)
    return best


def _largest_effect_finding(metrics: dict[str, Any]) -> tuple[int, Finding] | None:
    found = largest_encoder_difference(metrics)
    if found is None:
        return None
    key, ratio = found
    _, label, _, topic = next(c for c in COMPARED if c[0] == key)
    stats = _encoder_stats(metrics, key)
    items = sorted(((c, s) for c, s in stats.items() if fmt(s.get("mean")) != "n/a"),
                   key=lambda cs: -cs[1]["mean"])
    (hi, a), (lo, b) = items[0], items[-1]
    head = (f"Largest encoder difference, {label}: {hi} {fmt(a['mean'])} against {lo} "
            f"{fmt(b['mean'])}")
    if len(metrics.get("seeds") or []) < 2:
        return EFFECT, Finding(head + " (one seed: no spread measured).", topic)
    if ratio > 1:
        spread = "more than the seed-to-seed spread" if math.isinf(ratio) else (
            f"{ratio:.1f} times the seed-to-seed spread")
        return EFFECT, Finding(f"{head}, a gap of {spread}.", topic)
    return SURPRISE, Finding(
        f"The untrained encoders are hard to tell apart: even the largest difference ({label}, "
        f"{hi} {fmt(a['mean'])} against {lo} {fmt(b['mean'])}) is within the seed-to-seed spread.",
        topic)


def _retrieval_finding(metrics: dict[str, Any]) -> tuple[int, Finding]:
    fusion = metrics["fusion"]
    cells, better = list(fusion["encoders"]), _better(metrics)
    M, Q = fusion["n_images"], metrics["dataset"]["n_questions"]
    ranks = ", ".join(f"{c} {fmt(fusion['encoders'][c]['mean_rank']['mean'])}" for c in cells)
    chance = fmt(fusion["encoders"][cells[0]]["chance_mean_rank"])
    tail = f" (mean rank of the own image among {M}: {ranks}; chance {chance})."
    if not better:
        return HEADLINE, Finding(
            f"Without training, no encoder matches questions to their images distinguishably "
            f"better than chance with {Q} questions about {M} images" + tail, "fusion")
    untrained = weights_status(metrics["cnn"]) == "untrained"
    which = "every encoder" if len(better) == len(cells) else ", ".join(better)
    text = (f"Without training, fusion matches questions to their images better than chance for "
            f"{which} (pooled permutation p < {P_THRESHOLD:g})" + tail)
    if untrained:  # against expectation: a random CNN knows nothing of what images show
        text = text[:-1] + ", although the CNN is untrained: the match rests on pixels, not meaning."
    return (SURPRISE if untrained else HEADLINE), Finding(text, "fusion")


def _cnn_finding(metrics: dict[str, Any]) -> tuple[int, Finding]:
    status = weights_status(metrics["cnn"])
    if status == "untrained":
        return HEADLINE, Finding(
            "The image features come from an untrained CNN (no ImageNet weights found): every "
            "image-question similarity measures a random network.", "data")
    if status == "user-supplied":
        return HEADLINE, Finding(
            f"The image features come from user-supplied ResNet18 weights whose SHA-256 does not "
            f"start with {IMAGENET_HASH_PREFIX}: they are not verified as ImageNet weights.", "data")
    return CONFIRMED, Finding(
        "The image features come from ResNet18 with verified ImageNet weights (SHA-256 prefix "
        f"{IMAGENET_HASH_PREFIX}).", "data")


def _candidates(metrics: dict[str, Any]) -> list[tuple[int, Finding]]:
    """Every candidate finding with its priority (see :func:`findings`)."""
    out = [_retrieval_finding(metrics), _cnn_finding(metrics)]
    grounded = metrics.get("grounded")
    if grounded and better_than_chance(grounded) and not _better(metrics):
        out.append((EFFECT, Finding(
            f"The grounded reference (classifier labels and GloVe, no RNN) ranks the own image "
            f"{fmt(grounded['mean_rank']['mean'])} on average (chance "
            f"{fmt(grounded['chance_mean_rank'])}), better than chance where no untrained "
            f"encoder is.", "fusion")))
    dom = metrics["fusion"].get("image_dominance")
    if dom:
        enc = dom["encoders"]
        decided = [c for c in enc if fmt(enc[c]["rank_agreement"]["mean"]) != "n/a"
                   and enc[c]["rank_agreement"]["mean"] > IMAGE_DECIDES]
        if decided:
            out.append((SURPRISE, Finding(
                f"The image, not the question, decides most of each ranking for "
                f"{', '.join(decided)} (rank agreement above {IMAGE_DECIDES:g}): a good rank "
                f"there says little about the question.", "dominance")))
    raw = metrics["cnn"].get("feature_cosine_mean")
    centred = metrics["cnn"].get("feature_cosine_mean_centred")
    if fmt(raw) != "n/a" and fmt(centred) != "n/a" and raw > NEARLY_IDENTICAL:
        out.append((SURPRISE, Finding(
            f"As raw features the images are nearly identical (mean pairwise cosine {fmt(raw)}); "
            f"only after centring do they differ (mean cosine {fmt(centred)}), which the shared "
            f"space does before comparing.", "dominance")))
    insensitive = order_insensitive(metrics)
    if insensitive:
        out.append((SURPRISE, Finding(
            f"{', '.join(insensitive)} barely notices word order (order sensitivity below "
            f"{ORDER_INSENSITIVE:g}).", "encoders")))
    effect = _largest_effect_finding(metrics)
    if effect is not None:
        out.append(effect)
    if weights_status(metrics["cnn"]) != "imagenet-verified":
        out.append((CONFIRMED, Finding(
            "The region map shows only the CNN's spatial bias, not where a question looks "
            "(that needs verified ImageNet weights).", "region")))
    return out


def findings(metrics: dict[str, Any]) -> list[Finding]:
    """The 3 to 6 key findings of Q3, chosen by rule from the measurements.

    Candidates and their priorities: the retrieval verdict (always; against expectation when
    an untrained CNN matches better than chance) and what the image features are (a headline
    unless the weights are verified ImageNet); then results against expectation: the image
    deciding an encoder's rankings (rank agreement above :data:`IMAGE_DECIDES`), raw image
    features nearly identical (mean cosine above :data:`NEARLY_IDENTICAL`), an encoder that
    barely notices word order (below :data:`ORDER_INSENSITIVE`), encoders indistinguishable
    (their largest difference within the seed-to-seed spread); then the largest effect (the
    measure where the encoders differ most relative to the spread,
    :func:`largest_encoder_difference`; the grounded reference better than chance where no
    encoder is); then confirmed expectations (the region map is spatial bias without verified
    ImageNet weights; verified weights). The first :data:`MAX_FINDINGS` by priority are kept,
    in candidate order within a priority; the retrieval verdict, the weights and the largest
    effect or the region map always give at least three.
    """
    return top_findings(_candidates(metrics))



def limitations(metrics: dict[str, Any], config: Any = None) -> list[str]:
    """What limits Q3's results, each a short phrase (empty: nothing does)."""
    out = []
    status = weights_status(metrics["cnn"])
    if status == "untrained":
        out.append("CNN untrained: no verified ImageNet weights found, image features come from "
                   "a random ResNet18")
    elif status == "user-supplied":
        out.append(f"CNN weights user-supplied, not verified as ImageNet (SHA-256 does not start "
                   f"with {IMAGENET_HASH_PREFIX})")
    data = metrics["dataset"]
    if data["name"] == "demo":
        out.append(f"demo set instead of VQA v2: {data['n_questions']} questions about "
                   f"{data['n_images']} shipped photographs")
    elif setting(config, "limit") is not None:
        out.append(f"{data['name']} subset: the first {data['n_questions']} questions "
                   f"({data['n_images']} images)")
    if setting(config, "profile") == "quick":
        out.append("quick profile: tiny settings, numbers are not meaningful")
    return out


# --------------------------------------------------------------------------------------------
# Captions
# --------------------------------------------------------------------------------------------


def image_caption(cnn: dict[str, Any], n_images: int, n_shown: int) -> str:
    head = f"The {n_images} images" if n_shown == n_images else (
        f"The first {n_shown} of {n_images} images")
    status = weights_status(cnn)
    if status == "imagenet-verified":
        tail = "top ImageNet label of the ResNet18 with ImageNet weights under each image."
    elif status == "user-supplied":
        tail = (f"top label of the classifier of the {STATUS_LABELS[status]} under each image.")
    else:
        tail = "no ImageNet labels shown: untrained CNN."
    return f"{head} and their number of questions; {tail}"


def image_grid_heading(cnn: dict[str, Any]) -> str:
    status = weights_status(cnn)
    if status == "imagenet-verified":
        return "ImageNet top-1 label under each image"
    if status == "user-supplied":
        return "top-1 label of user-supplied weights, not verified as ImageNet"
    return "untrained CNN: no ImageNet labels"


def subset_words(n_images: int, n_shown: int) -> str:
    return "" if n_shown == n_images else (
        f" (the first {n_shown} of {n_images} images and their questions)")


def captions(metrics: dict[str, Any], n_shown_images: int, n_heatmap_questions: int) -> dict[str, str]:
    """The caption of every Q3 figure, by figure name."""
    cnn, seeds = metrics["cnn"], metrics["seeds"]
    M = metrics["fusion"]["n_images"]
    tag = f"({cnn_words(cnn)})"
    subset = subset_words(M, n_shown_images)
    out = {
        "images": image_caption(cnn, M, n_shown_images),
        "pca_trajectories": (
            "Hidden-state trajectories of example questions in the first two principal components "
            "(one PCA basis per encoder, fitted on the states of all questions; "
            f"seed {seeds[0]}); arrows follow word order, grey dots are all states."),
        "word_similarity": ("Cosine similarity between the hidden states after each word of a "
                            f"question, per encoder (seed {seeds[0]})."),
        "question_similarity": (
            "Cosine similarity between the final states (question embeddings)"
            f" of {n_heatmap_questions} questions, grouped by image, per encoder (seed {seeds[0]})."),
        "norm_growth": ("Hidden-state norm ||h_t|| against word position (mean and standard "
                        "deviation over the questions that reach that position; "
                        f"seed {seeds[0]})."),
        "encoder_metrics": ("The measures behind the encoder comparison: mean and standard "
                            f"deviation over {len(seeds)} initialisation seeds."),
        "fusion_heatmap": (f"Image-question cosine similarity in the shared space {tag}, per "
                           f"encoder{subset}; boxes mark each question's own image. "
                           f"Map: {FUSION_MAP}"),
        "fusion_bars": (f"Cosine similarity of example questions with every image{subset} {tag}, "
                        "per encoder; the question's own image is outlined in black."),
        "retrieval": (
            f"Rank of each question's own image among the {M} images (mean and spread over seeds) "
            f"and top-1 rate, against chance (dashed) {tag}"
            + ("; the grounded reference uses the classifier's labels and GloVe."
               if metrics.get("grounded") else ".")),
        "region_similarity": (f"Cosine of each cell of the 7x7 ResNet18 feature grid {tag} with "
                              "the question, in the same shared space: "
                              + ("where in the image the fused question 'looks'."
                                 if weights_status(cnn) == "imagenet-verified" else
                                 "only the network's spatial bias, not where the question looks "
                                 "(that needs verified ImageNet weights).")),
        "grounded_heatmap": f"Grounded reference{subset} {tag}: {GROUNDED_MAP}.",
    }
    tsne = metrics.get("tsne")
    if tsne:
        out["tsne"] = (
            f"t-SNE of the hidden states ({tsne['n_points']} states of {tsne['n_questions']} "
            f"questions; perplexity {tsne['perplexity']:.0f} adapted to the number of points, "
            f"seed {tsne['seed']}), coloured by word position; two example questions are "
            "connected.")
    return out
