"""Tracker lifecycle on scripted box sequences, and detection on real frames."""

from __future__ import annotations

import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest
from vidfsr.pipelines.detect import DetectorConfig, HaarDetector, YuNetDetector, create_detector
from vidfsr.pipelines.shots import ShotCutDetector
from vidfsr.pipelines.track import Tracker, TrackerConfig
from vidfsr.pipelines.types import Faces, Frame


def faces(*boxes: tuple[float, float, float, float]) -> Faces:
    xyxy = np.array(boxes, np.float32).reshape(-1, 4)
    return Faces(xyxy, np.full(len(xyxy), 0.9, np.float32))


def test_birth_after_min_hits_and_death_after_misses() -> None:
    tr = Tracker(TrackerConfig(min_hits=2, max_misses=2))
    tr.update(faces())  # the first round, empty: later faces need confirming
    assert len(tr.update(faces((10, 10, 50, 50)))) == 0  # tentative
    out = tr.update(faces((11, 10, 51, 50)))
    assert len(out) == 1 and out.track_id[0] == 1
    for _ in range(2):
        assert len(tr.update(faces())) == 1  # coasting through misses
    assert len(tr.update(faces())) == 0  # dead after the third miss
    tr.update(faces((10, 10, 50, 50)))
    assert tr.update(faces((10, 10, 50, 50))).track_id[0] == 2  # ids are never reused


def test_face_seen_every_third_round_becomes_a_track() -> None:
    """Tiny faces are found only by the detector's upscaled pass (every 3rd round): the track must survive the
    rounds between to be confirmed, then be reported on every frame."""
    tr = Tracker()
    tr.update(faces())  # the face appears after the first round
    reported = [len(tr.update(faces((10, 10, 26, 26)) if i % 3 == 0 else faces())) for i in range(12)]
    assert reported == [0, 0, 0] + [1] * 9


def test_single_false_positive_never_becomes_a_track() -> None:
    tr = Tracker()
    tr.update(faces((10, 10, 50, 50)))
    tr.update(faces((100, 100, 140, 140)))  # a new one-frame detection mid-stream
    for _ in range(5):
        assert 100 not in tr.update(faces()).xyxy[:, 0]
    assert [r.first_frame for r in tr.records.values()] == [0]


def test_faces_of_the_first_round_and_after_a_reset_are_reported_at_once() -> None:
    """A video's (or a shot's) first frame has no earlier frame to confirm its faces against: they are reported
    on it, so the first frame is enhanced like the rest instead of popping from plain resize to the model."""
    tr = Tracker(TrackerConfig(min_hits=2))
    assert len(tr.update(faces((10, 10, 50, 50), (80, 10, 120, 50)))) == 2
    assert len(tr.update(faces((200, 10, 240, 50), (10, 10, 50, 50), (80, 10, 120, 50)))) == 2  # newcomer waits
    tr.reset()
    assert len(tr.update(faces((10, 10, 50, 50)))) == 1
    off = Tracker(TrackerConfig(min_hits=2, confirm_first_round=False))
    assert len(off.update(faces((10, 10, 50, 50)))) == 0


def test_predict_only_frames_follow_motion() -> None:
    tr = Tracker(TrackerConfig(min_hits=1))
    for i in range(6):  # moving right by 4 px per frame
        tr.update(faces((10 + 4 * i, 10, 50 + 4 * i, 50)))
    predicted = [tr.update(None).xyxy[0, 0] for _ in range(3)]
    assert np.allclose(np.diff(predicted), 4, atol=1.0)
    out = tr.update(faces((10 + 4 * 9, 10, 50 + 4 * 9, 50)))
    assert out.track_id[0] == 1 and abs(out.xyxy[0, 0] - 46) < 3


