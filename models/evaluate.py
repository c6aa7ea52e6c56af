"""Evaluation with the papers' protocol (DESIGN §5): Y-PSNR/SSIM of SR faces against HR crops.

Used by ``vidfsr eval`` and by validation during training, so both report the same numbers.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from vidfsr.pipelines.types import IMAGE_EXTS

from vidfsr.errors import InputError

from .degrade import degrade, upsample_lr
from .fsrnet import FSRNet
from .metrics import psnr_y, ssim_y
from .priors import heatmap_peaks


@dataclass(frozen=True)
class EvalSet:
    names: list[str]
    hr: np.ndarray  # [N,128,128,3] uint8 RGB
    lr_up: np.ndarray  # [N,128,128,3] uint8 RGB, the model input ([N,128,128,3K] for K-frame bursts)
    lr_side: np.ndarray | None = None  # [N] each face's LR side in pixels, where known
    compression: np.ndarray | None = None  # [N] "none", "jpeg" or "h264": how its LR was coded, where known

    @property
    def compressed(self) -> np.ndarray | None:
        """[N] bool: the face's LR was JPEG- or H.264-coded (None where unknown)."""
        return None if self.compression is None else self.compression != "none"

    @property
    def baseline(self) -> np.ndarray:
        """The current frame's cubic upscale: what a player shows, the number to beat."""
        return self.lr_up[..., :3]


def _read_rgb(path: Path) -> np.ndarray:
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise InputError(f"{path}: unreadable image")
    return np.ascontiguousarray(img[:, :, ::-1])


