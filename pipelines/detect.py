"""Face detection: a small ``Detector`` protocol and its backends.

YuNet (``cv2.FaceDetectorYN``) is the default. It sees faces of about 10-300 px, so a frame is searched in up
to three passes: upscaled for tiny faces (measured recall of 16 px crops rises from 0.04 to 0.73-0.87 at 2-3x),
native, and downscaled for faces larger than YuNet's range; duplicates are merged by NMS.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np

from vidfsr.errors import InputError

from .types import Faces

logger = logging.getLogger(__name__)


class Detector(Protocol):
    """``__call__(image) -> Faces``. A detector that keeps per-stream state (YuNet's schedule of upscaled
    passes) may also define ``reset()``, which the runner calls when an unrelated sequence starts."""

    def __call__(self, image: np.ndarray) -> Faces: ...


@dataclass(frozen=True)
class DetectorConfig:
    """Options shared by detector backends.

    Attributes:
        score_threshold: lower finds more faces and more false positives.
        nms_threshold: IoU above which two boxes are the same face.
        min_face: boxes smaller than this (mean side, frame px) are dropped.
        max_faces: keep at most this many, highest scores first (0: no limit).
        upscale: factor of the extra pass for tiny faces (1 disables it); costs upscale**2 the compute.
        upscale_every: the upscaled pass runs on every n-th call only (it costs ~4x the native pass); a new
            tiny face is then found within n detections and the tracker carries it in between (keep n at most
            the tracker's max_misses + 1).
        upscale_max_side: frames with a longer side than this skip the upscaled pass.
        max_side: the native pass runs on frames whose long side is at most this (larger frames are shrunk).
    """

    score_threshold: float = 0.6
    nms_threshold: float = 0.3
    min_face: float = 8.0
    max_faces: int = 0
    upscale: float = 2.0
    upscale_every: int = 3
    upscale_max_side: int = 960
    max_side: int = 1280


def nms(xyxy: np.ndarray, score: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-score)
    keep: list[int] = []
    areas = (xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1])
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        ix0 = np.maximum(xyxy[i, 0], xyxy[rest, 0])
        iy0 = np.maximum(xyxy[i, 1], xyxy[rest, 1])
        ix1 = np.minimum(xyxy[i, 2], xyxy[rest, 2])
        iy1 = np.minimum(xyxy[i, 3], xyxy[rest, 3])
        inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
        iou = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[iou <= iou_threshold]
    return np.array(keep, dtype=np.int64)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """Accept BGR, grayscale or BGRA uint8 images; reject what cannot be a picture."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise InputError("detector input must be a uint8 numpy image")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    raise InputError(f"detector input has unsupported shape {image.shape}")


def _finish(xyxy: np.ndarray, score: np.ndarray, lms: np.ndarray | None, cfg: DetectorConfig) -> Faces:
    if len(xyxy) == 0:
        return Faces.empty()
    keep = nms(xyxy, score, cfg.nms_threshold)
    sides = 0.5 * ((xyxy[keep, 2] - xyxy[keep, 0]) + (xyxy[keep, 3] - xyxy[keep, 1]))
    keep = keep[sides >= cfg.min_face]
    if cfg.max_faces:
        keep = keep[: cfg.max_faces]
    return Faces(
        xyxy[keep].astype(np.float32),
        score[keep].astype(np.float32),
        None if lms is None else lms[keep].astype(np.float32),
    )


MIN_INPUT = 96  # px: smaller detector inputs are padded (see YuNetDetector._detect)


class YuNetDetector:
    """YuNet through OpenCV, with extra passes so faces of any size are found."""

    def __init__(self, weights: str = "yunet", config: DetectorConfig | None = None) -> None:
        from vidfsr import weights as assets

        self.config = config or DetectorConfig()
        self.path = assets.resolve(weights)
        # One network per input size: setInputSize() rebuilds the network's buffers, and alternating the
        # native and upscaled passes on one instance made detection ~3x slower.
        self._nets: dict[tuple[int, int], cv2.FaceDetectorYN] = {}
        self._calls = 0
        self._net_for((320, 320))  # fail now, not on the first frame, if the file is not a YuNet model

    def reset(self) -> None:
        """Start the pass schedule over: the next call runs every pass (a new stream, or the next still, must
        not inherit a skipped upscaled pass from the last one)."""
        self._calls = 0

    def _net_for(self, size: tuple[int, int]) -> cv2.FaceDetectorYN:
        net = self._nets.get(size)
        if net is None:
            if len(self._nets) > 8:
                self._nets.clear()  # a source whose frame size keeps changing must not grow this forever
            cfg = self.config
            net = cv2.FaceDetectorYN.create(str(self.path), "", size, cfg.score_threshold, cfg.nms_threshold, 5000)
            self._nets[size] = net
        return net

    def _detect(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        if min(h, w) < MIN_INPUT:
            # OpenCV 4.14's YuNet returned NaN boxes and results that changed from call to call on inputs this
            # small; padding right and bottom keeps coordinates and made it deterministic.
            ph, pw = max(h, MIN_INPUT), max(w, MIN_INPUT)
            image = cv2.copyMakeBorder(image, 0, ph - h, 0, pw - w, cv2.BORDER_CONSTANT, value=(96, 96, 96))
            h, w = ph, pw
        _, found = self._net_for((w, h)).detect(image)
        if found is None:
            return np.zeros((0, 15), np.float32)
        return found[np.isfinite(found).all(axis=1)]

    def _pass(self, image: np.ndarray, factor: float) -> np.ndarray:
        """Detections on ``image`` resized by ``factor``, mapped back to the input's pixels."""
        if factor == 1.0:
            found = self._detect(image)
        else:
            interp = cv2.INTER_LINEAR if factor > 1 else cv2.INTER_AREA
            found = self._detect(cv2.resize(image, None, fx=factor, fy=factor, interpolation=interp)).copy()
            found[:, :14] /= factor
        return found

    def __call__(self, image: np.ndarray) -> Faces:
        image = as_bgr(image)
        h, w = image.shape[:2]
        if h < 8 or w < 8:
            return Faces.empty()
        cfg = self.config
        native = min(1.0, cfg.max_side / max(h, w))
        passes = [native]
        # The upscaled pass costs upscale**2 the compute: by default only frames up to 960 px wide get it,
        # on every upscale_every-th call.
        upscale_now = self._calls % max(cfg.upscale_every, 1) == 0
        self._calls += 1
        if native == 1.0 and cfg.upscale > 1 and max(h, w) <= cfg.upscale_max_side and upscale_now:
            passes.append(cfg.upscale)
        # Faces over ~300 px exceed YuNet's anchors: a pass at most 320 px on the long side finds them.
        small = 320 / max(h, w)
        if small < native * 0.6:
            passes.append(small)
        found = np.concatenate([self._pass(image, f) for f in passes])
        xywh = found[:, :4]
        xyxy = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:4]], axis=1)
        return _finish(xyxy, found[:, 14], found[:, 4:14].reshape(-1, 5, 2), cfg)


