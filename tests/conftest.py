"""Shared fixtures: the ../shared data folder, detector weights, synthetic media, markers."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from vidfsr.shared import shared_dir

SHARED = shared_dir()
# Tests find the YuNet weights in ../shared/models, never on the network.
os.environ.setdefault("VIDFSR_MODEL_DIR", str(SHARED / "models"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords and not cuda:
            item.add_marker(skip_gpu)


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder. Missing data fails in CI (it is always there) and skips elsewhere."""
    if not (SHARED / "data").is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"shared data not found at {SHARED}; set VIDFSR_SHARED")
        pytest.skip(f"shared data not found at {SHARED}; set VIDFSR_SHARED")
    return SHARED


@pytest.fixture(scope="session")
def celeba1000(shared: Path) -> Path:
    return shared / "data/faces/test/celeba1000"


@pytest.fixture(scope="module")
def face_images(shared: Path) -> list[np.ndarray]:
    """The first four official test faces (BGR, 128 px): real faces for clips and stills."""
    return [cv2.imread(str(p)) for p in sorted((shared / "data/faces/test/celeba1000/HR").glob("*.jpg"))[:4]]


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty per-test asset cache, so tests never see a user's downloads."""
    cache = tmp_path / "cache"
    monkeypatch.setenv("VIDFSR_CACHE_DIR", str(cache))
    return cache
