"""Q3 image side: ResNet18 weights resolution (no network), loading, features, labelling."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from rnnlab.errors import DataError, ShapeError
from rnnlab.models import cnn


@pytest.fixture()
def torch_home(tmp_path, monkeypatch):
    """An empty torch home; the network is never touched (any attempt fails the test)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(*args, **kwargs):
        raise AssertionError("the network must not be used in tests")

    monkeypatch.setattr(cnn, "server_reachable", no_network)
    monkeypatch.setattr(cnn, "download_weights", no_network)
    return tmp_path / "torch"


def write_hub_file(torch_home, payload=None):
    path = torch_home / "hub" / "checkpoints" / cnn.RESNET18_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(payload if payload is not None else {"fc.bias": torch.zeros(3)}, path)
    return path


@pytest.fixture(scope="module")
def resnet_state(tmp_path_factory):
    """A full ResNet18 state dict (random weights) saved like torchvision's file."""
    from torchvision.models import resnet18

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "resnet18-random.pth"
    torch.save(resnet18(weights=None).state_dict(), path)
    return path


def test_hub_path_follows_torch_home(torch_home):
    assert cnn.hub_checkpoint_path() == torch_home / "hub" / "checkpoints" / cnn.RESNET18_FILE


def test_nothing_found_gives_untrained_only_when_allowed(torch_home):
    info = cnn.resolve_weights(allow_download=False, allow_untrained=True, seed=3)
    assert info.status == "untrained" and not info.pretrained and not info.from_file
    assert info.source == "untrained" and info.path is None
    assert info.sha256 is None and info.seed == 3
    assert any("hub cache" in t for t in info.tried) and "download: not allowed" in info.tried
    assert cnn.UNTRAINED_LABEL in info.describe()
    with pytest.raises(
        DataError, match="expected ResNet18 ImageNet weights.*--cnn-fallback untrained"
    ):
        cnn.resolve_weights(allow_download=False, allow_untrained=False)


def test_hub_cache_is_used_before_download(torch_home):
    path = write_hub_file(torch_home)
    info = cnn.resolve_weights(allow_download=True, allow_untrained=False)  # no network touched
    assert info.source == "hub-cache" and info.path == str(path)
    # the file name alone proves nothing: its SHA-256 does not start with f37072fd
    assert info.status == "user-supplied" and not info.pretrained and info.from_file
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_explicit_path_wins_over_hub_cache(torch_home, tmp_path):
    write_hub_file(torch_home)
    mine = tmp_path / "mine.pth"
    torch.save({"fc.bias": torch.ones(2)}, mine)
    info = cnn.resolve_weights(mine, allow_download=False)
    assert info.source == "explicit" and info.path == str(mine.resolve())
    assert info.sha256 == hashlib.sha256(mine.read_bytes()).hexdigest()
    with pytest.raises(DataError, match="expected a weights file at --cnn-weights"):
        cnn.resolve_weights(tmp_path / "missing.pth", allow_download=False)


def test_download_step_when_allowed(torch_home, monkeypatch):
    monkeypatch.setattr(cnn, "server_reachable", lambda *a, **k: False)
    info = cnn.resolve_weights(allow_download=True)
    assert not info.pretrained and any("not reachable" in t for t in info.tried)

    def fake_download(target, url=cnn.RESNET18_URL, progress=False):
        target.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"fc.bias": torch.zeros(1)}, target)

    monkeypatch.setattr(cnn, "server_reachable", lambda *a, **k: True)
    monkeypatch.setattr(cnn, "download_weights", fake_download)
    info = cnn.resolve_weights(allow_download=True)
    assert info.status == "user-supplied" and info.source == "download"
    assert info.path == str(cnn.hub_checkpoint_path())


def test_state_dict_files(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.arange(3.0)}, str(tmp_path / "w.safetensors"))
    assert torch.equal(cnn.load_state_dict_file(tmp_path / "w.safetensors")["w"], torch.arange(3.0))
    torch.save({"state_dict": {"w": torch.ones(2)}}, tmp_path / "wrapped.pth")
    assert set(cnn.load_state_dict_file(tmp_path / "wrapped.pth")) == {"w"}
    (tmp_path / "junk.pth").write_bytes(b"junk")
    with pytest.raises(DataError, match="expected a state dict"):
        cnn.load_state_dict_file(tmp_path / "junk.pth")


