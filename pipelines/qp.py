"""How coarsely an H.264 video was quantised, read from its decoder: the mean QP of its first keyframe.

H.264 at QP 18 holds nearly the pixels of a lossless file, at QP 33 mostly its blocking: the blend stage's
back-projection shares follow that (``blend.auto_consistency``), as they follow a JPEG's quality. FFmpeg's H.264
decoder exports each macroblock's quantiser (``export_side_data=venc_params``); the mean over the first
keyframe's macroblocks is the estimate. The keyframe, because predicted frames report the QP of macroblocks they
copy without coding (a still face in a P-frame is skipped: its QP says nothing of its detail), and because it
needs no rate-control mode: x264's CRF, a camera's constant bitrate and a fixed QP all show in it alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

# Decoders whose exported QP is H.264's scale (0-51): the scale the shares were measured on. Others (VP9's
# 0-255 qindex, MPEG-2's 1-31) export it too, on their own scales, and keep their codec's shares.
QP_CODECS = frozenset({"h264"})
_DECODE_OPTIONS = {"export_side_data": "venc_params"}
_MAX_FRAMES = 300  # the first keyframe is the first frame of a file; a stream cut mid-GOP reaches one soon


def frame_qp(frame: Any) -> float | None:
    """The mean macroblock QP of a decoded PyAV frame (decoded with ``export_side_data=venc_params``); None when
    the decoder exported none."""
    from av.sidedata.sidedata import Type

    for data in frame.side_data:
        if data.type == Type.VIDEO_ENC_PARAMS and data.nb_blocks:
            return float(np.mean(data.qp_map()))
    return None


def keyframe_qp(path: str | Path) -> float | None:
    """The mean macroblock QP of a video file's first keyframe; None when its codec exports none (only H.264's is
    read) or the file holds no decodable keyframe within its first frames."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            if stream.codec_context.name not in QP_CODECS:
                return None
            stream.codec_context.options = dict(_DECODE_OPTIONS)
            for i, frame in enumerate(container.decode(stream)):
                if frame.key_frame:
                    return frame_qp(frame)
                if i >= _MAX_FRAMES:
                    return None
    except (av.error.FFmpegError, OSError):
        return None
    return None