def load_eval_set(hr_dir: str | Path, scale: int, lr_dir: str | Path | None = None, limit: int = 0) -> EvalSet:
    """HR crops from ``hr_dir``; LR from same-named files in ``lr_dir`` (stored upsampled, like the official
    sets) or synthesised with the training degradation."""
    hr_dir = Path(hr_dir)
    if not hr_dir.is_dir():
        raise InputError(f"{hr_dir}: not a folder of HR face crops")
    files = sorted(p for p in hr_dir.iterdir() if p.suffix.lower() in IMAGE_EXTS)[: limit or None]
    if not files:
        raise InputError(f"{hr_dir}: no images found")
    hr = np.stack([_read_rgb(p) for p in files])
    if hr.shape[1:3] != (128, 128):
        raise InputError(f"{hr_dir}: HR crops must be 128x128, got {hr.shape[1]}x{hr.shape[2]}")
    if lr_dir is not None:
        lr_files = [Path(lr_dir) / p.name for p in files]
        missing = [str(p) for p in lr_files if not p.exists()]
        if missing:
            raise InputError(f"{missing[0]}: LR file missing for HR {files[0].name} (and {len(missing) - 1} more)")
        lr = np.stack([_read_rgb(p) for p in lr_files])
        if lr.shape[1:3] != (128, 128):
            lr = to_uint8(upsample_lr(to_tensor(lr), (128, 128)))
    else:
        lr = to_uint8(degrade(to_tensor(hr), scale))
    n = len(files)
    return EvalSet([p.name for p in files], hr, lr, np.full(n, 128 // scale), np.full(n, "none"))


def real_eval_set(hr_dir: str | Path, limit: int = 0, seed: int = 2026, config=None) -> EvalSet:
    """HR crops degraded once by the real-world degradation with a fixed seed: the same inputs on every run,
    so validation curves of real-world models are comparable. The LR input is itself the cubic baseline."""
    from .realdeg import EVAL_CONFIG, RealDegradation

    base = load_eval_set(hr_dir, 8, None, limit)
    deg = RealDegradation(config or EVAL_CONFIG, seed=seed)
    parts, info = [], []
    for i in range(0, len(base.hr), 14):
        lr, faces = deg.degrade_batch(base.hr[i : i + 14], order="rgb")
        parts.append(lr)
        info += faces
    sides = np.array([f.lr_side for f in info])
    kinds = np.array([f.compression.split(":")[0] for f in info])
    return EvalSet(base.names, base.hr, np.concatenate(parts), sides, kinds)


def back_projected(
    sr: np.ndarray, lr_up: np.ndarray, side: int | np.ndarray, share: float | np.ndarray = 1.0
) -> np.ndarray:
    """``sr`` after one back-projection step against its input, as ``pipelines.blend.back_project`` applies it
    to every model output in ``vidfsr enhance``: what the pipeline pastes, not the network's own output.

    The inputs here are stored upsampled to 128 (the official LR files by MATLAB bicubic, the real-world set by
    OpenCV cubic), so the step compares in that domain: the SR face shrunk to its LR ``side`` (area) and brought
    back with cubic, against the stored input. Shrinking the stored input instead would blur the evidence
    (cubic up then area down is a low-pass) and cost ~0.1 dB. ``side`` and ``share`` may be per face.
    """
    import cv2

    out = sr.astype(np.float32)
    sides = np.broadcast_to(np.asarray(side, dtype=int), len(out))
    shares = np.broadcast_to(np.asarray(share, dtype=np.float32), len(out))
    for i, y in enumerate(out):
        n = int(sides[i])
        down = cv2.resize(y, (n, n), interpolation=cv2.INTER_AREA)
        out[i] += shares[i] * (
            lr_up[i, ..., :3].astype(np.float32) - cv2.resize(down, y.shape[:2][::-1], interpolation=cv2.INTER_CUBIC)
        )
    return np.clip(out, 0, 255).round().astype(np.uint8)


def as_pasted(sr: np.ndarray, data: EvalSet) -> np.ndarray:
    """``back_projected`` at each face's LR side and the share ``vidfsr enhance`` picks by source (full on an
    uncompressed face, ``LOSSY_CONSISTENCY`` on a JPEG- or H.264-coded one): what the pipeline pastes, up to the
    pipeline's finer choice by a JPEG's quality or an H.264 stream's keyframe QP (``blend.auto_consistency``),
    which the set does not record; the frame-resolution step has no counterpart at 128 px."""
    from vidfsr.pipelines.blend import LOSSLESS_CONSISTENCY, LOSSY_CONSISTENCY

    if data.lr_side is None or data.compressed is None:
        raise ValueError("the evaluation set does not know each face's LR side and coding (multi-frame bursts)")
    shares = np.where(data.compressed, LOSSY_CONSISTENCY, LOSSLESS_CONSISTENCY)
    return back_projected(sr, data.lr_up, data.lr_side, shares)


def real_burst_eval_set(hr_dir: str | Path, frames: int, limit: int = 0, seed: int = 2026, config=None) -> EvalSet:
    """Like ``real_eval_set`` for K-frame models: bursts (current frame first) stacked on the channel axis."""
    from .realdeg import EVAL_CONFIG, RealDegradation

    base = load_eval_set(hr_dir, 8, None, limit)
    deg = RealDegradation(config or EVAL_CONFIG, seed=seed)
    parts = []
    for i in range(0, len(base.hr), 14):
        ups = deg.degrade_burst(base.hr[i : i + 14], frames, order="rgb")[0]  # [B,K,H,W,3]
        parts.append(np.concatenate(list(ups.transpose(1, 0, 2, 3, 4)), axis=-1))
    return EvalSet(base.names, base.hr, np.concatenate(parts))


def to_tensor(images: np.ndarray) -> Tensor:
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255


def to_uint8(images: Tensor) -> np.ndarray:
    return (images.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


_TTA = [(k, flip) for flip in (False, True) for k in range(4)]


def _apply(x: Tensor, k: int, flip: bool) -> Tensor:
    if flip:
        x = x.flip(-1)
    return x.rot90(k, dims=(-2, -1)) if k else x


def _undo(x: Tensor, k: int, flip: bool) -> Tensor:
    if k:
        x = x.rot90(-k, dims=(-2, -1))
    return x.flip(-1) if flip else x


@torch.inference_mode()
def super_resolve(
    model: FSRNet,
    lr_up: np.ndarray,
    batch_size: int = 16,
    tta: bool = False,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """SR faces (uint8 RGB) and, when the model predicts heatmaps, landmarks in 128 px (no TTA for those)."""
    model.eval()
    outs, marks = [], []
    device = torch.device(device)
    for i in range(0, len(lr_up), batch_size):
        x = to_tensor(lr_up[i : i + batch_size]).to(device)
        ctx = torch.autocast(device.type, dtype=autocast_dtype) if autocast_dtype else contextlib.nullcontext()
        with ctx:
            res = model(x)
            y = res.image.float()
            if tta:
                y = torch.stack([_undo(model(_apply(x, k, f)).image.float(), k, f) for k, f in _TTA]).mean(0)
        outs.append(to_uint8(y))
        if res.heatmaps is not None:
            marks.append(heatmap_peaks(res.heatmaps.float()).cpu().numpy())
    return np.concatenate(outs), (np.concatenate(marks) if marks else None)


def score(sr: np.ndarray, hr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image Y-PSNR and Y-SSIM."""
    return (
        np.array([psnr_y(a, b) for a, b in zip(sr, hr, strict=True)]),
        np.array([ssim_y(a, b) for a, b in zip(sr, hr, strict=True)]),
    )


def landmark_nrmse(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-image NRMSE: mean point error over the inter-ocular distance (outer eye corners 36, 45)."""
    iod = np.linalg.norm(truth[:, 36] - truth[:, 45], axis=1)
    return np.linalg.norm(pred - truth, axis=2).mean(1) / np.maximum(iod, 1e-6)