def test_crossing_faces_keep_their_ids() -> None:
    tr = Tracker(TrackerConfig(min_hits=1))
    ids_a, ids_b = [], []
    for i in range(20):  # A moves right, B moves left, vertically apart so boxes overlap only partly
        a = (10 + 6 * i, 10, 50 + 6 * i, 50)
        b = (130 - 6 * i, 30, 170 - 6 * i, 70)
        out = tr.update(faces(a, b))
        for j in range(len(out)):
            (ids_a if out.xyxy[j, 1] < 20 else ids_b).append(int(out.track_id[j]))
    assert len(set(ids_a)) == 1 and len(set(ids_b)) == 1 and ids_a[0] != ids_b[0]


def test_smoothed_boxes_jitter_less_than_detections() -> None:
    rng = np.random.default_rng(0)
    tr = Tracker(TrackerConfig(min_hits=1))
    raw, smooth = [], []
    for _ in range(60):
        box = np.array([100, 100, 164, 164]) + rng.normal(0, 2.0, 4)
        raw.append(box)
        smooth.append(tr.update(faces(tuple(box))).xyxy[0])
    jitter = lambda seq: np.abs(np.diff(np.array(seq)[10:], axis=0)).mean()  # noqa: E731
    assert jitter(smooth) < 0.5 * jitter(raw)


def test_records_keep_best_frame() -> None:
    tr = Tracker(TrackerConfig(min_hits=1))
    for i, side in enumerate([40, 60, 80, 50]):
        f = Faces(np.array([[0, 0, side, side]], np.float32), np.array([0.9], np.float32))
        tr.update(f)
        del i
    rec = tr.records[1]
    assert (rec.first_frame, rec.last_frame) == (0, 3)
    assert rec.best_frame == 2


def test_shot_cut_detector() -> None:
    cut = ShotCutDetector()
    a = np.zeros((90, 160, 3), np.uint8)
    a[:] = (200, 50, 50)
    b = a.copy()
    b[:] = (20, 200, 90)
    assert not cut(a) and not cut(a) and cut(b) and not cut(b)


# ------------------------------------------------------------------------------------------ detection


@pytest.fixture(scope="module")
def group_frame(shared: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(shared / "data/videos/multi_person/hamilton.mp4"))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 30)
    ok, frame = cap.read()
    assert ok
    return frame


def test_yunet_finds_faces_on_a_real_frame(group_frame: np.ndarray) -> None:
    det = YuNetDetector()
    found = det(group_frame)
    assert len(found) >= 1
    assert found.landmarks is not None and found.landmarks.shape == (len(found), 5, 2)
    assert (found.xyxy[:, 2] > found.xyxy[:, 0]).all() and (found.score >= 0.6).all()


def test_large_faces_are_found_by_the_downscaled_pass(shared: Path) -> None:
    face = cv2.imread(str(sorted((shared / "data/faces/test/celeba1000/HR").glob("*.jpg"))[0]))
    big = cv2.resize(face, (900, 900), interpolation=cv2.INTER_CUBIC)
    canvas = cv2.copyMakeBorder(big, 90, 90, 510, 510, cv2.BORDER_CONSTANT, value=(40, 40, 40))  # 1920x1080
    found = YuNetDetector()(canvas)
    assert len(found) == 1 and found.sides[0] > 450


