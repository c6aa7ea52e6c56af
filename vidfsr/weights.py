"""Where weights and other assets come from: one lookup order for the whole project.

Order: an explicit path; ``$VIDFSR_MODEL_DIR`` (the file itself or one sub-folder down, so a tree like
``shared/models/yunet/*.onnx`` works); weights bundled inside the installed package; the user cache
(``$VIDFSR_CACHE_DIR``, else ``$XDG_CACHE_HOME/vidfsr``, else ``~/.cache/vidfsr``); finally a download from the
asset's pinned URL, verified by sha256 before it is moved into the cache. Offline, the error names the file and
every place that was searched, so the user knows where to put it.

This is a leaf module: it imports nothing from ``vidfsr.models`` or ``vidfsr.pipelines``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .errors import AssetIntegrityError, AssetNotFoundError, InputNotFoundError, close_match_hint

logger = logging.getLogger(__name__)

BUNDLED_DIR = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class Asset:
    """A file vidfsr can find or fetch by name."""

    name: str
    filename: str
    sha256: str | None = None
    url: str | None = None
    description: str = ""


ASSETS: dict[str, Asset] = {}


def register_asset(asset: Asset) -> Asset:
    """Add an asset to the table; registering a name twice is a bug, not an override."""
    if asset.name in ASSETS:
        raise ValueError(f"asset {asset.name!r} is already registered")
    ASSETS[asset.name] = asset
    return asset


register_asset(
    Asset(
        name="yunet",
        filename="face_detection_yunet_2026may.onnx",
        sha256="ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",
        url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
        "face_detection_yunet_2026may.onnx",
        description="YuNet face detector (Shiqi Yu, MIT licence, OpenCV model zoo)",
    )
)


# vidfsr's own FSRNet weights ship inside the package (vidfsr/weights/); see their model cards there.
for _name in (
    "fsrnet_lite_real",
    "fsrnet_real",
    "fsrnet_real_grown",
    "fsrgan_lite_real",
    "fsrnet_lite_x8",
    "fsrnet_lite_x4",
    "fsrnet_x8",
):
    register_asset(Asset(_name, f"{_name}.safetensors", description=f"vidfsr {_name} weights"))


def cache_dir() -> Path:
    """The per-user folder downloaded assets are kept in."""
    if env := os.environ.get("VIDFSR_CACHE_DIR"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vidfsr"


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def search_dirs() -> list[Path]:
    """Folders searched for assets, in order (excluding an explicit path and the download)."""
    dirs = []
    if env := os.environ.get("VIDFSR_MODEL_DIR"):
        dirs.extend(Path(p) for p in env.split(os.pathsep) if p)
    dirs.append(BUNDLED_DIR)
    dirs.append(cache_dir())
    return dirs


def _find_in(directory: Path, filename: str) -> Path | None:
    candidate = directory / filename
    if candidate.is_file():
        return candidate
    if directory.is_dir():
        for sub in sorted(p for p in directory.iterdir() if p.is_dir()):
            if (sub / filename).is_file():
                return sub / filename
    return None


def resolve(name_or_path: str | os.PathLike[str], *, download: bool = True) -> Path:
    """Return a local path for a registered asset name or an explicit file path.

    Raises:
        InputNotFoundError: an explicit path does not exist.
        AssetNotFoundError: the asset is nowhere locally and cannot be downloaded.
        AssetIntegrityError: a downloaded file does not match its pinned sha256.
    """
    text = os.fspath(name_or_path)
    if text not in ASSETS:
        path = Path(text).expanduser()
        if path.is_file():
            return path
        if os.sep in text or path.suffix:
            raise InputNotFoundError(f"{text}: no such file")
        raise AssetNotFoundError(f"unknown asset {text!r}{close_match_hint(text, ASSETS)}")
    asset = ASSETS[text]
    for directory in search_dirs():
        found = _find_in(directory, asset.filename)
        if found is not None:
            logger.debug("asset %s found at %s", asset.name, found)
            return found
    searched = ", ".join(str(d) for d in search_dirs())
    if not download or asset.url is None:
        raise AssetNotFoundError(
            f"{asset.filename} ({asset.description}) not found in {searched}; "
            f"put it in one of those folders or set VIDFSR_MODEL_DIR to the folder that holds it"
        )
    return _download(asset, searched)


def _download(asset: Asset, searched: str) -> Path:
    assert asset.url is not None
    target_dir = cache_dir()
    target_dir.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s from %s", asset.filename, asset.url)
    fd, tmp_name = tempfile.mkstemp(dir=target_dir, suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(asset.url, timeout=30) as resp:
            while chunk := resp.read(1 << 20):
                out.write(chunk)
        if asset.sha256 is not None:
            digest = sha256_of(tmp)
            if digest != asset.sha256:
                raise AssetIntegrityError(
                    f"{asset.filename} downloaded from {asset.url} has sha256 {digest}, expected "
                    f"{asset.sha256}; download it by hand and set VIDFSR_MODEL_DIR to its folder"
                )
        final = target_dir / asset.filename
        tmp.replace(final)
        return final
    except OSError as exc:
        raise AssetNotFoundError(
            f"{asset.filename} ({asset.description}) not found in {searched} and the download from "
            f"{asset.url} failed ({exc}); fetch it on a connected machine and set VIDFSR_MODEL_DIR "
            f"to the folder that holds it"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
