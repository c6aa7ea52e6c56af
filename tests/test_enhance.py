"""`vidfsr enhance` end to end: order, timing, audio, regions, batching, failures, extra outputs."""

from __future__ import annotations

import json
import shutil
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from vidfsr.models.io import save_weights
from vidfsr.models.registry import create_model
from vidfsr.pipelines.blend import BlendConfig, back_project, paste_inplace, project_region_inplace
from vidfsr.pipelines.crops import FaceBatch, ModelRange, choose_model, make_batch
from vidfsr.pipelines.detect import YuNetDetector
from vidfsr.pipelines.enhance import Enhancer
from vidfsr.pipelines.runner import RunConfig, Runner
from vidfsr.pipelines.types import Faces, Frame

import vidfsr
from vidfsr.cli import main
from vidfsr.errors import PipelineError

from .media import make_video

TINY = {"channels": 8, "coarse_blocks": 1, "encoder_blocks": 1, "decoder_blocks": 1, "prior_channels": 16}


@pytest.fixture(scope="module")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Untrained tiny x8 and x4 models: they exercise the plumbing; their output is not called enhanced."""
    folder = tmp_path_factory.mktemp("weights")
    paths = []
    for name in ("fsrnet_lite_x8", "fsrnet_lite_x4"):
        import torch

        torch.manual_seed(0)
        paths.append(str(save_weights(create_model(name, **TINY), folder / f"{name}.safetensors")))
    return paths


def face_clip_frames(faces: list[np.ndarray], n: int = 12, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    """Frames with two real faces (56 px crops) drifting right; frames 8+ have no face at all."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    frames = []
    for i in range(n):
        img = np.dstack([(xx // 2) % 256, (yy // 2) % 256, np.full_like(xx, 80)]).astype(np.uint8)
        if i < 8:
            for k, face in enumerate(faces[:2]):
                small = cv2.resize(face, (56, 56), interpolation=cv2.INTER_AREA)
                x, y = 40 + 140 * k + 2 * i, 80
                img[y : y + 56, x : x + 56] = small
        frames.append(img)
    return frames


def test_choose_model_by_native_range() -> None:
    ranges = (ModelRange(12, 24), ModelRange(24, 48))
    assert choose_model(16, ranges) == 0
    assert choose_model(24, ranges) == 0  # overlap: the first (preferred) model
    assert choose_model(30, ranges) == 1
    assert choose_model(100, ranges) is None  # outside every measured range: resized like the background
    assert choose_model(8, ranges) is None
    assert choose_model(100, ranges, force=True) == 1
    assert choose_model(8, ranges, force=True) == 0


def test_crops_sit_on_whole_pixels(face_images: list[np.ndarray]) -> None:
    """A detector box at a fractional position gives a crop on the frame's pixel grid (whole origin and side):
    the model input is the cubic resize of the face's own pixels, as in training, not a resample between them."""
    from vidfsr.models.metrics import psnr_y
    from vidfsr.pipelines import croprule

    small = cv2.resize(face_images[1], (41, 41), interpolation=cv2.INTER_AREA)
    frame_img = np.full((160, 160, 3), 90, np.uint8)
    frame_img[50:91, 60:101] = small
    side = 41.3 / croprule.SIDE_RATIO  # crop side 41.3 px, centred 0.37 px off the pixel grid
    cx, cy = 80.87, 70.5 - croprule.CENTRE_SHIFT_Y * side + 0.31
    det = np.array([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]], np.float32)
    batch = make_batch(Frame(0, frame_img), Faces(det, np.ones(1, np.float32), None, np.array([1])),
                       (ModelRange(12, 64),))  # fmt: skip
    box = batch.crop_xyxy[0]
    assert np.array_equal(box, np.round(box)) and box[2] - box[0] == box[3] - box[1] == 41
    assert np.abs(box - [60, 50, 101, 91]).max() <= 1
    x0, y0 = int(box[0]), int(box[1])
    direct = cv2.resize(frame_img[y0 : y0 + 41, x0 : x0 + 41], (128, 128), interpolation=cv2.INTER_CUBIC)
    inner = np.s_[8:-8, 8:-8]
    assert psnr_y(batch.crops[0][inner][..., ::-1], direct[inner][..., ::-1]) > 45


def _det(cx: float, cy: float, side: float, n: int = 1) -> Faces:
    boxes = np.array([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]] * n, np.float32)
    return Faces(boxes, np.ones(n, np.float32), None, np.arange(1, n + 1))


def test_crop_hold_keeps_a_still_face_crop_and_follows_a_moving_one(capsys: pytest.CaptureFixture[str]) -> None:
    """A face whose detector box wavers across pixel boundaries keeps one crop box (the fresh rule would jump
    between neighbouring pixels and sides); a face that walks away is followed, never framed further from the
    rule's box than the share allows; a shot cut or a lost track frees the crop; a bad share is refused."""
    from vidfsr.pipelines.croprule import crop_boxes, snap_to_pixels
    from vidfsr.pipelines.crops import CropHold

    hold, fresh = CropHold(0.05), CropHold(0.0)
    rng = np.random.default_rng(0)
    held, snapped = set(), set()
    for _ in range(30):  # a still 28 px face (40 px crop) whose box wavers by up to 0.6 px and 1 px in size
        faces = _det(100.5 + rng.uniform(-0.6, 0.6), 80.5 + rng.uniform(-0.6, 0.6), 28 + rng.uniform(-0.7, 0.7))
        held.add(tuple(hold(faces)[0]))
        snapped.add(tuple(fresh(faces)[0]))
    assert len(held) == 1 and len(snapped) > 3
    moves = []
    for t in range(60):  # the same face walking right at 0.3 px a frame
        faces = _det(100.5 + 0.3 * t, 80.5, 28)
        box = hold(faces)[0]
        assert np.array_equal(box, np.round(box)) and box[2] - box[0] == box[3] - box[1]
        assert np.abs(box - crop_boxes(faces.xyxy)[0]).max() <= 0.05 * 40.5 + 0.5 + 1e-9
        moves.append(box[0])
    assert moves[-1] - moves[0] >= 15  # it followed
    assert len(set(moves)) < 15  # in a few steps, not one pixel every few frames
    hold.reset()
    faces = _det(130.5, 80.5, 28)
    assert np.array_equal(hold(faces), snap_to_pixels(crop_boxes(faces.xyxy)))
    hold(Faces(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), None, np.zeros(0, np.int64)))  # track lost
    moved = _det(131.2, 80.5, 28)
    assert np.array_equal(hold(moved), snap_to_pixels(crop_boxes(moved.xyxy)))  # framed afresh
    with pytest.raises(ValueError, match="crop hold"):
        CropHold(0.6)
    assert main(["enhance", "in.mp4", "out.mp4", "--crop-hold", "0.7"]) == 2
    assert "crop_hold must be in [0, 0.5)" in capsys.readouterr().err
    # The steady share: 1 would freeze a face on its first frame.
    for bad in ("1.0", "-0.1"):
        assert main(["enhance", "in.mp4", "out.mp4", "--steady", bad]) == 2
        assert "steady must be in [0, 1)" in capsys.readouterr().err


def test_model_input_keeps_native_detail(face_images: list[np.ndarray]) -> None:
    """A 39 px face is cut straight to 128 px: it holds what a cubic upscale of the 39 px crop holds, and far
    more than the old policy's shrink to the x4 model's 32 px (issue 12: 3.4 dB lost)."""
    from vidfsr.models.metrics import psnr_y

    hr = face_images[0]
    frame_img = np.full((200, 200, 3), 90, np.uint8)
    small = cv2.resize(hr, (39, 39), interpolation=cv2.INTER_AREA)
    frame_img[80:119, 70:109] = small
    box = np.array([70.0, 80.0, 109.0, 119.0])
    # Detector box whose crop (by the crop rule) is exactly this square.
    from vidfsr.pipelines import croprule

    side = 39 / croprule.SIDE_RATIO
    cx, cy = 89.5 - 0.0, 99.5 - croprule.CENTRE_SHIFT_Y * side
    det = np.array([[cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2]], np.float32)
    faces = Faces(det, np.ones(1, np.float32), None, np.array([7]))
    batch = make_batch(Frame(0, frame_img), faces, (ModelRange(12, 64),))
    assert len(batch) == 1 and int(batch.track_id[0]) == 7
    assert abs(batch.native_side[0] - 39) < 1e-3 and np.allclose(batch.crop_xyxy[0], box, atol=1e-3)
    lr_up = batch.crops[0]
    direct = cv2.resize(small, (128, 128), interpolation=cv2.INTER_CUBIC)
    shrunk = cv2.resize(cv2.resize(small, (32, 32), interpolation=cv2.INTER_AREA), (128, 128),
                        interpolation=cv2.INTER_CUBIC)  # fmt: skip
    truth = cv2.resize(hr, (128, 128), interpolation=cv2.INTER_AREA)
    inner = np.s_[8:-8, 8:-8]  # the edges see the frame around the crop, which a resize of the crop alone cannot
    assert psnr_y(lr_up[inner][..., ::-1], direct[inner][..., ::-1]) > 40  # = the direct cubic upscale
    assert psnr_y(lr_up[..., ::-1], truth[..., ::-1]) > psnr_y(shrunk[..., ::-1], truth[..., ::-1]) + 1.0
    assert len(make_batch(Frame(0, frame_img), faces, (ModelRange(12, 32),))) == 0  # outside the range: passed
    with pytest.raises(ValueError):  # immutable: stages make new batches instead of writing into this one
        batch.crops[0, 0, 0, 0] = 1
    with pytest.raises(AttributeError):
        batch.sr = batch.crops  # type: ignore[misc]
    done = batch.with_output(batch.crops.copy(), None)
    assert done.sr is not None and batch.sr is None and isinstance(done, FaceBatch)


