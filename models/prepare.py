"""``vidfsr prepare``: turn any folders of face photos into a training set with landmark priors.

Per image: decode (unreadable files are skipped with a reason), detect with the pipeline's own detector, pick
the main face, cut the crop with THE crop rule (so training crops are framed like video crops and like the
official test crops), annotate 68 landmarks with dlib's predictor on the original pixels, sanity-check them
against the detector's 5 points, and write the crop. Work runs in one process per core; every result is
appended to records.jsonl as it finishes, so an interrupted run resumes where it stopped.

Licence: dlib's 68-point model (face-recognition-models) is trained on iBUG 300-W, which is for
non-commercial research; datasets annotated with it inherit that limit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from vidfsr.pipelines.croprule import CENTRE_SHIFT_X, CENTRE_SHIFT_Y, SIDE_RATIO, crop_affine, crop_boxes, cut_crop
from vidfsr.pipelines.detect import DetectorConfig, create_detector
from vidfsr.pipelines.types import IMAGE_EXTS

from vidfsr.errors import InputError, InputNotFoundError, missing_dependency

from .dataset_format import CROP_SIZE, read_records

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PrepareConfig:
    """Options of a preparation run.

    Attributes:
        min_crop: crops whose side in the source is below this many pixels are rejected (their 128x128
            version would be an upsampled, blurry training target).
        max_outside: reject when more than this fraction of the crop lies outside the photo.
        quality: JPEG quality of the written crops (90 keeps ~46 dB and the ../shared set under 60 MB).
        val_fraction: share of known identities held out for validation (by identity, never by image).
        workers: processes; 0 means one per core.
        detector: detector spec, as for the video pipeline.
    """

    min_crop: float = 64.0
    max_outside: float = 0.35
    quality: int = 90
    val_fraction: float = 0.05
    workers: int = 0
    detector: str = "yunet"


def find_images(sources: Iterable[str | Path]) -> list[tuple[Path, Path]]:
    """(root, file) for every image-looking file under the sources, sorted for a stable order."""
    found: list[tuple[Path, Path]] = []
    for src in sources:
        src = Path(src)
        if not src.exists():
            raise InputNotFoundError(f"{src}: no such file or folder")
        if src.is_file():
            found.append((src.parent, src))
            continue
        for dirpath, _, names in os.walk(src):
            for name in names:
                if Path(name).suffix.lower() in IMAGE_EXTS:
                    found.append((src, Path(dirpath) / name))
    found.sort(key=lambda rf: str(rf[1]))
    return found


def identity_of(path: Path) -> str | None:
    """The person in the photo when the file naming says so (LFW: ``First_Last_0001.jpg``)."""
    stem = path.stem
    head, _, tail = stem.rpartition("_")
    if head and tail.isdigit() and len(tail) == 4:
        return head
    return None


def split_of(identity: str | None, val_fraction: float) -> str:
    """Deterministic identity-level split; photos of unknown identity always train."""
    if identity is None or val_fraction <= 0:
        return "train"
    bucket = int(hashlib.sha1(identity.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "val" if bucket < val_fraction else "train"


def landmark_model_path() -> Path:
    """dlib's 68-point predictor file from the face-recognition-models package, found by path.

    Importing that package fails on current setuptools (it imports pkg_resources), so it is located instead.
    """
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise missing_dependency("face-recognition-models (68-point landmark model)", "prepare")
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise missing_dependency(f"{path}", "prepare")
    return path


class FaceAnnotator:
    """Detect the main face, crop it by the crop rule and annotate 68 landmarks in crop pixels."""

    def __init__(self, config: PrepareConfig) -> None:
        try:
            import dlib
        except ImportError as exc:
            raise missing_dependency("dlib (dlib-bin)", "prepare") from exc
        self.config = config
        self.detector = create_detector(config.detector, DetectorConfig(upscale=1.0))
        self.predictor = dlib.shape_predictor(str(landmark_model_path()))
        self._dlib = dlib

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray | None, dict]:
        """BGR photo -> (128x128 BGR crop or None, record fields incl. the reject reason)."""
        h, w = image.shape[:2]
        faces = self.detector(image)
        if not len(faces):
            return None, {"reason": "no face detected"}
        centre = np.array([w / 2, h / 2])
        box_centres = 0.5 * (faces.xyxy[:, :2] + faces.xyxy[:, 2:])
        offcentre = np.linalg.norm(box_centres - centre, axis=1) / np.hypot(w, h)
        main = int(np.argmax(faces.sides**2 * faces.score * (1 - offcentre)))
        box = faces.xyxy[main].astype(np.float64)
        crop_box = crop_boxes(box)[0]
        side = crop_box[2] - crop_box[0]
        record: dict = {"box": [round(float(v), 2) for v in box], "crop_box": [round(float(v), 2) for v in crop_box]}
        if side < self.config.min_crop:
            return None, {**record, "reason": f"face too small (crop side {side:.0f} px < {self.config.min_crop:.0f})"}
        ix0, iy0 = max(crop_box[0], 0), max(crop_box[1], 0)
        ix1, iy1 = min(crop_box[2], w), min(crop_box[3], h)
        inside = max(ix1 - ix0, 0) * max(iy1 - iy0, 0) / side**2
        if 1 - inside > self.config.max_outside:
            return None, {**record, "reason": f"crop outside the photo ({100 * (1 - inside):.0f}% of it)"}
        rect = self._dlib.rectangle(*(round(float(v)) for v in box))
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        shape = self.predictor(rgb, rect)
        lm = np.array([[p.x, p.y] for p in shape.parts()], np.float64)
        reason = check_landmarks(lm, box, faces.landmarks[main] if faces.landmarks is not None else None)
        if reason:
            return None, {**record, "reason": reason}
        matrix = crop_affine(crop_box, CROP_SIZE)
        lm_crop = lm @ matrix[:, :2].T + matrix[:, 2]
        crop = cut_crop(image, crop_box, CROP_SIZE)
        return crop, {**record, "landmarks": np.round(lm_crop, 2).tolist(), "crop_side": round(float(side), 1)}


def check_landmarks(lm: np.ndarray, box: np.ndarray, five: np.ndarray | None) -> str | None:
    """Reject landmark sets that cannot be right: wrong vertical order, or far from the detector's points."""
    eyes_y = lm[36:48, 1].mean()
    nose_y = lm[30, 1]
    mouth_y = lm[48:68, 1].mean()
    if not eyes_y < nose_y < mouth_y:
        return "landmarks failed (eyes, nose, mouth out of order)"
    side = 0.5 * ((box[2] - box[0]) + (box[3] - box[1]))
    if five is not None:
        # YuNet's points: right eye, left eye (image left to right), nose tip, mouth corners.
        eye_l, eye_r = lm[36:42].mean(0), lm[42:48].mean(0)
        ref = np.array([eye_l, eye_r, lm[30], lm[48], lm[54]])
        err = np.linalg.norm(ref - five, axis=1).mean() / side
        if err > 0.15:
            return f"landmarks failed (disagree with detector by {err:.2f} face sides)"
    return None


