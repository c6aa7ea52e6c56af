"""Measure the model's speed per run path and batch size, and what each path costs in accuracy.

Each path is the Enhancer exactly as ``vidfsr enhance`` builds it (uint8 BGR crops in and out), so the numbers
are the pipeline's, not a bare module's. ``vidfsr bench`` renders them; benchmarks and BENCHMARKS.md quote them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import AssetNotFoundError, ConfigError, close_match_hint

logger = logging.getLogger(__name__)

# name -> (backend, precision, channels_last)
PATHS: dict[str, tuple[str, str, bool]] = {
    "torch-fp32-nchw": ("torch", "fp32", False),
    "torch-fp32": ("torch", "fp32", True),
    "torch-bf16": ("torch", "bf16", True),
    "torch-fp16": ("torch", "fp16", True),
    "onnx-fp32": ("onnx", "fp32", False),
    "compile-fp32": ("compile", "fp32", True),
    "compile-bf16": ("compile", "bf16", True),
    "compile-fp16": ("compile", "fp16", True),
}
DEFAULT_PATHS = {
    "cpu": ("torch-fp32-nchw", "torch-fp32", "torch-bf16", "onnx-fp32"),
    "cuda": ("torch-fp32", "torch-bf16", "torch-fp16"),
}


@dataclass(frozen=True)
class SpeedRow:
    model: str
    trained: bool
    path: str
    batch: int
    faces_per_s: float
    gflops_per_s: float
    fraction_of_peak: float | None
    first_call_s: float  # includes compilation / session set-up: what a user waits before the first face


@dataclass(frozen=True)
class AccuracyRow:
    model: str
    path: str
    faces: int
    psnr: float
    ssim: float
    delta_psnr_vs_fp32: float


def _load(name: str):
    """Trained weights when they exist (for accuracy), else the registered architecture (speed only)."""
    from .models.io import load_model
    from .models.registry import create_model, list_models

    try:
        return load_model(name), True
    except AssetNotFoundError:
        if name not in list_models():
            raise
        logger.info("%s: no weights found, timing the untrained architecture", name)
        return create_model(name).eval(), False


def _enhancer(model, path: str, batch: int, device: str):
    from .pipelines.enhance import Enhancer, EnhancerConfig

    if path not in PATHS:
        raise ConfigError(f"unknown path {path!r}{close_match_hint(path, PATHS)}; choose from {', '.join(PATHS)}")
    backend, precision, channels_last = PATHS[path]
    config = EnhancerConfig(batch, precision, channels_last, False, backend)
    from .pipelines.crops import ModelRange

    return Enhancer({ModelRange(0, 1e9): model}, device, config)  # every backend works on its own copy


def speed(
    models: Sequence[str],
    paths: Sequence[str],
    batches: Sequence[int],
    device: str = "cpu",
    seconds: float = 2.0,
    peak_gflops: dict[str, float] | None = None,
    progress: Callable[[SpeedRow], None] | None = None,
    repeats: int = 3,
) -> list[SpeedRow]:
    """Faces/s of each model x path x batch size (median of ``repeats`` windows of ``seconds``).

    The paths of one model and batch size take turns window by window, so a slow spell of a shared or
    throttled machine hits them alike instead of skewing whichever ran then.
    """
    from .models.fsrnet import count_macs

    rows = []
    for name in models:
        model, trained = _load(name)
        flops = 2 * count_macs(model)
        side = 0  # the enhancer holds this one model
        for batch in batches:
            crops = np.random.default_rng(0).integers(0, 256, (batch, 128, 128, 3), dtype=np.uint8)
            runs, first = {}, {}
            for path in paths:
                runs[path] = _enhancer(model, path, batch, device)
                t = time.perf_counter()
                runs[path](crops, side)
                first[path] = time.perf_counter() - t
                runs[path](crops, side)
            rates: dict[str, list[float]] = {path: [] for path in paths}
            for _ in range(repeats):
                for path, run in runs.items():
                    n, t = 0, time.perf_counter()
                    while time.perf_counter() - t < seconds:
                        run(crops, side)
                        n += 1
                    rates[path].append(n * batch / (time.perf_counter() - t))
            for path in paths:
                rate = float(np.median(rates[path]))
                peak = (peak_gflops or {}).get(PATHS[path][1])
                row = SpeedRow(
                    name, trained, path, batch, round(rate, 2), round(rate * flops / 1e9, 1),
                    round(rate * flops / 1e9 / peak, 3) if peak else None, round(first[path], 2),
                )  # fmt: skip
                rows.append(row)
                if progress:
                    progress(row)
    return rows


def accuracy(
    models: Sequence[str], paths: Sequence[str], hr_dir: str | Path, lr_dir: str | Path | None, limit: int,
    device: str = "cpu",
) -> list[AccuracyRow]:  # fmt: skip
    """Y-PSNR/SSIM of each path on HR test crops, and its PSNR change against exact fp32 eager."""
    from .models.evaluate import load_eval_set, score

    rows = []
    for name in models:
        model, trained = _load(name)
        if not trained:
            raise AssetNotFoundError(f"{name}: accuracy needs trained weights (a shipped name or .safetensors)")
        data = load_eval_set(hr_dir, model.cfg.scale, lr_dir if model.cfg.scale == 8 else None, limit)
        bgr = np.ascontiguousarray(data.lr_up[..., ::-1])
        results = {}
        for path in dict.fromkeys(("torch-fp32", *paths)):
            sr = _enhancer(model, path, 8, device)(bgr, 0)[0][..., ::-1]
            psnr, ssim = score(np.ascontiguousarray(sr), data.hr)
            results[path] = (float(psnr.mean()), float(ssim.mean()))
        ref = results["torch-fp32"][0]
        for path, (p, s) in results.items():
            rows.append(AccuracyRow(name, path, len(data.hr), round(p, 4), round(s, 5), round(p - ref, 4)))
    return rows


def as_dicts(rows: Sequence[SpeedRow | AccuracyRow]) -> list[dict]:
    return [asdict(r) for r in rows]