def test_runner_touches_only_face_regions(tiny_weights: list[str], face_images: list[np.ndarray]) -> None:
    from vidfsr.api import load_models

    runner = Runner(YuNetDetector(), Enhancer(load_models(tiny_weights)), RunConfig(scale=2.0, force=True))
    images = face_clip_frames(face_images)
    frames = [Frame(i, img, pts=i, time_base=Fraction(1, 25)) for i, img in enumerate(images)]
    out: list[tuple[int, np.ndarray]] = []
    boxes: dict[int, np.ndarray] = {}
    original_render = runner.render

    def render(item):
        boxes[item.frame.index] = np.asarray(item.batch.crop_xyxy).reshape(-1, 4)
        return original_render(item)

    runner.render = render  # type: ignore[method-assign]
    summary = runner.run(frames, lambda f, img: out.append((f.index, img)))
    assert [i for i, _ in out] == list(range(12))  # every frame, in input order
    assert summary.faces_enhanced >= 8
    enhanced_frames = 0
    for index, img in out:
        plain = cv2.resize(images[index], (640, 480), interpolation=cv2.INTER_CUBIC)  # the bicubic background
        changed = np.any(img != plain, axis=2)
        if not len(boxes[index]):
            assert not changed.any()  # no (tracked) face: byte-identical to the plain pass-through
            continue
        enhanced_frames += 1
        allowed = np.zeros_like(changed)
        for x0, y0, x1, y1 in boxes[index] * 2:
            allowed[max(int(y0) - 1, 0) : int(np.ceil(y1)) + 1, max(int(x0) - 1, 0) : int(np.ceil(x1)) + 1] = True
        assert changed.any() and not (changed & ~allowed).any()
    assert enhanced_frames >= 6  # tracks are confirmed from the second frame on
    assert not len(boxes[11])  # the tracks ended a few frames after the faces left


def test_a_model_that_adds_nothing_leaves_the_bicubic_frame() -> None:
    """Pasting only what the model added: an identity model changes no pixel (so crop-box jitter cannot flicker),
    and added detail lands inside the face region."""
    rng = np.random.default_rng(0)
    canvas = rng.integers(0, 256, (120, 120, 3), dtype=np.uint8)
    base = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    before = canvas.copy()
    for box in ([10.3, 20.7, 70.1, 80.5], [0.0, 0.0, 119.0, 119.0], [-5.5, 50.2, 40.0, 95.7]):
        paste_inplace(canvas, base, np.array(box), BlendConfig(), base=base)
        assert np.array_equal(canvas, before)
    detail = base.astype(int)
    detail[60:68] += 60
    paste_inplace(canvas, np.clip(detail, 0, 255).astype(np.uint8), np.array([20.0, 30.0, 80.0, 90.0]), BlendConfig(),
                  base=base)  # fmt: skip
    changed = np.any(canvas != before, axis=2)
    assert changed[45:65, 30:70].any() and not changed[:29].any() and not changed[91:].any()


def test_back_projection_makes_the_face_agree_with_the_input(face_images: list[np.ndarray]) -> None:
    """A soft model output (what a blind model gives on a clean face), after one back-projection step: shrunk to
    the crop's native pixels it matches the input frame, and it is closer to the true face than before."""
    from vidfsr.models.metrics import psnr_y

    hr = cv2.resize(face_images[0], (128, 128), interpolation=cv2.INTER_AREA)
    frame = np.full((100, 110, 3), 90, np.uint8)
    frame[20:60, 30:70] = cv2.resize(hr, (40, 40), interpolation=cv2.INTER_AREA)
    box = np.array([30.0, 20.0, 70.0, 60.0])
    soft = cv2.GaussianBlur(hr, (0, 0), 2.5)

    def mismatch(face: np.ndarray) -> float:
        down = cv2.resize(face.astype(np.float32), (40, 40), interpolation=cv2.INTER_AREA)
        return float(np.abs(down - frame[20:60, 30:70]).mean())

    fixed = back_project(soft, frame, box, 1.0)
    assert mismatch(fixed) < mismatch(soft) / 3
    assert psnr_y(fixed[..., ::-1], hr[..., ::-1]) > psnr_y(soft[..., ::-1], hr[..., ::-1]) + 1.0
    half = back_project(soft, frame, box, 0.5)
    assert mismatch(fixed) < mismatch(half) < mismatch(soft)
    assert back_project(soft, frame, box, 0.0) is soft
    big = np.array([0.0, 0.0, 130.0, 130.0])  # a crop at least as large as the output: nothing to correct
    assert back_project(soft, np.zeros((140, 140, 3), np.uint8), big, 1.0) is soft


def test_frame_step_brings_the_upscaled_face_closer_to_the_truth(face_images: list[np.ndarray]) -> None:
    """The output-resolution step over a face's region of a bicubic 4x upscale (lossless input): shrunk back, the
    region matches the input better, it is nearer the true face than bicubic, and nothing outside the crop box
    changes."""
    from vidfsr.models.metrics import psnr_y

    truth = np.full((256, 320, 3), 100, np.uint8)
    truth[64:192, 96:224] = face_images[1]
    small = cv2.resize(truth, (80, 64), interpolation=cv2.INTER_AREA)
    canvas = cv2.resize(small, (320, 256), interpolation=cv2.INTER_CUBIC)
    before = canvas.copy()
    crop = np.array([22.0, 14.0, 58.0, 50.0])  # input pixels: the face's 32 px and some margin
    project_region_inplace(canvas, small, crop, 1.0)

    face = (slice(72, 184), slice(104, 216))  # the face, inside the ellipse

    def face_psnr(img: np.ndarray) -> float:
        return psnr_y(img[face][..., ::-1], truth[face][..., ::-1])

    gain = face_psnr(canvas) - face_psnr(before)
    assert gain > 0.3, gain

    def mismatch(img: np.ndarray) -> float:
        down = cv2.resize(img.astype(np.float32), (80, 64), interpolation=cv2.INTER_AREA)
        return float(np.abs(down[20:44, 28:52] - small[20:44, 28:52]).mean())

    assert mismatch(canvas) < mismatch(before) / 2
    changed = np.any(canvas != before, axis=2)
    assert changed[face].any() and not changed[: 14 * 4].any() and not changed[:, 58 * 4 :].any()
    untouched = before.copy()
    project_region_inplace(untouched, small, crop, 0.0)
    project_region_inplace(untouched, cv2.resize(small, (320, 256)), crop, 1.0)  # no upscale: nothing to do
    assert np.array_equal(untouched, before)
    # A box over the frame's corner at a fractional scale: only the part inside the frame is touched.
    texture = cv2.resize(face_images[2], (80, 64), interpolation=cv2.INTER_AREA)
    odd = cv2.resize(texture, (200, 160), interpolation=cv2.INTER_CUBIC)
    odd_before = odd.copy()
    project_region_inplace(odd, texture, np.array([-6.0, -5.0, 14.0, 15.0]), 1.0)
    ys, xs = np.nonzero(np.any(odd != odd_before, axis=2))
    assert len(ys) and ys.max() < 15 * 2.5 and xs.max() < 14 * 2.5


def _texture(shape: tuple[int, int], seed: int, sigma: float = 2.0, amplitude: float = 40.0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, 1, (*shape, 3)).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), sigma)
    return smooth / smooth.std() * amplitude


