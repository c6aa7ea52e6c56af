"""Face-analysis metrics (the paper's Table 4 idea, with offline models): landmark error and identity distance.

An SR face can gain PSNR while moving the eyes or changing who the person is; these two measure that:

- landmark NRMSE: dlib's 68-point predictor on the output and on the truth, in the same box; the mean point
  distance over the inter-ocular distance (outer eye corners, points 36 and 45), as ``evaluate.landmark_nrmse``.
- identity distance: the Euclidean distance between dlib's face-recognition ResNet embeddings (128-d, trained so
  that the same person is < 0.6 apart) of the output and the truth face.

Both models ship in the ``face-recognition-models`` package (the ``prepare`` extra). The 68-point model is
trained on iBUG 300-W: non-commercial research use only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vidfsr.errors import missing_dependency


def _model_file(name: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise missing_dependency("face-recognition-models (dlib's landmark and identity models)", "prepare")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / name
    if not path.is_file():
        raise missing_dependency(str(path), "prepare")
    return path


class FaceAnalyser:
    """dlib's 68-point landmarks and 128-d identity embedding of a face inside a given box (RGB uint8 images)."""

    def __init__(self) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise missing_dependency("dlib (dlib-bin)", "prepare") from exc
        self._dlib = dlib
        self.predictor = dlib.shape_predictor(str(_model_file("shape_predictor_68_face_landmarks.dat")))
        self.encoder = dlib.face_recognition_model_v1(str(_model_file("dlib_face_recognition_resnet_model_v1.dat")))

    def _rect(self, box_xyxy: np.ndarray):
        x0, y0, x1, y1 = (round(float(v)) for v in box_xyxy)
        return self._dlib.rectangle(x0, y0, x1, y1)

    def landmarks(self, rgb: np.ndarray, box_xyxy: np.ndarray) -> np.ndarray:
        """[68,2] float points of the face in ``box_xyxy`` (frame pixels)."""
        shape = self.predictor(np.ascontiguousarray(rgb), self._rect(box_xyxy))
        return np.array([[p.x, p.y] for p in shape.parts()], np.float64)

    def embedding(self, rgb: np.ndarray, box_xyxy: np.ndarray) -> np.ndarray:
        """128-d identity embedding, aligned by the face's own 68 landmarks (dlib's standard 150 px chip)."""
        img = np.ascontiguousarray(rgb)
        shape = self.predictor(img, self._rect(box_xyxy))
        return np.array(self.encoder.compute_face_descriptor(img, shape), np.float64)

    def compare(self, out_rgb: np.ndarray, truth_rgb: np.ndarray, box_xyxy: np.ndarray) -> tuple[float, float]:
        """(landmark NRMSE, identity distance) of the output against the truth, both in the same box."""
        a, b = self.landmarks(out_rgb, box_xyxy), self.landmarks(truth_rgb, box_xyxy)
        iod = max(float(np.linalg.norm(b[36] - b[45])), 1e-6)
        nrmse = float(np.linalg.norm(a - b, axis=1).mean() / iod)
        dist = float(np.linalg.norm(self.embedding(out_rgb, box_xyxy) - self.embedding(truth_rgb, box_xyxy)))
        return nrmse, dist


def crop_face_box(size: int = 128) -> np.ndarray:
    """The face box inside a crop cut by the crop rule (``pipelines.croprule``): where the detector's box sits in
    every training and test crop, so dlib looks at the same region of the SR and the HR face."""
    from vidfsr.pipelines.croprule import CENTRE_SHIFT_X, CENTRE_SHIFT_Y, SIDE_RATIO

    side = size / SIDE_RATIO
    cx, cy = size / 2 - CENTRE_SHIFT_X * side, size / 2 - CENTRE_SHIFT_Y * side
    return np.array([cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2])


def face_metrics(analyser: FaceAnalyser, sr: np.ndarray, hr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-face (landmark NRMSE, identity distance) of SR crops against HR crops ([N,S,S,3] RGB uint8)."""
    box = crop_face_box(hr.shape[1])
    pairs = [analyser.compare(a, b, box) for a, b in zip(sr, hr, strict=True)]
    return np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
