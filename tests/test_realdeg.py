"""The real-world degradation: its ranges, its seeding, and that H.264 and JPEG are really applied."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from vidfsr.models.metrics import psnr_y
from vidfsr.models.realdeg import RealDegradation, RealDegradationConfig, downscale, h264_burst, h264_roundtrip


@pytest.fixture(scope="module")
def hr(shared: Path) -> np.ndarray:
    return np.stack([cv2.imread(str(p)) for p in sorted((shared / "data/faces/test/celeba1000/HR").glob("*.jpg"))[:8]])


def test_sizes_kernels_and_compression_cover_their_ranges(hr: np.ndarray) -> None:
    deg = RealDegradation(seed=3)
    sides = [deg.draw_side() for _ in range(4000)]
    assert min(sides) == 12 and max(sides) == 64
    assert np.mean(np.array(sides) < 24) > 0.35  # log-uniform: small faces get their share
    kinds: Counter = Counter()
    kernels: Counter = Counter()
    for _ in range(30):
        ups, info = deg.degrade_batch(hr[:4])
        assert ups.shape == (4, 128, 128, 3) and ups.dtype == np.uint8
        for d in info:
            assert 12 <= d.lr_side <= 64 and 0 <= d.noise <= 8
            kinds[d.compression.split(":")[0]] += 1
            kernels[d.kernel] += 1
    assert set(kinds) == {"h264", "jpeg", "none"} and kinds["h264"] > kinds["jpeg"]
    assert set(kernels) == {"area", "bicubic", "bilinear", "gaussian"}
    with pytest.raises(ValueError, match="lr_sides"):
        RealDegradationConfig(lr_sides=(2, 300))


def test_same_seed_same_batches_and_state_round_trip(hr: np.ndarray) -> None:
    a, b, c = RealDegradation(seed=7), RealDegradation(seed=7), RealDegradation(seed=8)
    first = [a.degrade_batch(hr)[0] for _ in range(3)]
    assert all(np.array_equal(x, b.degrade_batch(hr)[0]) for x in first)
    assert not np.array_equal(first[0], c.degrade_batch(hr)[0])
    state = a.get_state()
    nxt = a.degrade_batch(hr)
    a.set_state(state)
    again = a.degrade_batch(hr)
    assert np.array_equal(nxt[0], again[0]) and nxt[1] == again[1]


def test_h264_is_really_applied(hr: np.ndarray) -> None:
    """libx264 at a high CRF destroys more than at a low one, in 16 px macroblocks, and never returns the input."""
    faces = [np.clip(downscale(f, 40, "area"), 0, 255).round().astype(np.uint8) for f in hr]
    rng = np.random.default_rng(0)
    errors = {}
    for crf in (18, 40):
        out, kind = h264_roundtrip(faces, crf, "medium", rng)
        assert kind in ("I", "P") and all(o.shape == f.shape for o, f in zip(out, faces, strict=True))
        errors[crf] = np.mean([psnr_y(o[..., ::-1], f[..., ::-1]) for o, f in zip(out, faces, strict=True)])
    assert 30 < errors[18] < 60 and errors[40] < errors[18] - 5, errors
    ups, info = RealDegradation(
        RealDegradationConfig(h264_prob=1.0, jpeg_prob=0.0, crf=(40, 40)), seed=1
    ).degrade_batch(hr)
    assert all(d.compression.startswith("h264:40:") for d in info)
    clean, _ = RealDegradation(
        RealDegradationConfig(h264_prob=0.0, jpeg_prob=0.0, noise_prob=0.0), seed=1
    ).degrade_batch(hr)
    assert not np.array_equal(ups, clean)


def test_kernels_differ_and_model_input_is_cubic(hr: np.ndarray) -> None:
    outs = {k: downscale(hr[0], 20, k, 1.0) for k in ("area", "bicubic", "bilinear", "gaussian")}
    assert all(o.shape == (20, 20, 3) for o in outs.values())
    names = list(outs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.abs(outs[a] - outs[b]).mean() > 0.3, (a, b)


def _centroid_hr(image: np.ndarray, factor: float) -> np.ndarray:
    """Intensity centroid of channel 0, in HR pixel coordinates (LR pixel i's centre is (i + 0.5) * f - 0.5)."""
    a = image[..., 0].astype(np.float64)
    y, x = np.mgrid[0 : a.shape[0], 0 : a.shape[1]]
    return (np.array([(a * x).sum(), (a * y).sum()]) / a.sum() + 0.5) * factor - 0.5


@pytest.mark.parametrize("kernel", ["area", "bicubic", "bilinear", "gaussian"])
@pytest.mark.parametrize("side", [20, 40, 64])
def test_every_kernel_keeps_the_face_in_place(kernel: str, side: int) -> None:
    """Every kernel samples at pixel centres, so the LR face sits where the HR face is. A kernel that sampled
    elsewhere (point sampling at cell corners did, by (f - 1) / 2 HR px) teaches the model to shift its output
    and to blur between the positions it saw."""
    y, x = np.mgrid[0:128, 0:128]
    blob = 200 * np.exp(-((x - 60.3) ** 2 + (y - 70.7) ** 2) / (2 * 10.0**2))
    hr = np.repeat(blob[..., None], 3, axis=2).astype(np.uint8)
    truth = _centroid_hr(hr, 1.0)
    lr = downscale(hr, side, kernel, 0.6)
    assert np.abs(_centroid_hr(lr, 128 / side) - truth).max() < 0.05


LOSSLESS = RealDegradationConfig(h264_prob=0.0, jpeg_prob=0.0, noise_prob=0.0, kernels={"area": 1.0})


def test_bursts_are_the_face_moved_and_degraded_alike(hr: np.ndarray) -> None:
    """Frame 0 is the reference; earlier frames are the same face shifted (phase correlation finds the
    motion) by different amounts, and the bursts are reproducible by seed."""
    rgb = np.ascontiguousarray(hr[..., ::-1])
    a, b = RealDegradation(LOSSLESS, seed=5), RealDegradation(LOSSLESS, seed=5)
    ups, info = a.degrade_burst(rgb, 3, order="rgb")
    assert ups.shape == (8, 3, 128, 128, 3) and ups.dtype == np.uint8 and len(info) == 8
    assert np.array_equal(ups, b.degrade_burst(rgb, 3, order="rgb")[0])
    shifts = []
    for burst in ups:
        ref = cv2.cvtColor(burst[0], cv2.COLOR_RGB2GRAY).astype(np.float64)
        for k in (1, 2):
            (dx, dy), _ = cv2.phaseCorrelate(ref, cv2.cvtColor(burst[k], cv2.COLOR_RGB2GRAY).astype(np.float64))
            shifts.append(np.hypot(dx, dy))
            # The same face: the neighbour moved back onto the reference is close to it.
            m = np.float32([[1, 0, -dx], [0, 1, -dy]])
            back = cv2.warpAffine(burst[k], m, (128, 128), borderMode=cv2.BORDER_REFLECT_101)
            assert psnr_y(back[16:-16, 16:-16], burst[0][16:-16, 16:-16]) > 18
    assert max(shifts) > 0.3 and min(shifts) < max(shifts) / 3  # some faces move, some barely
    # The reference frame is degraded like a single-frame face: its side and kernel are in the info.
    assert all(12 <= d.lr_side <= 64 and d.kernel == "area" and d.compression == "none" for d in info)


def test_burst_truth_is_each_frame_as_moved(hr: np.ndarray) -> None:
    """For the stability term: the same draws as ``degrade_burst``, frame 0's truth is the face itself, and each
    frame's input is that frame's truth degraded (closer to it than to the other frame's truth)."""
    rgb = np.ascontiguousarray(hr[..., ::-1])
    ups, moved, _ = RealDegradation(LOSSLESS, seed=5).degrade_burst_with_truth(rgb, 2, order="rgb")
    assert np.array_equal(ups, RealDegradation(LOSSLESS, seed=5).degrade_burst(rgb, 2, order="rgb")[0])
    assert moved.shape == (8, 2, 128, 128, 3) and np.array_equal(moved[:, 0], rgb)
    inner = (slice(16, -16), slice(16, -16))
    moving = [i for i in range(8) if psnr_y(moved[i, 0][inner], moved[i, 1][inner]) < 35]
    assert moving  # some faces really moved
    for i in moving:
        assert psnr_y(ups[i, 1][inner], moved[i, 1][inner]) > psnr_y(ups[i, 1][inner], moved[i, 0][inner])


def test_video_motion_is_mostly_still_with_whole_pixel_steps(hr: np.ndarray) -> None:
    """``burst_motion="video"`` moves faces as the pipeline's crops of real clips move: most barely (far less than
    the random walk), a share by about one LR pixel (the snapped crop box stepping)."""
    rgb = np.ascontiguousarray(np.concatenate([hr, hr, hr])[..., ::-1])

    def shifts(motion: str) -> np.ndarray:
        cfg = RealDegradationConfig(**{**LOSSLESS.to_dict(), "burst_motion": motion})
        _, moved, info = RealDegradation(cfg, seed=11).degrade_burst_with_truth(rgb, 2, order="rgb")
        out = []
        for m, d in zip(moved, info, strict=True):
            a, b = (cv2.cvtColor(x, cv2.COLOR_RGB2GRAY).astype(np.float64) for x in m)
            (dx, dy), _ = cv2.phaseCorrelate(a, b)
            out.append(np.hypot(dx, dy) * d.lr_side / 128)  # in LR pixels
        return np.array(out)

    video, walk = shifts("video"), shifts("walk")
    assert np.median(video) < 0.15 < np.median(walk)
    assert np.any((video > 0.8) & (video < 1.7))  # whole-pixel steps
    with pytest.raises(ValueError, match="burst_motion"):
        RealDegradationConfig(burst_motion="jitter")


def test_h264_bursts_compress_every_frame_as_one_clip(hr: np.ndarray) -> None:
    faces = [np.clip(downscale(f, 40, "area"), 0, 255).round().astype(np.uint8) for f in hr[:4]]
    bursts = [[f, np.roll(f, 1, axis=1), np.roll(f, 2, axis=1)] for f in faces]
    rng = np.random.default_rng(0)
    for key in (False, True):
        out = h264_burst(bursts, 36, "veryfast", rng, keyframe_at_reference=key)
        assert len(out) == 4 and all(len(b) == 3 for b in out)
        for got, want in zip(out, bursts, strict=True):
            for g, w in zip(got, want, strict=True):
                assert g.shape == w.shape
                assert 20 < psnr_y(g[..., ::-1], w[..., ::-1]) < 45  # compressed, still the same face
    cfg = RealDegradationConfig(h264_prob=1.0, jpeg_prob=0.0, crf=(38, 38))
    ups, info = RealDegradation(cfg, seed=2).degrade_burst(hr[:4], 3)
    assert all(d.compression.startswith("h264:38:") for d in info)
    clean, _ = RealDegradation(LOSSLESS, seed=2).degrade_burst(hr[:4], 3)
    assert not np.array_equal(ups[:, 1], clean[:, 1])


@pytest.mark.parametrize("side", [64, 96, 128])
def test_h264_takes_faces_as_large_as_the_range_allows(hr: np.ndarray, side: int) -> None:
    """Wide ``lr_sides`` (a close-up camera's 64-128 px crops) fit the tiled H.264 frame, single and burst."""
    cfg = RealDegradationConfig(lr_sides=(side, side), h264_prob=1.0, jpeg_prob=0.0, crf=(30, 30))
    ups, info = RealDegradation(cfg, seed=4).degrade_batch(hr[:3])
    assert ups.shape == (3, 128, 128, 3) and all(d.lr_side == side and d.compression.startswith("h264") for d in info)
    bursts, _ = RealDegradation(cfg, seed=4).degrade_burst(hr[:3], 3)
    assert bursts.shape[:2] == (3, 3)
    assert psnr_y(ups[0][..., ::-1], bursts[0, 0][..., ::-1]) > 20  # still the same face, compressed differently


def test_long_clips_code_the_faces_deep_in_the_stream(hr: np.ndarray) -> None:
    """``h264_frames`` > 2: the faces come from frame 2..K of a clip whose other frames move (never from the
    keyframe), as P-frames from cameras and also as B-frames from files; that costs them more than the
    two-frame clip's I- or whole-pixel P-frame at the same CRF (as the real-video benchmark's later frames lose
    more than its first), and the draws are seeded."""
    base = {"h264_prob": 0.85, "jpeg_prob": 0.15, "crf": (30, 30), "lr_sides": (32, 32), "kernels": {"area": 1.0},
            "noise_prob": 0.0}  # fmt: skip

    def run(seed: int, **extra) -> tuple[list[np.ndarray], list[str]]:
        deg = RealDegradation(RealDegradationConfig(**base, **extra), seed=seed)
        ups, kinds = [], []
        while len(kinds) < 6:
            u, info = deg.degrade_batch(hr)
            if info[0].compression.startswith("h264"):
                ups.append(u)
                kinds.append(info[0].compression)
        return ups, kinds

    two, two_kinds = run(3)
    cam, cam_kinds = run(3, h264_frames=(3, 10))
    _, file_kinds = run(4, h264_frames=(3, 10), h264_file_share=1.0)
    for k in cam_kinds + file_kinds:
        _, _, _, picture, place, _style = k.split(":")
        j, n = (int(v) for v in place.split("/"))
        assert 2 <= j <= n <= 10 and picture in "PB"
    assert all(k.endswith("camera") and ":P:" in k for k in cam_kinds)
    assert any(":B:" in k for k in file_kinds) and all(k.endswith("file") for k in file_kinds)
    assert all(len(k.split(":")) == 4 for k in two_kinds)  # the two-frame clip is unchanged

    def mean_psnr(batches: list[np.ndarray]) -> float:
        return float(np.mean([psnr_y(u[..., ::-1], h[..., ::-1]) for b in batches for u, h in zip(b, hr, strict=True)]))

    assert mean_psnr(cam) < mean_psnr(two) - 0.3
    again, again_kinds = run(3, h264_frames=(3, 10))
    assert again_kinds == cam_kinds and all(np.array_equal(a, b) for a, b in zip(again, cam, strict=True))
    with pytest.raises(ValueError, match="h264_frames"):
        RealDegradationConfig(h264_frames=(1, 4))
    with pytest.raises(ValueError, match="h264_file_share"):
        RealDegradationConfig(h264_file_share=1.5)
