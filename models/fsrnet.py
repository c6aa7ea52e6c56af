"""FSRNet (Chen, Tai et al., CVPR 2018): face SR with landmark-heatmap and parsing-map priors.

The input is the LR face bicubic-upsampled to 128x128 (RGB, [0, 1]); the network is the same for every scale
factor, only the training degradation differs. Every structural choice lives in :class:`FSRNetConfig`, so the
paper's ablations and the CPU "lite" variant are configs, not forks. Each block is built anew in a loop: a
``[block] * n`` list would share one set of weights between all n blocks.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import Tensor, nn

from vidfsr.config import from_dict
from vidfsr.errors import ConfigError


@dataclass(frozen=True)
class FSRNetConfig:
    """Architecture of one FSRNet variant.

    Attributes:
        scale: LR factor the weights are trained for (2, 4 or 8: LR side 64, 32 or 16).
        size: HR side in pixels; the prior maps are predicted at size // 2.
        channels: width of the coarse and fine SR networks (paper: 64).
        coarse_blocks: residual blocks of the coarse SR network (paper: 3).
        encoder_blocks: residual blocks of the fine SR encoder (paper: 12).
        decoder_blocks: residual blocks of the fine SR decoder (paper: 3).
        prior: whether the prior estimation branch exists (False: Baseline_v1).
        prior_supervised: whether the prior maps get a loss (False: Baseline_v2).
        prior_channels: width of the hourglasses (paper: 128).
        hourglasses: number of stacked hourglasses (paper: 2).
        hourglass_depth: down-sampling levels per hourglass (paper: 4).
        landmarks: landmark heatmap channels (0: parsing-only prior).
        parsing: parsing map channels (0: landmarks-only prior).
        norm: "batch" (paper) or "none" inside residual blocks.
        global_residual: add the input to the coarse and final outputs so the networks learn the
            missing detail only; converges much faster, which matters for CPU training.
        frames: input frames of the same face (1: the paper's single image). With K > 1 the input is
            [B, 3K, H, W]: the current frame first, then frames t-1 ... t-K+1 cut at the current crop box;
            only the coarse network's first convolution sees them (it fuses them into one coarse image),
            and the global residual is the current frame.
    """

    scale: int = 8
    size: int = 128
    channels: int = 64
    coarse_blocks: int = 3
    encoder_blocks: int = 12
    decoder_blocks: int = 3
    prior: bool = True
    prior_supervised: bool = True
    prior_channels: int = 128
    hourglasses: int = 2
    hourglass_depth: int = 4
    landmarks: int = 68
    parsing: int = 7
    norm: str = "batch"
    global_residual: bool = True
    frames: int = 1

    def __post_init__(self) -> None:
        if self.scale not in (2, 4, 8):
            raise ConfigError(f"scale must be 2, 4 or 8, got {self.scale}")
        if self.norm not in ("batch", "none"):
            raise ConfigError(f"norm must be 'batch' or 'none', got {self.norm!r}")
        if self.prior and self.landmarks + self.parsing == 0:
            raise ConfigError("a prior branch needs landmarks > 0 or parsing > 0 (or set prior=False)")
        if not 1 <= self.frames <= 8:
            raise ConfigError(f"frames must be 1-8, got {self.frames}")
        if self.size % (2 ** (self.hourglass_depth + 1)):
            raise ConfigError(f"size {self.size} is not divisible by 2**(hourglass_depth+1)")

    @property
    def lr_size(self) -> int:
        return self.size // self.scale

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FSRNetConfig:
        """Build from a dict; unknown keys are errors with a close-match hint."""
        return from_dict(cls, data, "FSRNet config key")

    def replace(self, **changes: Any) -> FSRNetConfig:
        return FSRNetConfig.from_dict({**self.to_dict(), **changes})


class FSRNetOutput(NamedTuple):
    image: Tensor  # final SR image [B,3,H,W]
    coarse: Tensor  # coarse SR image [B,3,H,W]
    heatmaps: Tensor | None  # landmark heatmaps [B,L,H/2,W/2]
    parsing: Tensor | None  # parsing maps [B,P,H/2,W/2]


def _norm(channels: int, kind: str) -> nn.Module:
    return nn.BatchNorm2d(channels) if kind == "batch" else nn.Identity()


class ResBlock(nn.Module):
    """conv-norm-ReLU-conv-norm plus identity: the SR branches' block."""

    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none"),
            _norm(channels, norm),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=norm == "none"),
            _norm(channels, norm),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class Bottleneck(nn.Module):
    """Pre-activation bottleneck of the stacked-hourglass network (Newell et al.)."""

    def __init__(self, cin: int, cout: int, norm: str) -> None:
        super().__init__()
        mid = cout // 2
        self.body = nn.Sequential(
            _norm(cin, norm), nn.ReLU(inplace=True), nn.Conv2d(cin, mid, 1),
            _norm(mid, norm), nn.ReLU(inplace=True), nn.Conv2d(mid, mid, 3, padding=1),
            _norm(mid, norm), nn.ReLU(inplace=True), nn.Conv2d(mid, cout, 1),
        )  # fmt: skip
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


