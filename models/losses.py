"""FSRNet's loss (paper eq. 4): coarse + alpha * fine + beta * prior squared errors.

Eq. 4 is 1/(2N) sum_i (||y - y_c||^2 + alpha ||y - y_hat||^2 + beta ||p - p_hat||^2): squared norms summed over
each image's pixels (``reduction="paper"``). ``"mean"`` averages every term over its elements instead, which
balances the terms differently (the prior maps have 68+7 channels at 64x64, the image 3 at 128x128) and is what
the shipped lite weights were trained with.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from .fsrnet import FSRNetConfig, FSRNetOutput


def fsrnet_loss(
    out: FSRNetOutput,
    hr: Tensor,
    heat: Tensor | None,
    parse: Tensor | None,
    cfg: FSRNetConfig,
    alpha: float = 1.0,
    beta: float = 1.0,
    reduction: str = "mean",
) -> tuple[Tensor, dict[str, float]]:
    """Total loss and its terms (as floats, for logging).

    The prior term is skipped for an unsupervised prior branch (Baseline_v2) and for a model without one.
    """
    if reduction == "mean":
        err = F.mse_loss
    elif reduction == "paper":

        def err(a: Tensor, b: Tensor) -> Tensor:
            return (a - b).pow(2).sum() / (2 * a.shape[0])
    else:
        raise ValueError(f"reduction must be 'mean' or 'paper', got {reduction!r}")
    coarse = err(out.coarse.float(), hr)
    fine = err(out.image.float(), hr)
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
