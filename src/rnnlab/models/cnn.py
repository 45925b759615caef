"""ResNet18 image features: the 512-d pooled vector and the 7x7x512 grid before pooling.

Which weights are used, in this order (:func:`resolve_weights`):

1. ``--cnn-weights PATH``: a state dict saved with ``torch.save`` (read with
   ``weights_only=True``) or a ``.safetensors`` file. A path that does not exist is an error.
2. The torch hub cache: ``$TORCH_HOME/hub/checkpoints/resnet18-f37072fd.pth``
   (``torch.hub.get_dir()``), where torchvision keeps ``ResNet18_Weights.IMAGENET1K_V1``.
3. A download of that file into the hub cache, when allowed and the server answers.
4. An untrained ResNet18 (seeded random initialisation), only when allowed.

Weights are called ImageNet weights only when verified. torchvision names its weight files
``<model>-<first 8 hex digits of the file's SHA-256>.pth``; for ResNet18 that is
``resnet18-f37072fd.pth``, and ``torch.hub``'s ``check_hash`` verifies exactly this prefix on
download. :func:`resolve_weights` computes the SHA-256 of whatever file it uses and gives it the
status (:attr:`WeightsInfo.status`):

- ``"imagenet-verified"``: the SHA-256 starts with ``f37072fd`` (torchvision's
  ``ResNet18_Weights.IMAGENET1K_V1``), wherever the file came from;
- ``"user-supplied"``: any other loadable file (a file in the hub cache included: a name is not a
  proof). Its classifier's labels are shown, but never called ImageNet-trained;
- ``"untrained"``: no file; every use of its features says "untrained CNN".

:func:`cnn_label` gives the words every caption and sentence uses for each status.

Images get torchvision's standard ImageNet preprocessing (resize to 256, centre crop 224,
normalise with the ImageNet mean and std), whatever the weights.
"""

from __future__ import annotations

import hashlib
import socket
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from rnnlab.errors import DataError, ShapeError

RESNET18_FILE = "resnet18-f37072fd.pth"
RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"
RESNET18_HASH_PREFIX = "f37072fd"  # torchvision's file names carry the SHA-256 prefix
FEATURE_DIM = 512
GRID_SIZE = 7
PRETRAINED_LABEL = "ResNet18 with ImageNet weights"
USER_SUPPLIED_LABEL = "ResNet18 with user-supplied weights, not verified as ImageNet"
UNTRAINED_LABEL = "untrained CNN"
VERIFIED, USER_SUPPLIED, UNTRAINED = "imagenet-verified", "user-supplied", "untrained"
WEIGHTS_STATUSES = (VERIFIED, USER_SUPPLIED, UNTRAINED)
STATUS_LABELS = {
    VERIFIED: PRETRAINED_LABEL,
    USER_SUPPLIED: USER_SUPPLIED_LABEL,
    UNTRAINED: UNTRAINED_LABEL,
}


@dataclass(frozen=True)
class WeightsInfo:
    """Which ResNet18 weights were used and where they came from.

    Attributes
    ----------
    status : {"imagenet-verified", "user-supplied", "untrained"}
        See the module docstring: ImageNet only when the file's SHA-256 prefix matches.
    source : {"explicit", "hub-cache", "download", "untrained"}
    path : str or None
        The weights file (None when untrained).
    sha256 : str or None
        SHA-256 of the weights file.
    tried : tuple of str
        What was tried before, in order, with the reason it was not used.
    seed : int
        Seed of the random initialisation (used when untrained).
    """

    status: str
    source: str
    path: str | None = None
    sha256: str | None = None
    tried: tuple[str, ...] = field(default_factory=tuple)
    seed: int = 0

    @property
    def pretrained(self) -> bool:
        """Verified ImageNet weights (the SHA-256 prefix of torchvision's file)."""
        return self.status == VERIFIED

    @property
    def from_file(self) -> bool:
        """Weights read from a file (verified or not): the classifier has labels to show."""
        return self.status != UNTRAINED

    def describe(self) -> str:
        """One line for the report's settings."""
        if self.from_file:
            return f"{cnn_label(self.status)} ({self.source}: {self.path})"
        return (
            f"{UNTRAINED_LABEL}: ResNet18 with random weights (seed {self.seed}); no ImageNet "
            f"weights found ({'; '.join(self.tried) or 'none tried'})"
        )


def cnn_label(status: str) -> str:
    """The words every figure title, caption and observation uses for the image features.

    ``status`` is a :attr:`WeightsInfo.status` (see the module docstring).
    """
    if status not in STATUS_LABELS:
        raise DataError(f"expected a weights status in {WEIGHTS_STATUSES}, found {status!r}")
    return STATUS_LABELS[status]


