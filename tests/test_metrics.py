"""The evaluation protocol and LR synthesis reproduce the reference numbers on the official test set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from vidfsr.models.degrade import degrade, resize
from vidfsr.models.evaluate import load_eval_set, score, to_tensor, to_uint8
from vidfsr.models.metrics import psnr_y, ssim_y


def test_bicubic_reference_numbers(celeba1000: Path) -> None:
    data = load_eval_set(celeba1000 / "HR", 8, celeba1000 / "LR_x8")
    psnr, ssim = score(data.lr_up, data.hr)
    assert len(psnr) == 1000
    assert round(float(psnr.mean()), 2) == 23.53
    assert round(float(ssim.mean()), 4) == 0.6319


def test_lr_synthesis_matches_official_files(celeba1000: Path) -> None:
    official = load_eval_set(celeba1000 / "HR", 8, celeba1000 / "LR_x8")
    ours = to_uint8(degrade(to_tensor(official.hr), 8))
    match = np.mean([psnr_y(a, b) for a, b in zip(ours, official.lr_up, strict=True)])
    assert match >= 40.0


def test_metrics_sanity() -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert psnr_y(img, img) == float("inf")
    assert ssim_y(img, img) == pytest.approx(1.0)
    noisy = np.clip(img.astype(int) + rng.integers(-20, 21, img.shape), 0, 255).astype(np.uint8)
    assert 20 < psnr_y(noisy, img) < 40 and ssim_y(noisy, img) < 1.0


def test_resize_preserves_constants_and_shapes() -> None:
    x = torch.full((2, 3, 128, 128), 0.4)
    assert torch.allclose(resize(x, (16, 16)), torch.full((2, 3, 16, 16), 0.4), atol=1e-6)
    assert degrade(x, 4).shape == x.shape


def test_face_analyser_landmarks_and_identity(shared) -> None:
    """dlib's landmark error and identity distance: zero against itself, small for a mildly degraded copy of the
    same face, and above dlib's same-person threshold (0.6) for another person."""
    import cv2
    import numpy as np
    from vidfsr.models.face_metrics import FaceAnalyser

    files = sorted((shared / "data/faces/test/celeba1000/HR").glob("*.jpg"))[:2]
    a, b = (np.ascontiguousarray(cv2.imread(str(f))[..., ::-1]) for f in files)
    box = np.array([20.0, 24.0, 108.0, 112.0])  # the face inside a crop-rule crop
    fa = FaceAnalyser()
    assert fa.compare(a, a, box) == (0.0, 0.0)
    soft = cv2.GaussianBlur(a, (0, 0), 1.0)
    nrmse, ident = fa.compare(soft, a, box)
    assert 0 < nrmse < 0.1 and 0 < ident < 0.6
    assert fa.compare(b, a, box)[1] > 0.6


def test_face_metrics_on_a_fixed_set_match_hand_computed_values(shared) -> None:
    """A face moved 4 px right inside the same box: dlib's points move with it, so the landmark NRMSE is
    4 px over the inter-ocular distance (computed by hand from the face's own points), and the identity
    (aligned on the face's own landmarks) barely changes; ``face_metrics`` scores whole sets the same way."""
    import cv2
    import numpy as np
    from vidfsr.models.face_metrics import FaceAnalyser, crop_face_box, face_metrics

    files = sorted((shared / "data/faces/test/celeba1000/HR").glob("*.jpg"))[:3]
    faces = np.stack([np.ascontiguousarray(cv2.imread(str(f))[..., ::-1]) for f in files])
    fa = FaceAnalyser()
    box = crop_face_box(128)
    assert np.allclose(box, [19.74, 16.11, 108.26, 104.63], atol=0.01)  # 128 / 1.446 px, 0.041 sides above
    moved = np.stack([cv2.warpAffine(f, np.float32([[1, 0, 4], [0, 1, 0]]), (128, 128),
                                     borderMode=cv2.BORDER_REPLICATE) for f in faces])  # fmt: skip
    nrmse, ident = face_metrics(fa, moved, faces)
    for k, f in enumerate(faces):
        pts = fa.landmarks(f, box)
        expected = 4.0 / np.linalg.norm(pts[36] - pts[45])
        assert abs(nrmse[k] - expected) < 0.3 * expected, (k, nrmse[k], expected)
    assert np.all(ident < 0.15)
    same_n, same_i = face_metrics(fa, faces, faces)
    assert not same_n.any() and not same_i.any()
