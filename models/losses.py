"""FSRNet's loss (paper eq. 4): coarse + alpha * fine + beta * prior squared errors.

Eq. 4 is 1/(2N) sum_i (||y - y_c||^2 + alpha ||y - y_hat||^2 + beta ||p - p_hat||^2): squared norms summed over
each image's pixels (``reduction="paper"``). ``"mean"`` averages every term over its elements instead, which
balances the terms differently (the prior maps have 68+7 channels at 64x64, the image 3 at 128x128) and is what
the shipped lite weights were trained with.

``"relative"`` weights each face's image terms by how far its own input is from the truth (the batch's mean input
error over this face's): a mean of squared errors is dominated by the faces that start worst (small, compressed
ones), so a model trained on it neglects large clean faces and came out below a plain cubic resize of a 64 px
face (BENCHMARKS.md, session 12), while quality is judged per face in dB, a ratio of errors. The weights keep the
loss's scale (their batch mean is 1), so the prior term keeps its balance. Measured: it mends the raw output of
large faces but not what the pipeline shows after its back-projection step (``"projected"`` aims at that).

``"projected"`` measures the fine image term after the back-projection step ``vidfsr enhance`` applies to every
face (``pipelines.blend.back_project``: the output area-shrunk to the face's LR side, the residual to the input
cubic-resized back and added, in full on lossless faces and at 0.75 on compressed ones): the step restores the
low frequencies the input holds, so a model trained on plain MSE spends capacity on what the step overwrites, and
on a 64 px face came out 0.9 dB below cubic before the step and 1.5 dB above it after (BENCHMARKS.md, session
12). The step is linear, ``x + share * (input - M x M^T)`` with ``M`` the cubic-after-area matrix of the side.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .fsrnet import FSRNetConfig, FSRNetOutput


@lru_cache(maxsize=256)
def projection_matrix(side: int, size: int = 128) -> np.ndarray:
    """``M`` [size, size] with ``M x M^T`` = OpenCV's cubic resize back to ``size`` of ``x`` area-shrunk to
    ``side``: both resizes are separable and linear, so resizing identity matrices gives them exactly (the
    pipeline's ``back_project`` runs the same two OpenCV calls)."""
    shrink = cv2.resize(np.eye(size, dtype=np.float32), (size, side), interpolation=cv2.INTER_AREA)
    grow = cv2.resize(np.eye(side, dtype=np.float32), (side, size), interpolation=cv2.INTER_CUBIC)
    return grow @ shrink


def back_projected(image: Tensor, model_input: Tensor, sides: Tensor, shares: Tensor) -> Tensor:
    """``image`` [B,3,S,S] after one back-projection step towards ``model_input`` (the LR faces cubic-resized to
    S, whose sides are ``sides``), each face with its share: what the pipeline pastes (``back_project``)."""
    size = image.shape[-1]
    m = torch.from_numpy(np.stack([projection_matrix(int(s), size) for s in sides.tolist()])).to(image)
    shrunk_and_grown = torch.einsum("bij,bcjk,blk->bcil", m, image, m)
    return image + shares.to(image).view(-1, 1, 1, 1) * (model_input[:, :3].to(image) - shrunk_and_grown)


CHARBONNIER_EPS = 1e-3


def charbonnier(a: Tensor, b: Tensor, weight: Tensor | None = None) -> Tensor:
    """Mean of sqrt(d^2 + eps^2) - eps: an L1 penalty whose gradient stays defined at zero error (eps = 1e-3 of
    the [0, 1] range, a quarter of one 8-bit level), zero for a perfect match; ``weight`` (a map of mean 1,
    broadcast over the batch) weighs it pixel by pixel."""
    penalty = (a - b).pow(2) + CHARBONNIER_EPS**2
    penalty = penalty.sqrt() - CHARBONNIER_EPS
    return (penalty if weight is None else penalty * weight).mean()


# Outside the paste's ellipse the fine term keeps this share of its weight (``paste_weight``): the network still
# draws the whole crop (the feather shows some of it, and the frame step reads all of it), but the pixels no one
# sees stop taking half of a small network's effort.
PASTE_FLOOR = 0.1


def paste_weight(size: int, floor: float = PASTE_FLOOR) -> Tensor:
    """A [1,1,size,size] weight map of mean 1: the feathered ellipse through which ``vidfsr enhance`` pastes a
    face (``pipelines.blend.ellipse_mask``), raised to ``floor`` outside it. The crop rule frames the face with
    margins, so about half of a crop is hair and background the paste never shows."""
    from vidfsr.pipelines.blend import ellipse_mask

    w = floor + (1 - floor) * torch.from_numpy(ellipse_mask(size))
    return (w / w.mean())[None, None]


def fsrnet_loss(
    out: FSRNetOutput,
    hr: Tensor,
    heat: Tensor | None,
    parse: Tensor | None,
    cfg: FSRNetConfig,
    alpha: float = 1.0,
    beta: float = 1.0,
    reduction: str = "mean",
    model_input: Tensor | None = None,
    projection: tuple[Tensor, Tensor] | None = None,
    raw_weight: float = 0.0,
    pixel: str = "l2",
    fine_weight: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """Total loss and its terms (as floats, for logging).

    The prior term is skipped for an unsupervised prior branch (Baseline_v2) and for a model without one.
    ``model_input`` (the network's input, first three channels the current frame) is needed for ``relative``
    and ``projected``; ``projection`` (each face's LR side and back-projection share) for ``projected``, where
    ``raw_weight`` adds that much of the plain fine term: on the projected term alone the network's own output
    drifts to an over-contrasted image that only the step makes right (BENCHMARKS.md, session 12). ``pixel``
    measures the image terms' errors squared (``l2``) or as a Charbonnier penalty (``charbonnier``, with
    ``mean`` and ``projected``); the prior term stays squared. ``fine_weight`` (``paste_weight``, with ``mean``
    and ``projected``) weighs the fine terms pixel by pixel: what the pipeline pastes counts, what it never
    shows hardly does; the coarse term, which the prior reads, stays even.
    """
    err = F.mse_loss
    image_err = err
    if pixel == "charbonnier":
        if reduction not in ("mean", "projected"):
            raise ValueError(f"the Charbonnier penalty goes with the 'mean' or 'projected' loss, not {reduction!r}")
        image_err = charbonnier
    elif pixel != "l2":
        raise ValueError(f"pixel must be 'l2' or 'charbonnier', got {pixel!r}")
    if reduction == "paper":

        def err(a: Tensor, b: Tensor) -> Tensor:
            return (a - b).pow(2).sum() / (2 * a.shape[0])

        image_err = err
    elif reduction == "relative":
        if model_input is None:
            raise ValueError("the relative loss needs the model input")
        start = (model_input[:, :3].float() - hr).pow(2).mean(dim=(1, 2, 3)).detach()
        # 1e-5: a face its input already matches to ~50 dB is not worth more than that.
        weight = 1.0 / (start + 1e-5)
        weight = weight / weight.mean()

        def image_err(a: Tensor, b: Tensor) -> Tensor:
            return ((a - b).pow(2).mean(dim=(1, 2, 3)) * weight).mean()
    elif reduction == "projected" and (model_input is None or projection is None):
        raise ValueError("the projected loss needs the model input and each face's LR side and share")
    elif reduction not in ("mean", "projected"):
        raise ValueError(f"reduction must be 'mean', 'paper', 'relative' or 'projected', got {reduction!r}")
    coarse = image_err(out.coarse.float(), hr)
    fine_err = image_err
    if fine_weight is not None:
        if reduction not in ("mean", "projected"):
            raise ValueError(f"a fine-term weight map goes with the 'mean' or 'projected' loss, not {reduction!r}")
        w = fine_weight.to(hr.device, hr.dtype)

        def fine_err(a: Tensor, b: Tensor) -> Tensor:
            return charbonnier(a, b, w) if pixel == "charbonnier" else ((a - b).pow(2) * w).mean()

    image = out.image.float()
    if reduction == "projected":
        assert model_input is not None and projection is not None
        fine = fine_err(back_projected(image, model_input.float(), *projection), hr)
        if raw_weight > 0:
            fine = fine + raw_weight * fine_err(image, hr)
    else:
        fine = fine_err(image, hr)
    total = coarse + alpha * fine
    terms = {"coarse": coarse.detach(), "fine": fine.detach()}
    if cfg.prior and cfg.prior_supervised:
        prior = hr.new_zeros(())
        if out.heatmaps is not None and heat is not None:
            prior = prior + err(out.heatmaps.float(), heat)
        if out.parsing is not None and parse is not None:
            prior = prior + err(out.parsing.float(), parse)
        total = total + beta * prior
        terms["prior"] = prior.detach()
    terms["total"] = total.detach()
    return total, {k: float(v) for k, v in terms.items()}
