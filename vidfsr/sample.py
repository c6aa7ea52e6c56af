"""A surveillance-like sample clip made from the shared footage: a real clip downscaled so the faces are small
(the full-size original is the ground truth), with its audio and timing."""

from __future__ import annotations

from pathlib import Path

from .errors import InputNotFoundError
from .shared import shared_dir

DEFAULT_CLIP = "data/videos/multi_person/hamilton.mp4"


def make_sample(
    out: str | Path, factor: float = 0.5, seconds: float = 4.0, clip: str | Path | None = None, face_px: int = 0
) -> dict:
    """Write ``out``: ``clip`` (default: the shared multi-person clip, faces 30-120 px, with AAC audio) shrunk by
    ``factor``, or, with ``face_px``, by whatever factor makes its largest first-frame face crop that size."""
    import cv2
    import numpy as np

    from .pipelines.croprule import crop_boxes
    from .pipelines.detect import YuNetDetector
    from .pipelines.video import VideoFileSink, VideoFileSource

    src = Path(clip) if clip else shared_dir() / DEFAULT_CLIP
    if not src.exists():
        raise InputNotFoundError(f"{src}: sample source clip not found; set VIDFSR_SHARED or pass a clip")
    with VideoFileSource(src) as source:
        frames = iter(source)
        first = next(frames)
        if face_px:
            faces = YuNetDetector()(first.image)
            if not len(faces):
                raise InputNotFoundError(f"{src}: no face in the first frame to size the sample by")
            crop = crop_boxes(faces.xyxy[int(np.argmax(faces.sides))][None])[0]
            factor = face_px / float(crop[2] - crop[0])
        info = source.info
        w, h = max(round(info.width * factor / 2) * 2, 16), max(round(info.height * factor / 2) * 2, 16)
        n = 0
        # The audio is cut with the video: a 4 s sample with the source's 10 s of audio would not be a sample.
        until = (first.time or 0.0) + seconds
        with VideoFileSink(out, w, h, info.time_base, info.rate, audio_from=src, audio_until=until) as sink:
            for frame in [first, *frames]:
                if frame.time is not None and first.time is not None and frame.time - first.time >= seconds:
                    break
                sink.write(cv2.resize(frame.image, (w, h), interpolation=cv2.INTER_AREA), frame.pts)
                n += 1
    return {"output": str(out), "source": str(src), "size": (w, h), "frames": n, "factor": round(factor, 4)}