def test_tiny_faces_are_found_by_the_upscaled_pass(shared: Path) -> None:
    faces_dir = sorted((shared / "data/faces/test/celeba1000/HR").glob("*.jpg"))[:12]
    canvas = np.full((360, 640, 3), 90, np.uint8)
    for i, p in enumerate(faces_dir):  # 16 px crops: the x8 model's input size
        small = cv2.resize(cv2.imread(str(p)), (16, 16), interpolation=cv2.INTER_AREA)
        y, x = 100 + 120 * (i // 6), 40 + 90 * (i % 6)
        canvas[y : y + 16, x : x + 16] = small
    config = DetectorConfig(min_face=4)
    with_up = len(YuNetDetector(config=config)(canvas))
    without = len(YuNetDetector(config=DetectorConfig(upscale=1.0, min_face=4))(canvas))
    assert with_up >= 6 and with_up >= without + 4, (with_up, without)


def test_tiny_whole_images_are_deterministic(shared: Path) -> None:
    """Frames shrunk to ~20 px gave NaN boxes and results that differed between two identical detectors
    (OpenCV 4.14's YuNet; these are frames where that happened): such inputs are now padded."""
    from vidfsr.pipelines.video import VideoFileSource

    cases = {"d0": [(75, 21)], "d10": [(90, 19), (140, 20)], "d11": [(25, 21), (60, 21)]}
    images = []
    for clip, picks in cases.items():
        with VideoFileSource(shared / f"data/videos/talking_head/liveportrait_driving_{clip}.mp4") as src:
            frames = [f.image for _, f in zip(range(141), src, strict=False)]
        images += [cv2.resize(frames[k], (n, n), interpolation=cv2.INTER_AREA) for k, n in picks]
    for img in images:
        a = YuNetDetector(config=DetectorConfig(upscale_every=1))(img)
        b = YuNetDetector(config=DetectorConfig(upscale_every=1))(img)
        assert len(a) == len(b) == 1 and np.isfinite(a.xyxy).all() and np.allclose(a.xyxy, b.xyxy, atol=1e-3)


def test_detector_handles_odd_inputs(group_frame: np.ndarray) -> None:
    det = YuNetDetector(config=DetectorConfig(max_faces=1))
    assert len(det(np.zeros((4, 4, 3), np.uint8))) == 0
    gray = cv2.cvtColor(group_frame, cv2.COLOR_BGR2GRAY)
    assert len(det(gray)) <= 1
    with pytest.raises(ValueError):
        det(np.zeros((10, 10, 3), np.float32))


def test_fallback_to_haar_without_weights(
    group_frame: np.ndarray, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from vidfsr import weights

    monkeypatch.setenv("VIDFSR_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("VIDFSR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setitem(weights.ASSETS, "yunet", weights.Asset("yunet", "yunet.onnx", None, (tmp_path / "x").as_uri()))
    det = create_detector("yunet")
    assert isinstance(det, HaarDetector)
    assert "falling back" in caplog.text and "VIDFSR_MODEL_DIR" in caplog.text  # says how to get YuNet
    assert isinstance(det(group_frame), Faces)


def test_haar_boxes_give_the_crop_rule_s_crops(shared: Path) -> None:
    """On official test crops padded into a canvas, the crop cut from Haar's (mapped) box is the test crop's
    framing, as YuNet's is: same median side, centre within a few pixels."""
    from vidfsr.pipelines.croprule import crop_boxes

    files = sorted((shared / "data/faces/test/celeba1000/HR").glob("*.jpg"))[:60]
    haar, yunet = HaarDetector(), YuNetDetector(config=DetectorConfig(upscale=1.0))
    sides, centres, raw_sides = {"haar": [], "yunet": []}, {"haar": [], "yunet": []}, []
    for f in files:
        img = cv2.copyMakeBorder(cv2.imread(str(f)), 64, 64, 64, 64, cv2.BORDER_CONSTANT)
        for name, det in (("haar", haar), ("yunet", yunet)):
            faces = det(img)
            if not len(faces):
                continue
            crop = crop_boxes(faces.xyxy[int(np.argmax(faces.score))][None])[0]
            sides[name].append(crop[2] - crop[0])
            centres[name].append(0.5 * (crop[:2] + crop[2:]))
        raw = HaarDetector(raw=True)(img)
        if len(raw):
            raw_sides.append(crop_boxes(raw.xyxy[:1])[0][2] - crop_boxes(raw.xyxy[:1])[0][0])
    assert len(sides["haar"]) >= 50
    for name in ("haar", "yunet"):
        assert abs(np.median(sides[name]) - 128) < 5, (name, np.median(sides[name]))
        assert np.abs(np.median(centres[name], axis=0) - 128).max() < 3
    assert abs(np.median(raw_sides) - 128) > 8  # unmapped, Haar's boxes would frame the face differently


def test_insightface_backend_needs_its_extra() -> None:
    import importlib.util

    from vidfsr.errors import InputError, MissingDependencyError

    if importlib.util.find_spec("insightface") is not None:
        pytest.skip("insightface is installed here; the missing-extra path cannot be shown")
    with pytest.raises(MissingDependencyError, match=r"vidfsr\[insightface\]"):
        create_detector("insightface:/tmp/det_10g.onnx")
    with pytest.raises(InputError, match="did you mean"):
        create_detector("yunett")


def test_tracker_announces_started_and_ended_tracks() -> None:
    tracker = Tracker(TrackerConfig(min_hits=2, max_misses=1))
    face = Faces(np.array([[10, 10, 50, 50]], np.float32), np.ones(1, np.float32))
    events = []
    for _ in range(3):
        tracker.update(face)
        events += tracker.pop_events()
    assert [(e.kind, e.track_id) for e in events] == [("started", 1)]
    for _ in range(3):
        tracker.update(Faces.empty())
        events += tracker.pop_events()
    assert [(e.kind, e.track_id) for e in events] == [("started", 1), ("ended", 1)]
    tracker.update(face)
    tracker.update(face)
    tracker.reset()  # a shot cut ends every track
    assert [(e.kind, e.track_id) for e in tracker.pop_events()] == [("started", 2), ("ended", 2)]
    assert tracker.tracks_started == 2


class _Identity:
    """An enhancer that adds nothing: the runner's own stages are what a test sees."""

    def __init__(self) -> None:
        from vidfsr.pipelines.crops import ModelRange

        self.ranges = (ModelRange(4, 500),)

    def __call__(self, crops, model):
        return crops.copy(), None


def test_runner_evicts_per_track_state_when_tracks_end(shared: Path) -> None:
    """1,000 short tracks leave nothing behind: smoothing state and records follow the live tracks only."""
    from vidfsr.pipelines.runner import RunConfig, Runner

    class Scripted:
        """A face appears for 3 frames at a new place, then 3 empty frames: one track per appearance."""

        def __call__(self, image):
            return self.next

    det = Scripted()
    runner = Runner(det, _Identity(), RunConfig(scale=1.0, temporal=0.5, tracker=TrackerConfig(max_misses=1)))
    boxes = []
    rng = np.random.default_rng(0)
    for _ in range(300):
        x, y = rng.uniform(10, 200, 2)
        for j in range(6):
            boxes.append(Faces(np.array([[x, y, x + 40, y + 40]], np.float32), np.ones(1, np.float32))
                         if j < 3 else Faces.empty())  # fmt: skip
    image = np.full((256, 256, 3), 90, np.uint8)
    it = iter(boxes)

    def gen():
        for i in range(len(boxes)):
            det.next = next(it)
            yield Frame(i, image)

    sizes, steady = [], []
    runner.run(gen(), lambda f, img: (sizes.append(len(runner._previous)), steady.append(len(runner._steady))))
    assert runner.summary.tracks == 300
    assert max(sizes) <= 2 and len(runner._previous) <= 1
    assert max(steady) <= 2 and len(runner._steady) <= 1 and runner.config.steady > 0
    assert len(runner.tracker.records) <= 1  # no report asked for: records go with their tracks


def test_steady_faces_calm_a_still_face_and_leave_the_background() -> None:
    """In the runner: a still face whose frames carry fresh sensor noise changes less from frame to frame with
    ``steady`` (the previous output face carried and averaged in), the background outside the face's region is
    byte-identical either way, and a new track (after a shot cut the tracker starts new ones) starts fresh."""
    from vidfsr.pipelines.runner import RunConfig, Runner

    class Fixed:
        def __call__(self, image):
            return Faces(np.array([[40.0, 30.0, 88.0, 78.0]], np.float32), np.ones(1, np.float32))

    rng = np.random.default_rng(0)
    still = cv2.GaussianBlur(rng.integers(40, 220, (120, 160, 3)).astype(np.uint8), (0, 0), 1.5)
    frames = [np.clip(still + rng.normal(0, 4, still.shape), 0, 255).astype(np.uint8) for _ in range(8)]
    outputs = {}
    for steady in (0.0, 0.8):
        runner = Runner(Fixed(), _Identity(), RunConfig(scale=4.0, steady=steady))
        out: list[np.ndarray] = []
        runner.run((Frame(i, f) for i, f in enumerate(frames)), lambda f, img, o=out: o.append(img.astype(np.float32)))
        outputs[steady] = out
    face = (slice(150, 290), slice(190, 330))  # inside the face's ellipse at 4x

    def change(out: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(b[face] - a[face]).mean() for a, b in itertools.pairwise(out[1:])]))

    assert change(outputs[0.8]) < 0.7 * change(outputs[0.0])
    for a, b in zip(outputs[0.0], outputs[0.8], strict=True):
        assert np.array_equal(a[:60], b[:60]) and np.array_equal(a[:, :100], b[:, :100])  # outside the region
    assert np.array_equal(outputs[0.0][0], outputs[0.8][0])  # frame 0: nothing to carry yet


def test_faces_left_to_the_resize_are_carried_along_too() -> None:
    """A face no model serves is resized like the frame, and still carried along the motion: with a frame step
    (lossless sources) the recursion gathers detail over the frames, without one (compressed sources) it
    averages the coding noise at a lower share, and a partial step lands between. Either way the face changes
    less from frame to frame, the model never sees it, nothing outside its region changes, and its state goes
    when its track ends."""
    from vidfsr.pipelines.blend import BlendConfig
    from vidfsr.pipelines.crops import ModelRange
    from vidfsr.pipelines.runner import RunConfig, Runner

    class Fixed:
        """The face in the first 8 frames, then gone (its track ends)."""

        def __init__(self) -> None:
            self.n = 0

        def __call__(self, image):
            self.n += 1
            if self.n > 8:
                return Faces.empty()
            return Faces(np.array([[40.0, 30.0, 88.0, 78.0]], np.float32), np.ones(1, np.float32))

    class TooSmall(_Identity):
        """Serves only faces far smaller than this one: the face is left to the resize."""

        def __init__(self) -> None:
            self.ranges = (ModelRange(4, 10),)
            self.calls = 0

        def __call__(self, crops, model):
            self.calls += 1
            return super().__call__(crops, model)

    rng = np.random.default_rng(1)
    still = cv2.GaussianBlur(rng.integers(40, 220, (120, 160, 3)).astype(np.uint8), (0, 0), 1.5)
    frames = [np.clip(still + rng.normal(0, 4, still.shape), 0, 255).astype(np.uint8) for _ in range(12)]
    face = (slice(150, 290), slice(190, 330))  # inside the face's ellipse at 4x

    def change(out: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(b[face] - a[face]).mean() for a, b in itertools.pairwise(out[1:8])]))

    for step in (0.0, 0.5, 1.0):
        outputs = {}
        for steady in (0.0, 0.8):
            enhancer = TooSmall()
            config = RunConfig(scale=4.0, steady=steady, blend=BlendConfig(frame_consistency=step),
                               tracker=TrackerConfig(max_misses=1))  # fmt: skip
            runner = Runner(Fixed(), enhancer, config)
            out: list[np.ndarray] = []
            held: list[int] = []

            def write(f, img, o=out, r=runner, h=held):
                o.append(img.astype(float))
                h.append(len(r._steady))

            runner.run((Frame(i, f) for i, f in enumerate(frames)), write)
            outputs[steady] = out
            assert enhancer.calls == 0 and runner.summary.faces_enhanced == 0
            assert max(held) == (1 if steady else 0) and held[-1] == 0  # kept while tracked, evicted after
        assert change(outputs[0.8]) < 0.85 * change(outputs[0.0]), step
        for a, b in zip(outputs[0.0], outputs[0.8], strict=True):
            assert np.array_equal(a[:60], b[:60]) and np.array_equal(a[:, :100], b[:, :100])  # outside the region


