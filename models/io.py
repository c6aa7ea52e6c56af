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
    from safetensors.torch import load_file

    path = assets.resolve(name_or_path)
    meta = read_metadata(path)
    if meta.get("format") != FORMAT:
        raise InputError(f"{path} is not a vidfsr FSRNet weights file (format {meta.get('format')!r})")
    cfg = FSRNetConfig.from_dict(json.loads(meta["arch"]))
    model = FSRNet(cfg)
    model.load_state_dict(load_file(str(path)))
    return model.to(device).eval()