def test_steady_faces_follow_the_face_and_let_changes_through() -> None:
    """The previous frame's output face is carried by the flow onto a moved face and averaged in through the
    paste's ellipse: what is the face's own (moved) stays, what changes at random from frame to frame is damped,
    nothing ghosts; where the picture really changed the current frame stands; outside the ellipse nothing is
    touched; weight 0 leaves the paste as it is while the state follows the track."""
    from vidfsr.pipelines.steady import SteadyFaces

    shape, box = (200, 200), np.array([40.0, 40.0, 160.0, 160.0])
    scene = np.clip(128 + _texture((240, 240), 0), 0, 255)
    inner = (slice(70, 130), slice(70, 130))  # well inside the ellipse

    def frame(dx: int, seed: int, patch: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(truth, the freshly pasted output: truth plus what flickers) with the scene moved by ``dx`` px."""
        truth = scene[20 : 20 + shape[0], 20 - dx : 20 - dx + shape[1]].copy()
        if patch:  # something new in the face: a bright block
            truth[70:100, 60:140] = 230
        noise = np.random.default_rng(seed).normal(0, 4, truth.shape).astype(np.float32)
        return truth, np.clip(truth + noise, 0, 255).round().astype(np.uint8)

    steady = SteadyFaces()
    unaligned = None
    for t in range(7):  # the face drifts 2 px a frame
        truth, pasted = frame(2 * t, 10 + t)
        out = pasted.copy()
        steady.apply_inplace(7, out, box, 4.0, 0.8)
        steady.remember(7, out)
        # The same recursion without motion compensation, for comparison.
        p = pasted.astype(np.float32)
        unaligned = p if unaligned is None else 0.8 * unaligned + 0.2 * p
    assert len(steady) == 1
    before_err = np.abs(pasted[inner].astype(np.float32) - truth[inner]).mean()
    after_err = np.abs(out[inner].astype(np.float32) - truth[inner]).mean()
    assert after_err < 0.6 * before_err  # the random part damped, the moved face kept
    assert np.abs(unaligned[inner] - truth[inner]).mean() > 2 * before_err  # what ghosting would have done
    assert np.array_equal(out[:44, :44], pasted[:44, :44])  # the region's corner is outside the ellipse
    # A change of the picture: the new block's pixels keep the current frame's values.
    _, pasted2 = frame(14, 20, patch=True)
    out2 = pasted2.copy()
    steady.apply_inplace(7, out2, box, 4.0, 0.8)
    assert np.abs(out2[78:92, 70:130].astype(int) - pasted2[78:92, 70:130]).max() <= 1
    steady.remember(7, out2)
    # Weight 0: the paste stands; a new track has no history to carry.
    _, pasted3 = frame(16, 21)
    out3 = pasted3.copy()
    steady.apply_inplace(7, out3, box, 4.0, 0.0)
    steady.apply_inplace(8, out3, box, 4.0, 0.8)
    assert np.array_equal(out3, pasted3)
    steady.remember(7, out3)
    steady.remember(8, out3)
    assert len(steady) == 2
    steady.forget(7)
    assert len(steady) == 1
    steady.clear()
    assert len(steady) == 0
    # A face half off the frame whose region changes size from one frame to the next: the previous region is
    # placed where it was, the part it does not cover keeps the current frame, nothing outside the region moves.
    edge = np.clip(128 + _texture((100, 100), 3), 0, 255).round().astype(np.uint8)
    for t, box_t in enumerate((np.array([-30.0, 10.0, 50.0, 90.0]), np.array([-24.0, 14.0, 57.0, 95.0]))):
        out = np.clip(edge.astype(int) + np.random.default_rng(30 + t).integers(-6, 7, edge.shape), 0, 255)
        out = out.astype(np.uint8)
        before = out.copy()
        steady.apply_inplace(9, out, box_t, 4.0, 0.8)
        steady.remember(9, out)
        assert np.array_equal(out[:, 58:], before[:, 58:]) and np.array_equal(out[:10], before[:10])
    assert not np.array_equal(out, before)  # the second frame was averaged with the first


def test_steady_faces_find_a_coarser_flow_where_no_frame_step_anchors_them() -> None:
    """At 2x the flow is found on the full region where a frame step of more than a quarter follows (lossless and
    finely coded sources: the recursion lives on its precision) and on 2x shrunk copies where a weaker one or none
    does (coarsely coded and unknown sources: mostly coding noise is averaged there); either way the moved face is
    carried, not ghosted."""
    from vidfsr.pipelines import steady as steady_mod

    class Recording:
        def __init__(self) -> None:
            self.flow = cv2.DISOpticalFlow_create(steady_mod.FLOW_PRESET)
            self.shapes: list[tuple[int, ...]] = []

        def calc(self, a, b, flow):
            self.shapes.append(a.shape)
            return self.flow.calc(a, b, flow)

    box = np.array([20.0, 20.0, 180.0, 180.0])
    scene = np.clip(128 + _texture((240, 240), 1, sigma=3.0), 0, 255)
    for step, side in ((1.0, 160), (0.5, 160), (0.25, 80), (0.0, 80)):
        steady = steady_mod.SteadyFaces()
        steady._flow = recording = Recording()
        for t in range(6):  # 2 output px a frame
            truth = scene[20:220, 20 + 2 * t : 220 + 2 * t]
            noise = np.random.default_rng(t).normal(0, 4, truth.shape)
            pasted = np.clip(truth + noise, 0, 255).round().astype(np.uint8)
            out = pasted.copy()
            steady.apply_inplace(1, out, box, 2.0, 0.8, step=step)
            steady.remember(1, out)
        assert recording.shapes and all(s == (side, side) for s in recording.shapes)
        inner = (slice(70, 130), slice(70, 130))
        before = np.abs(pasted[inner].astype(np.float32) - truth[inner]).mean()
        assert np.abs(out[inner].astype(np.float32) - truth[inner]).mean() < 0.7 * before


def test_steady_faces_keep_more_of_a_still_face() -> None:
    """A face that holds still gets the previous face at a share rising toward the still share (0.8 -> 0.9): what
    flickers is damped further; a face moving by most of an input pixel a frame keeps its own share exactly (a longer
    memory lagged the fastest clip); a still share of 0 (the recursion off) stays 0."""
    from vidfsr.pipelines.steady import SteadyFaces, still_share

    assert still_share(0.8) == pytest.approx(0.9) and still_share(0.0) == 0.0
    box = np.array([40.0, 40.0, 160.0, 160.0])
    scene = np.clip(128 + _texture((240, 240), 2, sigma=3.0), 0, 255)
    inner = (slice(70, 130), slice(70, 130))

    def run(speed: int, still: float) -> tuple[np.ndarray, np.ndarray]:
        steady = SteadyFaces()
        for t in range(24):  # past the longer memory's start-up (0.9 ** 23 ~ 0.09)
            truth = scene[20:220, 20 + speed * t % 12 : 220 + speed * t % 12]
            noise = np.random.default_rng(40 + t).normal(0, 4, truth.shape)
            out = np.clip(truth + noise, 0, 255).round().astype(np.uint8)
            steady.apply_inplace(3, out, box, 4.0, 0.8, still=still)
            steady.remember(3, out)
        return out, truth

    def error(pair: tuple[np.ndarray, np.ndarray]) -> float:
        out, truth = pair
        return float(np.abs(out[inner].astype(np.float32) - truth[inner]).mean())

    assert error(run(0, 0.9)) < 0.9 * error(run(0, 0.0))
    moving, _ = run(3, 0.9)  # 0.75 input px a frame at 4x
    assert np.array_equal(moving, run(3, 0.0)[0])


def test_steady_faces_reach_across_the_ellipses_feather() -> None:
    """The previous face gets its full share wherever the paste shows a quarter or more of the model's detail,
    not a share scaled by the feather (which let the face's rim flicker above bicubic on still clips); where the
    paste shows nothing, nothing is touched."""
    from vidfsr.pipelines.blend import paste_mask
    from vidfsr.pipelines.steady import SteadyFaces

    box = np.array([40.0, 40.0, 160.0, 160.0])
    scene = np.clip(128 + _texture((200, 200), 4), 0, 255).round().astype(np.uint8)
    # Detail finer than the input's pixels (2x2 output-pixel blocks at 4x): blurred to them it is nothing, so the
    # gate lets the previous face in wherever the share reaches.
    yy, xx = np.indices((200, 200)) // 2
    detail = np.where(((yy + xx) % 2)[..., None] == 0, 6, -6).astype(np.int16)
    steady = SteadyFaces()
    first = np.clip(scene + detail, 0, 255).astype(np.uint8)
    steady.apply_inplace(1, first, box, 4.0, 0.8)
    steady.remember(1, first)
    out = scene.copy()  # this frame's paste has no such detail
    steady.apply_inplace(1, out, box, 4.0, 0.8)
    (x0, y0, x1, y1), mask = paste_mask(box, scene.shape)
    carried = (out[y0:y1, x0:x1].astype(np.float32) - scene[y0:y1, x0:x1]) * np.sign(detail[y0:y1, x0:x1])
    ring = (mask >= 0.25) & (mask <= 0.5)  # the feather: a share scaled by it would be at most 0.4
    assert ring.sum() > 500
    assert carried[ring].mean() > 0.6 * 6
    assert carried[mask > 0.95].mean() > 0.6 * 6
    outside = np.zeros(scene.shape[:2], bool)
    outside[y0:y1, x0:x1] = mask <= 0
    assert np.array_equal(out[outside], scene[outside])


def test_steady_faces_leave_slivers_and_specks_as_pasted() -> None:
    """A face cut by the frame's edge to a sliver, or a speck of a face, is too small for the flow (OpenCV's DIS
    raises below 12 px each way): it is left as pasted instead of failing the blend stage."""
    from vidfsr.pipelines.steady import SteadyFaces

    steady = SteadyFaces()
    rng = np.random.default_rng(5)
    boxes = {
        1: np.array([-60.0, 20.0, 5.0, 85.0]),
        2: np.array([95.0, 95.0, 140.0, 140.0]),
        3: np.array([40.0] * 2 + [46.0] * 2),
    }
    for _ in range(3):
        canvas = rng.integers(0, 255, (100, 100, 3)).astype(np.uint8)
        before = canvas.copy()
        for tid, box in boxes.items():
            steady.apply_inplace(tid, canvas, box, 4.0, 0.8)
            steady.remember(tid, canvas)
        assert np.array_equal(canvas, before)
    assert len(steady) == 3


def test_paste_is_region_only_and_colour_matched() -> None:
    canvas = np.full((100, 100, 3), 120, np.uint8)
    face = np.full((128, 128, 3), 200, np.uint8)  # a model output with a colour shift
    face[60:68] = 40  # and some detail
    before = canvas.copy()
    paste_inplace(canvas, face, np.array([20, 30, 60, 70]), BlendConfig())
    outside = np.ones((100, 100), bool)
    outside[30:70, 20:60] = False
    assert (canvas[outside] == before[outside]).all()
    region = canvas[30:70, 20:60].astype(int)
    assert abs(region.mean() - 120) < 8  # low frequencies follow the original, not the model's 200
    assert region.std() > 3  # the detail got in


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["detector", "enhancer", "sink"])
def test_a_failing_stage_stops_the_pipeline(where: str, tiny_weights: list[str], face_images: list[np.ndarray]) -> None:
    from vidfsr.api import load_models

    detector = YuNetDetector()
    enhancer = Enhancer(load_models(tiny_weights))
    calls = {"n": 0}

    def failing_detector(image: np.ndarray) -> Faces:
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("detector exploded")
        return detector(image)

    def failing_enhancer(crops, side):
        raise RuntimeError("enhancer exploded")

    failing_enhancer.ranges = enhancer.ranges  # type: ignore[attr-defined]

    def write(frame, image) -> None:
        if where == "sink" and frame.index == 3:
            raise OSError("disk full")

    runner = Runner(
        failing_detector if where == "detector" else detector,
        failing_enhancer if where == "enhancer" else enhancer,
        RunConfig(force=True, queue_size=2),
    )
    frames = (Frame(i % 12, img) for i, img in enumerate(face_clip_frames(face_images, 12) * 50))
    expected = {"detector": "detector exploded", "enhancer": "enhancer exploded", "sink": "disk full"}[where]
    with pytest.raises((PipelineError, OSError), match=expected):
        runner.run(frames, write)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("where", ["source", "sink"])
def test_errors_keep_their_type_and_name_the_stage(
    where: str, tiny_weights: list[str], face_images: list[np.ndarray]
) -> None:
    """``except StreamError`` catches a camera or disk failure whichever thread it happened in."""
    from vidfsr.api import load_models
    from vidfsr.errors import StreamError

    images = face_clip_frames(face_images, 12)

    def frames():
        for i, img in enumerate(images * 5):
            if where == "source" and i == 7:
                raise StreamError("camera went away")
            yield Frame(i, img)

    def write(frame, image) -> None:
        if where == "sink" and frame.index == 3:
            raise StreamError("publisher refused")

    runner = Runner(YuNetDetector(), Enhancer(load_models(tiny_weights)), RunConfig(force=True, queue_size=2))
    stage = {"source": "decode", "sink": "encode"}[where]
    with pytest.raises(StreamError, match=f"the {stage} stage failed"):
        runner.run(frames(), write)


SIX_THREADS = "decode,detect,crops,enhance,blend,encode"


def test_every_thread_grouping_writes_the_same_frames(tiny_weights: list[str], face_images: list[np.ndarray]) -> None:
    """The stages do the same work whichever threads they share: byte-identical output, every stage timed."""
    from vidfsr.api import load_models

    enhancer = Enhancer(load_models(tiny_weights))
    images = face_clip_frames(face_images, 10)
    outputs = {}
    groupings = (SIX_THREADS, "decode+detect+crops,enhance,blend+encode", "decode+detect+crops,enhance+blend+encode")
    for threads in groupings:
        runner = Runner(YuNetDetector(), enhancer, RunConfig(scale=2.0, force=True, threads=threads))
        out: list[np.ndarray] = []
        summary = runner.run((Frame(i, img) for i, img in enumerate(images)), lambda f, img, o=out: o.append(img))
        assert summary.frames == 10 and summary.faces_enhanced >= 8
        assert set(summary.stage_cpu_seconds) == {"decode", "detect", "crops", "enhance", "blend", "encode"}
        assert summary.stage_cpu_seconds["detect"] > 0 and summary.stage_cpu_seconds["enhance"] > 0
        outputs[threads] = out
    first = outputs[SIX_THREADS]
    for threads, out in outputs.items():
        assert len(out) == len(first) and all(np.array_equal(a, b) for a, b in zip(out, first, strict=True)), threads


@pytest.mark.parametrize(
    "spec, message",
    [("decode,detect,enhance,blend,encode", "once each"), ("decode,crops,detect,enhance,blend,encode", "in that order"),
     ("decode+detect+crops+enhance,blend,encode", "cannot share the decode")],
)  # fmt: skip
def test_thread_groupings_are_checked(spec: str, message: str) -> None:
    from vidfsr.pipelines.runner import parse_threads

    from vidfsr.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_threads(spec)
    assert parse_threads(SIX_THREADS) == [[s] for s in SIX_THREADS.split(",")]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("stage", ["decode", "detect", "crops", "enhance", "blend", "encode"])
def test_each_of_six_threads_fails_with_its_own_name(
    stage: str, tiny_weights: list[str], face_images: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Six threads: a failure in any stage stops the run promptly and the error names that stage."""
    import time

    from vidfsr.pipelines import runner as runner_mod

    from vidfsr.api import load_models

    enhancer = Enhancer(load_models(tiny_weights))
    images = face_clip_frames(face_images, 12)

    def boom(*args, **kwargs):
        raise RuntimeError(f"{stage} exploded")

    def frames():
        for i, img in enumerate(images * 50):
            if stage == "decode" and i == 5:
                boom()
            yield Frame(i, img)

    detector = YuNetDetector()
    if stage == "detect":
        detector = boom  # type: ignore[assignment]
    if stage == "crops":
        monkeypatch.setattr(runner_mod, "make_batch", boom)
    runner = Runner(detector, boom if stage == "enhance" else enhancer, RunConfig(force=True, queue_size=2,
                    threads=SIX_THREADS))  # fmt: skip
    if stage == "enhance":
        runner.enhancer.ranges = enhancer.ranges  # type: ignore[attr-defined]
    if stage == "blend":
        runner.render = boom  # type: ignore[method-assign]
    write = boom if stage == "encode" else (lambda f, img: None)
    t = time.perf_counter()
    with pytest.raises(PipelineError, match=f"the {stage} stage failed: {stage} exploded"):
        runner.run(frames(), write)
    assert time.perf_counter() - t < 30


def test_batches_across_frames_and_keeps_order(tiny_weights: list[str], face_images: list[np.ndarray]) -> None:
    from vidfsr.api import load_models

    enhancer = Enhancer(load_models(tiny_weights))
    sizes: list[int] = []

    class Spy:
        ranges = enhancer.ranges

        def __call__(self, crops, side):
            sizes.append(len(crops))
            return enhancer(crops, side)

    # Eight faces per frame, every frame.
    canvas = np.full((360, 640, 3), 70, np.uint8)
    for k in range(8):
        small = cv2.resize(face_images[k % 4], (48, 48), interpolation=cv2.INTER_AREA)
        canvas[60 + 150 * (k // 4) : 108 + 150 * (k // 4), 40 + 150 * (k % 4) : 88 + 150 * (k % 4)] = small
    runner = Runner(YuNetDetector(), Spy(), RunConfig(force=True, batch_size=16, max_wait=1.0))
    order: list[int] = []
    summary = runner.run((Frame(i, canvas) for i in range(10)), lambda f, img: order.append(f.index))
    assert order == list(range(10))
    assert summary.faces_enhanced == sum(sizes) >= 8 * 8
    assert max(sizes) >= 16  # faces of several frames went through the model together


def write_face_clip(path: Path, face_images: list[np.ndarray], audio: bool = True) -> Path:
    return make_video(
        path, frames=12, size=(320, 240), rate=Fraction(30000, 1001), audio=audio,
        images=face_clip_frames(face_images),
    )  # fmt: skip


def test_enhance_video_end_to_end(tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path) -> None:
    src = write_face_clip(tmp_path / "in.mp4", face_images)
    dst = tmp_path / "out.mp4"
    faces_dir = tmp_path / "faces"
    result = vidfsr.enhance_video(
        src, dst, models=tuple(tiny_weights), force=True, compare=str(tmp_path / "cmp.mp4"), save_faces=str(faces_dir)
    )
    assert result["frames"] == 12 and result["faces_enhanced"] > 0
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        pts_a = [f.pts for f in a.decode(video=0)]
        pts_b = [f.pts for f in b.decode(video=0)]
        assert pts_a == pts_b
        assert b.streams.video[0].average_rate == Fraction(30000, 1001)
        assert (b.streams.video[0].width, b.streams.video[0].height) == (640, 480)
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert [bytes(p) for p in a.demux(audio=0) if p.size] == [bytes(p) for p in b.demux(audio=0) if p.size]
    with av.open(str(tmp_path / "cmp.mp4")) as c:
        assert c.streams.video[0].width == 1280 and sum(1 for _ in c.decode(video=0)) == 12
    report = json.loads((faces_dir / "tracks.json").read_text())
    assert len(report["tracks"]) >= 2
    for t in report["tracks"]:
        assert (faces_dir / t["image"]).exists() and t["first_frame"] <= t["best_frame"] <= t["last_frame"]
        assert t["enhanced"] is True


def test_stop_event_ends_a_file_run_with_a_playable_partial(
    tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path
) -> None:
    """``stop`` set mid-run (a service ending a job, or the CLI's Ctrl-C handler): the run returns
    instead of raising, every frame read is in the playable ``.partial`` file, the target is not created."""
    import threading

    n = 80  # more than the stages buffer (queue_size 8 between each), so the stop lands before the last read
    src = make_video(tmp_path / "in.mp4", frames=n, size=(320, 240), images=face_clip_frames(face_images, n))
    dst = tmp_path / "out.mp4"
    stop = threading.Event()

    def progress(summary, total: int) -> None:
        if summary.frames == 4:
            stop.set()

    result = vidfsr.enhance_video(src, dst, progress, stop=stop, models=(tiny_weights[0],), force=True)
    assert result["stopped"] is True and 4 <= result["frames"] < n
    assert not dst.exists() and Path(result["output"]).exists()
    with av.open(result["output"]) as c:
        assert sum(1 for _ in c.decode(video=0)) == result["frames"]
    again = vidfsr.enhance_video(src, dst, models=(tiny_weights[0],), force=True, stop=threading.Event())
    assert again["frames"] == n and "stopped" not in again and dst.exists()


def test_save_faces_reports_faces_no_model_serves(
    tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path
) -> None:
    """The 56 px faces (crops ~60 px) are outside the tiny x8 model's range: they pass through, and the report
    still lists each person, marked not enhanced, with the reason."""
    src = write_face_clip(tmp_path / "in.mp4", face_images, audio=False)
    faces_dir = tmp_path / "faces"
    result = vidfsr.enhance_video(src, tmp_path / "out.mp4", models=(tiny_weights[0],), save_faces=str(faces_dir))
    assert result["faces_enhanced"] == 0
    report = json.loads((faces_dir / "tracks.json").read_text())["tracks"]
    assert len(report) >= 2
    for t in report:
        assert t["enhanced"] is False and "outside the models' range (12-24 px)" in t["reason"]
        assert cv2.imread(str(faces_dir / t["image"])).shape[0] > 60  # the face as it appears in the output


def test_enhance_cli_images_and_folders(tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, img in enumerate(face_clip_frames(face_images, 2)):
        cv2.imwrite(str(photos / f"p{i}.jpg"), img)
    model_args = [a for w in tiny_weights for a in ("--model", w)]
    assert main(["enhance", str(photos / "p0.jpg"), str(tmp_path / "one.png"), "--force", *model_args]) == 0
    assert cv2.imread(str(tmp_path / "one.png")).shape == (480, 640, 3)
    assert main(["enhance", str(photos), str(tmp_path / "out"), "--force", *model_args]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.jpg", "p1.jpg"]
    # --compare for stills: the bicubic input beside the output, an image per image, a folder for a folder.
    args = [str(photos / "p0.jpg"), str(tmp_path / "two.png"), "--force", "--compare", str(tmp_path / "cmp.png")]
    assert main(["enhance", *args, *model_args]) == 0
    pair, out = cv2.imread(str(tmp_path / "cmp.png")), cv2.imread(str(tmp_path / "two.png"))
    assert pair.shape == (480, 1280, 3)
    assert np.array_equal(pair[60:, 640 + 200 :], out[60:, 200:])  # right half: the output (labels top left)
    bicubic = cv2.resize(cv2.imread(str(photos / "p0.jpg")), (640, 480), interpolation=cv2.INTER_CUBIC)
    assert np.array_equal(pair[60:, 200:640], bicubic[60:, 200:])  # left half: the input as bicubic
    assert main(["enhance", str(photos), str(tmp_path / "o2"), "--compare", str(tmp_path / "cmps"), *model_args]) == 0
    assert sorted(p.name for p in (tmp_path / "cmps").iterdir()) == ["p0.jpg", "p1.jpg"]
    assert main(["enhance", str(photos), str(tmp_path / "o3"), "--compare", str(tmp_path / "c.png"), *model_args]) == 2


def test_each_image_of_a_folder_comes_out_as_it_would_alone(
    tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder's images are unrelated stills: none inherits the last one's temporal smoothing or the
    detector's pass schedule (the second image skipped YuNet's upscaled pass), and ``--save-faces`` writes one
    folder per image. Checked against the old per-image reset (the tracker only), which fails it."""
    from vidfsr.pipelines.runner import Runner, Tracker

    photos = tmp_path / "photos"
    photos.mkdir()
    for i, img in enumerate(face_clip_frames(face_images, 2)):
        cv2.imwrite(str(photos / f"p{i}.png"), img)
    opts = {"models": tuple(tiny_weights), "force": True, "scale": 2.0}
    vidfsr.enhance_video(photos / "p1.png", tmp_path / "alone.png", **opts)
    alone = cv2.imread(str(tmp_path / "alone.png"))
    vidfsr.enhance_video(photos, tmp_path / "out", save_faces=str(tmp_path / "faces"), **opts)
    assert np.array_equal(cv2.imread(str(tmp_path / "out/p1.png")), alone)
    assert sorted(p.name for p in (tmp_path / "faces").iterdir()) == ["p0", "p1"]
    assert (tmp_path / "faces/p1/tracks.json").exists()

    def tracker_only(self: Runner) -> None:
        self.tracker = Tracker(self.config.tracker)

    monkeypatch.setattr(Runner, "start_over", tracker_only)
    vidfsr.enhance_video(photos, tmp_path / "old", **opts)
    assert not np.array_equal(cv2.imread(str(tmp_path / "old/p1.png")), alone)


def test_a_transparent_png_keeps_its_alpha(tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path):
    """A PNG with transparency comes out with its alpha plane resized like the frame (it was dropped); a JPEG
    output, which has no alpha, gets the colour planes only, and so does the --compare image."""
    frame = face_clip_frames(face_images, 1)[0]
    alpha = np.zeros(frame.shape[:2], np.uint8)
    alpha[40:200, 20:300] = 255
    cv2.imwrite(str(tmp_path / "in.png"), np.dstack([frame, alpha]))
    opts = {"models": tuple(tiny_weights), "force": True, "scale": 2.0}
    vidfsr.enhance_video(tmp_path / "in.png", tmp_path / "out.png", **opts)
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == (480, 640, 4)
    assert np.array_equal(out[..., 3], cv2.resize(alpha, (640, 480), interpolation=cv2.INTER_CUBIC))
    vidfsr.enhance_video(tmp_path / "in.png", tmp_path / "out.jpg", **opts)
    assert cv2.imread(str(tmp_path / "out.jpg"), cv2.IMREAD_UNCHANGED).shape == (480, 640, 3)
    vidfsr.enhance_video(tmp_path / "in.png", tmp_path / "o.png", compare=str(tmp_path / "cmp.png"), **opts)
    assert cv2.imread(str(tmp_path / "cmp.png"), cv2.IMREAD_UNCHANGED).shape == (480, 1280, 3)


def test_back_projection_share_follows_the_source(
    tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The full step on lossless sources (ffv1 video, PNG stills), 0.75 on compressed ones (H.264 up to QP 29,
    JPEG up to quality 80) and on unknown ones, JPEG stills between by the quality in their tables, H.264 by
    its keyframe QP; the output-resolution step at 1.0 on lossless sources (0.5 from JPEG quality 90 and at
    H.264 QP 22 and finer; run before the recursion's average and after it), for enhanced faces and for faces
    left to the resize alike; explicit shares win. Checked where the shares are used: the blend stage's calls."""
    from vidfsr.pipelines import runner as runner_module
    from vidfsr.pipelines.blend import auto_consistency, auto_frame_consistency
    from vidfsr.pipelines.runner import STEP_AFTER_STILL

    assert auto_consistency("ffv1") == auto_consistency("png") == 1.0
    assert auto_consistency("h264") == auto_consistency("hevc") == auto_consistency(None) == 0.75
    assert auto_frame_consistency("ffv1") == auto_frame_consistency("png") == 1.0
    assert auto_frame_consistency("h264") == auto_frame_consistency("mjpeg") == auto_frame_consistency(None) == 0.0
    # JPEG by quality: lossy shares up to 80 / 85, lossless from 85 / 95, linear between; unknown quality is lossy.
    assert [auto_consistency("jpg", q) for q in (50, 80, 82, 85, 95)] == [0.75, 0.75, 0.85, 1.0, 1.0]
    assert [auto_frame_consistency("jpeg", q) for q in (80, 85, 87, 90, 100)] == pytest.approx([0, 0, 0.2, 0.5, 0.5])
    assert auto_consistency("jpg", None) == 0.75 and auto_frame_consistency("jpg", None) == 0.0
    # H.264 by its keyframe QP: the frame step rises to half from QP 30 down to 22, the crop share falls to 0.5
    # from QP 29 up to 33; an unknown QP, and other codecs' quantisers (their own scales), keep the lossy shares.
    assert [auto_frame_consistency("h264", q) for q in (16, 22, 26, 30, 40)] == pytest.approx([0.5, 0.5, 0.25, 0, 0])
    assert [auto_consistency("h264", q) for q in (16, 29, 31, 33, 40)] == pytest.approx([0.75, 0.75, 0.625, 0.5, 0.5])
    assert auto_consistency("hevc", 40) == 0.75 and auto_frame_consistency("vp9", 10) == 0.0
    assert auto_consistency("h264", 0.0) == auto_frame_consistency("h264", 0.0) == 1.0  # x264's lossless mode
    assert auto_consistency("mjpeg", 95) == 1.0 and auto_frame_consistency("mjpeg", 95) == 0.5  # video alike
    seen: list[float] = []
    frame_steps: list[float] = []

    def recording(face, frame, crop_xyxy, strength=1.0):
        seen.append(strength)
        return back_project(face, frame, crop_xyxy, strength)

    def recording_frame_step(canvas, frame, crop_xyxy, strength=1.0):
        frame_steps.append(strength)
        project_region_inplace(canvas, frame, crop_xyxy, strength)

    monkeypatch.setattr(runner_module, "back_project", recording)
    monkeypatch.setattr(runner_module, "project_region_inplace", recording_frame_step)
    frames = face_clip_frames(face_images, 4)
    model = (tiny_weights[0],)
    for codec, suffix, share, forced, frame_share, forced_frame, qscale in (
        ("ffv1", ".mkv", 1.0, None, 1.0, None, None),
        ("libx264", ".mp4", 0.75, None, 0.5, None, 12),  # CRF 12: keyframe QP ~11
        ("libx264", ".mp4", 0.5, None, None, None, 40),  # CRF 40: QP ~40
        ("libx264", ".mp4", 1.0, None, 1.0, None, 0),  # CRF 0: x264's lossless mode, QP 0 throughout
        ("ffv1", ".mkv", 0.5, 0.5, 0.3, 0.3, None),
        ("libx264", ".mp4", 0.5, None, 0.6, 0.6, 40),
        ("mjpeg", ".mkv", 1.0, None, 0.5, None, 2),  # -q:v 2 writes quality-94 tables
        ("mjpeg", ".mkv", 0.75, None, None, None, 10),  # quality 68
    ):
        options = {"crf": str(qscale)} if codec == "libx264" else {"qmin": str(qscale), "qmax": str(qscale)}
        src = make_video(tmp_path / f"in_{codec}{qscale}{suffix}", frames=4, size=(320, 240), codec=codec,
                         images=frames, pix_fmt="yuvj420p" if codec == "mjpeg" else "yuv420p",
                         options=options if qscale is not None else None)  # fmt: skip
        seen.clear()
        frame_steps.clear()
        result = vidfsr.enhance_video(src, tmp_path / f"out_{codec}{qscale}_{share}.mp4", models=model, force=True,
                                      consistency=forced, frame_consistency=forced_frame)  # fmt: skip
        assert result["consistency"] == share and seen and set(seen) == {share}
        if codec == "libx264":  # what chose the shares is reported
            assert result["source_codec"] == "h264" and (result["source_quality"] < 20) == (qscale < 20)
        assert result["frame_consistency"] == pytest.approx(frame_share or 0.0)
        # Two steps per enhanced face: before the recursion's average and after it, the second whole on lossless
        # input and down to STEP_AFTER_STILL of the share for a still face on coded input.
        assert len(frame_steps) == (2 * len(seen) if frame_share else 0)
        assert frame_steps[::2] == pytest.approx([frame_share] * len(seen)) if frame_share else not frame_steps
        low = frame_share if frame_share == 1.0 or forced_frame == 1.0 else (frame_share or 0) * STEP_AFTER_STILL
        assert all(low - 1e-9 <= s <= (frame_share or 0) + 1e-9 for s in frame_steps[1::2])
    for suffix, quality, share, frame_share in (
        (".png", None, 1.0, 1.0),
        (".jpg", 60, 0.75, None),
        (".jpg", 90, 1.0, 0.5),
        (".jpeg", 95, 1.0, 0.5),
    ):
        still = tmp_path / f"face_{quality}{suffix}"
        cv2.imwrite(str(still), frames[0], [cv2.IMWRITE_JPEG_QUALITY, quality or 95])
        seen.clear()
        frame_steps.clear()
        vidfsr.enhance_video(still, tmp_path / f"out_{quality}{suffix}", models=model, force=True)
        assert seen and set(seen) == {share}
        assert set(frame_steps) == ({frame_share} if frame_share else set())
    # Faces outside the model's range are resized like the frame, and on a lossless source get the step too.
    seen.clear()
    frame_steps.clear()
    vidfsr.enhance_video(tmp_path / "face_None.png", tmp_path / "passed.png", models=model)
    assert not seen and frame_steps == [1.0] * 4  # the two faces of the frame, two steps each, no model call


def test_paste_strength_falls_on_coarse_coding(
    tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole enhanced face on lossless, finely coded and unknown sources; 0.7 on coarse coding (H.264 from
    keyframe QP 32, JPEG/MJPEG from quality 50; linear from QP 30 / quality 60); an explicit --blend wins.
    Checked where the strength is used: the paste's calls, and what the run reports."""
    from vidfsr.pipelines import runner as runner_module
    from vidfsr.pipelines.blend import auto_strength

    assert auto_strength("ffv1") == auto_strength("png") == auto_strength(None) == auto_strength("h264") == 1.0
    assert [auto_strength("h264", q) for q in (0, 20, 30, 31, 32, 45)] == pytest.approx([1, 1, 1, 0.85, 0.7, 0.7])
    assert [auto_strength("jpg", q) for q in (95, 60, 55, 50, 20)] == pytest.approx([1, 1, 0.85, 0.7, 0.7])
    assert auto_strength("mjpeg", 40) == pytest.approx(0.7) and auto_strength("hevc", 45) == 1.0  # QP scale unknown
    pasted: list[float] = []

    def recording(canvas, face, box_xyxy, config, mask=None, base=None):
        pasted.append(config.strength)
        return paste_inplace(canvas, face, box_xyxy, config, mask, base=base)

    monkeypatch.setattr(runner_module, "paste_inplace", recording)
    frames = face_clip_frames(face_images, 3)
    model = (tiny_weights[0],)
    for crf, blend, strength in ((10, None, 1.0), (45, None, 0.7), (45, 0.5, 0.5)):
        src = make_video(tmp_path / f"in{crf}.mp4", frames=3, size=(320, 240), images=frames, options={"crf": str(crf)})
        pasted.clear()
        result = vidfsr.enhance_video(src, tmp_path / f"out{crf}_{blend}.mp4", models=model, force=True, blend=blend)
        assert result["strength"] == pytest.approx(strength) and pasted
        assert pasted == pytest.approx([strength] * len(pasted))
    for quality, strength in ((40, 0.7), (95, 1.0)):
        still = tmp_path / f"face_{quality}.jpg"
        cv2.imwrite(str(still), frames[0], [cv2.IMWRITE_JPEG_QUALITY, quality])
        pasted.clear()
        vidfsr.enhance_video(still, tmp_path / f"out_{quality}.png", models=model, force=True)
        assert pasted and pasted == pytest.approx([strength] * len(pasted))


def test_enhance_cli_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["enhance", str(tmp_path / "missing.mp4"), str(tmp_path / "o.mp4")]) == 2
    assert "no such file" in capsys.readouterr().err
    bad = tmp_path / "bad.mp4"
    bad.write_text("garbage")
    assert main(["enhance", str(bad), str(tmp_path / "o.mp4"), "--model", "nope.safetensors"]) == 2
    assert main(["enhance", str(bad), str(tmp_path / "o.mp4"), "--consistency", "1.5"]) == 2
    assert "consistency must be in [0, 1]" in capsys.readouterr().err
    assert main(["enhance", str(bad), str(tmp_path / "o.mp4"), "--frame-consistency", "-1"]) == 2
    assert "frame_consistency must be in [0, 1]" in capsys.readouterr().err
    assert main(["enhance", str(bad), str(tmp_path / "o.mp4"), "--large-from", "-1"]) == 2
    err = capsys.readouterr().err
    assert "large_from must be >= 0" in err and "Traceback" not in err and not (tmp_path / "o.mp4").exists()


def test_frame_enhancer_api(tiny_weights: list[str], face_images: list[np.ndarray]) -> None:
    """Frame by frame, the API gives what one run over the whole clip gives: tracks, smoothing, held crops and
    shot cuts carry from call to call (the crop hold and the cut detector once started afresh on every call)."""
    from vidfsr.api import EnhanceOptions, build_runner

    opts = {"models": tuple(tiny_weights), "force": True, "scale": 1.0, "precision": "fp32", "backend": "torch"}
    enhancer = vidfsr.FrameEnhancer(**opts)
    frames = face_clip_frames(face_images, 8)
    outs = [enhancer(f) for f in frames]
    assert all(o.shape == frames[0].shape for o in outs)
    assert enhancer.runner.summary.faces_enhanced > 0
    whole: list[np.ndarray] = []
    build_runner(EnhanceOptions(**opts)).run([Frame(i, f) for i, f in enumerate(frames)], lambda f, i: whole.append(i))
    assert max(np.abs(a.astype(int) - b).max() for a, b in zip(outs, whole, strict=True)) <= 1


@pytest.mark.gpu
def test_cuda_enhancer_matches_cpu(tiny_weights: list[str]) -> None:
    """Pinned-memory upload on a copy stream and fp16 autocast give the CPU fp32 result within rounding."""
    from vidfsr.pipelines.enhance import EnhancerConfig

    from vidfsr.api import load_models

    crops = np.random.default_rng(0).integers(0, 256, (6, 128, 128, 3), dtype=np.uint8)
    cpu, cpu_mask = Enhancer(load_models(tiny_weights), "cpu", EnhancerConfig(precision="fp32", parsing_mask=True))(
        crops, 0
    )
    gpu, gpu_mask = Enhancer(load_models(tiny_weights), "cuda", EnhancerConfig(precision="fp16", parsing_mask=True))(
        crops, 0
    )
    assert gpu.shape == cpu.shape and gpu_mask.shape == cpu_mask.shape  # 2 batches: one full, one partial
    assert np.abs(cpu.astype(int) - gpu.astype(int)).max() <= 3
    assert np.abs(cpu_mask - gpu_mask).max() < 0.02


@pytest.mark.parametrize("backend", ["onnx", pytest.param("compile", marks=pytest.mark.slow)])
def test_backends_match_eager_fp32(tiny_weights: list[str], backend: str) -> None:
    """ONNX Runtime and torch.compile give eager fp32's output (7 crops at batch 4: a padded last batch)."""
    from vidfsr.pipelines.enhance import EnhancerConfig

    from vidfsr.api import load_models

    if backend == "onnx":
        pytest.importorskip("onnxruntime")
    elif not (shutil.which("cc") or shutil.which("gcc")):
        pytest.skip("torch.compile's CPU backend needs a C compiler")
    eager = Enhancer(load_models(tiny_weights), "cpu", EnhancerConfig(precision="fp32", parsing_mask=True))
    config = EnhancerConfig(precision="fp32", parsing_mask=True, backend=backend, channels_last=False)
    other = Enhancer(load_models(tiny_weights), "cpu", config)
    for size in (128, 256):  # 256: large faces' inputs (``crops.LARGE_SIZE``), through the same session
        crops = np.random.default_rng(1).integers(0, 256, (7, size, size, 3), dtype=np.uint8)
        ref, ref_mask = eager(crops, 0)
        out, mask = other(crops, 0)
        assert out.shape == ref.shape == (7, size, size, 3) and mask.shape == ref_mask.shape == (7, size, size)
        assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
        assert np.abs(mask - ref_mask).max() < 1e-3
        assert len(np.unique(out)) > 50  # a real image came back, not a constant


def test_batchnorm_folding_is_exact_and_leaves_the_model_alone() -> None:
    import torch
    from vidfsr.pipelines.backends import fold_batchnorm

    torch.manual_seed(0)
    model = create_model("fsrnet_lite_x8", **TINY)
    for m in model.modules():  # non-trivial running statistics, as after training
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    model.eval()
    folded = fold_batchnorm(model)
    count = lambda m: sum(isinstance(x, torch.nn.BatchNorm2d) for x in m.modules())  # noqa: E731
    assert count(folded) < count(model) and count(model) > 0  # the SR branches' conv -> BN pairs are gone
    x = torch.rand(2, 3, 128, 128)
    with torch.inference_mode():
        assert torch.allclose(folded(x).image, model(x).image, atol=1e-4)


def test_onnx_backend_refuses_bf16(tiny_weights: list[str]) -> None:
    from vidfsr.pipelines.enhance import EnhancerConfig

    from vidfsr.api import load_models
    from vidfsr.errors import ConfigError

    with pytest.raises(ConfigError, match="fp32"):
        Enhancer(load_models(tiny_weights), "cpu", EnhancerConfig(precision="bf16", backend="onnx"))


def test_tiny_faces_found_only_by_the_upscaled_pass_are_enhanced(
    tiny_weights: list[str], face_images: list[np.ndarray]
) -> None:
    """A 16 px face (the x8 model's size) that only the detector's every-3rd-frame upscaled pass sees."""
    from vidfsr.api import load_models

    small = cv2.resize(face_images[0], (16, 16), interpolation=cv2.INTER_AREA)
    frames = []
    for i in range(12):
        img = np.full((180, 240, 3), 90, np.uint8)
        img[80:96, 100 + i // 4 : 116 + i // 4] = small
        frames.append(Frame(i, img))
    assert len(YuNetDetector()._pass(frames[1].image, 1.0)) == 0  # the native pass alone misses it
    runner = Runner(YuNetDetector(), Enhancer(load_models(tiny_weights)), RunConfig(scale=2.0))
    summary = runner.run(frames, lambda f, img: None)
    assert summary.faces_detected < 12  # missed on some native-only frames
    assert summary.faces_enhanced >= 9 and summary.tracks == 1  # every frame once the track is confirmed


def test_sample_command(tmp_path: Path, shared: Path) -> None:
    out = tmp_path / "sample.mp4"
    assert main(["sample", str(out), "--seconds", "1"]) == 0
    with av.open(str(out)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (320, 180)
        assert len(c.streams.audio) == 1
        audio_end = max(float(p.pts * p.time_base) for p in c.demux(audio=0) if p.pts is not None)
    with av.open(str(out)) as c:
        video = [float(p.pts * p.time_base) for p in c.demux(video=0) if p.pts is not None]
    assert max(video) - min(video) < 1.0
    assert abs(audio_end - max(video)) < 0.1  # the audio ends with the video, not with the source's 10 s


def test_auto_backend_is_onnx_for_exact_cpu(tiny_weights: list[str], face_images: list[np.ndarray]) -> None:
    """fp32 on CPU picks the fastest exact path; the default (bf16) stays in torch."""
    from vidfsr.pipelines.backends import OnnxBackend, TorchBackend

    pytest.importorskip("onnxruntime")
    exact = vidfsr.FrameEnhancer(models=tuple(tiny_weights), force=True, scale=1.0, precision="fp32")
    assert all(isinstance(b, OnnxBackend) for b in exact.runner.enhancer.models)
    fast = vidfsr.FrameEnhancer(models=tuple(tiny_weights), force=True, scale=1.0)
    assert all(isinstance(b, TorchBackend) for b in fast.runner.enhancer.models)
    frames = face_clip_frames(face_images, 3)
    outs = [exact(f) for f in frames]
    assert outs[-1].shape == frames[-1].shape and exact.runner.summary.faces_enhanced > 0
    with pytest.raises(vidfsr.errors.ConfigError, match="did you mean"):
        vidfsr.FrameEnhancer(models=tuple(tiny_weights), backnd="onnx")


def test_bench_command(tiny_weights: list[str], shared: Path, tmp_path: Path, capsys) -> None:
    """`vidfsr bench` times each path as the pipeline runs it and scores its accuracy against exact fp32."""
    pytest.importorskip("onnxruntime")
    out = tmp_path / "bench.json"
    hr = shared / "data/faces/test/celeba1000/HR"
    argv = ["bench", "--model", tiny_weights[0], "--paths", "torch-bf16", "onnx-fp32", "--batches", "1", "3",
            "--seconds", "0.1", "--repeats", "2", "--threads", "1", "--accuracy", "6", "--hr", str(hr),
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    res = json.loads(out.read_text())
    assert [(r["path"], r["batch"]) for r in res["speed"]] == [
        ("torch-bf16", 1), ("onnx-fp32", 1), ("torch-bf16", 3), ("onnx-fp32", 3)
    ]  # fmt: skip
    assert all(r["faces_per_s"] > 0 and r["trained"] for r in res["speed"])
    acc = {r["path"]: r for r in res["accuracy"]}
    assert set(acc) == {"torch-fp32", "torch-bf16", "onnx-fp32"} and acc["torch-fp32"]["faces"] == 6
    assert acc["torch-fp32"]["delta_psnr_vs_fp32"] == 0 and abs(acc["onnx-fp32"]["delta_psnr_vs_fp32"]) < 0.01
    assert 5 < acc["torch-fp32"]["psnr"] < 60
    assert "faces/s" in capsys.readouterr().out
    assert main(["bench", "--model", tiny_weights[0], "--paths", "onnx-fp23"]) == 2
    assert "did you mean 'onnx-fp32'" in capsys.readouterr().err


def test_background_is_bicubic_and_compare_is_honest(face_images: list[np.ndarray]) -> None:
    """The background is resized with cubic (bilinear lost 1.8 dB at 8x), and --compare's input half is that
    same resize, labelled, not a flattering nearest-neighbour blow-up."""
    from vidfsr.models.metrics import psnr_y
    from vidfsr.pipelines.runner import resize_background, side_by_side

    truth = cv2.resize(face_images[1], (256, 256), interpolation=cv2.INTER_AREA)
    small = cv2.resize(truth, (32, 32), interpolation=cv2.INTER_AREA)
    up = resize_background(small, (256, 256))
    assert np.array_equal(up, cv2.resize(small, (256, 256), interpolation=cv2.INTER_CUBIC))
    bilinear = cv2.resize(small, (256, 256), interpolation=cv2.INTER_LINEAR)
    assert psnr_y(up[..., ::-1], truth[..., ::-1]) > psnr_y(bilinear[..., ::-1], truth[..., ::-1])
    assert np.array_equal(resize_background(truth, (64, 64)), cv2.resize(truth, (64, 64), interpolation=cv2.INTER_AREA))
    output = np.full((256, 256, 3), 50, np.uint8)
    pair = side_by_side(small, output)
    assert pair.shape == (256, 512, 3)
    label = np.zeros((256, 256), bool)
    label[:40, :120] = True  # where the labels are drawn
    assert np.array_equal(pair[:, :256][~label], up[~label])  # the input half is the bicubic resize
    assert not np.array_equal(pair[:40, :120], up[:40, :120])  # and it is labelled
    assert not np.array_equal(pair[:40, 256:376], output[:40, :120])


def test_multi_frame_models_get_the_same_box_from_the_frames_before(face_images: list[np.ndarray]) -> None:
    """make_batch cuts each K-frame face's box from the K-1 previous frames (most recent first), standing in
    the oldest crop it has where the stream is younger than K frames."""
    from vidfsr.pipelines.croprule import cut_crop

    images = face_clip_frames(face_images, 4)
    faces = YuNetDetector()(images[3])
    faces = Faces(faces.xyxy, faces.score, None, np.arange(len(faces)))
    ranges = [ModelRange(0, 1000)]
    batch = make_batch(Frame(3, images[3]), faces, ranges, history=(images[2], images[1]), frames=(3,))
    assert batch.history is not None and batch.history.shape == (len(faces), 2, 128, 128, 3)
    box = batch.crop_xyxy[0]
    assert np.array_equal(batch.history[0, 0], cut_crop(images[2], box, 128))
    assert np.array_equal(batch.history[0, 1], cut_crop(images[1], box, 128))
    young = make_batch(Frame(1, images[1]), faces, ranges, history=(images[0],), frames=(3,))
    assert young.history is not None and np.array_equal(young.history[0, 1], young.history[0, 0])
    first = make_batch(Frame(0, images[0]), faces, ranges, frames=(3,))
    assert first.history is not None and np.array_equal(first.history[0, 0], first.crops[0])
    assert make_batch(Frame(0, images[0]), faces, ranges).history is None


def test_multi_frame_model_runs_through_the_pipeline_in_channel_order(face_images: list[np.ndarray]) -> None:
    """A 3-frame model whose weights read only frame t-1 equals the single-frame model on a still clip (every
    frame the same): the frames reach the network in order, each converted BGR->RGB on its own."""
    import torch
    from vidfsr.models.fsrnet import expand_frames

    torch.manual_seed(0)
    one = create_model("fsrnet_lite_real", **TINY).eval()
    three = create_model("fsrnet_lite_real_k3", **TINY).eval()
    state = expand_frames(one.state_dict(), 3)
    w = state["coarse.0.weight"].clone()
    state["coarse.0.weight"] = torch.cat([torch.zeros_like(w[:, :3]), w[:, :3], torch.zeros_like(w[:, :3])], 1)
    three.load_state_dict(state)
    still = face_clip_frames(face_images, 1)[0]
    outputs = []
    for model in (one, three):
        enhancer = Enhancer({ModelRange(0, 1000): model})
        runner = Runner(YuNetDetector(), enhancer, RunConfig(scale=2.0, force=True, temporal=0.0))
        out: list[np.ndarray] = []
        summary = runner.run((Frame(i, still) for i in range(4)), lambda f, img, o=out: o.append(img))
        assert summary.faces_enhanced >= 4
        outputs.append(out)
    assert enhancer.frames == (3,)
    assert all(np.array_equal(a, b) for a, b in zip(*outputs, strict=True))
    with pytest.raises(Exception, match="takes 3 frames"):
        enhancer(np.zeros((1, 128, 128, 3), np.uint8), 0)


@pytest.mark.parametrize("quality", [10, 50, 75, 83, 90, 95, 99, 100])
def test_jpeg_quality_is_read_from_the_tables(quality: int, face_images: list[np.ndarray]) -> None:
    """The IJG quality a libjpeg encoder (OpenCV) saved at, recovered exactly, also behind an EXIF-sized APP1
    segment; other formats and headers cut before the tables give None."""
    from vidfsr.pipelines.jpeg import jpeg_quality

    data = cv2.imencode(".jpg", face_images[0], [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
    assert jpeg_quality(data) == quality
    app1 = b"\xff\xe1" + (60_002).to_bytes(2, "big") + b"Exif\x00\x00" + bytes(59_994)
    assert jpeg_quality(data[:2] + app1 + data[2:]) == quality
    assert jpeg_quality(cv2.imencode(".png", face_images[0])[1].tobytes()) is None
    assert jpeg_quality(data[:20]) is None
    assert jpeg_quality(b"") is None


def test_h264_keyframe_qp_is_read_from_the_decoder(face_images: list[np.ndarray], tmp_path: Path) -> None:
    """An H.264 file's first keyframe QP follows the quantiser it was coded with, whether set by x264's CRF, a
    fixed QP or a bitrate (a camera's rate control); other codecs and unreadable files give None."""
    from vidfsr.pipelines.qp import keyframe_qp

    frames = face_clip_frames(face_images, 6)
    qps = {}
    for name, options in (("crf18", {"crf": "18"}), ("crf33", {"crf": "33"}), ("qp26", {"qp": "26"}),
                          ("rich", {"b": "4M"}), ("starved", {"b": "40k"})):  # fmt: skip
        path = make_video(tmp_path / f"{name}.mp4", frames=6, size=(320, 240), images=frames, options=options)
        qps[name] = keyframe_qp(path)
    # x264 codes keyframes finer than the QP it is given (its I-frame offset: 26 -> 23) and its adaptive
    # quantisation codes this clip's flat background finer still, so CRF N reads a few QP below N here.
    assert qps["qp26"] == pytest.approx(23, abs=1) and qps["crf18"] < 20 < 26 < qps["crf33"] < 34
    assert qps["rich"] < qps["crf18"] and qps["starved"] > qps["crf33"]
    ffv1 = make_video(tmp_path / "lossless.mkv", frames=2, size=(320, 240), codec="ffv1", images=frames)
    assert keyframe_qp(ffv1) is None
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    assert keyframe_qp(tmp_path / "junk.mp4") is None and keyframe_qp(tmp_path / "missing.mp4") is None


def test_enhance_cli_reports_what_chose_the_shares(
    tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The summary table names the back-projection shares and the source coding they came from."""
    frames = face_clip_frames(face_images, 3)
    src = make_video(tmp_path / "fine.mp4", frames=3, size=(320, 240), images=frames, options={"crf": "12"})
    assert main(["enhance", str(src), str(tmp_path / "o.mp4"), "--model", tiny_weights[0], "--force"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "back-projection" in out and "crop 0.75, frame 0.5 (h264, keyframe QP" in out
    assert main(["enhance", str(src), str(tmp_path / "o2.mp4"), "--model", tiny_weights[0], "--consistency", "0.3",
                 "--frame-consistency", "0"]) == 0  # fmt: skip
    assert "crop 0.3, frame 0 (h264" in " ".join(capsys.readouterr().out.split())


def test_large_faces_reach_the_model_at_256(face_images: list[np.ndarray]) -> None:
    """A crop of ``large_from`` input pixels or more, shown at least 256 px large, is cut to 256 px (and so is its
    history for multi-frame models), where the model's range covers twice the sides; smaller faces, smaller
    outputs, crops over 128 px (enlarged less than 2x to 256), ``large_from`` 0 and frames mixing both kinds
    keep 128 px."""
    from vidfsr.pipelines.crops import LARGE_MAX_SIDE, LARGE_SIZE, MODEL_SIZE, input_size

    assert input_size(60, 8, 48) == LARGE_SIZE and input_size(47, 8, 48) == MODEL_SIZE
    assert input_size(60, 4, 48) == MODEL_SIZE  # shown 240 px: the 128 px output is enough
    assert input_size(60, 8, 0) == MODEL_SIZE
    assert LARGE_MAX_SIDE == 128 and input_size(128, 2, 48) == LARGE_SIZE
    assert input_size(129, 2, 48) == input_size(170, 3, 48) == MODEL_SIZE  # sharper than any training input
    frame_img = np.full((240, 320, 3), 90, np.uint8)
    frame_img[40:100, 40:100] = cv2.resize(face_images[0], (60, 60), interpolation=cv2.INTER_AREA)
    frame_img[150:180, 200:230] = cv2.resize(face_images[1], (30, 30), interpolation=cv2.INTER_AREA)
    big, small = np.array([[40.0, 40.0, 100.0, 100.0]]), np.array([[200.0, 150.0, 230.0, 180.0]])

    def batch(boxes: np.ndarray, scale: float, large_from: float, **kw):
        faces = Faces(boxes.astype(np.float32), np.ones(len(boxes), np.float32), None, np.arange(len(boxes)))
        return make_batch(Frame(0, frame_img), faces, (ModelRange(12, 96),), crop_xyxy=boxes, scale=scale,
                          large_from=large_from, **kw)  # fmt: skip

    large = batch(big, 8, 48)
    assert large.crops.shape == (1, 256, 256, 3)
    # The 256 px input is the crop's own pixels cut straight to 256, as the 128 px one is cut to 128.
    direct = cv2.resize(frame_img[40:100, 40:100], (256, 256), interpolation=cv2.INTER_CUBIC)
    assert np.abs(large.crops[0].astype(int) - direct)[16:-16, 16:-16].max() <= 2
    assert batch(big, 4, 48).crops.shape[1] == MODEL_SIZE
    assert batch(big, 8, 0).crops.shape[1] == MODEL_SIZE
    assert batch(np.concatenate([big, small]), 8, 48).crops.shape == (2, 128, 128, 3)  # one size per frame
    multi = batch(big, 8, 48, history=(frame_img, frame_img), frames=(3,))
    assert multi.history is not None and multi.history.shape == (1, 2, 256, 256, 3)
    # At 256 px a model serves crops of twice the sides its range (measured at 128 px) names: a 100 px crop is
    # outside 12-96 at 128 but, as blurred as a 50 px one, inside it at 256.
    huge = np.array([[20.0, 120.0, 120.0, 220.0]])
    assert batch(huge, 8, 48).crops.shape == (1, 256, 256, 3)
    assert len(batch(huge, 8, 0)) == 0
    mixed = batch(np.concatenate([huge, small]), 8, 48)  # 128 px for both: the 100 px face is then out of range
    assert mixed.crops.shape == (1, 128, 128, 3) and np.allclose(mixed.crop_xyxy[0], small[0])


@pytest.fixture
def input_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The input side of every model call the enhancer makes during the test, in order."""
    from vidfsr.pipelines.enhance import Enhancer

    sizes: list[int] = []
    original = Enhancer.__call__

    def recording(self, crops, model):
        sizes.append(crops.shape[1])
        return original(self, crops, model)

    monkeypatch.setattr(Enhancer, "__call__", recording)
    return sizes


def test_large_inputs_follow_how_finely_the_source_was_coded() -> None:
    """48 px on lossless and finely coded sources; 80 px (crops enlarged at most 3.2x to 256) on middling
    coding, whose blocking enlarged further reads as detail; never on starved or unknown coding."""
    from vidfsr.pipelines.crops import FINE_LARGE_FROM, MEDIUM_LARGE_FROM, auto_large_from

    assert auto_large_from("ffv1") == auto_large_from("png") == FINE_LARGE_FROM == 48.0
    assert [auto_large_from("h264", q) for q in (0.0, 17, 26, 26.5, 31, 31.5, 40)] == [48, 48, 48, 80, 80, 0, 0]
    assert [auto_large_from("mjpeg", q) for q in (95, 90, 89, 68, 60, 59)] == [48, 48, 80, 80, 80, 0]
    assert auto_large_from("jpg", 75) == MEDIUM_LARGE_FROM == 80.0
    # Unknown coding, or a quantiser on another codec's scale: the safe side, 128 px inputs.
    assert auto_large_from("h264") == auto_large_from("mjpeg") == auto_large_from(None) == 0.0
    assert auto_large_from("hevc", 20) == auto_large_from("vp9", 10) == 0.0


@pytest.mark.parametrize(("codec", "options", "large_from", "size"), [
    ("ffv1", None, None, 256),  # lossless: large faces at 256 by default
    ("ffv1", None, 0.0, 128),  # switched off
    ("libx264", {"crf": "12"}, None, 256),  # finely coded H.264 (keyframe QP ~8) as lossless
    ("libx264", {"crf": "35"}, None, 128),  # coarse H.264: its blocking, enlarged, reads as detail
])  # fmt: skip
def test_lossless_sources_send_large_faces_to_the_model_at_256(
    tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path, input_sizes: list[int],
    codec: str, options: dict | None, large_from: float | None, size: int,
) -> None:  # fmt: skip
    """End to end: the enhancer sees the input size the source calls for, the output is a whole video, and the
    result reports the threshold used."""
    frames = face_clip_frames(face_images, 3)
    src = make_video(tmp_path / f"in.{'mkv' if codec == 'ffv1' else 'mp4'}", frames=3, size=(320, 240),
                     codec=codec, images=frames, options=options)  # fmt: skip
    out = tmp_path / "out.mkv"
    # The clip's faces have 56 px crops: shown 280 px large at scale 5.
    result = vidfsr.enhance_video(src, out, models=(tiny_weights[0],), force=True, scale=5.0, large_from=large_from,
                                  codec="ffv1")  # fmt: skip
    assert input_sizes and set(input_sizes) == {size} and result["faces_enhanced"] >= 3
    assert result["large_from"] == (large_from if large_from is not None else (48.0 if size == 256 else 0.0))
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 3


def test_smoothing_follows_a_face_across_input_sizes(tiny_weights: list[str]) -> None:
    """A track whose input size changes (its crop crossed ``large_from``) keeps its smoothing: the previous
    added detail is resampled to the new grid, not dropped or broadcast wrongly."""
    from vidfsr.api import EnhanceOptions, build_runner

    runner = build_runner(EnhanceOptions(models=(tiny_weights[0],), temporal=0.5), "ffv1")
    rng = np.random.default_rng(0)
    box = np.array([10.0, 10.0, 60.0, 60.0])
    base128 = rng.integers(60, 200, (128, 128, 3), dtype=np.uint8)
    first = runner._smooth(3, np.clip(base128.astype(int) + 20, 0, 255).astype(np.uint8), base128, box)
    assert first.shape == (128, 128, 3)
    base256 = cv2.resize(base128, (256, 256), interpolation=cv2.INTER_CUBIC)
    second = runner._smooth(3, base256, base256, box)  # no detail of its own: half of the previous +20 shows
    assert second.shape == (256, 256, 3)
    lift = second.astype(int) - base256
    assert 8 <= np.median(lift) <= 12


def test_stills_send_large_faces_at_256_by_format_and_quality(
    tiny_weights: list[str], face_images: list[np.ndarray], tmp_path: Path, input_sizes: list[int]
) -> None:
    """In a folder of stills each file's format and quality decide: a PNG's and a quality-95 JPEG's large faces
    reach the model at 256 px, a quality-80 JPEG's at 128."""
    folder = tmp_path / "stills"
    folder.mkdir()
    frame = face_clip_frames(face_images, 1)[0]
    cv2.imwrite(str(folder / "a.png"), frame)
    cv2.imwrite(str(folder / "b.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
    cv2.imwrite(str(folder / "c.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
    vidfsr.enhance_video(folder, tmp_path / "out", models=(tiny_weights[0],), force=True, scale=5.0)
    assert input_sizes == [256, 256, 128]  # a.png, b.jpg, c.jpg


def test_the_default_weights_follow_the_device(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On a CPU the lite network serves (a larger one's model time is what every face costs there); on an
    accelerator the first larger network the install holds does, and ``vidfsr info`` says which is whose."""
    import torch

    from vidfsr.api import default_weights, load_default_model, load_models
    from vidfsr.info import _default_label

    torch.manual_seed(0)
    grown = create_model("fsrnet_real_grown", **TINY)
    save_weights(grown, tmp_path / "fsrnet_real_grown.safetensors", degradation={"name": "real"}, native_sides=[20, 60])
    monkeypatch.setenv("VIDFSR_MODEL_DIR", str(tmp_path))
    assert default_weights("cpu") == default_weights(torch.device("cpu")) == ("fsrnet_lite_real",)
    assert default_weights("cuda:1")[-1] == "fsrnet_lite_real"  # an install without a larger one keeps working
    _, _, on_cpu = load_default_model("cpu")
    model, _, on_cuda = load_default_model("cpu", prefer="cuda")
    assert (on_cpu, on_cuda) == ("fsrnet_lite_real", "fsrnet_real_grown")
    assert model.cfg.hourglasses == 1 and model.cfg.channels == TINY["channels"]
    assert next(model.parameters()).device.type == "cpu"  # loaded where asked; the enhancer moves it
    assert [(r.lo, r.hi) for r in load_models([], "cuda")] == [(20.0, 60.0)]
    assert [(r.lo, r.hi) for r in load_models([], "cpu")] == [(16.0, 96.0)]

    folder = tmp_path / "install"
    folder.mkdir()
    for name in ("fsrnet_lite_real", "fsrnet_real_grown", "fsrnet_lite_x8"):
        (folder / f"{name}.safetensors").touch()
    labels = {
        n: _default_label(n, folder, default_weights)
        for n in ("fsrnet_lite_real", "fsrnet_real_grown", "fsrnet_lite_x8")
    }
    assert labels == {
        "fsrnet_lite_real": " (default on CPU)",
        "fsrnet_real_grown": " (default on CUDA)",
        "fsrnet_lite_x8": "",
    }
    (folder / "fsrnet_real_grown.safetensors").unlink()
    assert _default_label("fsrnet_lite_real", folder, default_weights) == " (default)"