def test_a_state_dict_that_does_not_fit_is_an_error(tmp_path):
    path = tmp_path / "small.pth"
    torch.save({"fc.bias": torch.zeros(3)}, path)
    info = cnn.WeightsInfo("user-supplied", "explicit", str(path), "x")
    with pytest.raises(DataError, match=r"does not fit: 121 missing keys \(first: conv1.weight\); 1 wrong shapes") as err:
        cnn.build_resnet18(info)
    assert "\n" not in str(err.value) and str(path) in str(err.value)
    from torchvision.models import resnet18

    torch.save({**resnet18(weights=None).state_dict(), "extra.weight": torch.zeros(1)}, path)
    with pytest.raises(DataError, match="fit: 1 unexpected keys \\(first: extra.weight\\)$"):
        cnn.build_resnet18(info)


def test_untrained_features_are_labelled_untrained():
    info = cnn.WeightsInfo(status="untrained", source="untrained", seed=0)
    model = cnn.build_resnet18(info)
    images = [np.zeros((40, 60, 3), np.uint8), np.full((80, 50, 3), 200, np.uint8)]
    feats = cnn.extract_features(model, images, info.from_file)
    assert feats.pooled.shape == (2, 512) and feats.grid.shape == (2, 7, 7, 512)
    assert feats.probs.shape == (2, 1000)
    np.testing.assert_allclose(feats.pooled, feats.grid.mean(axis=(1, 2)), atol=1e-5)
    assert not feats.from_file
    assert cnn.cnn_label(info.status) == "untrained CNN"
    with pytest.raises(DataError, match="untrained CNN"):
        feats.top_k(5)
    with pytest.raises(ShapeError, match=r"\(H, W, 3\) uint8"):
        cnn.extract_features(model, [np.zeros((4, 4))], False)


def test_weights_from_a_file_give_top5_labels(resnet_state):
    info = cnn.resolve_weights(resnet_state, allow_download=False)
    model = cnn.build_resnet18(info)
    feats = cnn.extract_features(model, [np.zeros((32, 32, 3), np.uint8)], info.from_file)
    top = feats.top_k(5)[0]
    assert len(top) == 5 and all(name in cnn.imagenet_categories() for name, _ in top)
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True)
    assert info.status == "user-supplied" and not info.pretrained
    assert cnn.cnn_label(info.status) == cnn.USER_SUPPLIED_LABEL
    assert cnn.cnn_label("imagenet-verified") == cnn.PRETRAINED_LABEL


def test_random_resnet18_file_loads_labelled_user_supplied(resnet_state):
    info = cnn.resolve_weights(resnet_state, allow_download=False)
    assert info.status == "user-supplied" and not info.pretrained
    assert "not verified as ImageNet" in info.describe()
    cnn.build_resnet18(info)  # loads


def test_status_is_verified_only_by_the_sha256_prefix():
    assert cnn.weights_status("f37072fd" + "0" * 56) == "imagenet-verified"
    assert cnn.weights_status("F37072FD" + "0" * 56) == "imagenet-verified"
    assert cnn.weights_status("f37072fe" + "0" * 56) == "user-supplied"
    assert cnn.weights_status("0" * 64) == "user-supplied"


def test_verified_when_the_file_hash_matches(tmp_path, monkeypatch):
    path = tmp_path / "w.pth"
    torch.save({"w": torch.ones(1)}, path)
    monkeypatch.setattr(cnn, "sha256_of", lambda p: "f37072fd" + "ab" * 28)
    info = cnn.resolve_weights(path, allow_download=False)
    assert info.status == "imagenet-verified" and info.pretrained
    assert info.describe().startswith(cnn.PRETRAINED_LABEL)


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused(tmp_path, bad):
    from torchvision.models import resnet18

    state = resnet18(weights=None).state_dict()
    state = {k: torch.full_like(v, bad) if v.is_floating_point() else v for k, v in state.items()}
    path = tmp_path / "nan.pth"
    torch.save(state, path)
    info = cnn.resolve_weights(path, allow_download=False)
    with pytest.raises(DataError, match="expected finite weights in .*nan.pth") as err:
        cnn.build_resnet18(info)
    assert "\n" not in str(err.value)


def test_a_pickled_object_is_one_line_without_torch_advice(tmp_path):
    import pickle

    path = tmp_path / "obj.pth"
    with open(path, "wb") as handle:
        pickle.dump({"w": ValueError("not a tensor")}, handle)
    with pytest.raises(DataError, match="expected a state dict in") as err:
        cnn.load_state_dict_file(path)
    text = str(err.value)
    assert "\n" not in text and "weights_only=False" not in text
