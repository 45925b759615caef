"""Visual question answering data: the shipped demo set, VQA v2 and COCO-QA in their official formats.

Every reader returns a :class:`VQADataset`: the questions (with their answers when known) and a
reference to each image, loaded on demand as an ``(H, W, 3)`` uint8 RGB array by
:meth:`VQADataset.load_image`.

Sources
-------
- **demo** (default, offline): ``rnnlab/resources/vqa_demo/``: real photographs bundled with
  scikit-image (mapped by ``images.json``, not copied) with questions and answers in the VQA v2
  JSON format (see the README there).
- **VQA v2** (``--vqa-dir DIR``): ``v2_OpenEnded_mscoco_<subtype>_questions.json`` and
  ``v2_mscoco_<subtype>_annotations.json`` (flat in DIR, or under ``Questions/`` and
  ``Annotations/`` as in the official VQA API layout; the VQA v1 names without ``v2_`` work too),
  and the COCO images ``COCO_<subtype>_<image_id:012d>.jpg`` in ``DIR/<subtype>/``,
  ``DIR/images/<subtype>/`` or ``DIR/Images/mscoco/<subtype>/`` (or ``--coco-images``).
  The ``val2014`` subtype is preferred when several are present. The annotations file is
  optional (test splits have none); the questions then have no answers.
- **COCO-QA** (``--cocoqa-dir DIR``): ``DIR/test/`` (preferred) or ``DIR/train/`` holding
  ``questions.txt``, ``answers.txt``, ``img_ids.txt`` and ``types.txt`` (one entry per line,
  types 0 object, 1 number, 2 color, 3 location). COCO-QA's test questions are about COCO
  ``val2014`` images, its train questions about ``train2014`` images, looked up like VQA's.

Finding files (``find_*``) is kept apart from parsing them (``parse_*``), so the parsers can be
tested on in-memory data. Malformed files raise :class:`~rnnlab.errors.DataError` with one line
naming the file, what was expected and what was found.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from rnnlab.errors import ConfigError, DataError, ShapeError

DEMO_PACKAGE = "rnnlab.resources"
DEMO_FOLDER = "vqa_demo"
DEMO_QUESTIONS = "questions.json"
DEMO_ANNOTATIONS = "annotations.json"
DEMO_IMAGES = "images.json"

VQA_SUBTYPE_PREFERENCE = ("val2014", "train2014", "test-dev2015", "test2015")
COCOQA_SPLITS = ("test", "train")
COCOQA_FILES = ("questions.txt", "answers.txt", "img_ids.txt", "types.txt")
COCOQA_TYPES = {0: "object", 1: "number", 2: "color", 3: "location"}
COCOQA_COCO_SUBTYPE = {"test": "val2014", "train": "train2014"}


# --------------------------------------------------------------------------------------------
# Data structures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VQAQuestion:
    """One question about one image.

    Attributes
    ----------
    question_id, image_id : int
    question : str
    answers : tuple of str
        The human answers (10 in VQA v2, 1 in COCO-QA); empty when no annotations exist.
    multiple_choice_answer : str or None
        The most common answer (VQA v2), or COCO-QA's answer.
    question_type, answer_type : str or None
    """

    question_id: int
    image_id: int
    question: str
    answers: tuple[str, ...] = ()
    multiple_choice_answer: str | None = None
    question_type: str | None = None
    answer_type: str | None = None


@dataclass(frozen=True)
class ImageRef:
    """Where an image comes from: a scikit-image loader or a file.

    Attributes
    ----------
    kind : {"skimage", "file"}
    target : str
        The loader name (``skimage.data.<target>``) or the file path.
    element : int or None
        For loaders that return a tuple (e.g. a stereo pair), which item is the image.
    label : str
        A short name for figures ("astronaut", "COCO 139").
    description : str
        One line saying what the image shows (may be empty).
    credit : str
        Author and licence (may be empty).
    """

    kind: str
    target: str
    element: int | None = None
    label: str = ""
    description: str = ""
    credit: str = ""


@dataclass(frozen=True)
class VQADataset:
    """Questions and the images they are about.

    Attributes
    ----------
    name : str
        ``"demo"``, ``"vqa-v2"`` or ``"coco-qa"``.
    description : str
        Where the data came from, for the report (files, split, limit).
    questions : tuple of VQAQuestion
        In file order.
    images : dict of int to ImageRef
        Every image a question refers to, in order of first appearance.
    """

    name: str
    description: str
    questions: tuple[VQAQuestion, ...]
    images: dict[int, ImageRef] = field(default_factory=dict)

    @property
    def image_ids(self) -> list[int]:
        """Image ids in order of first appearance."""
        return list(self.images)

    def image_label(self, image_id: int) -> str:
        return self.images[image_id].label or str(image_id)

    def load_image(self, image_id: int) -> np.ndarray:
        """The image as an ``(H, W, 3)`` uint8 RGB array."""
        if image_id not in self.images:
            raise DataError(f"expected an image id of this dataset, found {image_id}")
        return load_image(self.images[image_id])


# --------------------------------------------------------------------------------------------
# Images
# --------------------------------------------------------------------------------------------


def to_rgb_uint8(image: np.ndarray) -> np.ndarray:
    """Any 2-D grey, boolean, RGB or RGBA image as an ``(H, W, 3)`` uint8 array.

    Floats are taken to be in [0, 1]; booleans become 0 / 255; an alpha channel is dropped.

    Raises
    ------
    ShapeError
        For arrays that are not (H, W), (H, W, 1), (H, W, 3) or (H, W, 4).
    """
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    elif np.issubdtype(image.dtype, np.floating):
        image = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4) or min(image.shape[:2]) < 1:
        raise ShapeError(
            f"expected an image of shape (H, W), (H, W, 3) or (H, W, 4), found {image.shape}"
        )
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image[:, :, :3])


def thumbnail(image: np.ndarray, max_side: int = 320) -> np.ndarray:
    """Every k-th pixel of ``image`` so that its longer side is at most ``max_side`` (for figures)."""
    k = max(1, int(np.ceil(max(image.shape[:2]) / max_side)))
    return image[::k, ::k]


def load_image(ref: ImageRef) -> np.ndarray:
    """Load an image reference as an ``(H, W, 3)`` uint8 RGB array.

    Raises
    ------
    DataError
        Unknown loader, missing or unreadable file.
    """
    if ref.kind == "skimage":
        import skimage.data

        loader = getattr(skimage.data, ref.target, None)
        if loader is None or not callable(loader):
            raise DataError(f"expected a scikit-image loader skimage.data.{ref.target}, found none")
        try:
            image = loader()
        except Exception as exc:  # noqa: BLE001 - e.g. a loader that needs pooch and the network
            raise DataError(
                f"expected skimage.data.{ref.target}() to load offline, found "
                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            ) from None
        if isinstance(image, tuple):
            if ref.element is None or not 0 <= ref.element < len(image):
                raise DataError(
                    f"expected an element index below {len(image)} for skimage.data.{ref.target}"
                    f" (it returns a tuple), found {ref.element}"
                )
            image = image[ref.element]
        return to_rgb_uint8(image)
    if ref.kind == "file":
        from PIL import Image, UnidentifiedImageError

        path = Path(ref.target)
        if not path.is_file():
            raise DataError(f"expected an image file at {path}, found none")
        try:
            with Image.open(path) as img:
                return to_rgb_uint8(np.asarray(img.convert("RGB")))
        except (UnidentifiedImageError, OSError) as exc:
            raise DataError(f"expected a readable image at {path}, found {exc}") from None
    raise DataError(f"expected an image reference of kind 'skimage' or 'file', found {ref.kind!r}")


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"expected a JSON file at {path}, found none") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"expected valid JSON in {path}, found an error: {exc}") from None


def _field(entry: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(entry, dict):
        raise DataError(f"{where}: expected a JSON object, found {type(entry).__name__}")
    if key not in entry:
        raise DataError(f"{where}: expected a field {key!r}, found fields {sorted(entry)}")
    value = entry[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise DataError(f"{where}: expected {key!r} to be {names}, found {value!r}")
    return value


def _check_limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(f"expected a positive integer limit, found {limit!r}")
    return limit


# --------------------------------------------------------------------------------------------
# VQA v2 JSON
# --------------------------------------------------------------------------------------------


def parse_vqa_questions(data: Any, source: str = "questions") -> list[tuple[int, int, str]]:
    """The ``(question_id, image_id, question)`` entries of a VQA questions JSON object.

    Raises
    ------
    DataError
        When ``data`` has no ``questions`` list, an entry lacks a field or has the wrong type,
        a question is empty, or a question id repeats.
    """
    entries = _field(data, "questions", list, source)
    seen: set[int] = set()
    out = []
    for i, entry in enumerate(entries):
        where = f"{source}: questions[{i}]"
        qid = _field(entry, "question_id", int, where)
        image_id = _field(entry, "image_id", int, where)
        question = _field(entry, "question", str, where)
        if not question.strip():
            raise DataError(f"{where}: expected a non-empty question, found {question!r}")
        if qid in seen:
            raise DataError(f"{where}: expected unique question ids, found {qid} twice")
        seen.add(qid)
        out.append((qid, image_id, question))
    return out


def parse_vqa_annotations(data: Any, source: str = "annotations") -> dict[int, dict[str, Any]]:
    """The annotations of a VQA annotations JSON object, by question id.

    Each value holds ``image_id``, ``answers`` (tuple of str), ``multiple_choice_answer``,
    ``question_type`` and ``answer_type``.

    Raises
    ------
    DataError
        When ``data`` has no ``annotations`` list or an entry is malformed or repeated.
    """
    entries = _field(data, "annotations", list, source)
    out: dict[int, dict[str, Any]] = {}
    for i, entry in enumerate(entries):
        where = f"{source}: annotations[{i}]"
        qid = _field(entry, "question_id", int, where)
        if qid in out:
            raise DataError(f"{where}: expected one annotation per question, found {qid} twice")
        answers = _field(entry, "answers", list, where)
        texts = tuple(
            _field(a, "answer", str, f"{where}.answers[{j}]") for j, a in enumerate(answers)
        )
        if not texts:
            raise DataError(f"{where}: expected at least one answer, found an empty list")
        out[qid] = {
            "image_id": _field(entry, "image_id", int, where),
            "answers": texts,
            "multiple_choice_answer": _field(entry, "multiple_choice_answer", str, where),
            "question_type": _field(entry, "question_type", str, where),
            "answer_type": _field(entry, "answer_type", str, where),
        }
    return out


def merge_vqa(
    questions: Sequence[tuple[int, int, str]],
    annotations: Mapping[int, Mapping[str, Any]] | None,
    limit: int | None = None,
    source: str = "VQA",
) -> list[VQAQuestion]:
    """Join questions with their annotations (first ``limit`` questions in file order).

    Raises
    ------
    DataError
        When annotations are given and a selected question has none, or the image ids disagree.
    """
    limit = _check_limit(limit)
    selected = list(questions[:limit] if limit is not None else questions)
    out = []
    for qid, image_id, text in selected:
        if annotations is None:
            out.append(VQAQuestion(qid, image_id, text))
            continue
        ann = annotations.get(qid)
        if ann is None:
            raise DataError(
                f"{source}: expected an annotation for question {qid}, found none in the "
                f"annotations file"
            )
        if ann["image_id"] != image_id:
            raise DataError(
                f"{source}: expected question {qid} to have image_id {image_id} in the "
                f"annotations like in the questions, found {ann['image_id']}"
            )
        out.append(
            VQAQuestion(
                qid,
                image_id,
                text,
                answers=tuple(ann["answers"]),
                multiple_choice_answer=ann["multiple_choice_answer"],
                question_type=ann["question_type"],
                answer_type=ann["answer_type"],
            )
        )
    if not out:
        raise DataError(f"{source}: expected at least one question, found none")
    return out


def _unique_image_ids(questions: Iterable[VQAQuestion]) -> list[int]:
    return list(dict.fromkeys(q.image_id for q in questions))


# --------------------------------------------------------------------------------------------
# Demo set
# --------------------------------------------------------------------------------------------


def demo_dir() -> Path:
    """The folder of the shipped demo set (``rnnlab/resources/vqa_demo``)."""
    return Path(str(resources.files(DEMO_PACKAGE).joinpath(DEMO_FOLDER)))


def parse_image_map(data: Any, source: str = "images.json") -> dict[int, ImageRef]:
    """The image map of the demo set: image_id -> scikit-image loader.

    Raises
    ------
    DataError
        On a missing ``images`` list, a malformed entry or a repeated image id.
    """
    entries = _field(data, "images", list, source)
    out: dict[int, ImageRef] = {}
    for i, entry in enumerate(entries):
        where = f"{source}: images[{i}]"
        image_id = _field(entry, "image_id", int, where)
        loader = _field(entry, "loader", str, where)
        element = entry.get("element")
        if element is not None and (isinstance(element, bool) or not isinstance(element, int)):
            raise DataError(f"{where}: expected 'element' to be an int or null, found {element!r}")
        if image_id in out:
            raise DataError(f"{where}: expected unique image ids, found {image_id} twice")
        out[image_id] = ImageRef(
            kind="skimage",
            target=loader,
            element=element,
            label=loader.replace("stereo_", "").replace("_", " "),
            description=str(entry.get("description", "")),
            credit=str(entry.get("credit", "")),
        )
    return out


def load_demo(limit: int | None = None, folder: str | Path | None = None) -> VQADataset:
    """The shipped demo set: real scikit-image photographs with VQA v2-format questions.

    Parameters
    ----------
    limit : int, optional
        Keep the first ``limit`` questions (file order).
    folder : path, optional
        Another folder with the same three files (for tests); default the shipped one.
    """
    folder = Path(folder) if folder is not None else demo_dir()
    questions = parse_vqa_questions(_read_json(folder / DEMO_QUESTIONS), DEMO_QUESTIONS)
    annotations = parse_vqa_annotations(_read_json(folder / DEMO_ANNOTATIONS), DEMO_ANNOTATIONS)
    images = parse_image_map(_read_json(folder / DEMO_IMAGES), DEMO_IMAGES)
    merged = merge_vqa(questions, annotations, limit, source="demo set")
    ids = _unique_image_ids(merged)
    missing = [i for i in ids if i not in images]
    if missing:
        raise DataError(
            f"{DEMO_IMAGES}: expected an entry for every image id of the questions, found none "
            f"for {missing}"
        )
    count = f", first {limit} questions" if limit is not None else ""
    return VQADataset(
        name="demo",
        description=(
            f"rnnlab demo set: {len(merged)} questions about {len(ids)} scikit-image photographs"
            f" (VQA v2 format{count})"
        ),
        questions=tuple(merged),
        images={i: images[i] for i in ids},
    )


# --------------------------------------------------------------------------------------------
# VQA v2 files and COCO images
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VQAFiles:
    """The files of one VQA subtype found in a folder."""

    subtype: str
    questions: Path
    annotations: Path | None


def find_vqa_files(vqa_dir: str | Path) -> VQAFiles:
    """Find the questions (and annotations) JSON of one subtype in a VQA folder.

    Raises
    ------
    DataError
        When the folder does not exist or holds no questions file.
    """
    root = Path(vqa_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"expected a VQA folder at {root}, found none")
    found: dict[str, Path] = {}
    for folder in (root, root / "Questions"):
        for prefix in ("v2_OpenEnded_mscoco_", "OpenEnded_mscoco_"):
            for path in sorted(folder.glob(f"{prefix}*_questions.json")):
                subtype = path.name[len(prefix) : -len("_questions.json")]
                found.setdefault(subtype, path)
    if not found:
        raise DataError(
            f"expected a VQA questions file v2_OpenEnded_mscoco_<subtype>_questions.json in "
            f"{root} or {root / 'Questions'}, found none"
        )
    ranked = [s for s in VQA_SUBTYPE_PREFERENCE if s in found] + sorted(
        s for s in found if s not in VQA_SUBTYPE_PREFERENCE
    )
    subtype = ranked[0]
    annotations = None
    for folder in (root, root / "Annotations"):
        for name in (f"v2_mscoco_{subtype}_annotations.json", f"mscoco_{subtype}_annotations.json"):
            if (folder / name).is_file() and annotations is None:
                annotations = folder / name
    return VQAFiles(subtype=subtype, questions=found[subtype], annotations=annotations)


def coco_image_candidates(root: Path, subtype: str, coco_images: Path | None) -> list[Path]:
    """Folders where the COCO images of ``subtype`` may be, in the order they are tried."""
    if coco_images is not None:
        return [coco_images, coco_images / subtype]
    return [
        root / subtype,
        root / "images" / subtype,
        root / "Images" / "mscoco" / subtype,
        root / "images",
        root.parent / subtype,
    ]


def find_coco_images(
    root: Path, subtype: str, image_ids: Sequence[int], coco_images: str | Path | None = None
) -> dict[int, Path]:
    """The file of every COCO image id (``COCO_<subtype>_<id:012d>.jpg`` or ``<id:012d>.jpg``).

    The first candidate folder (see :func:`coco_image_candidates`) that holds the first image
    is used for all of them.

    Raises
    ------
    DataError
        When no folder holds the images, or some images are missing (the first is named).
    """
    if not image_ids:
        return {}
    override = Path(coco_images).expanduser() if coco_images is not None else None
    if override is not None and not override.is_dir():
        raise DataError(f"expected a folder of COCO images at {override}, found none")

    def names(image_id: int) -> list[str]:
        return [f"COCO_{subtype}_{image_id:012d}.jpg", f"{image_id:012d}.jpg"]

    candidates = coco_image_candidates(root, subtype, override)
    first = image_ids[0]
    folder = next((c for c in candidates if any((c / n).is_file() for n in names(first))), None)
    if folder is None:
        looked = ", ".join(str(c) for c in candidates)
        raise DataError(
            f"expected the COCO image {names(first)[0]} in one of {looked}, found none "
            f"(pass --coco-images DIR)"
        )
    out: dict[int, Path] = {}
    missing = []
    for image_id in image_ids:
        path = next((folder / n for n in names(image_id) if (folder / n).is_file()), None)
        if path is None:
            missing.append(image_id)
        else:
            out[image_id] = path
    if missing:
        raise DataError(
            f"expected {len(image_ids)} COCO images in {folder}, found {len(missing)} missing "
            f"(first: {names(missing[0])[0]})"
        )
    return out


def _coco_dataset(
    name: str, description: str, questions: list[VQAQuestion], paths: Mapping[int, Path]
) -> VQADataset:
    images = {
        i: ImageRef(kind="file", target=str(paths[i]), label=f"COCO {i}")
        for i in _unique_image_ids(questions)
    }
    return VQADataset(name=name, description=description, questions=tuple(questions), images=images)


def read_vqa_v2(
    vqa_dir: str | Path, limit: int | None = None, coco_images: str | Path | None = None
) -> VQADataset:
    """Read VQA v2 from its official files (see the module docstring for the layout).

    Parameters
    ----------
    vqa_dir : path
        Folder with the questions / annotations JSON (and usually the COCO images).
    limit : int, optional
        Keep the first ``limit`` questions (file order).
    coco_images : path, optional
        Folder of the COCO images when they are elsewhere.

    Raises
    ------
    DataError
        Missing or malformed files, missing images.
    """
    files = find_vqa_files(vqa_dir)
    questions = parse_vqa_questions(_read_json(files.questions), files.questions.name)
    annotations = (
        parse_vqa_annotations(_read_json(files.annotations), files.annotations.name)
        if files.annotations is not None
        else None
    )
    merged = merge_vqa(questions, annotations, limit, source=files.questions.name)
    paths = find_coco_images(
        Path(vqa_dir).expanduser(), files.subtype, _unique_image_ids(merged), coco_images
    )
    answers = "with answers" if annotations is not None else "without annotations"
    count = f"first {len(merged)} of {len(questions)}" if limit else f"{len(merged)}"
    description = (
        f"VQA v2 {files.subtype} ({files.questions}): {count} questions {answers} about "
        f"{len(paths)} COCO images"
    )
    return _coco_dataset("vqa-v2", description, merged, paths)


# --------------------------------------------------------------------------------------------
# COCO-QA
# --------------------------------------------------------------------------------------------


def find_cocoqa_split(cocoqa_dir: str | Path) -> tuple[str, Path]:
    """The split folder of a COCO-QA release (``test`` preferred, else ``train``).

    A folder holding the four files directly counts as the ``test`` split.

    Raises
    ------
    DataError
        When the folder does not exist or no split holds all four files.
    """
    root = Path(cocoqa_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"expected a COCO-QA folder at {root}, found none")
    for split in COCOQA_SPLITS:
        folder = root / split
        if all((folder / f).is_file() for f in COCOQA_FILES):
            return split, folder
    if all((root / f).is_file() for f in COCOQA_FILES):
        return "test", root
    present = sorted(p.name for p in root.iterdir())[:8]
    raise DataError(
        f"expected COCO-QA files {', '.join(COCOQA_FILES)} in {root / 'test'} or "
        f"{root / 'train'}, found {present or 'an empty folder'}"
    )


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"expected a text file at {path}, found none") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"expected UTF-8 text in {path}, found {exc}") from None
    lines = text.splitlines()
    while lines and not lines[-1].strip():  # a trailing newline is not an entry
        lines.pop()
    return lines


def parse_cocoqa(
    questions: Sequence[str],
    answers: Sequence[str],
    img_ids: Sequence[str],
    types: Sequence[str],
    limit: int | None = None,
    source: str = "COCO-QA",
) -> list[VQAQuestion]:
    """Join COCO-QA's four parallel line lists into questions.

    The question id is the line number (0-based); ``answer_type`` is ``number`` for type 1 and
    ``other`` otherwise; ``question_type`` is object / number / color / location.

    Raises
    ------
    DataError
        When the lists differ in length, a line is empty, an image id or a type is not an
        integer, or a type is not 0-3.
    """
    limit = _check_limit(limit)
    n = len(questions)
    for name, lines in (("answers.txt", answers), ("img_ids.txt", img_ids), ("types.txt", types)):
        if len(lines) != n:
            raise DataError(
                f"{source}: expected {n} lines in {name} like questions.txt, found {len(lines)}"
            )
    if n == 0:
        raise DataError(f"{source}: expected at least one question in questions.txt, found none")
    count = n if limit is None else min(limit, n)
    out = []
    for i in range(count):
        line = i + 1
        question, answer = questions[i].strip(), answers[i].strip()
        if not question:
            raise DataError(
                f"{source}: questions.txt line {line}: expected a question, found it empty"
            )
        if not answer:
            raise DataError(
                f"{source}: answers.txt line {line}: expected an answer, found it empty"
            )
        try:
            image_id = int(img_ids[i].strip())
        except ValueError:
            raise DataError(
                f"{source}: img_ids.txt line {line}: expected an integer image id, found "
                f"{img_ids[i]!r}"
            ) from None
        try:
            kind = int(types[i].strip())
        except ValueError:
            kind = -1
        if kind not in COCOQA_TYPES:
            raise DataError(
                f"{source}: types.txt line {line}: expected a type 0-3 (object, number, color, "
                f"location), found {types[i]!r}"
            )
        out.append(
            VQAQuestion(
                question_id=i,
                image_id=image_id,
                question=question,
                answers=(answer,),
                multiple_choice_answer=answer,
                question_type=COCOQA_TYPES[kind],
                answer_type="number" if kind == 1 else "other",
            )
        )
    return out


def read_cocoqa(
    cocoqa_dir: str | Path, limit: int | None = None, coco_images: str | Path | None = None
) -> VQADataset:
    """Read COCO-QA from its official text files (see the module docstring for the layout).

    Raises
    ------
    DataError
        Missing or malformed files, missing images.
    """
    split, folder = find_cocoqa_split(cocoqa_dir)
    lines = [_read_lines(folder / f) for f in COCOQA_FILES]
    merged = parse_cocoqa(*lines, limit=limit, source=f"COCO-QA {split} ({folder})")
    subtype = COCOQA_COCO_SUBTYPE[split]
    paths = find_coco_images(
        Path(cocoqa_dir).expanduser(), subtype, _unique_image_ids(merged), coco_images
    )
    count = f"first {len(merged)} of {len(lines[0])}" if limit else f"{len(merged)}"
    description = (
        f"COCO-QA {split} ({folder}): {count} questions about {len(paths)} COCO {subtype} images"
    )
    return _coco_dataset("coco-qa", description, merged, paths)


def load_dataset(
    vqa_dir: str | Path | None = None,
    cocoqa_dir: str | Path | None = None,
    limit: int | None = None,
    coco_images: str | Path | None = None,
) -> VQADataset:
    """The dataset the user chose: VQA v2, COCO-QA, or (neither given) the shipped demo set.

    Raises
    ------
    ConfigError
        When both folders are given.
    DataError
        From the readers.
    """
    if vqa_dir is not None and cocoqa_dir is not None:
        raise ConfigError(
            f"expected one of --vqa-dir and --cocoqa-dir, found both ({vqa_dir}, {cocoqa_dir})"
        )
    if vqa_dir is not None:
        return read_vqa_v2(vqa_dir, limit, coco_images)
    if cocoqa_dir is not None:
        return read_cocoqa(cocoqa_dir, limit, coco_images)
    return load_demo(limit)
