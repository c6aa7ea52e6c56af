"""The enhance stage: batched face super-resolution by any torch module (the model boundary).

This is the one place that converts BGR uint8 crops to the model's RGB float input and back. The module is
handed in ready-made (``vidfsr.pipelines`` never imports ``vidfsr.models``): anything mapping [B,3,128,128] RGB
in [0,1] to a tensor of the same shape, or to an object with ``.image`` (and, for parsing masks, ``.parsing``).

On a GPU, batches go through pinned host memory, and uploads and downloads run on their own CUDA streams
ordered by events, so the next batch's upload and the previous batch's download overlap this batch's compute;
half precision via autocast; channels-last; ``torch.inference_mode``. How the module runs (eager,
torch.compile, ONNX Runtime) is the backend's business (backends.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from vidfsr.errors import ConfigError

from .backends import make_backend
from .crops import ModelRange

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnhancerConfig:
    """Attributes:
    batch_size: faces per model call. On this project's CPU, batches of 4-8 were fastest per face; on a GPU,
        larger batches fill the device.
    precision: ``auto`` (bf16 on CPU with the torch backends, fp16 on CUDA, fp32 with onnx), ``fp32``, ``bf16``
        or ``fp16`` (CUDA only). On this project's CPU bf16 autocast + channels-last ran the lite model ~1.9x
        faster than fp32 and changed test-set PSNR by under 0.01 dB (``vidfsr bench``, BENCHMARKS.md).
    channels_last: NHWC layout (torch backends).
    parsing_mask: also return the union of the model's predicted parsing maps as a blending mask.
    backend: ``torch`` (eager), ``onnx`` (ONNX Runtime, CPU, exact fp32) or ``compile`` (torch.compile).
    """

    batch_size: int = 4
    precision: str = "auto"
    channels_last: bool = True
    parsing_mask: bool = False
    backend: str = "torch"


class Enhancer:
    """``__call__(crops, model) -> (sr, masks)`` for uint8 BGR crops [B,128,128,3] and a model index.

    ``models`` maps each model's range of native crop sides to the module; ``ranges`` keeps their order, which
    is the order of preference where ranges overlap.
    """

    def __init__(
        self,
        models: Mapping[ModelRange, torch.nn.Module],
        device: torch.device | str = "cpu",
        config: EnhancerConfig | None = None,
    ) -> None:
        self.config = config or EnhancerConfig()
        self.device = torch.device(device)
        precision = self.config.precision
        if precision == "auto":
            precision = "fp16" if self.device.type == "cuda" else "fp32" if self.config.backend == "onnx" else "bf16"
        if precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("fp16 needs a CUDA device; use --precision bf16 or fp32 on CPU")
        self.precision = precision
        self._ranges = tuple(models)
        self._frames = tuple(int(getattr(getattr(m, "cfg", None), "frames", 1)) for m in models.values())
        self.models = [
            make_backend(
                self.config.backend, m, self.device, precision, self.config.channels_last, self.config.batch_size,
                self.config.parsing_mask,
            )
            for m in models.values()
        ]  # fmt: skip
        cuda = self.device.type == "cuda"
        self._copy_stream = torch.cuda.Stream(self.device) if cuda else None
        self._d2h_stream = torch.cuda.Stream(self.device) if cuda else None

    @property
    def ranges(self) -> tuple[ModelRange, ...]:
        return self._ranges

    @property
    def frames(self) -> tuple[int, ...]:
        """Frames each model takes (1: one image; K: the crop and the same box in the K-1 frames before)."""
        return self._frames

    def _to_model(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2).float().div_(255)

    def _from_model(self, result) -> tuple[torch.Tensor, torch.Tensor | None]:
        y = result.image.float().clamp_(0, 1).mul_(255).round_().to(torch.uint8).permute(0, 2, 3, 1).flip(-1)
        if not self.config.parsing_mask:
            return y, None
        if result.parsing is None:
            raise ConfigError("--mask parsing needs a model with a parsing prior branch")
        union = result.parsing.float().clamp(0, 1).sum(1, keepdim=True).clamp(0, 1)
        union = torch.nn.functional.interpolate(union, size=result.image.shape[-2:], mode="bilinear")
        return y, union[:, 0]

    @torch.inference_mode()
    def __call__(self, crops: np.ndarray, model: int) -> tuple[np.ndarray, np.ndarray | None]:
        run = self.models[model]
        bs = self.config.batch_size
        k = crops.shape[-1] // 3
        if k != self._frames[model]:
            raise ConfigError(f"model {model} takes {self._frames[model]} frames, got crops with {k}")
        # BGR->RGB within each frame's three channels, the frames kept in order.
        crops = crops.reshape(*crops.shape[:-1], k, 3)[..., ::-1].reshape(crops.shape)
        chunks = [np.ascontiguousarray(crops[s : s + bs]) for s in range(0, len(crops), bs)]
        if self._copy_stream is None:
            done = [self._from_model(run(self._to_model(torch.from_numpy(c)))) for c in chunks]
        else:
            done = self._run_cuda(run, chunks)
        outs = np.concatenate([y.numpy() for y, _ in done])
        return outs, (np.concatenate([m.numpy() for _, m in done]) if self.config.parsing_mask else None)

    def _run_cuda(self, run, chunks: list[np.ndarray]) -> list[tuple[torch.Tensor, torch.Tensor | None]]:
        """Three streams: uploads, compute, downloads. The host never waits inside the loop, so batch k+1's
        upload and batch k-1's download overlap batch k's compute; one wait per output event at the end."""
        compute = torch.cuda.current_stream(self.device)
        pending = []
        for chunk in chunks:
            host = torch.from_numpy(chunk).pin_memory()
            with torch.cuda.stream(self._copy_stream):
                dev = host.to(self.device, non_blocking=True)
            compute.wait_stream(self._copy_stream)
            dev.record_stream(compute)  # allocated on the copy stream, consumed on compute
            y, mask = self._from_model(run(self._to_model(dev)))
            self._d2h_stream.wait_stream(compute)
            with torch.cuda.stream(self._d2h_stream):
                y_host = torch.empty(y.shape, dtype=y.dtype, pin_memory=True)
                y_host.copy_(y, non_blocking=True)
                m_host = None
                if mask is not None:
                    m_host = torch.empty(mask.shape, dtype=mask.dtype, pin_memory=True)
                    m_host.copy_(mask, non_blocking=True)
                    mask.record_stream(self._d2h_stream)
                y.record_stream(self._d2h_stream)
                event = torch.cuda.Event()
                event.record(self._d2h_stream)
            pending.append((event, y_host, m_host))
        for event, *_ in pending:
            event.synchronize()
        return [(y_host, m_host) for _, y_host, m_host in pending]
