"""Named model configurations: ``create_model(name, **overrides)`` and ``list_models()``.

Each entry is a small builder registered by decorator (the timm pattern); names are explicit, so a typo
fails with a close-match hint instead of silently building something else.
"""

from __future__ import annotations

from collections.abc import Callable

from vidfsr.errors import ConfigError, close_match_hint

from .fsrnet import FSRNet, FSRNetConfig, count_macs

_REGISTRY: dict[str, Callable[[], FSRNetConfig]] = {}


def register(name: str) -> Callable[[Callable[[], FSRNetConfig]], Callable[[], FSRNetConfig]]:
    def deco(fn: Callable[[], FSRNetConfig]) -> Callable[[], FSRNetConfig]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} registered twice")
        _REGISTRY[name] = fn
        return fn

    return deco


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_config(name: str, **overrides: object) -> FSRNetConfig:
    """The config registered under ``name`` with ``overrides`` applied (keys must be config fields)."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}{close_match_hint(name, _REGISTRY)}; see list_models()")
    cfg = _REGISTRY[name]()
    return cfg.replace(**overrides) if overrides else cfg


def create_model(name: str, **overrides: object) -> FSRNet:
    """Build an untrained network by registered name; use ``vidfsr.models.io.load_model`` for weights."""
    return FSRNet(model_config(name, **overrides))


def describe_model(name: str) -> dict[str, str]:
    """Parameters and GMAC per 128x128 face, for ``vidfsr info --model``."""
    model = create_model(name)
    params = sum(p.numel() for p in model.parameters())
    return {
        "model": name,
        "parameters": f"{params / 1e6:.2f} M",
        "GMAC / face": f"{count_macs(model, model.cfg.size) / 1e9:.2f}",
        "config": ", ".join(f"{k}={v}" for k, v in model.cfg.to_dict().items()),
    }


# The paper's network as published: no global residual (its Fig. 2 has none). The residual variant below adds
# the input to the coarse and final outputs, which converges much faster on a CPU budget; the lite models use it.
PAPER = FSRNetConfig(global_residual=False)
# CPU variant: a quarter of the paper's compute paths, one hourglass; ~0.5 M parameters.
LITE = FSRNetConfig(channels=32, coarse_blocks=2, encoder_blocks=6, decoder_blocks=2, prior_channels=64, hourglasses=1)

for _scale in (2, 4, 8):

    def _paper(s: int = _scale) -> FSRNetConfig:
        return PAPER.replace(scale=s)

    def _lite(s: int = _scale) -> FSRNetConfig:
        return LITE.replace(scale=s)

    register(f"fsrnet_x{_scale}")(_paper)
    register(f"fsrnet_lite_x{_scale}")(_lite)


@register("fsrnet_residual_x8")
def _paper_residual() -> FSRNetConfig:
    """The paper network plus a global residual (not in the paper): a named variant, not the paper model."""
    return PAPER.replace(global_residual=True)


@register("fsrnet_baseline_v1_x8")
def _baseline_v1() -> FSRNetConfig:
    """Paper Baseline_v1: no prior branch."""
    return PAPER.replace(prior=False)


@register("fsrnet_baseline_v2_x8")
def _baseline_v2() -> FSRNetConfig:
    """Paper Baseline_v2: prior branch trained without prior supervision."""
    return PAPER.replace(prior_supervised=False)


@register("fsrnet_landmarks_x8")
def _landmarks_only() -> FSRNetConfig:
    return PAPER.replace(parsing=0)


@register("fsrnet_parsing_x8")
def _parsing_only() -> FSRNetConfig:
    return PAPER.replace(landmarks=0)


for _hg in (1, 4):

    def _hourglasses(n: int = _hg) -> FSRNetConfig:
        return PAPER.replace(hourglasses=n)

    register(f"fsrnet_hg{_hg}_x8")(_hourglasses)


@register("fsrnet_lite_baseline_v1_x8")
def _lite_baseline_v1() -> FSRNetConfig:
    """Lite without the prior branch, for the lite ablation."""
    return LITE.replace(prior=False)


@register("fsrnet_lite_real")
def _lite_real() -> FSRNetConfig:
    """Lite trained on the real-world degradation (``--degradation real``): any native LR side in 12-64 px.

    The network has no scale of its own (its input is always 128x128); ``scale`` is nominal here, and the
    pipeline routes faces by the ``native_sides`` range in the weights' metadata instead.
    """
    return LITE.replace(scale=4)


@register("fsrnet_real")
def _real() -> FSRNetConfig:
    """The paper-size network (3.2 M parameters, 64 channels, two hourglasses) for the real-world degradation,
    with the lite models' global residual: the capacity every CPU fine-tune of the lite network lacked (their
    real-video gains all landed within hundredths of a dB of each other; BENCHMARKS.md, sessions 10-19). Six
    times the lite network's multiply-adds (3.8x its CPU time a face): trained on a GPU (docs/training/DEVICE.md)."""
    return PAPER.replace(scale=4, global_residual=True)


@register("fsrnet_real_grown")
def _real_grown() -> FSRNetConfig:
    """``fsrnet_real`` with one hourglass: what the shipped lite weights grow into without losing what they
    learned (``--init`` with them: ``expand_width`` doubles both widths, ``expand_blocks`` adds the blocks; the
    network starts with the lite one's output and learns what the capacity adds). For a short GPU budget, where
    a run from scratch would spend its time catching up (docs/training/DEVICE.md)."""
    return PAPER.replace(scale=4, global_residual=True, hourglasses=1)


@register("fsrnet_lite_real_deep")
def _lite_real_deep() -> FSRNetConfig:
    """``fsrnet_lite_real`` with the paper's 12 encoder blocks (at 64x64, cheap) and a third decoder block: more
    capacity for compressed faces at a third more compute. Grown from ``fsrnet_lite_real`` weights
    (``expand_blocks``: the new blocks start as the identity), then trained on the real degradation."""
    return LITE.replace(scale=4, encoder_blocks=12, decoder_blocks=3)


@register("fsrnet_lite_real_k3")
def _lite_real_k3() -> FSRNetConfig:
    """``fsrnet_lite_real`` fed three frames of the tracked face (t, t-1, t-2 cut at the current crop box):
    the video-SR route for compressed input, where one frame's quantisation has destroyed detail that its
    neighbours kept (issue 12 item 6). Trained on ``realdeg`` bursts, started from ``fsrnet_lite_real``."""
    return LITE.replace(scale=4, frames=3)
