"""Training batches: HR crops, rendered priors, the paper's rotation/flip augmentation, LR synthesised on the fly
(the paper's bicubic degradation, or the real-world one of ``realdeg``)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from vidfsr.pipelines.blend import LOSSLESS_CONSISTENCY, LOSSY_CONSISTENCY

from .dataset_format import PreparedFaces
from .degrade import degrade
from .glasses import draw_glasses
from .priors import FLIP_68, heatmaps, parsing_labels, parsing_maps
from .realdeg import RealDegradation


def projection_share(compression: str) -> float:
    """The back-projection share the pipeline would use on a face with this degradation: the full step where its
    pixels are exact (``vidfsr.pipelines.blend.auto_consistency``: lossless sources), 0.75 where compressed."""
    return LOSSLESS_CONSISTENCY if compression == "none" else LOSSY_CONSISTENCY


class TrainBatches:
    """Holds a prepared split in memory and assembles augmented batches from index lists.

    The whole ../shared training set is ~640 MB as uint8 plus ~210 MB of parsing labels: small enough to keep
    in RAM, which removes decoding from the training loop (there are only two cores to share).
    """

    def __init__(
        self,
        faces: PreparedFaces,
        scale: int,
        prior_size: int,
        sigma: float = 1.0,
        real: RealDegradation | None = None,
        frames: int = 1,
        pairs: bool = False,
        projection: bool = False,
        glasses: float = 0.0,
        glasses_clear: float = 0.0,
    ) -> None:
        self.images = torch.from_numpy(faces.images).permute(0, 3, 1, 2).contiguous()  # [N,3,128,128] uint8
        self.landmarks = torch.from_numpy(faces.landmarks)  # [N,68,2]
        self.labels = torch.from_numpy(np.stack([parsing_labels(lm, faces.images.shape[1]) for lm in faces.landmarks]))
        self.scale = scale
        self.prior_size = prior_size
        self.sigma = sigma
        self.real = real  # None: the paper's bicubic x``scale`` degradation
        self.frames = frames  # > 1: bursts of the real degradation, frames stacked on the channel axis
        if frames > 1 and real is None:
            raise ValueError("multi-frame training needs the real-world degradation (bursts)")
        # pairs: each face also as the next frame of a two-frame burst (moved, coded with it), with that
        # frame's truth, for the temporal-stability term; single-frame models only.
        self.pairs = pairs
        if pairs and (real is None or frames > 1):
            raise ValueError("the stability term needs the real-world degradation and a single-frame model")
        # projection: each face's LR side and back-projection share come with the batch (the projected loss).
        self.projection = projection
        self.glasses = glasses  # the share of faces given synthetic eyeglass frames (``glasses.draw_glasses``)
        self.glasses_clear = glasses_clear  # the share of those frames drawn clear
        if projection and (real is None or frames > 1 or pairs):
            raise ValueError("the projected loss needs the real-world degradation, one frame and no stability pairs")

    def __len__(self) -> int:
        return len(self.images)

    def batch(
        self, index: Tensor, ops: Tensor, seeds: Tensor | None = None, degrade_seed: int | list[int] | None = None
    ) -> tuple[Tensor, ...]:
        """(lr_up, hr, heatmaps, parsing) for faces ``index`` with augmentation ``ops`` ([B] ints in 0..7:
        bit 2 = horizontal flip, bits 0-1 = number of 90-degree rotations); with ``pairs`` also (lr_up, hr) of
        the same faces one frame away. ``seeds`` ([B] ints) drive the glasses augmentation, face by face.
        ``degrade_seed``: the real degradation of this batch draws from this seed instead of the shared stream
        (batches assembled in worker processes, ``TrainConfig.workers``)."""
        real = self.real
        if real is not None and degrade_seed is not None:
            real = RealDegradation(real.config, seed=degrade_seed)
        images = self.images[index]
        if self.glasses > 0:
            if seeds is None:
                raise ValueError("the glasses augmentation draws each face's frames from a seed: pass seeds")
            images = images.clone()
            for i, seed in enumerate(seeds.tolist()):
                rng = np.random.default_rng(seed)
                if rng.random() < self.glasses:
                    face = images[i].permute(1, 2, 0).numpy()
                    lm = self.landmarks[index[i]].numpy().astype(np.float64)
                    # Drawn only when clear frames are on, so runs without them keep their frames.
                    clear = self.glasses_clear > 0 and rng.random() < self.glasses_clear
                    images[i] = torch.from_numpy(draw_glasses(face, lm, rng, clear=clear)).permute(2, 0, 1)
        hr = images.float() / 255
        heat = heatmaps(self.landmarks[index], self.prior_size, hr.shape[-1], self.sigma)
        parse = parsing_maps(self.labels[index], self.prior_size)
        out_hr, out_heat, out_parse = [], [], []
        for i, op in enumerate(ops.tolist()):
            h, m, p = hr[i], heat[i], parse[i]
            if op & 4:
                h, m, p = h.flip(-1), m[torch.from_numpy(FLIP_68)].flip(-1), p.flip(-1)
            k = op & 3
            if k:
                h, m, p = (t.rot90(k, dims=(-2, -1)) for t in (h, m, p))
            out_hr.append(h)
            out_heat.append(m)
            out_parse.append(p)
        hr = torch.stack(out_hr)
        if real is None:
            lr_up = degrade(hr, self.scale)
        elif self.pairs:
            faces = (hr * 255).round().byte().permute(0, 2, 3, 1).numpy()
            ups, moved, _ = real.degrade_burst_with_truth(faces, 2, order="rgb")
            pair = torch.from_numpy(ups).permute(0, 1, 4, 2, 3).float() / 255  # [B,2,3,H,W]
            truth = torch.from_numpy(moved[:, 1]).permute(0, 3, 1, 2).float() / 255
            return pair[:, 0].contiguous(), hr, torch.stack(out_heat), torch.stack(out_parse), \
                pair[:, 1].contiguous(), truth  # fmt: skip
        elif self.frames == 1:
            faces = (hr * 255).round().byte().permute(0, 2, 3, 1).numpy()
            ups, info = real.degrade_batch(faces, order="rgb")
            lr_up = torch.from_numpy(ups).permute(0, 3, 1, 2).float() / 255
            if self.projection:
                sides = torch.tensor([d.lr_side for d in info], dtype=torch.float32)
                shares = torch.tensor([projection_share(d.compression) for d in info], dtype=torch.float32)
                return lr_up, hr, torch.stack(out_heat), torch.stack(out_parse), sides, shares
        else:
            faces = (hr * 255).round().byte().permute(0, 2, 3, 1).numpy()
            ups, _ = real.degrade_burst(faces, self.frames, order="rgb")  # [B,K,H,W,3]
            b, k, h, w, _c = ups.shape
            lr_up = torch.from_numpy(ups).permute(0, 1, 4, 2, 3).reshape(b, 3 * k, h, w).float() / 255
        return lr_up, hr, torch.stack(out_heat), torch.stack(out_parse)
