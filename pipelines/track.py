"""Face tracking: one Kalman filter per face (filterpy), Hungarian assignment on IoU (scipy).

``update(faces)`` with detections corrects the tracks; ``update(None)`` only predicts, so detection can run every
k frames with the tracker filling the frames between (norfair's ``period``). Tracks are born after ``min_hits``
matched detections and die after ``max_misses`` detection rounds without a match. The boxes a track reports
are the filter's state, which follows the face but not the detector's frame-to-frame noise: crops cut from
them do not jitter, and jitter would become flicker after super-resolution.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .types import Faces


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker behaviour.

    Attributes:
        iou_threshold: minimum IoU between a prediction and a detection to match them; lower follows fast
            motion better and swaps ids between close faces more easily.
        min_hits: matched detections before a track is reported (filters one-frame false positives).
        max_misses: detection rounds without a match before a track dies (bridges short occlusions).
        tentative_misses: detection rounds a not-yet-reported track may go unmatched. Tiny faces are found only
            by the detector's upscaled pass, which runs every 3rd round by default: a tentative track that died
            at its first miss never lived to its second detection, so such faces were never enhanced.
        position_noise: measurement noise of box centre and size, in face sides; higher is smoother and lags more.
        motion_noise: process noise of the velocity terms, in face sides per frame.
        confirm_first_round: faces found by the first detection round after the start or a reset (a shot cut)
            are reported at once. There is no earlier frame to confirm them against, and holding them back showed
            the first frame of every video and shot un-enhanced, then switched to the model's face: the largest
            single frame-to-frame change in the real-video benchmark's flicker (issue 12). Later faces still need
            ``min_hits``, which is what filters one-frame false positives mid-stream.
    """

    iou_threshold: float = 0.25
    min_hits: int = 2
    max_misses: int = 3
    tentative_misses: int = 2
    position_noise: float = 0.05
    motion_noise: float = 0.01
    confirm_first_round: bool = True


@dataclass
class TrackRecord:
    """What a reviewer wants per track: when it was seen and its best frame."""

    track_id: int
    first_frame: int
    last_frame: int
    best_frame: int
    best_quality: float
    best_xyxy: np.ndarray = field(repr=False)


