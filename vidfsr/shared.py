"""Location of the project's shared, read-only data folder (training faces, test set, clips, detector weights)."""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir() -> Path:
    """``$VIDFSR_SHARED``, else ``../shared`` beside the source checkout."""
    if env := os.environ.get("VIDFSR_SHARED"):
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared"
