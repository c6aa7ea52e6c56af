"""FSRGAN's extra parts: a CONDITIONAL discriminator C(y, x) and the VGG-16 perceptual loss.

The discriminator sees the SR (or HR) face together with the upsampled LR input it came from, as the paper
defines it, so it judges whether y is a plausible high-resolution version of *this* x, not just a face.
VGG-16 is defined here (no torchvision) with torchvision's layer indices, so the standard ImageNet
``vgg16-397923af.pth`` state_dict loads into it unchanged.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vidfsr.errors import ConfigError, InputNotFoundError

VGG16_FILE = "vgg16-397923af.pth"
# torchvision's vgg16().features layout up to relu5_3 (index 29).
_VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ConditionalDiscriminator(nn.Module):
    """C(y, x): strided convs over the 6-channel pair [y, x] down to 4x4, then a linear logit."""

    def __init__(self, channels: int = 64, size: int = 128) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin, c = 6, channels
        for i in range(5):  # 128 -> 4
            layers += [nn.Conv2d(cin, c, 4, stride=2, padding=1, bias=i == 0)]
            if i:
                layers.append(nn.BatchNorm2d(c))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            cin, c = c, min(c * 2, 512)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin * (size // 32) ** 2, 1)

    def forward(self, y: Tensor, x: Tensor) -> Tensor:
        return self.head(self.features(torch.cat([y, x], dim=1)).flatten(1)).squeeze(1)


class VGG16Features(nn.Module):
    """VGG-16 up to relu5_3, frozen; input RGB in [0, 1]."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        cin = 3
        for v in _VGG16_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=False)]
                cin = int(v)
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        return self.features((x - self.mean) / self.std)

    def load_imagenet(self, path: str | Path) -> VGG16Features:
        state = torch.load(path, map_location="cpu", weights_only=True)
        ours = {k: v for k, v in state.items() if k.startswith("features.") and int(k.split(".")[1]) < 30}
        missing = set(self.features.state_dict()) - {k.removeprefix("features.") for k in ours}
        if missing:
            raise ConfigError(f"{path} is not a torchvision VGG-16 state_dict (missing {sorted(missing)[:3]})")
        self.load_state_dict({**ours, "mean": self.mean, "std": self.std})
        return self.eval()


def find_vgg16(spec: str) -> Path | None:
    """``none`` -> None; a path -> it; empty -> the local torch hub cache, or an error saying how to get it."""
    if spec == "none":
        return None
    if spec:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise InputNotFoundError(f"{path}: VGG-16 weights not found")
        return path
    hub = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch")) / "hub" / "checkpoints" / VGG16_FILE
    if hub.is_file():
        return hub
    raise ConfigError(
        f"FSRGAN's perceptual loss needs ImageNet VGG-16 weights ({VGG16_FILE}, torchvision format) and none "
        f"were found at {hub}; pass --perceptual PATH, or --perceptual none to train without the perceptual term"
    )


class PriorFeatures(nn.Module):
    """Face-structure features for a perceptual loss that needs no download: the prior-estimation network
    (stem, stacked hourglasses, joint layer) of trained FSRNet weights, frozen. It was trained to find
    landmarks and face parts, so matching its features pulls the eyes, nose and mouth of the SR face to where
    the HR face has them, what VGG's ImageNet features do only indirectly. Input: RGB [0,1], as FSRNet's."""

    def __init__(self, prior: nn.Module) -> None:
        super().__init__()
        self.stem, self.hourglasses, self.joint = prior.stem, prior.hourglasses, prior.joint
        self.requires_grad_(False)
        self.eval()

    def forward(self, x: Tensor) -> Tensor:
        feat = self.stem(x)
        for hourglass in self.hourglasses:
            feat = hourglass(feat)
        return self.joint(feat)

    def train(self, mode: bool = True) -> PriorFeatures:
        return super().train(False)  # frozen, batch-norm statistics included


def perceptual_network(spec: str) -> tuple[nn.Module | None, str]:
    """The perceptual term's feature network from ``--perceptual``: ``none``; ``prior:WEIGHTS`` (a frozen
    FSRNet prior branch, e.g. ``prior:fsrnet_lite_real``); ``vgg16:PATH``, a bare PATH or empty (VGG-16
    relu5_3, the paper's choice, from a file or the local torch hub cache). Returns (network, description)."""
    if spec == "none":
        return None, "none"
    if spec.startswith("prior:"):
        from .io import load_model

        name = spec.removeprefix("prior:")
        model = load_model(name)
        if model.prior is None:
            raise ConfigError(f"--perceptual {spec}: {name} has no prior-estimation branch")
        return PriorFeatures(model.prior), f"FSRNet prior features ({name})"
    path = find_vgg16(spec.removeprefix("vgg16:"))
    if path is None:
        return None, "none"
    return VGG16Features().load_imagenet(path), f"VGG-16 relu5_3 ({path.name})"


def perceptual_loss(vgg: nn.Module, sr: Tensor, hr: Tensor) -> Tensor:
    with torch.no_grad():
        target = vgg(hr)
    return F.mse_loss(vgg(sr), target)