def test_the_frame_step_runs_before_the_average_and_less_after_it_on_a_still_coded_face(monkeypatch) -> None:
    """The frame step runs before the recursion's average and again after it. On a coded source (a step share
    under 1) a still face gets a weaker step after the average: this frame's coding noise, which the past frames
    averaged away, comes back in less, so the face changes less from frame to frame; a moving face gets the
    whole step; on lossless input (share 1), and where nothing was averaged yet (a still image), the step after
    the average stays whole."""
    from vidfsr.pipelines import runner as runner_module
    from vidfsr.pipelines.blend import BlendConfig
    from vidfsr.pipelines.runner import RunConfig, Runner

    class Fixed:
        def __call__(self, image):
            return Faces(np.array([[40.0, 30.0, 88.0, 78.0]], np.float32), np.ones(1, np.float32))

    scene = np.random.default_rng(7).integers(40, 220, (120, 200, 3)).astype(np.uint8)
    scene = cv2.GaussianBlur(scene, (0, 0), 1.5)
    face = (slice(150, 290), slice(190, 330))  # inside the face's ellipse at 4x

    def run(step: float, after_still: float, speed: int, steady: float = 0.8, n: int = 10) -> list[np.ndarray]:
        monkeypatch.setattr(runner_module, "STEP_AFTER_STILL", after_still)
        rng = np.random.default_rng(8)
        frames = []
        for t in range(n):  # the coding noise of each frame: a fresh draw on the same (or a moving) picture
            picture = scene[:, speed * t : speed * t + 160].astype(np.float32)
            frames.append(np.clip(picture + rng.normal(0, 1, picture.shape), 0, 255).astype(np.uint8))
        config = RunConfig(scale=4.0, steady=steady, blend=BlendConfig(frame_consistency=step),
                           tracker=TrackerConfig(min_hits=1))  # fmt: skip
        runner = Runner(Fixed(), _Identity(), config)
        out: list[np.ndarray] = []
        runner.run((Frame(i, f) for i, f in enumerate(frames)), lambda f, img: out.append(img.astype(float)))
        return out[1:] if n > 1 else out  # from the second frame on, where a previous face is averaged in

    def change(out: list[np.ndarray]) -> float:
        return float(np.mean([np.abs(b[face] - a[face]).mean() for a, b in itertools.pairwise(out)]))

    assert change(run(0.5, 0.75, 0)) < 0.8 * change(run(0.5, 1.0, 0))
    for a, b in zip(run(0.5, 0.75, 2), run(0.5, 1.0, 2), strict=True):  # 2 input px a frame: the whole step
        assert np.abs(a - b).max() <= 1
    for a, b in zip(run(1.0, 0.75, 0), run(1.0, 0.0, 0), strict=True):
        assert np.array_equal(a, b)
    for step in (0.5, 1.0):  # nothing averaged yet (a still image, a track's first frame): the whole step twice
        assert np.array_equal(run(step, 0.75, 0, n=1)[0], run(step, 0.0, 0, n=1)[0])


