"""The on-disk layout of a prepared face dataset (written by ``vidfsr prepare``, read by training).

OUT/
  crops/NNNNNNN.jpg     128x128 face crops framed by THE crop rule
  records.jsonl         one JSON object per source file: accepted (with index, split, landmarks) or rejected
                        (with the reason); appended as work finishes, which is what makes re-runs resume
  landmarks.npy         float16 [N,68,2] landmarks in crop pixels, row i = crops/i.jpg (written at the end)
  manifest.csv          index, file, split, source, identity, box, crop box (written at the end)
  dataset.json          counts, rejects by reason, crop rule, tools and versions (written at the end)
  DATASET.md            the dataset card (written at the end)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidfsr.errors import InputError

CROP_SIZE = 128


@dataclass(frozen=True)
class PreparedFaces:
    """A prepared dataset split loaded into memory (uint8 images, float32 landmarks)."""

    images: np.ndarray  # [N,128,128,3] uint8 RGB
    landmarks: np.ndarray  # [N,68,2] float32, crop pixels
    files: list[str]

    def __len__(self) -> int:
        return len(self.images)


def read_records(root: Path) -> list[dict]:
    path = root / "records.jsonl"
    if not path.exists():
        return []
    records = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line cut short by an interrupted run; that file is simply redone
    return records


def read_manifest(root: str | Path) -> list[dict[str, str]]:
    """The accepted rows of a prepared dataset's manifest.csv (index, crop file, split, source, identity, ...)."""
    import csv

    root = Path(root)
    if not (root / "manifest.csv").exists():
        raise InputError(f"{root} is not a prepared dataset (no manifest.csv); run 'vidfsr prepare'")
    with open(root / "manifest.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r["status"] == "ok"]


def read_crops(root: str | Path, crops: list[str]) -> np.ndarray:
    """The named crops of a prepared dataset as uint8 RGB [N,128,128,3]."""
    import cv2

    root = Path(root)
    images = np.empty((len(crops), CROP_SIZE, CROP_SIZE, 3), np.uint8)
    for i, name in enumerate(crops):
        img = cv2.imread(str(root / "crops" / name))
        if img is None:
            raise InputError(f"{root / 'crops' / name} is missing or unreadable; re-run 'vidfsr prepare'")
        images[i] = img[:, :, ::-1]
    return images


def load_prepared(root: str | Path, split: str = "train", limit: int = 0) -> PreparedFaces:
    """Load the accepted faces of one split (``train``, ``val`` or ``all``).

    Reads only the final artefacts (manifest.csv, landmarks.npy, crops/), so a copied training pack without
    the working log records.jsonl is enough.
    """
    root = Path(root)
    if not (root / "landmarks.npy").exists():
        raise InputError(f"{root} is not a prepared dataset (no manifest.csv/landmarks.npy); run 'vidfsr prepare'")
    rows = read_manifest(root)
    all_landmarks = np.load(root / "landmarks.npy").astype(np.float32)
    if len(all_landmarks) != len(rows):
        raise InputError(f"{root}: manifest.csv and landmarks.npy disagree; re-run 'vidfsr prepare' to finish it")
    chosen = [r for r in rows if split == "all" or r["split"] == split][: limit or None]
    if not chosen:
        raise InputError(f"{root}: no accepted faces in split {split!r}")
    images = read_crops(root, [r["crop"] for r in chosen])
    landmarks = all_landmarks[[int(r["row"]) for r in chosen]]
    return PreparedFaces(images, landmarks, [r["crop"] for r in chosen])
