"""Q3's on-disk feature cache: a re-run reads the features back, bitwise the same; a corrupt
entry is reported and recomputed, never used."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from rnnlab.errors import DataError
from rnnlab.experiments import q3
from rnnlab.experiments.base import RunContext
from rnnlab.models import cnn


@pytest.fixture
def counted(monkeypatch, tmp_path):
    """Offline, with a counter of the images the CNN actually computes."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be used in tests")

    monkeypatch.setattr(cnn, "server_reachable", no_network)
    monkeypatch.setattr(cnn, "download_weights", no_network)
    computed = []
    extract = cnn.extract_features

    def counting(model, images, *args, **kwargs):
        computed.append(len(images))
        return extract(model, images, *args, **kwargs)

    monkeypatch.setattr(cnn, "extract_features", counting)
    return computed


def _measure(tmp_path):
    config = q3.build_config("quick", 0, {"limit": 10, "no_download": True})
    config = dataclasses.replace(config, n_seeds=1, n_permutations=50, cells=("GRU",))
    ctx = RunContext(out_dir=tmp_path / "q3", profile="quick", progress=False)
    metrics = q3.measure(config, ctx)
    metrics.pop("timings")
    return json.dumps(metrics, sort_keys=True), ctx.out_dir / q3.FEATURE_CACHE_DIR


def _arrays(folder):
    with np.load(folder / q3.ARRAYS_FILE, allow_pickle=False) as saved:
        return {k: saved[k] for k in saved.files}


def test_second_run_reads_the_cache_and_measures_the_same(counted, tmp_path, capsys):
    first, cache = _measure(tmp_path)
    n_images = sum(counted)
    assert n_images >= 2 and len(list(cache.glob("*.npz"))) == n_images
    arrays = _arrays(tmp_path / "q3")
    counted.clear()
    second, _ = _measure(tmp_path)
    assert counted == []  # nothing computed: every image came from the cache
    assert second == first
    again = _arrays(tmp_path / "q3")
    assert all(np.array_equal(arrays[k], again[k]) for k in arrays)
    assert "warning" not in capsys.readouterr().err

    # a corrupt entry is detected, reported in one line and recomputed
    victim = min(cache.glob("*.npz"))
    victim.write_bytes(victim.read_bytes()[:-40] + b"x" * 40)
    counted.clear()
    third, _ = _measure(tmp_path)
    assert sum(counted) >= 1 and third == first
    err = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    assert len(err) == 1 and "corrupt feature cache entry" in err[0]


def _one(seed=0):
    rng = np.random.default_rng(seed)
    return cnn.ImageFeatures(rng.random((1, 4), dtype=np.float32),
                             rng.random((1, 2, 2, 4), dtype=np.float32),
                             rng.random((1, 3), dtype=np.float32), from_file=False)


def test_cache_entry_round_trip_is_bitwise(tmp_path):
    one = _one()
    path = cnn.save_cached_features(tmp_path / "k.npz", one, "k")
    back = cnn.load_cached_features(path, "k", from_file=False)
    for name in cnn.CACHE_ARRAYS:
        assert getattr(back, name).tobytes() == getattr(one, name).tobytes()
    assert not list(tmp_path.glob(".*.tmp"))  # written atomically, no stray temporary


def test_changed_array_bytes_are_refused(tmp_path):
    import io

    one = _one()
    path = cnn.save_cached_features(tmp_path / "k.npz", one, "k")
    with np.load(path, allow_pickle=False) as saved:
        arrays = {k: saved[k] for k in saved.files}
    arrays["pooled"] = arrays["pooled"] + np.float32(1e-3)  # a valid file with wrong numbers
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(DataError, match="do not match their stored SHA-256"):
        cnn.load_cached_features(path, "k", from_file=False)
    with pytest.raises(DataError, match="another key"):
        cnn.load_cached_features(cnn.save_cached_features(path, one, "k"), "other", False)
    path.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="cannot read"):
        cnn.load_cached_features(path, "k", from_file=False)


def test_the_key_depends_on_pixels_weights_and_seed():
    image = np.zeros((4, 5, 3), dtype=np.uint8)
    other = image.copy()
    other[0, 0, 0] = 1
    untrained = cnn.WeightsInfo("untrained", "untrained", seed=0)
    h = cnn.image_sha256(image)
    assert h != cnn.image_sha256(other)
    assert h == cnn.image_sha256(image.copy())
    key = cnn.feature_cache_key(h, untrained)
    assert key == cnn.feature_cache_key(h, untrained)
    assert key != cnn.feature_cache_key(h, dataclasses.replace(untrained, seed=1))
    assert key != cnn.feature_cache_key(h, untrained, device="cuda")
    assert cnn.weights_key(untrained) == "untrained-0"
    from_file = cnn.WeightsInfo("user-supplied", "explicit", "w.pth", "ab" * 32)
    assert cnn.weights_key(from_file) == "ab" * 32
