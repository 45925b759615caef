"""Q3 data: the shipped demo set, and the VQA v2 / COCO-QA readers on tiny official-layout files."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from rnnlab.data import vqa
from rnnlab.errors import ConfigError, DataError, ShapeError


def write_image(path, value=128, size=(20, 30)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((*size, 3), value, dtype=np.uint8)).save(path)


def vqa_files(
    root, subtype="val2014", questions=None, annotations=True, layout="flat", image_dir=None
):
    """A tiny VQA v2 set: 3 questions about COCO images 42 and 7, official names."""
    questions = (
        questions
        if questions is not None
        else [
            {"image_id": 42, "question": "What color is the bus?", "question_id": 42000},
            {"image_id": 42, "question": "Is it raining?", "question_id": 42001},
            {"image_id": 7, "question": "How many dogs are there?", "question_id": 7000},
        ]
    )
    answers = {
        42000: ("red", "other", "what color is the"),
        42001: ("no", "yes/no", "is it"),
        7000: ("2", "number", "how many"),
    }
    qdir = root / "Questions" if layout == "api" else root
    adir = root / "Annotations" if layout == "api" else root
    qdir.mkdir(parents=True, exist_ok=True)
    adir.mkdir(parents=True, exist_ok=True)
    (qdir / f"v2_OpenEnded_mscoco_{subtype}_questions.json").write_text(
        json.dumps(
            {
                "info": {},
                "task_type": "Open-Ended",
                "data_type": "mscoco",
                "license": {},
                "data_subtype": subtype,
                "questions": questions,
            }
        )
    )
    if annotations:
        anns = [
            {
                "question_type": answers[q["question_id"]][2],
                "multiple_choice_answer": answers[q["question_id"]][0],
                "answers": [
                    {
                        "answer": answers[q["question_id"]][0],
                        "answer_confidence": "yes",
                        "answer_id": k,
                    }
                    for k in range(1, 11)
                ],
                "image_id": q["image_id"],
                "answer_type": answers[q["question_id"]][1],
                "question_id": q["question_id"],
            }
            for q in questions
        ]
        (adir / f"v2_mscoco_{subtype}_annotations.json").write_text(
            json.dumps({"info": {}, "license": {}, "data_subtype": subtype, "annotations": anns})
        )
    images = image_dir or (
        root / "Images" / "mscoco" / subtype if layout == "api" else root / subtype
    )
    for image_id in (42, 7):
        write_image(images / f"COCO_{subtype}_{image_id:012d}.jpg", value=image_id)
    return root


# ---- demo set ----------------------------------------------------------------------------


def test_demo_set_is_complete_and_in_vqa_v2_format():
    data = vqa.load_demo()
    assert data.name == "demo"
    assert len(data.images) >= 12
    per_image = {i: [q for q in data.questions if q.image_id == i] for i in data.images}
    assert all(4 <= len(qs) <= 6 for qs in per_image.values())
    for q in data.questions:
        assert len(q.answers) == 10 and q.multiple_choice_answer in q.answers
        assert q.answer_type in ("yes/no", "number", "other") and q.question_type
        assert q.question.endswith("?")
    folder = vqa.demo_dir()
    questions = json.loads((folder / "questions.json").read_text())
    annotations = json.loads((folder / "annotations.json").read_text())
    assert {"questions", "data_subtype", "task_type"} <= set(questions)
    assert set(annotations["annotations"][0]) >= {
        "question_id",
        "image_id",
        "question_type",
        "answer_type",
        "multiple_choice_answer",
        "answers",
    }
    assert all(ref.kind == "skimage" for ref in data.images.values())


def test_demo_images_load_as_rgb_uint8():
    data = vqa.load_demo(limit=12)
    for image_id in data.image_ids[:2]:
        image = data.load_image(image_id)
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8
    with pytest.raises(DataError, match="expected an image id"):
        data.load_image(999_999)


def test_demo_limit_keeps_the_first_questions():
    data = vqa.load_demo(limit=7)
    assert len(data.questions) == 7
    assert data.image_ids == list(dict.fromkeys(q.image_id for q in data.questions))


def test_to_rgb_uint8_handles_grey_bool_float_and_alpha():
    assert vqa.to_rgb_uint8(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert vqa.to_rgb_uint8(np.ones((2, 2), bool)).max() == 255
    assert vqa.to_rgb_uint8(np.full((2, 2, 3), 0.5)).max() == 128
    assert vqa.to_rgb_uint8(np.zeros((2, 2, 4), np.uint8)).shape == (2, 2, 3)
    with pytest.raises(ShapeError, match="expected an image of shape"):
        vqa.to_rgb_uint8(np.zeros((2, 2, 2)))


# ---- VQA v2 ------------------------------------------------------------------------------


@pytest.mark.parametrize("layout", ["flat", "api"])
def test_vqa_v2_reader_on_official_layouts(tmp_path, layout):
    data = vqa.read_vqa_v2(vqa_files(tmp_path / "vqa", layout=layout))
    assert data.name == "vqa-v2"
    assert [q.question_id for q in data.questions] == [42000, 42001, 7000]
    first = data.questions[0]
    assert first.answers == ("red",) * 10 and first.multiple_choice_answer == "red"
    assert first.question_type == "what color is the" and first.answer_type == "other"
    assert data.image_ids == [42, 7]
    assert data.load_image(7).shape == (20, 30, 3)
    assert "val2014" in data.description


def test_vqa_v2_limit_and_missing_annotations(tmp_path):
    data = vqa.read_vqa_v2(vqa_files(tmp_path / "vqa", annotations=False), limit=2)
    assert len(data.questions) == 2 and data.questions[0].answers == ()
    assert data.image_ids == [42]
    assert "without annotations" in data.description


def test_vqa_v2_images_elsewhere(tmp_path):
    root = vqa_files(tmp_path / "vqa", image_dir=tmp_path / "coco")
    with pytest.raises(DataError, match="pass --coco-images"):
        vqa.read_vqa_v2(root)
    assert len(vqa.read_vqa_v2(root, coco_images=tmp_path / "coco").images) == 2


def test_vqa_v2_missing_image_is_named(tmp_path):
    root = vqa_files(tmp_path / "vqa")
    (root / "val2014" / "COCO_val2014_000000000007.jpg").unlink()
    with pytest.raises(DataError, match=r"found 1 missing \(first: COCO_val2014_000000000007"):
        vqa.read_vqa_v2(root)


@pytest.mark.parametrize(
    "questions, message",
    [
        ([{"image_id": 42, "question": "Q?"}], r"questions\[0\]: expected a field 'question_id'"),
        (
            [{"image_id": "42", "question": "Q?", "question_id": 1}],
            r"expected 'image_id' to be int, found '42'",
        ),
        ([{"image_id": 42, "question": "  ", "question_id": 1}], "non-empty question"),
        (
            [
                {"image_id": 42, "question": "A?", "question_id": 1},
                {"image_id": 42, "question": "B?", "question_id": 1},
            ],
            "found 1 twice",
        ),
    ],
)
def test_vqa_v2_malformed_questions(tmp_path, questions, message):
    root = vqa_files(tmp_path / "vqa", questions=questions, annotations=False)
    with pytest.raises(DataError, match=message):
        vqa.read_vqa_v2(root)


def test_vqa_v2_malformed_files(tmp_path):
    with pytest.raises(DataError, match="expected a VQA folder"):
        vqa.read_vqa_v2(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="expected a VQA questions file"):
        vqa.read_vqa_v2(tmp_path / "empty")
    root = vqa_files(tmp_path / "vqa")
    (root / "v2_OpenEnded_mscoco_val2014_questions.json").write_text("{not json")
    with pytest.raises(DataError, match="expected valid JSON"):
        vqa.read_vqa_v2(root)
    root = vqa_files(tmp_path / "vqa2")
    path = root / "v2_mscoco_val2014_annotations.json"
    anns = json.loads(path.read_text())
    anns["annotations"] = anns["annotations"][:2]
    path.write_text(json.dumps(anns))
    with pytest.raises(DataError, match="expected an annotation for question 7000"):
        vqa.read_vqa_v2(root)
    anns["annotations"][0]["answers"] = []
    path.write_text(json.dumps(anns))
    with pytest.raises(DataError, match="at least one answer"):
        vqa.read_vqa_v2(root)


# ---- COCO-QA -----------------------------------------------------------------------------


def cocoqa_files(root, lines=None, split="test"):
    lines = lines or {
        "questions.txt": [
            "what is the man riding on top of a wave",
            "how many dogs are there",
            "what is the color of the bus",
        ],
        "answers.txt": ["surfboard", "two", "red"],
        "img_ids.txt": ["42", "7", "42"],
        "types.txt": ["0", "1", "2"],
    }
    folder = root / split
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in lines.items():
        (folder / name).write_text("\n".join(content) + "\n")
    subtype = vqa.COCOQA_COCO_SUBTYPE[split]
    for image_id in (42, 7):
        write_image(root / subtype / f"COCO_{subtype}_{image_id:012d}.jpg")
    return root


def test_cocoqa_reader_on_official_layout(tmp_path):
    data = vqa.read_cocoqa(cocoqa_files(tmp_path / "cocoqa"))
    assert data.name == "coco-qa"
    assert [q.question_type for q in data.questions] == ["object", "number", "color"]
    assert [q.answer_type for q in data.questions] == ["other", "number", "other"]
    assert data.questions[0].answers == ("surfboard",)
    assert data.image_ids == [42, 7]
    assert len(vqa.read_cocoqa(tmp_path / "cocoqa", limit=1).questions) == 1


def test_cocoqa_train_split_uses_train2014_images(tmp_path):
    data = vqa.read_cocoqa(cocoqa_files(tmp_path / "cocoqa", split="train"))
    assert "train2014" in data.images[42].target


@pytest.mark.parametrize(
    "change, message",
    [
        ({"answers.txt": ["surfboard", "two"]}, "expected 3 lines in answers.txt"),
        ({"img_ids.txt": ["42", "seven", "42"]}, "img_ids.txt line 2: expected an integer"),
        ({"types.txt": ["0", "5", "2"]}, "types.txt line 2: expected a type 0-3"),
        ({"answers.txt": ["surfboard", "", "red"]}, "answers.txt line 2: expected an answer"),
    ],
)
def test_cocoqa_malformed_files(tmp_path, change, message):
    lines = {
        "questions.txt": ["q one", "q two", "q three"],
        "answers.txt": ["a", "b", "c"],
        "img_ids.txt": ["42", "7", "42"],
        "types.txt": ["0", "1", "2"],
    }
    lines.update(change)
    root = cocoqa_files(tmp_path / "cocoqa", lines)
    with pytest.raises(DataError, match=message):
        vqa.read_cocoqa(root)


def test_cocoqa_missing_files(tmp_path):
    (tmp_path / "c" / "test").mkdir(parents=True)
    (tmp_path / "c" / "test" / "questions.txt").write_text("q\n")
    with pytest.raises(DataError, match="expected COCO-QA files"):
        vqa.read_cocoqa(tmp_path / "c")


def test_load_dataset_choices(tmp_path):
    with pytest.raises(ConfigError, match="found both"):
        vqa.load_dataset(vqa_dir=tmp_path, cocoqa_dir=tmp_path)
    assert vqa.load_dataset(limit=5).name == "demo"
    with pytest.raises(ConfigError, match="positive integer limit"):
        vqa.load_demo(limit=0)
