"""vidfsr: make faces in video legible with FSRNet/FSRGAN face super-resolution.

``import vidfsr`` stays light: torch, PyAV and OpenCV load only when a function that needs them is called.
"""

from __future__ import annotations

from .errors import VidfsrError

__version__ = "0.1.0"

__all__ = ["VidfsrError", "__version__"]