def weights_status(sha256: str) -> str:
    """``"imagenet-verified"`` when ``sha256`` starts with torchvision's prefix, else
    ``"user-supplied"`` (the prefix is what ``torch.hub``'s ``check_hash`` verifies)."""
    return VERIFIED if sha256.lower().startswith(RESNET18_HASH_PREFIX) else USER_SUPPLIED


def _from_file(path: Path, source: str, tried: Sequence[str], seed: int) -> WeightsInfo:
    digest = sha256_of(path)
    return WeightsInfo(weights_status(digest), source, str(path), digest, tuple(tried), seed)


def hub_checkpoint_path() -> Path:
    """Where torchvision keeps the ResNet18 ImageNet weights: ``<hub dir>/checkpoints/<file>``.

    ``torch.hub.get_dir()`` honours ``$TORCH_HOME`` (``$TORCH_HOME/hub``).
    """
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / RESNET18_FILE


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def server_reachable(url: str = RESNET18_URL, timeout: float = 5.0) -> bool:
    """Whether a TCP connection to the host of ``url`` opens within ``timeout`` seconds.

    Name resolution runs in a daemon thread, so a hanging DNS lookup cannot block the run.
    """
    parsed = urlparse(url)
    host, port = parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)
    if not host:
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                result.append(True)
        except OSError:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout)
    return bool(result and result[0])


def download_weights(target: Path, url: str = RESNET18_URL, progress: bool = False) -> None:
    """Download the ImageNet weights into ``target`` (hash prefix checked by torch.hub)."""
    import torch

    target.parent.mkdir(parents=True, exist_ok=True)
    torch.hub.download_url_to_file(
        url, str(target), hash_prefix=RESNET18_HASH_PREFIX, progress=progress
    )


def resolve_weights(
    cnn_weights: str | Path | None = None,
    allow_download: bool = True,
    allow_untrained: bool = True,
    seed: int = 0,
    progress: bool = False,
) -> WeightsInfo:
    """Find the ResNet18 weights in the documented order (see the module docstring).

    Parameters
    ----------
    cnn_weights : path, optional
        An explicit weights file; it must exist.
    allow_download : bool
        Try to download the ImageNet weights into the hub cache when they are not there.
        Tests pass False so that the network is never touched.
    allow_untrained : bool
        Fall back to an untrained ResNet18 when no weights are found.
    seed : int
        Seed of the untrained network's initialisation.

    Raises
    ------
    DataError
        When ``cnn_weights`` does not exist, or nothing was found and untrained is not allowed.
    """
    tried: list[str] = []
    if cnn_weights is not None:
        path = Path(cnn_weights).expanduser()
        if not path.is_file():
            raise DataError(f"expected a weights file at --cnn-weights {path}, found none")
        return _from_file(path.resolve(), "explicit", (), seed)
    cached = hub_checkpoint_path()
    if cached.is_file():
        return _from_file(cached, "hub-cache", (), seed)
    tried.append(f"hub cache {cached}: not found")
    if allow_download:
        if server_reachable():
            try:
                download_weights(cached, progress=progress)
                return _from_file(cached, "download", tried, seed)
            except Exception as exc:  # noqa: BLE001 - network errors come in many types
                tried.append(f"download {RESNET18_URL}: {type(exc).__name__}: {exc}")
        else:
            tried.append(f"download {RESNET18_URL}: server not reachable (offline)")
    else:
        tried.append("download: not allowed")
    if not allow_untrained:
        raise DataError(
            "expected ResNet18 ImageNet weights (--cnn-weights PATH, or "
            f"{cached}), found none ({'; '.join(tried)}); pass --cnn-fallback untrained to run "
            "with an untrained CNN"
        )
    return WeightsInfo(UNTRAINED, "untrained", None, None, tuple(tried), seed)


def _one_line_load_error(exc: Exception) -> str:
    """A one-line reason from torch.load's (often multi-line, advice-giving) error."""
    import pickle

    if isinstance(exc, pickle.UnpicklingError) or "weights_only" in str(exc):
        return (
            "a file that is not a plain state dict of tensors (refused by "
            "torch.load(weights_only=True), which runs no code from the file)"
        )
    first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
    why = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return f"a file torch.save did not write (torch.load could not read it: {why})"


