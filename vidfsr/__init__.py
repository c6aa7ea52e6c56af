"""vidfsr: make faces in video legible with FSRNet/FSRGAN face super-resolution.

``import vidfsr`` stays light: torch, PyAV and OpenCV load only when a function that needs them is called.
"""

from __future__ import annotations

from .errors import VidfsrError

__version__ = "0.1.0"

__all__ = ["EnhanceOptions", "FrameEnhancer", "VidfsrError", "__version__", "enhance_video"]


def __getattr__(name: str):
    # The API pulls in torch, PyAV and OpenCV: load it on first use, not on ``import vidfsr``.
    if name in ("enhance_video", "FrameEnhancer", "EnhanceOptions"):
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'vidfsr' has no attribute {name!r}")