# ---------------------------------------------------------------------------------------------- workers

_ANNOTATOR: FaceAnnotator | None = None


def _init_worker(config: PrepareConfig) -> None:
    global _ANNOTATOR
    cv2.setNumThreads(1)
    _ANNOTATOR = FaceAnnotator(config)


def _process_chunk(jobs: list[tuple[int, str, str, str, int]]) -> list[dict]:
    return [_process(job) for job in jobs]


def _process(job: tuple[int, str, str, str, int]) -> dict:
    index, root, file, out_dir, quality = job
    assert _ANNOTATOR is not None
    path = Path(file)
    base = {"source": os.path.relpath(file, root), "root": root, "file": file, "index": index}
    try:
        image = cv2.imread(file, cv2.IMREAD_COLOR)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        return {**base, "status": "rejected", "reason": "unreadable or not an image"}
    crop, fields = _ANNOTATOR(image)
    if crop is None:
        return {**base, **fields, "status": "rejected"}
    name = f"{index:07d}.jpg"
    ok = cv2.imwrite(str(Path(out_dir) / "crops" / name), crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        return {**base, "status": "rejected", "reason": "could not write crop"}
    identity = identity_of(path)
    return {**base, **fields, "status": "ok", "crop": name, "identity": identity}


ProgressFn = Callable[[int, int, Counter], None]


def prepare(
    sources: Iterable[str | Path],
    out: str | Path,
    config: PrepareConfig | None = None,
    progress: ProgressFn | None = None,
) -> dict:
    """Prepare every image under ``sources`` into ``out``; returns the summary also written to dataset.json."""
    import multiprocessing as mp
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    config = config or PrepareConfig()
    out = Path(out)
    files = find_images(sources)
    if not files:
        raise InputError(f"no images (JPEG/PNG/WebP) found under {', '.join(map(str, sources))}")
    (out / "crops").mkdir(parents=True, exist_ok=True)
    done = {r["file"]: r for r in read_records(out)}
    index_of = {str(f): i for i, (_, f) in enumerate(files)}
    jobs = [(index_of[str(f)], str(r), str(f), str(out), config.quality) for r, f in files if str(f) not in done]
    counts: Counter = Counter(r["status"] for r in done.values())
    logger.info("%d images, %d already done, %d to process", len(files), len(done), len(jobs))
    start = time.perf_counter()
    workers = config.workers or os.cpu_count() or 1
    if jobs:
        FaceAnnotator(config)  # fail here, with a clear message, if dlib or the detector are missing
    chunks = [jobs[i : i + 16] for i in range(0, len(jobs), 16)]
    # forkserver/spawn, not fork: forking a process that runs threads (torch, a progress bar) can deadlock the
    # child; and an executor, not multiprocessing.Pool, because a dead worker then raises instead of hanging.
    ctx = mp.get_context("spawn" if os.name == "nt" else "forkserver")
    with open(out / "records.jsonl", "a") as log:
        if chunks:
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(config,)) as pool:
                pending = {pool.submit(_process_chunk, c) for c in chunks[: 2 * workers]}
                queued = chunks[2 * workers :]
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        for rec in fut.result():
                            log.write(json.dumps(rec) + "\n")
                            counts[rec["status"]] += 1
                        log.flush()  # each chunk is a resume point
                        if queued:
                            pending.add(pool.submit(_process_chunk, queued.pop(0)))
                    if progress:
                        progress(sum(counts.values()), len(files), counts)
    elapsed = time.perf_counter() - start
    return finalize(out, config, [str(s) for s in sources], elapsed, len(files))


