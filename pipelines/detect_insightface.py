"""Optional detector backend: insightface's SCRFD from a model file the user provides.

Needs the ``insightface`` extra (``pip install 'vidfsr[insightface]'``). insightface ships no models; its
pretrained detectors (e.g. ``det_10g.onnx`` from buffalo_l) are licensed for non-commercial research only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidfsr.errors import InputNotFoundError, missing_dependency

from .detect import DetectorConfig, _finish, as_bgr
from .types import Faces


class InsightFaceDetector:
    """SCRFD through ``insightface.model_zoo.get_model`` (works offline from a local .onnx file)."""

    def __init__(self, path: str, config: DetectorConfig | None = None, input_size: int = 640) -> None:
        try:
            from insightface.model_zoo import get_model
        except ImportError as exc:
            raise missing_dependency("insightface", "insightface") from exc
        if not Path(path).is_file():
            raise InputNotFoundError(f"{path}: insightface detector model not found")
        self.config = config or DetectorConfig()
        self._model = get_model(str(path))
        self._model.prepare(ctx_id=-1, input_size=(input_size, input_size), det_thresh=self.config.score_threshold)
        self._size = input_size

    def __call__(self, image: np.ndarray) -> Faces:
        bboxes, kpss = self._model.detect(as_bgr(image), input_size=(self._size, self._size))
        if bboxes is None or len(bboxes) == 0:
            return Faces.empty()
        return _finish(bboxes[:, :4], bboxes[:, 4], None if kpss is None else kpss, self.config)