def test_a_face_leaving_the_frame_does_not_stop_the_run() -> None:
    """A face that slides off the frame's edge leaves a sliver of its region on the canvas, narrower than the
    flow can take (OpenCV's DIS raised and stopped the blend stage): the run goes on, for served and
    passed-through faces alike."""
    from vidfsr.pipelines.crops import ModelRange
    from vidfsr.pipelines.runner import RunConfig, Runner

    class Leaving:
        """A 40 px face moving 6 px a frame to the left, out of the frame."""

        def __init__(self) -> None:
            self.x = 30.0

        def __call__(self, image):
            self.x -= 6.0
            return Faces(np.array([[self.x, 40.0, self.x + 40.0, 80.0]], np.float32), np.ones(1, np.float32))

    frames = [np.full((120, 160, 3), 100 + i, np.uint8) for i in range(14)]
    for ranges in ((ModelRange(4, 500),), (ModelRange(4, 5),)):  # enhanced, then left to the resize
        enhancer = _Identity()
        enhancer.ranges = ranges
        runner = Runner(Leaving(), enhancer, RunConfig(scale=4.0, steady=0.8))
        out: list[np.ndarray] = []
        runner.run((Frame(i, f) for i, f in enumerate(frames)), lambda f, img, o=out: o.append(img))
        assert len(out) == len(frames)
