"""A small face-identity network trained here, offline, for an identity term in FSRNet/FSRGAN training.

Why it exists: on every set measured, FSRNet and FSRGAN move faces *away* from the person in dlib's identity
embedding although they are closer in PSNR and landmarks (BENCHMARKS.md, FSRGAN); neither the pixel, prior,
adversarial nor prior-feature perceptual term sees identity. Public face-recognition weights cannot be
downloaded here, and dlib's ResNet is the metric (training against it would teach to the test), so this
network is trained from the identities of the prepared LFW crops (``vidfsr prepare`` keeps the names) with an
additive angular margin (ArcFace, Deng et al. 2019) and judged on identities it never saw. The loss it gives,
``identity_loss``, is the cosine distance between the embeddings of the SR and the HR face.

Input: RGB float in [0, 1], the 128x128 crops of the crop rule (the framing FSRNet's outputs have).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidfsr.config import from_dict
from vidfsr.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

FORMAT = "vidfsr-identity-1"
CHECKPOINT_KIND = "vidfsr-identity-checkpoint-1"
INPUT_RANGE = "RGB float in [0,1]; a 128x128 face crop framed by the crop rule"


@dataclass(frozen=True)
class IdentityNetConfig:
    """Attributes:
    width: channels of the first stage (doubled at each of the four stages).
    embed: embedding size.
    size: input side in pixels.
    """

    width: int = 32
    embed: int = 128
    size: int = 128

    def __post_init__(self) -> None:
        if self.width < 4 or self.embed < 8 or self.size % 32:
            raise ConfigError("identity net: width >= 4, embed >= 8, size a multiple of 32")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IdentityNetConfig:
        return from_dict(cls, data, "identity net option")


class _Block(nn.Module):
    """Pre-activation-free basic residual block (ArcFace's IR block without the SE part)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.BatchNorm2d(cin),
            nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.PReLU(cout),
            nn.Conv2d(cout, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.short = (
            nn.Identity()
            if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x) + self.short(x)


class IdentityNet(nn.Module):
    """128 px face -> L2-normalised embedding; a 4-stage residual net with a flattened 4x4 head (the spatial
    layout of a face matters for identity: where the features are, not only which)."""

    def __init__(self, cfg: IdentityNetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or IdentityNetConfig()
        w = cfg.width
        self.stem = nn.Sequential(nn.Conv2d(3, w, 3, 2, 1, bias=False), nn.BatchNorm2d(w), nn.PReLU(w))
        blocks: list[nn.Module] = []
        cin = w
        for k in range(4):
            cout = w * 2**k
            blocks += [_Block(cin, cout, 2), _Block(cout, cout, 1)]
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        side = cfg.size // 32
        self.head = nn.Sequential(
            nn.BatchNorm2d(cin), nn.Dropout(0.2), nn.Flatten(), nn.Linear(cin * side * side, cfg.embed),
            nn.BatchNorm1d(cfg.embed),
        )  # fmt: skip
        self.register_buffer("mean", torch.tensor([0.5, 0.5, 0.5]).view(1, 3, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.cfg.size:
            x = F.interpolate(x, size=(self.cfg.size, self.cfg.size), mode="bilinear", align_corners=False)
        return F.normalize(self.head(self.blocks(self.stem((x - self.mean) * 2))).float(), dim=1)


class ArcMargin(nn.Module):
    """Additive angular margin logits: cos(theta + m) for the true class, cos(theta) for the others, times s."""

    def __init__(self, embed: int, classes: int, s: float = 30.0, m: float = 0.3) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(classes, embed) * 0.01)
        self.s, self.m = s, m

    def forward(self, emb: Tensor, labels: Tensor) -> Tensor:
        cos = F.linear(emb, F.normalize(self.weight, dim=1)).clamp(-1 + 1e-6, 1 - 1e-6)
        target = torch.cos(torch.acos(cos.gather(1, labels[:, None])) + self.m)
        return self.s * cos.scatter(1, labels[:, None], target)


def identity_loss(net: nn.Module, sr: Tensor, hr: Tensor) -> Tensor:
    """Mean cosine distance between the identity embeddings of SR and HR faces (HR side without gradient)."""
    with torch.no_grad():
        target = net(hr)
    return (1 - (net(sr) * target).sum(1)).mean()


# ------------------------------------------------------------------------------------------------ data


@dataclass(frozen=True)
class IdentityFaces:
    images: np.ndarray  # [N,128,128,3] uint8 RGB
    labels: np.ndarray  # [N] int64, 0..classes-1
    names: list[str]  # class index -> identity name


def load_identities(root: str | Path, val_share: float = 0.1, seed: int = 0) -> tuple[IdentityFaces, IdentityFaces]:
    """The prepared faces with a known identity, split BY IDENTITY: validation identities (a ``val_share`` of
    those with at least two faces, chosen by a hash of the name) never appear in training."""
    from .dataset_format import read_crops, read_manifest

    rows = [r for r in read_manifest(root) if r.get("identity")]
    if not rows:
        raise InputError(f"{root}: no faces with a known identity (LFW-style names); nothing to train on")
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["identity"]] = counts.get(r["identity"], 0) + 1

    def held_out(name: str) -> bool:
        return counts[name] >= 2 and (zlib.crc32(f"{seed}:{name}".encode()) % 10_000) < val_share * 10_000

    def build(chosen: list[dict]) -> IdentityFaces:
        names = sorted({r["identity"] for r in chosen})
        index = {n: i for i, n in enumerate(names)}
        images = read_crops(root, [r["crop"] for r in chosen])
        return IdentityFaces(images, np.array([index[r["identity"]] for r in chosen], np.int64), names)

    return build([r for r in rows if not held_out(r["identity"])]), build([r for r in rows if held_out(r["identity"])])


def augment(images: np.ndarray, rng: np.random.Generator) -> Tensor:
    """Flip, small shift and scale, brightness/contrast, and for half the faces a downscale to 20-128 px and
    back (area down, cubic up): the network should know a person also from the soft faces it will judge."""
    import cv2

    out = np.empty(images.shape, np.float32)
    for i, img in enumerate(images):
        if rng.random() < 0.5:
            img = img[:, ::-1]
        s = rng.uniform(0.92, 1.08)
        angle = rng.uniform(-8, 8)
        m = cv2.getRotationMatrix2D((64 + rng.uniform(-4, 4), 64 + rng.uniform(-4, 4)), angle, s)
        img = cv2.warpAffine(np.ascontiguousarray(img), m, (128, 128), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT101)  # fmt: skip
        if rng.random() < 0.5:
            side = round(math.exp(rng.uniform(math.log(20), math.log(128))))
            img = cv2.resize(cv2.resize(img, (side, side), interpolation=cv2.INTER_AREA), (128, 128),
                             interpolation=cv2.INTER_CUBIC)  # fmt: skip
        f = img.astype(np.float32) / 255
        f = (f - f.mean()) * rng.uniform(0.8, 1.2) + f.mean() + rng.uniform(-0.08, 0.08)
        out[i] = np.clip(f, 0, 1)
    return torch.from_numpy(out).permute(0, 3, 1, 2).contiguous()


# ------------------------------------------------------------------------------------------------ evaluation


def embed(net: IdentityNet, images: np.ndarray, batch: int = 64) -> np.ndarray:
    """Embeddings of uint8 RGB faces [N,H,W,3] (eval mode, no augmentation)."""
    net.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            x = torch.from_numpy(images[i : i + batch]).permute(0, 3, 1, 2).float() / 255
            outs.append(net(x).numpy())
    return np.concatenate(outs) if outs else np.zeros((0, net.cfg.embed), np.float32)


def verification_pairs(labels: np.ndarray, seed: int = 0, negatives_per_positive: int = 1) -> np.ndarray:
    """[P,3] rows (i, j, same): every same-identity pair and as many random different-identity pairs."""
    rng = np.random.default_rng(seed)
    pos = [(i, j, 1) for i in range(len(labels)) for j in range(i + 1, len(labels)) if labels[i] == labels[j]]
    neg: list[tuple[int, int, int]] = []
    while len(neg) < negatives_per_positive * len(pos):
        i, j = rng.integers(0, len(labels), 2)
        if labels[i] != labels[j]:
            neg.append((int(i), int(j), 0))
    return np.array(pos + neg, np.int64).reshape(-1, 3)


def verification_auc(distances: np.ndarray, same: np.ndarray) -> float:
    """ROC AUC of "same person" from distances (lower = same): the chance a same pair is closer than a
    different one, ties counted half."""
    pos, neg = distances[same == 1], np.sort(distances[same == 0])
    if not len(pos) or not len(neg):
        return float("nan")
    above = len(neg) - np.searchsorted(neg, pos, "right")
    ties = np.searchsorted(neg, pos, "right") - np.searchsorted(neg, pos, "left")
    return float((above + 0.5 * ties).sum() / (len(pos) * len(neg)))


def evaluate_identity(net: IdentityNet, faces: IdentityFaces, degrade_side: int = 0) -> dict[str, float]:
    """Verification on held-out identities: AUC and accuracy at the best threshold, on the HR faces or (with
    ``degrade_side``) on faces shrunk to that side and cubic-upsampled back."""
    import cv2

    images = faces.images
    if degrade_side:
        images = np.stack([cv2.resize(cv2.resize(im, (degrade_side,) * 2, interpolation=cv2.INTER_AREA), (128, 128),
                                      interpolation=cv2.INTER_CUBIC) for im in images])  # fmt: skip
    if len(np.unique(faces.labels)) < 2 or len(np.unique(faces.labels)) == len(faces.labels):
        return {"auc": float("nan"), "accuracy": float("nan"), "pairs": 0}  # no same or no different pair
    e = embed(net, images)
    pairs = verification_pairs(faces.labels)
    d = 1 - (e[pairs[:, 0]] * e[pairs[:, 1]]).sum(1)
    same = pairs[:, 2]
    thresholds = np.unique(d)
    acc = max(float(((d <= t) == (same == 1)).mean()) for t in thresholds[:: max(1, len(thresholds) // 400)])
    return {"auc": verification_auc(d, same), "accuracy": acc, "pairs": len(pairs)}


# ------------------------------------------------------------------------------------------------ training


@dataclass(frozen=True)
class IdentityTrainConfig:
    """Attributes:
    data: folder made by ``vidfsr prepare`` (faces with identity names, e.g. LFW).
    out: run folder (last.pt, train_log.csv, identity.safetensors).
    steps: optimiser steps in total (a resumed run continues up to this).
    batch_size, lr, weight_decay: SGD with momentum 0.9 and a cosine schedule.
    margin, scale: ArcFace's m and s.
    val_share: share of the identities with >= 2 faces held out for verification.
    val_every, ckpt_every, log_every: in steps.
    threads: torch intra-op threads (0: torch's default).
    seed: data order, augmentation, initialisation and the identity split.
    net: the network's config.
    """

    data: str = ""
    out: str = "runs/identity"
    steps: int = 6000
    batch_size: int = 64
    lr: float = 0.1
    weight_decay: float = 5e-4
    margin: float = 0.3
    scale: float = 30.0
    val_share: float = 0.1
    val_every: int = 500
    ckpt_every: int = 250
    log_every: int = 50
    threads: int = 0
    seed: int = 0
    net: IdentityNetConfig = dataclasses.field(default_factory=IdentityNetConfig)

    def __post_init__(self) -> None:
        if isinstance(self.net, dict):
            object.__setattr__(self, "net", IdentityNetConfig.from_dict(self.net))
        if self.steps < 0 or self.batch_size < 2 or not 0 < self.val_share < 1:
            raise ConfigError("identity training: steps >= 0, batch_size >= 2, 0 < val_share < 1")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "net": self.net.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IdentityTrainConfig:
        return from_dict(cls, data, "identity training option")


def save_identity_weights(net: IdentityNet, path: str | Path, **meta: Any) -> Path:
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().float().contiguous().cpu() for k, v in net.state_dict().items()}
    metadata = {"format": FORMAT, "arch": json.dumps(net.cfg.to_dict()), "input_range": INPUT_RANGE,
                **{k: v if isinstance(v, str) else json.dumps(v) for k, v in meta.items()}}  # fmt: skip
    tmp = path.with_suffix(".tmp")
    save_file(state, str(tmp), metadata=metadata)
    tmp.replace(path)
    return path


def load_identity_net(path: str | Path) -> IdentityNet:
    """A frozen identity network from its weights file (eval mode, no gradients to its parameters)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{path}: identity weights not found (train them with 'vidfsr train-identity')")
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    if meta.get("format") != FORMAT:
        raise InputError(f"{path} is not a vidfsr identity weights file (format {meta.get('format')!r})")
    net = IdentityNet(IdentityNetConfig.from_dict(json.loads(meta["arch"])))
    net.load_state_dict(load_file(str(path)))
    return net.eval().requires_grad_(False)


ProgressFn = Callable[[dict[str, Any]], None]


def train_identity(cfg: IdentityTrainConfig, resume: str | Path | None = None,
                   progress: ProgressFn | None = None) -> dict[str, Any]:  # fmt: skip
    """Train the identity network; checkpoints carry the config and every random state, so a run resumes."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    train_set, val_set = load_identities(cfg.data, cfg.val_share, cfg.seed)
    classes = len(train_set.names)
    if not len(val_set.images):
        logger.warning("no held-out identities (too few people with two faces): training without validation")
    torch.manual_seed(cfg.seed)
    net = IdentityNet(cfg.net)
    head = ArcMargin(cfg.net.embed, classes, cfg.scale, cfg.margin)
    params = list(net.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay, nesterov=True)
    step, rng_state = 0, None
    if resume is not None:
        ckpt = torch.load(resume, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("kind") != CHECKPOINT_KIND:
            raise InputError(f"{resume} is not a vidfsr identity checkpoint")
        net.load_state_dict(ckpt["net"])
        head.load_state_dict(ckpt["head"])
        opt.load_state_dict(ckpt["opt"])
        step = int(ckpt["step"])
        torch.set_rng_state(ckpt["torch_rng"])
        rng_state = json.loads(ckpt["np_rng"])
    rng = np.random.default_rng(cfg.seed)
    if rng_state is not None:
        rng.bit_generator.state = rng_state
    log_path = out / "train_log.csv"
    new_log = not log_path.exists() or resume is None
    log = open(log_path, "w" if new_log else "a", newline="")  # noqa: SIM115 (closed in finally)
    writer = csv.writer(log)
    if new_log:
        writer.writerow(["step", "loss", "train_acc", "lr", "img_per_s", "val_auc", "val_acc", "val_auc_deg24"])
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=1))
    warmup = min(200, max(1, cfg.steps // 20))

    def lr_at(s: int) -> float:
        if s < warmup:
            return cfg.lr * (s + 1) / warmup
        return 0.5 * cfg.lr * (1 + math.cos(math.pi * (s - warmup) / max(1, cfg.steps - warmup)))

    def save_ckpt() -> None:
        state = {"kind": CHECKPOINT_KIND, "config": json.dumps(cfg.to_dict()), "step": step, "net": net.state_dict(),
                 "head": head.state_dict(), "opt": opt.state_dict(), "torch_rng": torch.get_rng_state(),
                 "np_rng": json.dumps(rng.bit_generator.state)}  # fmt: skip
        tmp = out / "last.tmp"
        torch.save(state, tmp)
        tmp.replace(out / "last.pt")

    best: dict[str, float] = {}
    losses: list[float] = []
    hits: list[float] = []
    t0, seen = time.perf_counter(), 0
    try:
        while step < cfg.steps:
            net.train()
            idx = rng.integers(0, len(train_set.images), cfg.batch_size)
            x = augment(train_set.images[idx], rng)
            y = torch.from_numpy(train_set.labels[idx])
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                emb = net(x)
            logits = head(emb, y)
            loss = F.cross_entropy(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            seen += len(idx)
            losses.append(float(loss.detach()))
            hits.append(float((logits.argmax(1) == y).float().mean()))
            val = ("", "", "")
            if len(val_set.images) and (step % cfg.val_every == 0 or step == cfg.steps):
                hr = evaluate_identity(net, val_set)
                deg = evaluate_identity(net, val_set, degrade_side=24)
                val = (f"{hr['auc']:.4f}", f"{hr['accuracy']:.4f}", f"{deg['auc']:.4f}")
                best = {"val_auc": hr["auc"], "val_accuracy": hr["accuracy"], "val_auc_deg24": deg["auc"],
                        "val_pairs": hr["pairs"], "step": step}  # fmt: skip
                logger.info("step %d: val AUC %.4f (24 px faces: %.4f)", step, hr["auc"], deg["auc"])
            if step % cfg.log_every == 0 or val[0]:
                rate = seen / (time.perf_counter() - t0)
                writer.writerow([step, f"{np.mean(losses):.4f}", f"{np.mean(hits):.4f}", f"{lr_at(step - 1):.5f}",
                                 f"{rate:.1f}", *val])  # fmt: skip
                log.flush()
                if progress:
                    progress({"step": step, "steps": cfg.steps, "loss": float(np.mean(losses)), "img_per_s": rate})
                losses, hits = [], []
                t0, seen = time.perf_counter(), 0
            if step % cfg.ckpt_every == 0 or step == cfg.steps:
                save_ckpt()
    except KeyboardInterrupt:
        save_ckpt()
        logger.info("stopped at step %d; resume with --resume %s", step, out / "last.pt")
    finally:
        log.close()
    weights = save_identity_weights(
        net, out / "identity.safetensors", training=json.dumps(cfg.to_dict()), steps=str(step),
        training_data=f"{cfg.data}: {len(train_set.images)} faces of {classes} identities; "
        f"{len(val_set.images)} faces of {len(val_set.names)} held-out identities for validation",
        metrics=json.dumps(best),
    )  # fmt: skip
    return {"weights": str(weights), "step": step, **best}
