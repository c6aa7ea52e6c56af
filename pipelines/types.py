"""The data that flows between pipeline stages (DESIGN §2)."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

# Still-image files every part of vidfsr accepts (all are read with OpenCV).
IMAGE_EXTS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True)
class Frame:
    """One decoded picture, with its timestamp exactly as decoded so variable frame rate survives.

    ``image`` is H x W x 3 uint8 BGR (OpenCV's order) with rotation metadata already applied.
    """

    index: int
    image: np.ndarray
    pts: int | None = None
    time_base: Fraction | None = None
    source: str = ""
    received: float | None = None  # time.monotonic() when a live frame arrived: the start of its latency

    @property
    def time(self) -> float | None:
        """Presentation time in seconds, when known."""
        return None if self.pts is None or self.time_base is None else float(self.pts * self.time_base)


@dataclass(frozen=True)
class Faces:
    """Faces found in one frame: boxes in frame pixels (``xyxy``), scores, optional landmarks and track ids."""

    xyxy: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    score: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    landmarks: np.ndarray | None = None  # [N,5,2]: right eye, left eye, nose tip, mouth corners (YuNet order)
    track_id: np.ndarray | None = None  # [N] int

    def __post_init__(self) -> None:
        n = len(self.xyxy)
        if self.xyxy.shape != (n, 4) or self.score.shape != (n,):
            raise ValueError(f"Faces: xyxy must be [N,4] and score [N], got {self.xyxy.shape}, {self.score.shape}")
        if self.landmarks is not None and self.landmarks.shape != (n, 5, 2):
            raise ValueError(f"Faces: landmarks must be [N,5,2], got {self.landmarks.shape}")
        if self.track_id is not None and self.track_id.shape != (n,):
            raise ValueError(f"Faces: track_id must be [N], got {self.track_id.shape}")

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index: np.ndarray | slice | int) -> Faces:
        """Boolean-mask, integer-array or slice indexing; always returns Faces."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1) if index != -1 else slice(-1, None)
        return Faces(
            self.xyxy[index],
            self.score[index],
            None if self.landmarks is None else self.landmarks[index],
            None if self.track_id is None else self.track_id[index],
        )

    @property
    def sides(self) -> np.ndarray:
        """Mean of box width and height, the face size used by the crop rule."""
        return 0.5 * ((self.xyxy[:, 2] - self.xyxy[:, 0]) + (self.xyxy[:, 3] - self.xyxy[:, 1]))

    @staticmethod
    def empty() -> Faces:
        return Faces()