@dataclass(frozen=True)
class TrackEvent:
    """A reported track started or ended at ``frame``: the runner drops every per-track state on "ended"."""

    kind: str  # "started" | "ended"
    track_id: int
    frame: int


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix between [N,4] and [M,4] xyxy boxes."""
    x0 = np.maximum(a[:, None, 0], b[None, :, 0])
    y0 = np.maximum(a[:, None, 1], b[None, :, 1])
    x1 = np.minimum(a[:, None, 2], b[None, :, 2])
    y1 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter + 1e-9)


def face_quality(xyxy: np.ndarray, score: float, landmarks: np.ndarray | None) -> float:
    """Larger, more frontal, more confident is better: side x score x frontalness (eye/mouth symmetry)."""
    side = 0.5 * ((xyxy[2] - xyxy[0]) + (xyxy[3] - xyxy[1]))
    frontal = 1.0
    if landmarks is not None:
        eye_mid = 0.5 * (landmarks[0] + landmarks[1])
        eye_dist = np.linalg.norm(landmarks[0] - landmarks[1]) + 1e-6
        frontal = max(0.0, 1.0 - abs(landmarks[2, 0] - eye_mid[0]) / eye_dist)  # nose centred between the eyes
    return float(side * score * frontal)


class _Track:
    def __init__(self, track_id: int, xyxy: np.ndarray, cfg: TrackerConfig) -> None:
        from filterpy.kalman import KalmanFilter

        self.id = track_id
        self.hits = 1
        self.misses = 0
        self.kf = KalmanFilter(dim_x=8, dim_z=4)  # state: cx, cy, w, h and their velocities
        self.kf.F = np.eye(8)
        self.kf.F[:4, 4:] = np.eye(4)
        self.kf.H = np.eye(4, 8)
        self.cfg = cfg
        cx, cy, w, h = _xyxy_to_cxcywh(xyxy)
        self.kf.x[:4, 0] = [cx, cy, w, h]
        side = max(w, h)
        self.kf.P = np.diag([side**2 * 0.01] * 4 + [side**2 * 0.01] * 4)
        self._tune(side)
        self.score = 0.0
        self.quality = 0.0
        self.landmarks: np.ndarray | None = None

    def _tune(self, side: float) -> None:
        """Noise scaled by face size, so small and large faces are smoothed alike."""
        self.kf.R = np.eye(4) * (self.cfg.position_noise * side) ** 2
        q = (self.cfg.motion_noise * side) ** 2
        self.kf.Q = np.diag([q * 0.25] * 4 + [q] * 4)

    def predict(self) -> None:
        if self.kf.x[2, 0] + self.kf.x[6, 0] <= 1 or self.kf.x[3, 0] + self.kf.x[7, 0] <= 1:
            self.kf.x[6:8, 0] = 0.0  # never let a shrinking face collapse to nothing
        before = self.kf.x[:2, 0].copy()
        self.kf.predict()
        if self.landmarks is not None:
            self.landmarks = self.landmarks + (self.kf.x[:2, 0] - before).astype(np.float32)  # move with the face

    def correct(self, xyxy: np.ndarray) -> None:
        z = _xyxy_to_cxcywh(xyxy)
        self._tune(max(z[2], z[3]))
        self.kf.update(np.asarray(z, np.float64))

    @property
    def xyxy(self) -> np.ndarray:
        cx, cy, w, h = self.kf.x[:4, 0]
        return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], np.float32)


def _xyxy_to_cxcywh(b: np.ndarray) -> tuple[float, float, float, float]:
    return (float(b[0] + b[2]) / 2, float(b[1] + b[3]) / 2, float(b[2] - b[0]), float(b[3] - b[1]))


class Tracker:
    """Keeps one id per visible face across frames."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._tracks: list[_Track] = []
        self._next_id = 1
        self.frame = -1
        self.records: dict[int, TrackRecord] = {}
        self.tracks_started = 0
        self._reported: set[int] = set()
        self._events: list[TrackEvent] = []
        self._first_round = True

    def reset(self) -> None:
        """End every track (a shot cut): ids are never reused."""
        self._tracks = []
        self._end_missing()
        self._first_round = True

    def pop_events(self) -> list[TrackEvent]:
        """Tracks started and ended since the last call, in order."""
        events, self._events = self._events, []
        return events

    def forget(self, track_id: int) -> None:
        """Drop an ended track's record (when nobody will ask for the report)."""
        self.records.pop(track_id, None)

    def _end_missing(self) -> None:
        alive = {t.id for t in self._tracks}
        for tid in sorted(self._reported - alive):
            self._reported.discard(tid)
            self._events.append(TrackEvent("ended", tid, self.frame))

    def update(self, faces: Faces | None) -> Faces:
        """Advance one frame. ``faces`` are this frame's detections, or None on frames without detection."""
        self.frame += 1
        for t in self._tracks:
            t.predict()
        if faces is not None:
            self._associate(faces)
            self._end_missing()
            self._first_round = False
        live = [t for t in self._tracks if t.hits >= self.config.min_hits]
        for t in live:
            if t.id not in self._reported:
                self._reported.add(t.id)
                self.tracks_started += 1
                self._events.append(TrackEvent("started", t.id, self.frame))
        if not live:
            return Faces.empty()
        out = Faces(
            np.stack([t.xyxy for t in live]),
            np.array([t.score for t in live], np.float32),
            np.stack([t.landmarks for t in live]) if all(t.landmarks is not None for t in live) else None,
            np.array([t.id for t in live], np.int64),
        )
        for t, xyxy in zip(live, out.xyxy, strict=True):
            self._record(t, xyxy)
        return out

    def _associate(self, faces: Faces) -> None:
        cfg = self.config
        matched_tracks: set[int] = set()
        matched_dets: set[int] = set()
        if self._tracks and len(faces):
            iou = box_iou(np.stack([t.xyxy for t in self._tracks]), faces.xyxy)
            rows, cols = linear_sum_assignment(-iou)
            for r, c in zip(rows, cols, strict=True):
                if iou[r, c] >= cfg.iou_threshold:
                    t = self._tracks[r]
                    t.correct(faces.xyxy[c])
                    t.hits += 1
                    t.misses = 0
                    t.score = float(faces.score[c])
                    t.landmarks = None if faces.landmarks is None else faces.landmarks[c].copy()
                    t.quality = face_quality(faces.xyxy[c], t.score, t.landmarks)
                    matched_tracks.add(r)
                    matched_dets.add(c)
        for r, t in enumerate(self._tracks):
            if r not in matched_tracks:
                t.misses += 1
                if t.landmarks is not None:
                    t.landmarks = None  # the detector's points would no longer sit on the face
        self._tracks = [
            t for t in self._tracks if t.misses <= (cfg.max_misses if t.hits >= cfg.min_hits else cfg.tentative_misses)
        ]
        for c in range(len(faces)):
            if c not in matched_dets:
                t = _Track(self._next_id, faces.xyxy[c], cfg)
                self._next_id += 1
                if self._first_round and cfg.confirm_first_round:
                    t.hits = max(cfg.min_hits, 1)
                t.score = float(faces.score[c])
                t.landmarks = None if faces.landmarks is None else faces.landmarks[c].copy()
                t.quality = face_quality(faces.xyxy[c], t.score, t.landmarks)
                self._tracks.append(t)

    def _record(self, t: _Track, xyxy: np.ndarray) -> None:
        quality = t.quality if t.misses == 0 else 0.0
        rec = self.records.get(t.id)
        if rec is None:
            self.records[t.id] = TrackRecord(t.id, self.frame, self.frame, self.frame, quality, xyxy.copy())
            return
        rec.last_frame = self.frame
        if quality > rec.best_quality:
            rec.best_frame, rec.best_quality, rec.best_xyxy = self.frame, quality, xyxy.copy()