class Hourglass(nn.Module):
    """Recursive hourglass: a skip branch at this resolution plus a down-process-up branch."""

    def __init__(self, depth: int, channels: int, norm: str) -> None:
        super().__init__()
        self.skip = Bottleneck(channels, channels, norm)
        self.down = nn.Sequential(nn.MaxPool2d(2), Bottleneck(channels, channels, norm))
        self.inner = Hourglass(depth - 1, channels, norm) if depth > 1 else Bottleneck(channels, channels, norm)
        self.up = Bottleneck(channels, channels, norm)

    def forward(self, x: Tensor) -> Tensor:
        low = self.up(self.inner(self.down(x)))
        return self.skip(x) + nn.functional.interpolate(low, scale_factor=2.0, mode="nearest")


class PriorNet(nn.Module):
    """Prior estimation: 7x7/2 stem, bottlenecks up to prior_channels, stacked hourglasses, two 1x1 heads."""

    def __init__(self, cfg: FSRNetConfig) -> None:
        super().__init__()
        c, n = cfg.prior_channels, cfg.norm
        self.stem = nn.Sequential(
            nn.Conv2d(3, c // 2, 7, stride=2, padding=3, bias=n == "none"),
            _norm(c // 2, n),
            nn.ReLU(inplace=True),
            Bottleneck(c // 2, c, n),
            Bottleneck(c, c, n),
            Bottleneck(c, c, n),
        )
        self.hourglasses = nn.ModuleList(
            nn.Sequential(Hourglass(cfg.hourglass_depth, c, n), Bottleneck(c, c, n)) for _ in range(cfg.hourglasses)
        )
        self.joint = nn.Sequential(nn.Conv2d(c, c, 1, bias=n == "none"), _norm(c, n), nn.ReLU(inplace=True))
        self.heat_head = nn.Conv2d(c, cfg.landmarks, 1) if cfg.landmarks else None
        self.parse_head = nn.Conv2d(c, cfg.parsing, 1) if cfg.parsing else None

    def forward(self, x: Tensor) -> tuple[Tensor | None, Tensor | None]:
        feat = self.stem(x)
        for hourglass in self.hourglasses:
            feat = hourglass(feat)
        feat = self.joint(feat)
        heat = self.heat_head(feat) if self.heat_head is not None else None
        parse = self.parse_head(feat) if self.parse_head is not None else None
        return heat, parse


class FSRNet(nn.Module):
    """Coarse SR -> (fine SR encoder || prior estimation) -> fine SR decoder."""

    def __init__(self, cfg: FSRNetConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg = cfg or FSRNetConfig()
        c, n = cfg.channels, cfg.norm
        self.coarse = nn.Sequential(
            nn.Conv2d(3 * cfg.frames, c, 3, padding=1),
            nn.ReLU(inplace=True),
            *[ResBlock(c, n) for _ in range(cfg.coarse_blocks)],
            nn.Conv2d(c, 3, 3, padding=1),
        )
        self.encoder = nn.Sequential(
            nn.Conv2d(3, c, 3, stride=2, padding=1),
            nn.ReLU(inplace=True),
            *[ResBlock(c, n) for _ in range(cfg.encoder_blocks)],
            nn.Conv2d(c, c, 3, padding=1),
        )
        self.prior = PriorNet(cfg) if cfg.prior else None
        prior_maps = (cfg.landmarks + cfg.parsing) if cfg.prior else 0
        self.decoder = nn.Sequential(
            nn.Conv2d(c + prior_maps, c, 3, padding=1, bias=n == "none"),
            _norm(c, n),
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(c, c, 4, stride=2, padding=1, bias=n == "none"),
            _norm(c, n),
            nn.ReLU(inplace=True),
            *[ResBlock(c, n) for _ in range(cfg.decoder_blocks)],
            nn.Conv2d(c, 3, 3, padding=1),
        )

    def forward(self, x: Tensor) -> FSRNetOutput:
        coarse = self.coarse(x)
        if self.cfg.global_residual:
            coarse = coarse + x[:, :3]
        feat = self.encoder(coarse)
        heat = parse = None
        if self.prior is not None:
            heat, parse = self.prior(coarse)
            feat = torch.cat([feat, *(m for m in (heat, parse) if m is not None)], dim=1)
        image = self.decoder(feat)
        if self.cfg.global_residual:
            image = image + coarse
        return FSRNetOutput(image, coarse, heat, parse)


def expand_frames(state: dict[str, Tensor], frames: int) -> dict[str, Tensor]:
    """Single-frame weights as a K-frame model's starting point: the earlier frames' input weights are zero,
    so the K-frame model starts as exactly the single-frame one and learns what the other frames add."""
    w = state["coarse.0.weight"]
    if w.shape[1] == 3 * frames:
        return state
    if w.shape[1] != 3:
        raise ConfigError(f"cannot expand weights with {w.shape[1] // 3} input frames to {frames}")
    extra = torch.zeros(w.shape[0], 3 * (frames - 1), *w.shape[2:], dtype=w.dtype)
    return {**state, "coarse.0.weight": torch.cat([w, extra], 1)}


# Where each chain of residual blocks starts inside its nn.Sequential (FSRNet.__init__): the modules after a
# chain shift when the chain grows.
_BLOCK_CHAINS = {"coarse": ("coarse_blocks", 2), "encoder": ("encoder_blocks", 2), "decoder": ("decoder_blocks", 6)}


def expand_blocks(state: dict[str, Tensor], old: FSRNetConfig, new: FSRNet) -> dict[str, Tensor]:
    """Weights of a shallower FSRNet as a deeper one's starting point, with the same output.

    Every trained block keeps its place; the new residual blocks go at the end of their chain and start as the
    identity (their last normalisation's scale, or last convolution without one, at zero, as zero-init
    residual training does), so the deeper network starts exactly where the trained one is and learns only
    what the extra depth adds: capacity without retraining from scratch on a CPU budget.
    """
    target = {k: v.clone() for k, v in new.state_dict().items()}
    shifts: list[tuple[str, int, int, int]] = []
    for chain, (field, start) in _BLOCK_CHAINS.items():
        n_old, n_new = getattr(old, field), getattr(new.cfg, field)
        if n_new < n_old:
            raise ConfigError(f"cannot shrink {field} from {n_old} to {n_new}")
        shifts.append((chain, start, n_old, n_new))
    for key, value in state.items():
        chain, index, rest = [*key.split(".", 2), "", ""][:3]
        mapped = key
        for name, start, n_old, n_new in shifts:
            if chain == name and index.isdigit() and int(index) >= start + n_old:
                mapped = f"{chain}.{int(index) + n_new - n_old}.{rest}"
        if mapped not in target or target[mapped].shape != value.shape:
            raise ConfigError(f"weights {key} do not fit {new.cfg}: only block counts may differ")
        target[mapped] = value.clone()
    for chain, start, n_old, n_new in shifts:
        for i in range(start + n_old, start + n_new):
            body = sorted({int(k.split(".")[3]) for k in target if k.startswith(f"{chain}.{i}.body.")
                           and k.endswith(".weight")})  # fmt: skip
            for suffix in ("weight", "bias"):
                key = f"{chain}.{i}.body.{body[-1]}.{suffix}"
                if key in target:
                    target[key] = torch.zeros_like(target[key])
    return target


def expand_width(state: dict[str, Tensor], old: FSRNetConfig, new: FSRNet, seed: int = 0) -> dict[str, Tensor]:
    """Weights of an FSRNet as a twice-as-wide one's starting point, with the same output (Net2Net's widening).

    Each branch whose width doubles (``channels``: the SR branches; ``prior_channels``: the prior network)
    gets every channel twice, the copy after the originals; each layer that reads doubled channels splits its
    weights between the two copies at a random share in [0.25, 0.75] per weight, so the sum, and the output, is
    unchanged while the copies' gradients differ (equal halves would leave them copies forever). Batch-norm
    statistics and parameters are copied with their channels. Block counts must match (``expand_blocks``
    grows depth afterwards).
    """
    for field in ("channels", "prior_channels"):
        if getattr(new.cfg, field) not in (getattr(old, field), 2 * getattr(old, field)):
            raise ConfigError(f"{field} can only stay or double: {getattr(old, field)} -> {getattr(new.cfg, field)}")
    if old.replace(channels=new.cfg.channels, prior_channels=new.cfg.prior_channels) != new.cfg:
        raise ConfigError(f"weights of {old} do not widen into {new.cfg}: only the widths may differ")
    gen = torch.Generator().manual_seed(seed)
    target = new.state_dict()
    kinds = {name: type(m) for name, m in new.named_modules()}
    out: dict[str, Tensor] = {}
    for key, value in state.items():
        want = target[key].shape
        if value.shape == want:
            out[key] = value.clone()
            continue
        module, _, leaf = key.rpartition(".")
        transposed = kinds.get(module) is nn.ConvTranspose2d
        in_dim, out_dim = (0, 1) if transposed else (1, 0)
        v = value
        if leaf == "weight" and v.dim() == 4 and want[in_dim] != v.shape[in_dim]:
            # The doubled inputs come first (the decoder reads [features, heatmaps, parsing maps]).
            d = want[in_dim] - v.shape[in_dim]
            head, rest = v.narrow(in_dim, 0, d), v.narrow(in_dim, d, v.shape[in_dim] - d)
            share = 0.25 + 0.5 * torch.rand(head.shape, generator=gen, dtype=torch.float64)
            v = torch.cat([head * share.to(v.dtype), head * (1 - share).to(v.dtype), rest], in_dim)
        dim = out_dim if v.dim() == 4 else 0
        if v.dim() and want[dim] != v.shape[dim]:
            v = torch.cat([v, v], dim)
        if v.shape != want:
            raise ConfigError(f"weights {key} {tuple(value.shape)} do not widen to {tuple(want)}")
        out[key] = v.contiguous()
    return out


def count_macs(model: nn.Module, size: int = 128) -> int:
    """Multiply-accumulates of one forward pass on a single size x size face (convs and linears)."""
    macs = 0

    def hook(mod: nn.Module, inp: tuple[Tensor, ...], out: Tensor) -> None:
        nonlocal macs
        if isinstance(mod, nn.Conv2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * (mod.in_channels // mod.groups)
            macs += out.numel() // out.shape[0] * k
        elif isinstance(mod, nn.ConvTranspose2d):
            k = mod.kernel_size[0] * mod.kernel_size[1] * mod.out_channels
            macs += inp[0].numel() // inp[0].shape[0] * k
        elif isinstance(mod, nn.Linear):
            macs += mod.in_features * mod.out_features

    handles = [m.register_forward_hook(hook) for m in model.modules()]
    try:
        was_training = model.training
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, 3 * getattr(getattr(model, "cfg", None), "frames", 1), size, size))
        model.train(was_training)
    finally:
        for h in handles:
            h.remove()
    return macs
