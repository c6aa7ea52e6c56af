"""THE crop rule and ``vidfsr prepare`` on real shared photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from vidfsr.models.dataset_format import load_prepared, read_records
from vidfsr.models.prepare import PrepareConfig, identity_of, prepare, split_of
from vidfsr.models.priors import PARSING_CLASSES, parsing_labels
from vidfsr.pipelines.croprule import SIDE_RATIO, crop_affine, crop_boxes, cut_crop

from vidfsr.cli import main


def test_crop_rule_on_synthetic_boxes() -> None:
    boxes = np.array([[100, 100, 200, 200], [10, 20, 30, 50], [0, 0, 64, 64]], np.float32)
    crops = crop_boxes(boxes)
    sides = crops[:, 2] - crops[:, 0]
    assert np.allclose(sides, crops[:, 3] - crops[:, 1])  # square
    assert np.allclose(sides, SIDE_RATIO * np.array([100, 25, 64]))
    assert crops[0, 1] + crops[0, 3] > 300  # centre shifted down: the crop shows the chin, not the hair
    assert np.allclose(0.5 * (crops[:, 0] + crops[:, 2]), 0.5 * (boxes[:, 0] + boxes[:, 2]))


def test_cut_crop_maps_points_consistently() -> None:
    img = np.zeros((300, 400, 3), np.uint8)
    cv2.circle(img, (250, 120), 3, (255, 255, 255), -1)
    box = np.array([200.0, 80.0, 300.0, 180.0])
    crop = cut_crop(img, box, 128)
    mapped = crop_affine(box, 128) @ np.array([250, 120, 1.0])
    ys, xs = np.nonzero(crop[..., 0] > 128)
    assert abs(xs.mean() - mapped[0]) <= 0.5 and abs(ys.mean() - mapped[1]) <= 0.5
    big = cut_crop(np.full((2000, 2000, 3), 77, np.uint8), np.array([0, 0, 1500.0, 1500]), 128)
    assert big.shape == (128, 128, 3) and int(big.mean()) == 77


def test_identity_and_split() -> None:
    assert identity_of(Path("George_W_Bush_0012.jpg")) == "George_W_Bush"
    assert identity_of(Path("000123.jpg")) is None
    assert split_of(None, 0.5) == "train"
    splits = {split_of(f"person{i}", 0.1) for i in range(200)}
    assert splits == {"train", "val"}
    assert split_of("person7", 0.1) == split_of("person7", 0.1)


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory: pytest.TempPathFactory, shared: Path) -> Path:
    """A few real photos of each source, a corrupt file, a non-image and a face-less picture."""
    src = tmp_path_factory.mktemp("photos")
    train = shared / "data/faces/train"
    picks = sorted((train / "lfw").glob("*.jpg"))[:4] + sorted((train / "celeba").glob("*.jpg"))[:3]
    picks += sorted((train / "helen/img").glob("*.jpg"))[:2]
    for p in picks:
        shutil.copy(p, src / p.name)
    (src / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (src / "notes.png").write_text("hello")
    cv2.imwrite(str(src / "blank.png"), np.full((200, 200, 3), 128, np.uint8))
    return src


def test_prepare_real_faces_end_to_end(photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    summary = prepare([photo_dir], out, PrepareConfig(workers=2))
    assert summary["images"] == 12
    reasons = summary["rejects_by_reason"]
    assert reasons.get("unreadable or not an image") == 2
    assert reasons.get("no face detected") == 1
    assert summary["accepted"] >= 7
    data = load_prepared(out, "all")
    assert data.images.shape[1:] == (128, 128, 3) and len(data) == summary["accepted"]
    for lm in data.landmarks:
        assert (lm > 0).all() and (lm < 128).all()  # inside the crop
        eyes, nose, mouth = lm[36:48, 1].mean(), lm[30, 1], lm[48:68, 1].mean()
        assert eyes < nose < mouth
        assert 30 < lm[36:48, 0].mean() < 98  # eyes near the horizontal centre: the crop follows the face
        labels = parsing_labels(lm)
        assert len(np.unique(labels)) == len(PARSING_CLASSES) + 1
    assert np.load(out / "landmarks.npy").shape == (len(data), 68, 2)
    card = (out / "DATASET.md").read_text()
    assert "non-commercial" in card and "accepted" in card
    assert "no face detected" in (out / "manifest.csv").read_text()


def test_prepare_resumes(photo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    prepare([photo_dir], out, PrepareConfig(workers=1))
    records = read_records(out)
    # Simulate an interrupted run: drop two finished records and the crop of one of them.
    kept, dropped = records[:-2], records[-2:]
    (out / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))
    for r in dropped:
        if r.get("crop"):
            (out / "crops" / r["crop"]).unlink()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "crops").iterdir()}
    summary = prepare([photo_dir], out, PrepareConfig(workers=1))
    assert summary["accepted"] + summary["rejected"] == 12
    after = {p.name: p.stat().st_mtime_ns for p in (out / "crops").iterdir()}
    assert all(after[name] == t for name, t in before.items())  # finished crops were not redone
    assert len(read_records(out)) == 12


def test_prepare_cli(photo_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prepare", str(photo_dir), str(tmp_path / "o"), "--workers", "1"]) == 0
    assert "faces accepted" in capsys.readouterr().out
