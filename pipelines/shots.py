"""Shot-cut detection: a hard cut changes the colour distribution of the whole frame at once."""

from __future__ import annotations

import cv2
import numpy as np


class ShotCutDetector:
    """``__call__(image) -> bool``: True when this frame starts a new shot.

    Compares hue-saturation histograms of consecutive (downscaled) frames; a correlation below ``threshold``
    is a cut. Lower thresholds miss soft cuts, higher ones fire on fast camera motion.
    """

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold
        self._prev: np.ndarray | None = None

    def __call__(self, image: np.ndarray) -> bool:
        small = cv2.resize(image, (64, 36), interpolation=cv2.INTER_AREA)
        hsv = cv2.cvtColor(small, cv2.COLOR_BGR2HSV)
        hist = cv2.calcHist([hsv], [0, 1], None, [16, 8], [0, 180, 0, 256])
        cv2.normalize(hist, hist)
        prev, self._prev = self._prev, hist
        if prev is None:
            return False
        return cv2.compareHist(prev, hist, cv2.HISTCMP_CORREL) < self.threshold