# Haar boxes frame a face differently from YuNet's (benchmarks/calibrate_crop_rule.py --detector haar on the
# 1,000 official test crops; BENCHMARKS.md): crop side / Haar box side and the crop centre's offset, in Haar box
# sides. Mapping Haar boxes onto YuNet's framing keeps one crop rule (croprule.py) for every detector.
HAAR_SIDE_RATIO = 1.3333
HAAR_CENTRE_SHIFT = (-0.0052, 0.0612)


class HaarDetector:
    """OpenCV's frontal-face Haar cascade, shipped inside the opencv-python wheel: the no-weights fallback.

    Much weaker than YuNet (frontal faces only, no landmarks, more false positives); used only when YuNet's
    weights cannot be found or downloaded, with a warning. Its boxes are mapped onto YuNet's framing (the
    calibration above), so the crop rule cuts the same crops from them; ``raw`` keeps the cascade's own boxes
    (for calibrating).
    """

    def __init__(self, config: DetectorConfig | None = None, raw: bool = False) -> None:
        self.config = config or DetectorConfig()
        self.raw = raw
        if not hasattr(cv2, "CascadeClassifier"):
            raise InputError("this OpenCV build has no Haar cascades; install opencv-python<5")
        path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise InputError(f"could not load the Haar cascade at {path}")

    def __call__(self, image: np.ndarray) -> Faces:
        gray = cv2.cvtColor(as_bgr(image), cv2.COLOR_BGR2GRAY)
        if min(gray.shape) < 24:
            return Faces.empty()
        rects, _, weights = self._cascade.detectMultiScale3(
            gray, scaleFactor=1.1, minNeighbors=5, minSize=(20, 20), outputRejectLevels=True
        )
        if len(rects) == 0:
            return Faces.empty()
        rects = np.asarray(rects, np.float32)
        xyxy = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
        if not self.raw:
            xyxy = haar_to_yunet(xyxy)
        score = 1 / (1 + np.exp(-np.asarray(weights, np.float32).ravel()))
        return _finish(xyxy, score, None, self.config)


