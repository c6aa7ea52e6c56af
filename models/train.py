"""Training loop for FSRNet (``vidfsr train``), readable top to bottom.

One code path for CPU and GPU (a null context instead of autocast where it does not help), one process or many
(``torchrun`` + DistributedDataParallel: gloo on CPU, nccl on GPU). Checkpoints carry their own config and every
random state (data order, augmentation, torch), so a resumed run continues exactly where it stopped.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import dataclasses
import json
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vidfsr.config import from_dict, resolve_device
from vidfsr.errors import ConfigError, InputError

from .dataset_format import load_prepared
from .evaluate import EvalSet, as_pasted, load_eval_set, real_burst_eval_set, real_eval_set, score, super_resolve
from .fsrgan import perceptual_loss
from .fsrnet import FSRNet, FSRNetConfig, expand_blocks, expand_frames, expand_width
from .io import save_weights
from .losses import fsrnet_loss, paste_weight
from .realdeg import RealDegradation, RealDegradationConfig
from .registry import create_model, model_config
from .train_data import TrainBatches

logger = logging.getLogger(__name__)

CHECKPOINT_KIND = "vidfsr-train-checkpoint-1"
# Every loss term, logged each ``log_every`` steps (FSRGAN adds adv, perceptual and disc; ``identity_weight`` and
# ``stability_weight`` their terms; "total" is what the generator minimises, "disc" the discriminator's own loss).
LOSS_TERMS = ("total", "coarse", "fine", "prior", "adv", "perceptual", "identity", "stability", "disc")
# val_psnr_pasted: validation after the back-projection step, what ``vidfsr enhance`` pastes (single-frame models).
LOG_COLUMNS = ["step", "images", "epoch", *LOSS_TERMS, "img_per_s", "val_psnr", "val_ssim", "val_psnr_pasted"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; stored in every checkpoint.

    Attributes:
        model: registered model name (see ``list_models()``).
        model_overrides: config fields changed from the registered ones (e.g. a tiny width for tests).
        data: folder made by ``vidfsr prepare``.
        out: run folder (checkpoints, logs, exported weights).
        steps: optimiser steps to train for in total (a resumed run continues up to this).
        batch_size: global batch (split across processes); paper: 14.
        lr: the optimiser's learning rate; paper (RMSprop): 2.5e-4.
        alpha, beta: weights of the fine and prior terms of eq. 4; paper: 1, 1.
        precision: ``auto`` (bf16 autocast where measured faster: CPU and GPU), ``fp32``, ``bf16``.
        channels_last: NHWC memory layout (measured faster with bf16 on CPU).
        val_hr, val_lr: validation HR crops and optional official LR files (same names).
        val_images: how many validation faces (0: no validation).
        val_every, ckpt_every, log_every: in steps.
        data_limit: use only the first N training faces (tests, overfitting checks).
        threads: torch intra-op threads (0: leave torch's default).
        device: ``auto`` (CUDA when available), ``cpu`` or ``cuda[:i]``.
        seed: seeds data order, augmentation and initialisation.
        data_description: free text stored in the exported weights' metadata.
        gan: train FSRGAN: add the conditional discriminator's adversarial term and the perceptual term.
        perceptual: the perceptual term's features (``fsrgan.perceptual_network``): ``prior:WEIGHTS`` (a frozen
            FSRNet prior branch: no download), ``vgg16:PATH`` or a bare PATH (ImageNet VGG-16, torchvision
            format, the paper's), empty (VGG-16 from the local torch hub cache), ``none`` (no perceptual term).
        adv_weight, perceptual_weight: paper: 1e-3 and 1e-1.
        identity: weights of the face-identity network (``vidfsr train-identity``) for the identity term: the
            cosine distance between the SR and HR faces' embeddings, FSRNet or FSRGAN; none of the other terms
            sees identity, and both models drifted away from the person without it. Measured with the network
            trained here: no effect on dlib's identity distance (BENCHMARKS.md, "An identity term").
        identity_weight: weight of that term (0: off).
        stability_weight: weight of the temporal-stability term (0: off; real degradation, single-frame models):
            each face is also degraded as the next frame of a two-frame burst (moved as the real-video faces
            move, coded with it as one H.264 clip), and the term is the change of the output's error between the
            two frames, mean |(SR(x1) - y1) - (SR(x0) - y0)|: the real-video benchmark's flicker as a loss. The
            shipped model turns small input changes into larger texture changes (BENCHMARKS.md, session 8).
        init: weights (.safetensors) to start the generator from, e.g. FSRNet weights for FSRGAN.
        degradation: ``paper`` (bicubic x``scale``, the paper protocol) or ``real`` (``realdeg``: LR sides
            12-64 px, several kernels, noise, JPEG and real H.264; the shipped video models).
        real_sides: the real degradation's LR face sides (inclusive, px, log-uniform); widen it to teach the
            model the larger crops a close-up camera gives (64-96 px crops were outside the v2 training range).
        burst_motion: how the bursts of multi-frame models and of the stability term move (``walk`` or
            ``video``, ``RealDegradationConfig.burst_motion``).
        real_h264, real_crf: the real degradation's share of H.264-compressed batches and their CRF range; raise
            them to specialise a model for compressed streams (camera video is always compressed).
        real_h264_frames, real_h264_files: the length range of the clip each compressed batch is coded in (the
            faces deep in it, predicted from moving references as in a stream; (2, 2): the first models' two-frame
            clip) and the share of those clips coded as files (B-frames) rather than as cameras stream.
        real_noise, real_jpeg: the real degradation's shares of faces with sensor noise and with JPEG; set both
            and ``real_h264`` to 0 for a model of lossless sources (only the downscaling kernels and blur left).
        loss: ``mean`` (every term averaged over its elements; the shipped lite weights), ``paper`` (eq. 4
            literally: squared norms summed per image, halved, averaged over the batch) or ``relative`` (``mean``
            with each face's image terms weighted by the inverse of its input's error) or ``projected`` (the fine
            term measured after the pipeline's back-projection step; ``losses.fsrnet_loss``).
        raw_weight: with ``projected``, the weight of the plain fine term kept beside it (the network's own output
            stays usable without the step).
        glasses: the share of training faces that wear synthetic eyeglass frames (``glasses.draw_glasses``,
            drawn on the high-resolution face before any degradation); 0 leaves the data as it is.
        glasses_clear: the share of those frames drawn as clear acetate (pale, half-transparent, with refracting
            edges) instead of black, silver or gold.
        augment: ``paper`` (the paper's: a horizontal flip and 0-3 quarter turns, 8 variants a face) or ``flip``
            (upright faces, mirrored or not): the video pipeline only ever shows the model upright faces (the
            detector finds them so), and with ``paper`` three of four training faces lie on their side or upside
            down.
        pixel_loss: how the image terms (coarse, fine, and the projected and raw fine terms) measure an error:
            ``l2`` (squared, the paper's) or ``charbonnier`` (sqrt(d^2 + 1e-6), a smooth L1). Every lite model
            to v4 was trained on squared errors and levelled off on the CPU (BENCHMARKS.md, sessions 22-23);
            image restoration studies (Zhao et al., "Loss Functions for Image Restoration with Neural Networks",
            2017; EDSR) found an L1-type loss reaches a higher PSNR than L2 itself, also when it takes over from
            an L2-trained network, because L2's gradient fades on the small errors a converged model has left.
            The prior term stays squared (heatmaps and parsing maps are regressed as in the paper).
        fine_region: ``crop`` (every pixel of the 128 px crop counts the same) or ``paste`` (the fine terms
            weighted by the feathered ellipse through which the pipeline pastes the face, a tenth outside it;
            ``losses.paste_weight``): about half of a crop is hair and background that is never shown.
        optimizer: ``rmsprop`` (the paper's) or ``adam``; a resumed run keeps its checkpoint's.
        ema: decay of an exponential moving average of the weights (0: off), kept beside the trained weights,
            checkpointed with them, validated and exported in their place. The fine-tunes' validation wandered by
            a few hundredths of a dB from one checkpoint to the next at a constant learning rate (the model cards'
            learning curves): the average of the trajectory is the steadier estimate. Its effective decay warms up
            as min(ema, (1 + t) / (10 + t)) over its t updates, so a run from scratch does not average in its
            random start.
        prefetch: batches assembled ahead in a thread (the degradation's OpenCV/x264 work releases the GIL, so
            it runs beside the model's step on the second core); with ``workers``, batches each process holds
            ready.
        workers: processes assembling batches (0: the prefetch thread). A GPU steps faster than one thread
            degrades faces (~60 ms a batch of 14 with x264): 14 workers on a 16-core GPU machine. With workers,
            each batch's degradation draws from its own seed, taken from the run's augmentation stream, so the
            batches are the same for any number of workers and across a resume (a stream of its own: a run
            started without workers draws another one). A run resumed from such a checkpoint keeps drawing so.
    """

    model: str = "fsrnet_lite_x8"
    model_overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    data: str = ""
    out: str = "runs/train"
    steps: int = 10000
    batch_size: int = 14
    lr: float = 2.5e-4
    alpha: float = 1.0
    beta: float = 1.0
    heatmap_sigma: float = 1.0
    precision: str = "auto"
    channels_last: bool = True
    val_hr: str = ""
    val_lr: str = ""
    val_images: int = 200
    val_every: int = 1000
    ckpt_every: int = 500
    log_every: int = 50
    data_limit: int = 0
    threads: int = 0
    device: str = "auto"
    seed: int = 0
    data_description: str = ""
    gan: bool = False
    perceptual: str = ""
    adv_weight: float = 1e-3
    perceptual_weight: float = 1e-1
    identity: str = ""
    identity_weight: float = 0.0
    stability_weight: float = 0.0
    init: str = ""
    degradation: str = "paper"
    real_sides: tuple[int, int] = (12, 64)
    real_h264: float = 0.5
    real_crf: tuple[int, int] = (18, 38)
    burst_motion: str = "walk"
    real_h264_frames: tuple[int, int] = (2, 2)
    real_h264_files: float = 0.0
    real_noise: float = 0.15
    real_jpeg: float = 0.15
    prefetch: int = 2
    workers: int = 0
    loss: str = "mean"
    raw_weight: float = 0.0
    glasses: float = 0.0
    glasses_clear: float = 0.0
    augment: str = "paper"
    ema: float = 0.0
    pixel_loss: str = "l2"
    fine_region: str = "crop"
    optimizer: str = "rmsprop"

    def __post_init__(self) -> None:
        if self.degradation not in ("paper", "real"):
            raise ConfigError(f"degradation must be 'paper' or 'real', got {self.degradation!r}")
        if self.loss not in ("mean", "paper", "relative", "projected"):
            raise ConfigError(f"loss must be 'mean', 'paper', 'relative' or 'projected', got {self.loss!r}")
        if self.loss == "projected" and (self.degradation != "real" or self.stability_weight > 0):
            raise ConfigError("--loss projected needs --degradation real (each face's LR side) and no stability term")
        if self.raw_weight < 0 or (self.raw_weight > 0 and self.loss != "projected"):
            raise ConfigError("--raw-weight is a weight >= 0 of the plain fine term beside --loss projected")
        if self.augment not in AUGMENTS:
            raise ConfigError(f"augment must be one of {', '.join(AUGMENTS)}, got {self.augment!r}")
        if self.fine_region not in FINE_REGIONS:
            raise ConfigError(f"fine_region must be one of {', '.join(FINE_REGIONS)}, got {self.fine_region!r}")
        if self.fine_region != "crop" and self.loss not in ("mean", "projected"):
            raise ConfigError(f"--fine-region {self.fine_region} goes with --loss mean or projected, not {self.loss}")
        if self.pixel_loss not in PIXEL_LOSSES:
            raise ConfigError(f"pixel_loss must be one of {', '.join(PIXEL_LOSSES)}, got {self.pixel_loss!r}")
        if self.pixel_loss != "l2" and self.loss not in ("mean", "projected"):
            raise ConfigError(f"--pixel-loss {self.pixel_loss} goes with --loss mean or projected, not {self.loss}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if not 0 <= self.glasses <= 1:
            raise ConfigError(f"--glasses is a share of faces in [0, 1], got {self.glasses}")
        if not 0 <= self.glasses_clear <= 1 or (self.glasses_clear > 0 and self.glasses == 0):
            raise ConfigError(
                f"--glasses-clear is the share in [0, 1] of the --glasses frames drawn clear (with --glasses > 0), "
                f"got {self.glasses_clear}"
            )
        if not 0 <= self.ema < 1:
            raise ConfigError(f"--ema is a decay in [0, 1) (e.g. 0.999; 0: off), got {self.ema}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        object.__setattr__(self, "real_sides", tuple(int(v) for v in self.real_sides))
        object.__setattr__(self, "real_crf", tuple(int(v) for v in self.real_crf))
        object.__setattr__(self, "real_h264_frames", tuple(int(v) for v in self.real_h264_frames))
        try:
            real_degradation_config(self)  # the degradation's own checks, once
        except ConfigError as exc:
            names = {"lr_sides": "real_sides", "h264_prob": "real_h264", "crf": "real_crf",
                     "h264_frames": "real_h264_frames", "h264_file_share": "real_h264_files",
                     "noise_prob": "real_noise", "jpeg_prob": "real_jpeg"}  # fmt: skip
            message = str(exc)
            for field_name, option in names.items():
                message = message.replace(field_name, option)
            raise ConfigError(message) from None
        if self.identity_weight < 0 or (self.identity_weight > 0) != bool(self.identity):
            raise ConfigError("the identity term needs both --identity WEIGHTS and --identity-weight W > 0")
        if self.stability_weight < 0 or (self.stability_weight > 0 and self.degradation != "real"):
            raise ConfigError("the stability term (--stability-weight) needs --degradation real")
        if self.workers < 0:
            raise ConfigError(f"--workers is a number of processes (0: a thread), got {self.workers}")
        if self.batch_size < 1 or self.steps < 0:
            raise ConfigError("batch_size must be >= 1 and steps >= 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        return from_dict(cls, data, "training option")


def real_degradation_config(cfg: TrainConfig) -> RealDegradationConfig:
    """The run's ``RealDegradationConfig``: the defaults with the run's LR sides, shares and CRFs."""
    return RealDegradationConfig(lr_sides=cfg.real_sides, h264_prob=cfg.real_h264, crf=cfg.real_crf,
                                 burst_motion=cfg.burst_motion, h264_frames=cfg.real_h264_frames,
                                 h264_file_share=cfg.real_h264_files, noise_prob=cfg.real_noise,
                                 jpeg_prob=cfg.real_jpeg)  # fmt: skip


def autocast_dtype(precision: str) -> torch.dtype | None:
    """bf16 autocast unless fp32 is asked for: measured faster for training on this CPU (BENCHMARKS.md)."""
    return None if precision == "fp32" else torch.bfloat16


@dataclass
class Dist:
    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device: torch.device) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size())


# The augmentation ops of ``TrainBatches.batch``: bit 2 = horizontal flip, bits 0-1 = quarter turns.
AUGMENTS = ("paper", "flip")
PIXEL_LOSSES = ("l2", "charbonnier")
FINE_REGIONS = ("crop", "paste")
OPTIMIZERS = ("rmsprop", "adam")


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """The run's optimiser by name: RMSprop as the paper trains, or Adam."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    return torch.optim.RMSprop(params, lr=lr)


def draw_ops(gen: torch.Generator, n: int, augment: str) -> torch.Tensor:
    """[n] augmentation ops: any of the 8 (``paper``) or a flip or none, upright (``flip``). One draw per face
    either way, so the stream after it is the same length."""
    ops = torch.randint(0, 8, (n,), generator=gen)
    return ops if augment == "paper" else ops & 4


def _epoch_order(seed: int, epoch: int, n: int) -> torch.Tensor:
    """Data order of one epoch: a pure function of (seed, epoch), so resume needs only the epoch and position."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen)


ProgressFn = Callable[[dict[str, Any]], None]


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    ckpt = torch.load(path, map_location="cpu", weights_only=True)  # never unpickle arbitrary objects
    if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
        raise InputError(f"{path} is not a vidfsr training checkpoint")
    return ckpt


class WeightAverage:
    """An exponential moving average of a model's weights (``TrainConfig.ema``): parameters and floating buffers
    (batch-norm statistics) averaged, integer buffers copied."""

    def __init__(self, model: torch.nn.Module, decay: float, updates: int = 0) -> None:
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay = decay
        self.updates = updates

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        d = min(self.decay, (1 + self.updates) / (10 + self.updates))
        trained = model.state_dict()
        for name, avg in self.model.state_dict().items():
            if avg.is_floating_point():
                avg.lerp_(trained[name], 1 - d)
            else:
                avg.copy_(trained[name])
        self.updates += 1


def validate(model: FSRNet, val: EvalSet, device: torch.device, dtype: torch.dtype | None) -> dict[str, float]:
    """Mean Y-PSNR and SSIM of the network's output, and for a set that knows each face's LR side and coding (every
    single-frame set) the PSNR after the back-projection step ``vidfsr enhance`` applies to every face: the step
    overwrites the low frequencies, so the raw score can move without the pasted face moving (BENCHMARKS.md,
    session 25: +0.10 dB raw, +0.01 after the step)."""
    sr, _ = super_resolve(model, val.lr_up, batch_size=16, device=device, autocast_dtype=dtype)
    psnr, ssim = score(sr, val.hr)
    scores = {"psnr": float(psnr.mean()), "ssim": float(ssim.mean())}
    if val.lr_side is not None and val.compressed is not None:
        scores["psnr_pasted"] = float(score(as_pasted(sr, val), val.hr)[0].mean())
    return scores


def train(cfg: TrainConfig, resume: str | Path | None = None, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Train (or resume) a run; returns a summary with the exported weights path and final metrics."""
    device = resolve_device(cfg.device)
    dist = _init_distributed(device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    if dist.main:
        out.mkdir(parents=True, exist_ok=True)

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, **cfg.model_overrides)
    mcfg = model.cfg
    if not cfg.data:
        raise ConfigError("no training data: pass --data DIR (a folder made by 'vidfsr prepare')")
    real = (
        RealDegradation(real_degradation_config(cfg), seed=cfg.seed * 7919 + dist.rank)
        if cfg.degradation == "real"
        else None
    )
    faces = load_prepared(cfg.data, "train", cfg.data_limit)
    if mcfg.frames > 1 and real is None:
        raise ConfigError(f"{cfg.model} takes {mcfg.frames} frames: train it with --degradation real")
    if cfg.stability_weight > 0 and mcfg.frames > 1:
        raise ConfigError(f"the stability term is for single-frame models; {cfg.model} takes {mcfg.frames} frames")
    if cfg.loss == "projected" and mcfg.frames > 1:
        raise ConfigError(f"the projected loss is for single-frame models; {cfg.model} takes {mcfg.frames} frames")
    data = TrainBatches(faces, mcfg.scale, mcfg.size // 2, cfg.heatmap_sigma, real, mcfg.frames,
                        pairs=cfg.stability_weight > 0, projection=cfg.loss == "projected",
                        glasses=cfg.glasses, glasses_clear=cfg.glasses_clear)  # fmt: skip
    val = None
    if cfg.val_hr and cfg.val_images and dist.main:
        if mcfg.frames > 1:
            val = real_burst_eval_set(cfg.val_hr, mcfg.frames, cfg.val_images)
        elif real is not None:
            val = real_eval_set(cfg.val_hr, cfg.val_images)
        else:
            val = load_eval_set(cfg.val_hr, mcfg.scale, cfg.val_lr or None, cfg.val_images)
    if cfg.init:
        from .io import load_model

        init = load_model(cfg.init)
        # The network is the same for every scale (its input is always 128x128): x8 weights can start x4,
        # single-frame weights a K-frame model (the other frames' input weights start at zero), a shallower
        # network a deeper one (the new residual blocks start as the identity), and a network one of twice
        # its widths (each channel copied, its readers' weights split between the copies).
        grown = {"scale": mcfg.scale, "frames": mcfg.frames, "coarse_blocks": mcfg.coarse_blocks,
                 "encoder_blocks": mcfg.encoder_blocks, "decoder_blocks": mcfg.decoder_blocks,
                 "channels": mcfg.channels, "prior_channels": mcfg.prior_channels}  # fmt: skip
        if init.cfg.replace(**grown) != mcfg:
            raise ConfigError(f"--init {cfg.init} has config {init.cfg}, which differs from {cfg.model}'s")
        state, start = expand_frames(init.state_dict(), mcfg.frames), init.cfg.replace(frames=mcfg.frames)
        widths = {"channels": mcfg.channels, "prior_channels": mcfg.prior_channels}
        if start.replace(**widths) != start:
            wide = FSRNet(start.replace(**widths))
            state, start = expand_width(state, start, wide, seed=cfg.seed), wide.cfg
        model.load_state_dict(expand_blocks(state, start, model) if start != mcfg else state)
    optimizer = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr)
    disc = d_opt = vgg = None
    if cfg.gan:
        from .fsrgan import ConditionalDiscriminator, perceptual_network

        # Refuses to start without VGG weights unless told "none" or given a prior network.
        vgg, perceptual_name = perceptual_network(cfg.perceptual)
        logger.info("perceptual term: %s", perceptual_name)
        disc = ConditionalDiscriminator(size=mcfg.size)
        d_opt = torch.optim.RMSprop(disc.parameters(), lr=cfg.lr)
    id_net = None
    if cfg.identity_weight > 0:
        from .identity import identity_loss, load_identity_net

        id_net = load_identity_net(cfg.identity)
    state = {"step": 0, "epoch": 0, "pos": 0, "images": 0}
    aug_gen = torch.Generator().manual_seed(cfg.seed + 1)
    # Each batch degraded from its own seed (drawn from aug_gen) instead of one sequential stream: what lets
    # worker processes assemble batches in any order and still give the run one reproducible sequence.
    seeded = cfg.workers > 0
    val_history: list[dict[str, float]] = []
    elapsed_before = 0.0
    if resume:
        ckpt = load_checkpoint(resume)
        if ckpt["train_config"]["model"] != cfg.model:
            raise ConfigError(f"checkpoint {resume} is for model {ckpt['train_config']['model']}, not {cfg.model}")
        was = ckpt["train_config"].get("optimizer", "rmsprop")
        if was != cfg.optimizer:
            raise ConfigError(
                f"{resume} was trained with --optimizer {was}: resume with it, or start a new run "
                f"with --optimizer {cfg.optimizer} --init WEIGHTS (export them with --export)"
            )
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        for group in optimizer.param_groups:
            group["lr"] = cfg.lr  # the run's config decides, so a resumed run may lower the learning rate
        if disc is not None and d_opt is not None:
            if "disc" not in ckpt:
                raise ConfigError(f"{resume} has no discriminator: it was not an FSRGAN run")
            disc.load_state_dict(ckpt["disc"])
            d_opt.load_state_dict(ckpt["d_opt"])
        state = dict(ckpt["state"])
        aug_gen.set_state(ckpt["rng"]["augment"])
        seeded = seeded or bool(ckpt["rng"].get("batch_seeds", False))
        if real is not None and not seeded:
            if "degrade" not in ckpt["rng"]:
                raise ConfigError(f"{resume} was trained with the paper degradation; start a new run for 'real'")
            real.set_state(json.loads(ckpt["rng"]["degrade"]))
        elif real is not None and ckpt["train_config"].get("degradation", "paper") != "real":
            raise ConfigError(f"{resume} was trained with the paper degradation; start a new run for 'real'")
        torch.set_rng_state(ckpt["rng"]["torch"])
        val_history = json.loads(ckpt["val_history"])
        elapsed_before = float(ckpt.get("elapsed", 0.0))
        logger.info("resumed %s at step %d", resume, state["step"])

    dtype = autocast_dtype(cfg.precision)
    memory_format = torch.channels_last if cfg.channels_last else torch.contiguous_format
    model.to(device=device, memory_format=memory_format)
    if disc is not None:
        disc.to(device=device, memory_format=memory_format)
    if vgg is not None:
        vgg.to(device=device, memory_format=memory_format)
    if id_net is not None:
        id_net.to(device=device, memory_format=memory_format)
    ema = None
    if cfg.ema > 0:
        ema = WeightAverage(model, cfg.ema, int(state.get("ema_updates", 0)))
        if resume and "ema" in ckpt:
            ema.model.load_state_dict(ckpt["ema"])
        elif resume:
            logger.warning("%s holds no weight average: it starts from the checkpoint's weights", resume)
    # Optimizer state tensors follow the parameters' device (resume from a CPU checkpoint onto a GPU).
    for opt in (optimizer, d_opt):
        for st in opt.state.values() if opt is not None else ():
            for k, v in st.items():
                if isinstance(v, torch.Tensor) and k != "step":
                    st[k] = v.to(device)
    net: torch.nn.Module = model
    d_net: torch.nn.Module | None = disc
    if dist.world > 1:
        ids = [device.index] if device.type == "cuda" else None
        net = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)
        if disc is not None:
            d_net = torch.nn.parallel.DistributedDataParallel(disc, device_ids=ids)

    def checkpoint(path: Path) -> None:
        _atomic_save(
            {
                "kind": CHECKPOINT_KIND,
                "train_config": dataclasses.asdict(cfg),
                "model_config": mcfg.to_dict(),
                "state": state,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                **({"ema": ema.model.state_dict()} if ema is not None else {}),
                "rng": rng_after,
                **({"disc": disc.state_dict(), "d_opt": d_opt.state_dict()} if disc and d_opt else {}),
                "val_history": json.dumps(val_history),
                "elapsed": elapsed_before + (time.perf_counter() - start),
            },
            path,
        )

    log_path = out / "train_log.csv"
    log_file = open(log_path, "a+", newline="") if dist.main else None  # noqa: SIM115 (closed in finally)
    writer = None
    if log_file:
        log_file.seek(0)
        header = log_file.readline().strip().split(",") if log_path.stat().st_size else LOG_COLUMNS
        # A run resumed from an older log keeps that log's columns.
        writer = csv.DictWriter(log_file, header, extrasaction="ignore")
        if log_path.stat().st_size == 0:
            writer.writeheader()
    n = len(data)
    start = time.perf_counter()

    def plan():
        """Every batch's faces, augmentation and degradation seed, with the data position and random states
        after it: what a checkpoint taken after this step must store so a resumed run draws exactly the next
        batch (prefetching runs ahead of the step)."""
        pos, epoch = state["pos"], state["epoch"]
        order = _epoch_order(cfg.seed, epoch, n)
        while True:
            if pos + cfg.batch_size > n:
                epoch, pos = epoch + 1, 0
                order = _epoch_order(cfg.seed, epoch, n)
            index = order[pos : pos + min(cfg.batch_size, n)]
            ops = draw_ops(aug_gen, len(index), cfg.augment)  # drawn for the global batch on every rank
            # Per-face seeds for the glasses augmentation, drawn only when it is on (runs without it, and their
            # checkpoints, keep the random stream they had).
            seeds = torch.randint(0, 2**31 - 1, (len(index),), generator=aug_gen) if cfg.glasses > 0 else None
            batch_seed = int(torch.randint(0, 2**62, (1,), generator=aug_gen)) if seeded and real else None
            pos += len(index)
            index, ops = index[dist.rank :: dist.world], ops[dist.rank :: dist.world]
            if seeds is not None:
                seeds = seeds[dist.rank :: dist.world]
            degrade_seed = None if batch_seed is None else [batch_seed, dist.rank]
            yield (index, ops, seeds, degrade_seed), {"pos": pos, "epoch": epoch}, {"augment": aug_gen.get_state()}

    def batches():
        for (index, ops, seeds, degrade_seed), position, after in plan():
            tensors = data.batch(index, ops, seeds, degrade_seed)
            if real is not None and not seeded:
                after["degrade"] = json.dumps(real.get_state())
            yield tensors, position, after

    if cfg.workers > 0:
        feed: Prefetcher | WorkerBatches = WorkerBatches(data, plan(), cfg.workers, cfg.prefetch,
                                                         pin=device.type == "cuda")  # fmt: skip
    else:
        feed = Prefetcher(batches(), cfg.prefetch)
    rng_after = {"augment": aug_gen.get_state(), "torch": torch.get_rng_state()}
    if seeded:
        rng_after["batch_seeds"] = True
    elif real is not None:
        rng_after["degrade"] = json.dumps(real.get_state())
    window_t, window_imgs = time.perf_counter(), 0
    terms: dict[str, float] = {}
    fine_weight = paste_weight(mcfg.size).to(device) if cfg.fine_region == "paste" else None
    try:
        net.train()
        while state["step"] < cfg.steps:
            tensors, position, after = feed.next()
            state.update(position)
            lr_up, hr, heat, parse, *pair = (t.to(device, non_blocking=True) for t in tensors)
            projection = (pair[0], pair[1]) if cfg.loss == "projected" else None
            pair = [] if projection is not None else pair
            lr_up = lr_up.contiguous(memory_format=memory_format)
            ctx = torch.autocast(device.type, dtype=dtype) if dtype else contextlib.nullcontext()
            with ctx:
                if pair:  # both frames in one forward: one pass through DDP, one batch of statistics
                    both = net(torch.cat([lr_up, pair[0].contiguous(memory_format=memory_format)]))
                    b = len(lr_up)
                    output = type(both)(*(None if f is None else f[:b] for f in both))
                    out_next = both.image[b:]
                else:
                    output = net(lr_up)
            # The terms come back as floats: a sync point.
            loss, terms = fsrnet_loss(output, hr, heat, parse, mcfg, cfg.alpha, cfg.beta, cfg.loss, lr_up, projection,
                                      cfg.raw_weight, cfg.pixel_loss, fine_weight)  # fmt: skip
            if d_net is not None:
                cond = lr_up[:, :3]  # the discriminator's condition: the current frame's input
                with ctx:
                    fake_logit = d_net(output.image, cond).float()
                adv = F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
                loss = loss + cfg.adv_weight * adv
                terms["adv"] = float(adv.detach())
                if vgg is not None:
                    with ctx:
                        perc = perceptual_loss(vgg, output.image.float(), hr).float()
                    loss = loss + cfg.perceptual_weight * perc
                    terms["perceptual"] = float(perc.detach())
            if id_net is not None:
                with ctx:
                    ident = identity_loss(id_net, output.image.float(), hr).float()
                loss = loss + cfg.identity_weight * ident
                terms["identity"] = float(ident.detach())
            if pair:
                change = (out_next.float() - pair[1]) - (output.image.float() - hr)
                stab = change.abs().mean()
                loss = loss + cfg.stability_weight * stab
                terms["stability"] = float(stab.detach())
            if d_net is not None or id_net is not None or pair:
                terms["total"] = float(loss.detach())  # the generator's whole objective, every term included
            if not math.isfinite(loss.item()):
                raise FloatingPointError(f"loss became {loss.item()} at step {state['step']}; lower --lr")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if d_net is not None and d_opt is not None:
                d_opt.zero_grad(set_to_none=True)  # also drops the grads the generator's adversarial term left
                # (Named d_real/d_fake: ``real`` is the degradation, which the batch thread still uses.)
                with ctx:
                    d_real = d_net(hr, cond).float()
                    d_fake = d_net(output.image.detach(), cond).float()
                d_loss = F.binary_cross_entropy_with_logits(d_real, torch.ones_like(d_real))
                d_loss = d_loss + F.binary_cross_entropy_with_logits(d_fake, torch.zeros_like(d_fake))
                d_loss.backward()
                d_opt.step()
                terms["disc"] = float(d_loss.detach())
            if ema is not None:
                ema.update(model)
                state["ema_updates"] = ema.updates
            state["step"] += 1
            state["images"] += cfg.batch_size
            rng_after = {**after, "torch": torch.get_rng_state(), **({"batch_seeds": True} if seeded else {})}
            window_imgs += cfg.batch_size
            step = state["step"]
            if not dist.main:
                continue
            scores: dict[str, float] = {}
            if val is not None and (step % cfg.val_every == 0 or step == cfg.steps):
                # The average, when kept, is what the run exports: its score is the one that counts.
                scores = validate(ema.model if ema is not None else model, val, device, None)
                val_history.append({"step": step, "images": state["images"], **scores})
                net.train()
            val_psnr = scores.get("psnr")
            if step % cfg.log_every == 0 or val_psnr is not None or step == cfg.steps:
                rate = window_imgs / max(time.perf_counter() - window_t, 1e-9)
                window_t, window_imgs = time.perf_counter(), 0
                assert writer is not None and log_file is not None
                row = {
                    "step": step,
                    "images": state["images"],
                    "epoch": state["epoch"],
                    "img_per_s": f"{rate:.2f}",
                    **{k: f"{terms[k]:.6g}" for k in LOSS_TERMS if k in terms},
                    **{f"val_{k}": f"{v:.5f}" if k == "ssim" else f"{v:.4f}" for k, v in scores.items()},
                }
                writer.writerow(row)
                log_file.flush()
                if progress:
                    progress({"step": step, "steps": cfg.steps, "img_per_s": rate, **terms,
                              "val_psnr": val_history[-1]["psnr"] if val_history else None})  # fmt: skip
            if step % cfg.ckpt_every == 0:
                checkpoint(out / "last.pt")
    except KeyboardInterrupt:
        # Ctrl-C (or `timeout --signal=INT`) ends a run early but cleanly: checkpoint and weights are written.
        logger.warning("interrupted at step %d; saving the checkpoint and weights", state["step"])
    finally:
        feed.close()
        if log_file:
            log_file.close()
    summary: dict[str, Any] = {
        "steps": state["step"],
        "images": state["images"],
        "val": val_history[-1] if val_history else None,
    }
    if dist.main:
        checkpoint(out / "last.pt")
        meta = weights_metadata(cfg, state, val_history, elapsed_before + time.perf_counter() - start)
        exported = ema.model if ema is not None else model
        summary["weights"] = str(save_weights(exported, out / "final.safetensors", **meta))
        (out / "val_history.json").write_text(json.dumps(val_history, indent=1))
    if dist.world > 1:
        torch.distributed.barrier()
    return summary


def weights_metadata(
    cfg: TrainConfig, state: dict[str, Any], val_history: list[dict[str, float]], seconds: float
) -> dict[str, Any]:
    """What exported weights say about how they were made (DESIGN: checkpoints describe themselves)."""
    meta: dict[str, Any] = {
        "model_name": cfg.model + ("+gan" if cfg.gan else ""),
        "training": {
            "steps": state["step"], "images_seen": state["images"], "batch_size": cfg.batch_size, "lr": cfg.lr,
            "precision": cfg.precision, "data": cfg.data_description or cfg.data, "init": cfg.init,
            "wall_seconds": round(seconds, 1),
            "losses": {
                "alpha": cfg.alpha, "beta": cfg.beta, "reduction": cfg.loss,
                **({"adv_weight": cfg.adv_weight, "perceptual": cfg.perceptual or "vgg16",
                    "perceptual_weight": cfg.perceptual_weight} if cfg.gan else {}),
                **({"identity": Path(cfg.identity).name, "identity_weight": cfg.identity_weight}
                   if cfg.identity_weight > 0 else {}),
                **({"stability_weight": cfg.stability_weight} if cfg.stability_weight > 0 else {}),
                **({"raw_weight": cfg.raw_weight} if cfg.loss == "projected" else {}),
                **({"pixel": cfg.pixel_loss} if cfg.pixel_loss != "l2" else {}),
                **({"fine_region": cfg.fine_region} if cfg.fine_region != "crop" else {}),
            },
            **({"glasses": cfg.glasses} if cfg.glasses > 0 else {}),
            **({"glasses_clear": cfg.glasses_clear} if cfg.glasses_clear > 0 else {}),
            **({"augment": cfg.augment} if cfg.augment != "paper" else {}),
            **({"ema": cfg.ema} if cfg.ema > 0 else {}),
            **({"optimizer": cfg.optimizer} if cfg.optimizer != "rmsprop" else {}),
        },
        "metrics": val_history[-1] if val_history else {},
    }  # fmt: skip
    if cfg.degradation == "real":
        deg = real_degradation_config(cfg)
        # The range of native face sizes served is measured afterwards on real video (benchmarks/real_video.py
        # --write-range) and written into the shipped file; until then it is the range trained on.
        meta["degradation"] = {"name": "real", **deg.to_dict()}
        meta["native_sides"] = list(deg.lr_sides)
        meta["input_resize"] = "opencv_cubic"
        meta["input_range"] = "RGB float in [0,1]; the face crop cut from its native pixels to 128x128, OpenCV cubic"
    else:
        meta["degradation"] = {"name": "paper", "scale": model_config(cfg.model, **cfg.model_overrides).scale}
    return meta


def export_checkpoint(checkpoint: str | Path, out: str | Path) -> Path:
    """Weights (.safetensors, with metadata) from a training checkpoint, e.g. of a run still going; the weight
    average where the run keeps one (``TrainConfig.ema``), as the run itself exports."""
    ckpt = load_checkpoint(checkpoint)
    cfg = TrainConfig.from_dict(ckpt["train_config"])
    model = FSRNet(FSRNetConfig.from_dict(ckpt["model_config"]))
    model.load_state_dict(ckpt["ema"] if "ema" in ckpt else ckpt["model"])
    meta = weights_metadata(cfg, ckpt["state"], json.loads(ckpt["val_history"]), float(ckpt.get("elapsed", 0.0)))
    return save_weights(model.eval(), out, **meta)


class Prefetcher:
    """Runs a batch generator ``depth`` batches ahead in a daemon thread; its exceptions re-raise in ``next``."""

    def __init__(self, source, depth: int) -> None:
        self._source = source
        self._depth = depth
        self._queue: queue.Queue = queue.Queue(max(depth, 1))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="train-batches", daemon=True) if depth else None
        if self._thread:
            self._thread.start()

    def _work(self) -> None:
        try:
            for item in self._source:
                while not self._stop.is_set():
                    try:
                        self._queue.put(("ok", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except BaseException as exc:
            self._queue.put(("error", exc))

    def next(self):
        if self._thread is None:
            return next(self._source)
        while True:
            try:
                kind, item = self._queue.get(timeout=1.0)
            except queue.Empty:
                if not self._thread.is_alive():
                    raise RuntimeError("training batch thread died without an error") from None
                continue
            if kind == "error":
                raise item
            return item

    def close(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)


class _PlannedBatch(torch.utils.data.Dataset):
    """A batch assembled in a worker process from its plan entry (``train``'s ``plan``)."""

    def __init__(self, data: TrainBatches) -> None:
        self.data = data

    def __len__(self) -> int:  # the plan is endless; DataLoader asks only where a length is used
        return len(self.data)

    def __getitem__(self, item):
        (index, ops, seeds, degrade_seed), position, after = item
        return self.data.batch(index, ops, seeds, degrade_seed), position, after


def _as_is(item):
    return item


class WorkerBatches:
    """Batches assembled by ``workers`` processes (a ``torch.utils.data.DataLoader`` over the plan), in plan
    order; a worker's exception re-raises in ``next``, and a worker silent for ``timeout`` seconds raises too."""

    def __init__(self, data: TrainBatches, plan, workers: int, depth: int, pin: bool = False,
                 timeout: float = 300.0) -> None:  # fmt: skip
        import multiprocessing

        # fork shares the in-memory training set with the workers instead of pickling ~1 GB to each; where
        # the platform has no fork the default context does the pickling.
        ctx = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
        self._loader = torch.utils.data.DataLoader(
            _PlannedBatch(data), sampler=plan, batch_size=None, collate_fn=_as_is, num_workers=workers,
            prefetch_factor=max(depth, 1), pin_memory=pin, timeout=timeout, multiprocessing_context=ctx,
        )  # fmt: skip
        import cv2

        # The workers are forked with OpenCV's thread pool at rest, and inherit one thread each (a process per
        # core): a child that resizes its pool after forking from a parent whose pool had run hangs.
        threads = cv2.getNumThreads()
        cv2.setNumThreads(1)
        try:
            self._iter = iter(self._loader)  # forks the workers
        finally:
            cv2.setNumThreads(threads)

    def next(self):
        return next(self._iter)

    def close(self) -> None:
        shutdown = getattr(self._iter, "_shutdown_workers", None)
        if shutdown is not None:
            shutdown()
        self._iter = None


def model_fingerprint(model: torch.nn.Module) -> np.ndarray:
    """Concatenated parameters as one float64 vector (comparing replicas in tests)."""
    return torch.cat([p.detach().double().flatten().cpu() for p in model.parameters()]).numpy()
