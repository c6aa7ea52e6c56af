"""Ways to run a super-resolution module on a batch: eager torch, torch.compile, or ONNX Runtime.

Why more than one: on CPUs the fastest exact (fp32) path is ONNX Runtime (1.2-1.7x eager fp32 on this project's
dev CPU), while eager bf16 autocast + channels-last is faster still but not bit-exact; torch.compile adds little on
top of eager bf16 and costs ~40 s of compilation per batch shape (numbers in BENCHMARKS.md). Each backend is a
callable ``run(x) -> Result`` on an RGB float batch [B,3K,128,128] (K frames; 1 for single-frame models); the
Enhancer picks one per model.
"""

from __future__ import annotations

import contextlib
import copy
import io
import itertools
import logging
from typing import NamedTuple

import torch

from vidfsr.errors import ConfigError, missing_dependency

logger = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx", "compile")


class Result(NamedTuple):
    image: torch.Tensor  # [B,3,H,W] float
    parsing: torch.Tensor | None  # [B,P,h,w] or None


def _split(result: object) -> Result:
    if isinstance(result, torch.Tensor):
        return Result(result, None)
    return Result(result.image, getattr(result, "parsing", None))


def fold_batchnorm(module: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``module`` (eval mode) with every Conv2d -> BatchNorm2d pair of a Sequential merged into one conv.

    Inference-time batch norm is a per-channel affine map, so folding it into the preceding convolution gives the
    same function with one pass over the activations fewer (DESIGN §6 "folded batch-norm").
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    folded = copy.deepcopy(module).eval()
    for seq in folded.modules():
        if not isinstance(seq, torch.nn.Sequential):
            continue
        names = list(seq._modules)
        for a, b in itertools.pairwise(names):
            conv, bn = seq._modules[a], seq._modules[b]
            if isinstance(conv, torch.nn.Conv2d) and isinstance(bn, torch.nn.BatchNorm2d) and bn.track_running_stats:
                seq._modules[a] = fuse_conv_bn_eval(conv, bn)
                seq._modules[b] = torch.nn.Identity()
    return folded


class TorchBackend:
    """Eager (or, with ``compile=True``, torch.compile'd) module under inference mode and optional autocast.

    Compiled graphs are specialised to one batch shape, so with ``compile`` every batch is padded to
    ``batch_size`` and compilation happens once per model.
    """

    def __init__(
        self,
        module: torch.nn.Module,
        device: torch.device,
        dtype: torch.dtype | None,
        channels_last: bool,
        batch_size: int,
        compile: bool = False,
    ) -> None:
        self.fmt = torch.channels_last if channels_last else torch.contiguous_format
        # A folded copy: the caller's module is left as it was (moving or freezing a module changes it in place).
        self.module = fold_batchnorm(module).to(device=device, memory_format=self.fmt)
        self.device, self.dtype, self.batch_size = device, dtype, batch_size
        self.pad = compile
        self._fn = torch.compile(self.module, dynamic=False, options={"freezing": True}) if compile else self.module

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> Result:
        n = len(x)
        if self.pad and n < self.batch_size:
            x = torch.cat([x, x[-1:].expand(self.batch_size - n, -1, -1, -1)])
        x = x.contiguous(memory_format=self.fmt)
        ctx = torch.autocast(self.device.type, dtype=self.dtype) if self.dtype else contextlib.nullcontext()
        with ctx:
            out = _split(self._fn(x))
        return Result(out.image[:n], None if out.parsing is None else out.parsing[:n])


class _Heads(torch.nn.Module):
    """Exports only the outputs the pipeline reads, so ONNX Runtime skips nothing it must return."""

    def __init__(self, module: torch.nn.Module, parsing: bool) -> None:
        super().__init__()
        self.module, self.parsing = module, parsing

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = _split(self.module(x))
        if self.parsing:
            if out.parsing is None:
                raise ConfigError("--mask parsing needs a model with a parsing prior branch")
            return out.image, out.parsing
        return (out.image,)


class OnnxBackend:
    """The module exported once (in memory) to ONNX and run by ONNX Runtime on the CPU, fp32."""

    def __init__(self, module: torch.nn.Module, parsing: bool, threads: int) -> None:
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise missing_dependency("onnxruntime (the onnx backend)", "onnx") from e
        # A copy, as in TorchBackend: the caller's module keeps its dtype and memory format.
        heads = _Heads(copy.deepcopy(module).eval().float().to(memory_format=torch.contiguous_format), parsing)
        buf = io.BytesIO()
        channels = 3 * getattr(getattr(module, "cfg", None), "frames", 1)
        names = ["image", "parsing"] if parsing else ["image"]
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(
                heads, (torch.rand(1, channels, 128, 128),), buf, dynamo=False, input_names=["x"], output_names=names,
                dynamic_axes={k: {0: "batch", 2: "height", 3: "width"} for k in ["x", *names]}, opset_version=17,
            )  # fmt: skip
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        # The pipeline's other stages run in their own threads: idle ORT workers must not spin on those cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        self.names = names
        logger.info("ONNX Runtime session ready (%d threads, outputs %s)", threads, names)

    def __call__(self, x: torch.Tensor) -> Result:
        outs = self.session.run(self.names, {"x": x.float().contiguous().numpy()})
        return Result(torch.from_numpy(outs[0]), torch.from_numpy(outs[1]) if len(outs) > 1 else None)


def make_backend(
    name: str,
    module: torch.nn.Module,
    device: torch.device,
    precision: str,
    channels_last: bool,
    batch_size: int,
    parsing: bool,
) -> TorchBackend | OnnxBackend:
    """One backend for ``module``; ``precision`` is already resolved (fp32, bf16 or fp16)."""
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r}: choose one of {', '.join(BACKENDS)}")
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    if name == "onnx":
        if device.type != "cpu":
            raise ConfigError("the onnx backend runs on the CPU; use --backend torch with a GPU")
        if precision != "fp32":
            raise ConfigError("the onnx backend is fp32 (exact); use --precision fp32 or auto with it")
        return OnnxBackend(module, parsing, torch.get_num_threads())
    return TorchBackend(module, device, dtype, channels_last, batch_size, compile=name == "compile")