def haar_to_yunet(xyxy: np.ndarray) -> np.ndarray:
    """Haar boxes -> boxes framed like YuNet's, so ``crop_boxes`` gives the crop the calibration found."""
    from .croprule import CENTRE_SHIFT_X, CENTRE_SHIFT_Y, SIDE_RATIO

    side = 0.5 * ((xyxy[:, 2] - xyxy[:, 0]) + (xyxy[:, 3] - xyxy[:, 1]))
    crop_side = HAAR_SIDE_RATIO * side
    cx = 0.5 * (xyxy[:, 0] + xyxy[:, 2]) + HAAR_CENTRE_SHIFT[0] * side
    cy = 0.5 * (xyxy[:, 1] + xyxy[:, 3]) + HAAR_CENTRE_SHIFT[1] * side
    yside = crop_side / SIDE_RATIO  # the YuNet box whose crop is this one
    bx, by = cx - CENTRE_SHIFT_X * yside, cy - CENTRE_SHIFT_Y * yside
    half = 0.5 * yside
    return np.stack([bx - half, by - half, bx + half, by + half], axis=1).astype(np.float32)


def create_detector(spec: str = "yunet", config: DetectorConfig | None = None) -> Detector:
    """Build a detector from ``yunet``, ``yunet:/path/model.onnx``, ``haar`` or ``insightface:/path/det.onnx``.

    Plain ``yunet`` falls back to the Haar cascade with a warning when its weights cannot be had.
    """
    from vidfsr.errors import AssetNotFoundError

    kind, _, path = spec.partition(":")
    if kind == "yunet":
        try:
            return YuNetDetector(path or "yunet", config)
        except AssetNotFoundError as exc:
            if path:
                raise
            logger.warning(
                "YuNet weights unavailable (%s); falling back to OpenCV's Haar cascade, which misses small, "
                "profile and dark faces. To use YuNet: put face_detection_yunet_2026may.onnx (OpenCV model zoo, "
                "face_detection_yunet) in $VIDFSR_MODEL_DIR or pass --detector yunet:/path/to/it.onnx",
                exc,
            )
            return HaarDetector(config)
    if kind == "haar":
        return HaarDetector(config)
    if kind == "insightface":
        from .detect_insightface import InsightFaceDetector

        if not path:
            raise InputError("insightface needs a model file: --detector insightface:/path/det_10g.onnx")
        return InsightFaceDetector(path, config)
    from vidfsr.errors import close_match_hint

    raise InputError(f"unknown detector {spec!r}{close_match_hint(kind, ['yunet', 'haar', 'insightface'])}")
