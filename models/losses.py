"""FSRNet's loss (paper eq. 4): coarse MSE + alpha * fine MSE + beta * prior MSE."""

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
) -> tuple[Tensor, dict[str, float]]:
    """Total loss and its terms (as floats, for logging).

    The prior term is skipped for an unsupervised prior branch (Baseline_v2) and for a model without one.
    """
    coarse = F.mse_loss(out.coarse.float(), hr)
    fine = F.mse_loss(out.image.float(), hr)
    total = coarse + alpha * fine
    terms = {"coarse": coarse.detach(), "fine": fine.detach()}
    if cfg.prior and cfg.prior_supervised:
        prior = hr.new_zeros(())
        if out.heatmaps is not None and heat is not None:
            prior = prior + F.mse_loss(out.heatmaps.float(), heat)
        if out.parsing is not None and parse is not None:
            prior = prior + F.mse_loss(out.parsing.float(), parse)
        total = total + beta * prior
        terms["prior"] = prior.detach()
    terms["total"] = total.detach()
    return total, {k: float(v) for k, v in terms.items()}
