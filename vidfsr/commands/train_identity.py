"""``vidfsr train-identity``: the face-identity network behind the identity loss term (offline, from LFW names)."""

from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-identity",
        help="train the face-identity network used by --identity-weight (needs identity names, e.g. LFW)",
        description="Train a small face-recognition network (ArcFace margin) on the named faces of a prepared "
        "dataset, validated on held-out identities. Resume with --resume RUN/last.pt.",
        epilog="Example: vidfsr train-identity --data data/faces128 --out checkpoints/identity --steps 6000",
    )
    p.add_argument("--data", required=True, help="prepared dataset folder (vidfsr prepare) with identity names")
    p.add_argument("--out", default="runs/identity", help="run folder for checkpoints, log and weights")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--margin", type=float, default=0.3, help="ArcFace angular margin m")
    p.add_argument("--width", type=int, default=32, help="channels of the first stage")
    p.add_argument("--val-every", type=int, default=500)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", default=None, help="checkpoint to continue from (RUN/last.pt)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from vidfsr.models.identity import IdentityNetConfig, IdentityTrainConfig, train_identity

    from .progress import progress_bar

    cfg = IdentityTrainConfig(
        data=args.data, out=args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr, margin=args.margin,
        val_every=args.val_every, threads=args.threads, seed=args.seed, net=IdentityNetConfig(width=args.width),
    )  # fmt: skip
    with progress_bar("train identity", cfg.steps) as update:
        summary = train_identity(
            cfg, resume=args.resume,
            progress=lambda p: update(p["step"], p["steps"], f"loss {p['loss']:.3f} {p['img_per_s']:.0f} img/s"),
        )  # fmt: skip
    Console().print(f"weights: {summary['weights']}  validation: {summary.get('val_auc', 'none')}")
    return 0