def load_state_dict_file(path: str | Path) -> dict:
    """Read a state dict from ``.safetensors`` or a ``torch.save`` file (``weights_only=True``).

    A checkpoint that wraps the weights in ``{"state_dict": ...}`` or ``{"model": ...}`` is
    unwrapped. Pickled code is never run: ``.pth`` files are read with ``weights_only=True``.

    Raises
    ------
    DataError
        One line naming the file: when it cannot be read as a dict of tensors, or when a tensor
        holds NaN or infinity.
    """
    import torch

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling and format errors have many types
        raise DataError(
            f"expected a state dict in {path}, found {_one_line_load_error(exc)}"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise DataError(f"expected a dict of tensors in {path}, found {type(state).__name__}")
    bad = [
        k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        raise DataError(
            f"expected finite weights in {path}, found NaN or infinity in {len(bad)} tensor(s) "
            f"(first: {bad[0]})"
        )
    return state


def _misfit(expected: dict, state: dict) -> str:
    """Why ``state`` does not fit the model's ``expected`` state dict (one line), or ""."""
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    shapes = [
        f"{k} {tuple(state[k].shape)} instead of {tuple(v.shape)}"
        for k, v in expected.items()
        if k in state and tuple(state[k].shape) != tuple(v.shape)
    ]
    parts = []
    for what, items in (("missing keys", missing), ("unexpected keys", unexpected),
                        ("wrong shapes", shapes)):
        if items:
            parts.append(f"{len(items)} {what} (first: {items[0]})")
    return "; ".join(parts)


def build_resnet18(weights: WeightsInfo):
    """A ResNet18 in eval mode with the resolved weights (seeded random ones when untrained).

    Raises
    ------
    DataError
        One line, when the weights file does not fit ResNet18 (missing or unexpected keys, wrong
        shapes) or cannot be read (see :func:`load_state_dict_file`).
    """
    import torch
    from torchvision.models import resnet18

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(weights.seed)
        model = resnet18(weights=None)
    if weights.path is not None:
        state = load_state_dict_file(weights.path)
        why = _misfit(model.state_dict(), state)
        if why:
            raise DataError(
                f"expected ResNet18 weights in {weights.path}, found a state dict that does not "
                f"fit: {why}"
            )
        model.load_state_dict(state, strict=True)
    return model.eval()


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names from torchvision's weights metadata."""
    from torchvision.models import ResNet18_Weights

    return list(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])


@dataclass(frozen=True)
class ImageFeatures:
    """ResNet18 features of N images.

    Attributes
    ----------
    pooled : (N, 512) float32
        Global average of the grid (the input of the classifier).
    grid : (N, 7, 7, 512) float32
        The last convolutional block's output, channels last.
    probs : (N, 1000) float32
        Softmax over the classifier's 1000 classes (meaningless when ``from_file`` is False).
    from_file : bool
        The weights came from a file (ImageNet-verified or user-supplied), so the classifier's
        labels mean what that file's classifier learned.
    """

    pooled: np.ndarray
    grid: np.ndarray
    probs: np.ndarray
    from_file: bool

    def top_k(self, k: int = 5) -> list[list[tuple[str, float]]]:
        """The k most probable ImageNet labels of each image, ``[(label, prob), ...]``.

        Raises
        ------
        DataError
            When the CNN is untrained (its labels mean nothing).
        """
        if not self.from_file:
            raise DataError(
                f"expected ImageNet weights for top-{k} labels, found an {UNTRAINED_LABEL}"
            )
        names = imagenet_categories()
        order = np.argsort(-self.probs, axis=1)[:, :k]
        return [[(names[j], float(p[j])) for j in row] for row, p in zip(order, self.probs)]


def concat_features(parts: Sequence[ImageFeatures]) -> ImageFeatures:
    """Join the features of consecutive batches of images (all with the same weights)."""
    if not parts:
        raise ShapeError("expected at least one batch of features, found none")
    return ImageFeatures(
        pooled=np.concatenate([p.pooled for p in parts]),
        grid=np.concatenate([p.grid for p in parts]),
        probs=np.concatenate([p.probs for p in parts]),
        from_file=parts[0].from_file,
    )


def preprocess(images: Sequence[np.ndarray]):
    """Torchvision's ImageNet preprocessing of ``(H, W, 3)`` uint8 images -> ``(N, 3, 224, 224)``."""
    import torch
    from torchvision.models import ResNet18_Weights

    transform = ResNet18_Weights.IMAGENET1K_V1.transforms()
    batch = []
    for image in images:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ShapeError(f"expected (H, W, 3) uint8 images, found {image.shape} {image.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)  # (3, H, W)
        batch.append(transform(tensor))
    return torch.stack(batch)  # (N, 3, 224, 224)


def extract_features(
    model, images: Sequence[np.ndarray], from_file: bool, batch_size: int = 16, device: str = "cpu"
) -> ImageFeatures:
    """Run ResNet18 up to the pooled features and the classifier.

    Parameters
    ----------
    model : torchvision ResNet
    images : sequence of (H, W, 3) uint8 arrays
    from_file : bool
        Recorded in the result, so every later use knows whether to say "untrained CNN".
    """
    import torch

    if len(images) == 0:
        raise ShapeError("expected at least one image, found none")
    model = model.to(device).eval()
    pooled, grids, probs = [], [], []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = preprocess(images[start : start + batch_size]).to(device)  # (B, 3, 224, 224)
            x = model.maxpool(model.relu(model.bn1(model.conv1(x))))
            x = model.layer4(model.layer3(model.layer2(model.layer1(x))))  # (B, 512, 7, 7)
            v = torch.flatten(model.avgpool(x), 1)  # (B, 512): mean over the 7x7 grid
            logits = model.fc(v)  # (B, 1000)
            grids.append(x.permute(0, 2, 3, 1).cpu().numpy())  # (B, 7, 7, 512)
            pooled.append(v.cpu().numpy())
            probs.append(torch.softmax(logits, dim=1).cpu().numpy())
    return ImageFeatures(
        pooled=np.concatenate(pooled).astype(np.float32),
        grid=np.concatenate(grids).astype(np.float32),
        probs=np.concatenate(probs).astype(np.float32),
        from_file=from_file,
    )


# --------------------------------------------------------------------------------------------
# Feature cache: one .npz per (image content, weights, device, library versions)
# --------------------------------------------------------------------------------------------

FEATURE_CACHE_VERSION = 1  # raise when preprocessing or extraction changes the numbers
CACHE_ARRAYS = ("pooled", "grid", "probs")


def image_sha256(image: np.ndarray) -> str:
    """Hex SHA-256 of a loaded image's pixels, shape and dtype (the image's content key)."""
    image = np.ascontiguousarray(image)
    digest = hashlib.sha256(f"{image.shape}|{image.dtype.str}|".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


def weights_key(weights: WeightsInfo) -> str:
    """What fixes the network's weights: the file's SHA-256, or ``"untrained-<seed>"`` for the
    seeded random initialisation (:func:`build_resnet18` seeds it with ``weights.seed``)."""
    return weights.sha256 if weights.sha256 else f"untrained-{weights.seed}"


def feature_cache_key(image_hash: str, weights: WeightsInfo, device: str = "cpu") -> str:
    """The cache key of one image's features: SHA-256 over everything that fixes the numbers.

    The image content, the weights (:func:`weights_key`), the device type (CPU and CUDA
    kernels round differently), the torch and torchvision versions and
    :data:`FEATURE_CACHE_VERSION`.
    """
    import torch
    import torchvision

    parts = (f"v{FEATURE_CACHE_VERSION}", image_hash, weights_key(weights),
             str(device).split(":")[0], torch.__version__, torchvision.__version__)
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def _checksum(arrays: Sequence[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        digest.update(f"{a.shape}|{a.dtype.str}|".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def save_cached_features(path: str | Path, features: ImageFeatures, key: str) -> Path:
    """Write the features of ONE image (``features`` with N = 1) to ``path`` atomically.

    The file is an ``.npz`` of plain arrays (no pickle): ``pooled (512,)``, ``grid (7, 7,
    512)``, ``probs (1000,)``, the ``key`` and a SHA-256 ``checksum`` of the array bytes.
    """
    import io

    from rnnlab.results import atomic_write_bytes

    if features.pooled.shape[0] != 1:
        raise ShapeError(f"expected the features of one image, found {features.pooled.shape[0]}")
    arrays = {name: getattr(features, name)[0] for name in CACHE_ARRAYS}
    buffer = io.BytesIO()
    np.savez(buffer, **arrays, key=np.array(key),
             checksum=np.array(_checksum([arrays[n] for n in CACHE_ARRAYS])))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, buffer.getvalue())


def load_cached_features(path: str | Path, key: str, from_file: bool) -> ImageFeatures:
    """Read one image's features written by :func:`save_cached_features` (``allow_pickle=False``).

    Raises
    ------
    DataError
        One line, when the file is unreadable, lacks an array, was written for another key, or
        its arrays do not match their stored SHA-256 (a corrupt entry is never used).
    """
    import io

    path = Path(path)
    try:  # read the bytes first: np.load leaks its file handle when the zip is damaged
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in (*CACHE_ARRAYS, "key", "checksum")}
    except Exception as exc:  # noqa: BLE001 - zip, format and key errors have many types
        first = next((ln for ln in str(exc).splitlines() if ln.strip()), "")
        raise DataError(f"cannot read {path.name}: {type(exc).__name__}: {first}") from None
    if str(arrays["key"]) != key:
        raise DataError(f"{path.name} was written for another key")
    values = [arrays[n] for n in CACHE_ARRAYS]
    if any(v.dtype != np.float32 for v in values) or str(arrays["checksum"]) != _checksum(values):
        raise DataError(f"{path.name}: arrays do not match their stored SHA-256")
    return ImageFeatures(*(v[None] for v in values), from_file=from_file)
