"""Weights files: safetensors with metadata that describes the model (arch config, scale, input range,
training data, metrics), so a file is all a user needs to run or evaluate it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from vidfsr import weights as assets
from vidfsr.errors import InputError

from .fsrnet import FSRNet, FSRNetConfig

FORMAT = "vidfsr-fsrnet-1"
INPUT_RANGE = "RGB float in [0,1]; the LR face bicubic-upsampled (PIL kernel) to 128x128"


def save_weights(model: FSRNet, path: str | Path, **meta: Any) -> Path:
    """Write model weights (fp32, contiguous) and self-describing metadata to a .safetensors file."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().contiguous().cpu() for k, v in model.state_dict().items() if v.is_floating_point()}
    state.update({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items() if not v.is_floating_point()})
    metadata = {
        "format": FORMAT,
        "arch": json.dumps(model.cfg.to_dict()),
        "scale": str(model.cfg.scale),
        "input_range": INPUT_RANGE,
        **{k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()},
    }
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp), metadata=metadata)
    tmp.replace(path)
    return path


def read_metadata(path: str | Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return dict(f.metadata() or {})


def load_model(name_or_path: str | Path, device: str | torch.device = "cpu") -> FSRNet:
    """Build a model from a weights file path or a shipped weights name (e.g. ``fsrnet_lite_x8``)."""
    return load_model_meta(name_or_path, device)[0]


def native_sides(meta: dict[str, str], cfg: FSRNetConfig) -> tuple[float, float]:
    """The native crop sides (input pixels) a model serves, from its metadata.

    Real-world models store the range measured on real video (``native_sides``). Paper-protocol weights were
    trained on one LR side only; they serve crops from 0.75x to 1.5x of it (the old policy's window), fed at
    their native detail.
    """
    if "native_sides" in meta:
        lo, hi = json.loads(meta["native_sides"])
        return float(lo), float(hi)
    return 0.75 * cfg.lr_size, 1.5 * cfg.lr_size


def update_metadata(path: str | Path, **meta: Any) -> Path:
    """Rewrite a weights file's metadata (e.g. the measured range and metrics) with its tensors unchanged."""
    from safetensors.torch import load_file, save_file

    path = Path(path)
    current = read_metadata(path)
    current.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()})
    tensors = load_file(str(path))
    tmp = path.with_suffix(".tmp")
    save_file(tensors, str(tmp), metadata=current)
    tmp.replace(path)
    return path


def load_model_meta(name_or_path: str | Path, device: str | torch.device = "cpu") -> tuple[FSRNet, dict[str, str]]:
    """The model and its weights file's metadata."""
    from safetensors.torch import load_file

    path = assets.resolve(name_or_path)
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise InputError(f"{path} is not a vidfsr FSRNet weights file (format {meta.get('format')!r})")
    cfg = FSRNetConfig.from_dict(json.loads(meta["arch"]))
    model = FSRNet(cfg)
    model.load_state_dict(load_file(str(path)))
    return model.to(device).eval(), meta