def finalize(out: Path, config: PrepareConfig, sources: list[str], elapsed: float, total: int) -> dict:
    """Assign splits, write landmarks.npy, manifest.csv, dataset.json and DATASET.md from records.jsonl."""
    import csv

    records = {r["file"]: r for r in read_records(out)}  # last record per file wins
    accepted = sorted((r for r in records.values() if r["status"] == "ok"), key=lambda r: r["index"])
    rejected = [r for r in records.values() if r["status"] != "ok"]
    for r in accepted:
        r["split"] = split_of(r.get("identity"), config.val_fraction)
    # Rewrite records with splits so training reads one file.
    tmp = out / "records.jsonl.tmp"
    with open(tmp, "w") as f:
        for r in sorted(records.values(), key=lambda r: r["index"]):
            f.write(json.dumps(r) + "\n")
    tmp.replace(out / "records.jsonl")
    np.save(out / "landmarks.npy", np.array([r["landmarks"] for r in accepted], np.float16).reshape(-1, 68, 2))
    with open(out / "manifest.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["row", "crop", "split", "source", "identity", "box_xyxy", "crop_box_xyxy", "status", "reason"])
        for i, r in enumerate(accepted):
            w.writerow(
                [i, r["crop"], r["split"], r["source"], r.get("identity") or "", r["box"], r["crop_box"], "ok", ""]
            )
        for r in sorted(rejected, key=lambda r: r["index"]):
            w.writerow(["", "", "", r["source"], "", r.get("box", ""), r.get("crop_box", ""), "rejected", r["reason"]])
    reasons = Counter(_reason_kind(r["reason"]) for r in rejected)
    by_root = Counter((_source_group(r), r["status"]) for r in records.values())
    size = sum(p.stat().st_size for p in (out / "crops").glob("*.jpg"))
    summary = {
        "sources": sources,
        "images": total,
        "accepted": len(accepted),
        "rejected": len(rejected),
        "rejects_by_reason": dict(reasons.most_common()),
        "per_source": {f"{root} [{status}]": n for (root, status), n in sorted(by_root.items())},
        "splits": dict(Counter(r["split"] for r in accepted)),
        "identities_known": len({r["identity"] for r in accepted if r.get("identity")}),
        "crop_rule": {"side_ratio": SIDE_RATIO, "centre_shift_x": CENTRE_SHIFT_X, "centre_shift_y": CENTRE_SHIFT_Y},
        "crop_size": CROP_SIZE,
        "config": {k: getattr(config, k) for k in config.__dataclass_fields__},
        "crops_bytes": size,
        "seconds_last_run": round(elapsed, 1),
        "landmarks": "dlib shape_predictor_68_face_landmarks (iBUG 300-W: non-commercial research only)",
    }
    (out / "dataset.json").write_text(json.dumps(summary, indent=2))
    (out / "DATASET.md").write_text(dataset_card(summary))
    return summary


def _source_group(record: dict) -> str:
    """The source folder and its first sub-folder (e.g. ``train/lfw``): where counts differ by origin."""
    parts = Path(record["source"]).parts
    return str(Path(Path(record["root"]).name, *parts[:1])) if len(parts) > 1 else Path(record["root"]).name


def _reason_kind(reason: str) -> str:
    return reason.split(" (")[0]


def dataset_card(s: dict) -> str:
    lines = [
        "# Prepared face dataset (vidfsr prepare)",
        "",
        f"Sources: {', '.join(s['sources'])}",
        "",
        "| what | count |",
        "|---|---|",
        f"| images found | {s['images']} |",
        f"| accepted | {s['accepted']} |",
        f"| rejected | {s['rejected']} |",
    ]
    lines += [f"| rejected: {k} | {v} |" for k, v in s["rejects_by_reason"].items()]
    lines += [f"| split {k} | {v} |" for k, v in s["splits"].items()]
    lines += [
        f"| known identities | {s['identities_known']} |",
        "",
        "Per source folder: " + "; ".join(f"{k}: {v}" for k, v in s["per_source"].items()),
        "",
        f"Crops: {s['crop_size']}x{s['crop_size']} JPEG (quality {s['config']['quality']}), "
        f"{s['crops_bytes'] / 1e6:.1f} MB, framed by the crop rule {s['crop_rule']}.",
        f"Time of the last run: {s['seconds_last_run']} s.",
        "",
        "Priors: 68 landmarks per crop (landmarks.npy / records.jsonl) from dlib's 68-point predictor; heatmaps",
        "and parsing maps (skin, brows, eyes, nose, upper lip, inner mouth, lower lip) are rendered from them",
        "by the training code. Validation split: held out by identity where the file names give one (LFW).",
        "",
        "Licence: derived from the source photos (CelebA/LFW/Helen: research use only). The landmark model is",
        "trained on iBUG 300-W, which is licensed for non-commercial research only.",
        "",
    ]
    return "\n".join(lines)
