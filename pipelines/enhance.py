"""The enhance stage: batched face super-resolution by any torch module (the model boundary).

This is the one place that converts BGR uint8 crops to the model's RGB float input and back. The module is
handed in ready-made (``vidfsr.pipelines`` never imports ``vidfsr.models``): anything mapping [B,3,128,128] RGB
in [0,1] to a tensor of the same shape, or to an object with ``.image`` (and, for parsing masks, ``.parsing``).

On a GPU, inputs go through pinned host memory and copies run on their own CUDA stream, so the next batch's
upload overlaps this batch's compute; half precision via autocast; channels-last; ``torch.inference_mode``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from vidfsr.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnhancerConfig:
    """Attributes:
    batch_size: faces per model call. On this project's CPU, batches of 1-4 were fastest per face (larger
        batches' activations fall out of cache); on a GPU, larger batches fill the device.
    precision: ``auto`` (bf16 on CPU, fp16 on CUDA), ``fp32``, ``bf16`` or ``fp16`` (CUDA only). On this
        project's CPU bf16 autocast + channels-last ran the lite model ~1.9x faster than fp32 and changed
        test-set PSNR by under 0.01 dB (benchmarks/inference.py, BENCHMARKS.md).
    channels_last: NHWC layout.
    parsing_mask: also return the union of the model's predicted parsing maps as a blending mask.
    """

    batch_size: int = 4
    precision: str = "auto"
    channels_last: bool = True
    parsing_mask: bool = False


class Enhancer:
    """``__call__(crops, lr_side) -> (sr, masks)`` for uint8 BGR crops [B,128,128,3]."""

    def __init__(
        self,
        models: Mapping[int, torch.nn.Module],
        device: torch.device | str = "cpu",
        config: EnhancerConfig | None = None,
    ) -> None:
        self.config = config or EnhancerConfig()
        self.device = torch.device(device)
        precision = self.config.precision
        if precision == "auto":
            precision = "fp16" if self.device.type == "cuda" else "bf16"
        if precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("fp16 needs a CUDA device; use --precision bf16 or fp32 on CPU")
        fmt = torch.channels_last if self.config.channels_last else torch.contiguous_format
        self.models = {side: m.eval().to(device=self.device, memory_format=fmt) for side, m in models.items()}
        self._fmt = fmt
        self._dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
        self._copy_stream = torch.cuda.Stream(self.device) if self.device.type == "cuda" else None

    @property
    def lr_sides(self) -> tuple[int, ...]:
        return tuple(sorted(self.models))

    def _upload(self, crops: np.ndarray) -> torch.Tensor:
        rgb = torch.from_numpy(np.ascontiguousarray(crops[..., ::-1]))
        if self._copy_stream is None:
            x = rgb
        else:
            pinned = rgb.pin_memory()
            with torch.cuda.stream(self._copy_stream):
                x = pinned.to(self.device, non_blocking=True)
            torch.cuda.current_stream(self.device).wait_stream(self._copy_stream)
        return x.permute(0, 3, 1, 2).float().div_(255).contiguous(memory_format=self._fmt)

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray, lr_side: int) -> tuple[np.ndarray, np.ndarray | None]:
        model = self.models[lr_side]
        outs, masks = [], []
        bs = self.config.batch_size
        for start in range(0, len(crops), bs):
            x = self._upload(crops[start : start + bs])
            ctx = torch.autocast(self.device.type, dtype=self._dtype) if self._dtype else contextlib.nullcontext()
            with ctx:
                result = model(x)
            image = result if isinstance(result, torch.Tensor) else result.image
            y = image.float().clamp_(0, 1).mul_(255).round_().to(torch.uint8)
            outs.append(y.permute(0, 2, 3, 1).flip(-1).cpu().numpy())  # RGB -> BGR
            if self.config.parsing_mask:
                parsing = getattr(result, "parsing", None)
                if parsing is None:
                    raise ConfigError("--mask parsing needs a model with a parsing prior branch")
                union = parsing.float().clamp(0, 1).sum(1, keepdim=True).clamp(0, 1)
                union = torch.nn.functional.interpolate(union, size=image.shape[-2:], mode="bilinear")
                masks.append(union[:, 0].cpu().numpy())
        return np.concatenate(outs), (np.concatenate(masks) if masks else None)
