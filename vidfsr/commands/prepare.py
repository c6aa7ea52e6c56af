"""``vidfsr prepare SRC... OUT``: build a training set with landmark priors from folders of face photos."""

from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="make a training set (crops + 68 landmarks) from folders of face photos",
        description="Detect, crop (THE crop rule) and annotate every face photo under SRC into OUT. "
        "Re-running resumes. Needs the 'prepare' extra: pip install 'vidfsr[prepare]'. The 68-point "
        "landmark model is trained on iBUG 300-W: non-commercial research only.",
    )
    p.add_argument("paths", nargs="+", metavar="SRC... OUT", help="source folders/files, then the output folder")
    p.add_argument("--min-crop", type=float, default=64.0, help="reject faces whose crop side is below this (px)")
    p.add_argument("--quality", type=int, default=90, help="JPEG quality of the crops")
    p.add_argument("--val-fraction", type=float, default=0.05, help="share of known identities held out")
    p.add_argument("--workers", type=int, default=0, help="processes (0: one per core)")
    p.add_argument("--detector", default="yunet", help="detector spec (yunet, yunet:PATH, haar)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from vidfsr.errors import ConfigError
    from vidfsr.models.prepare import PrepareConfig, prepare

    from .progress import progress_bar

    if len(args.paths) < 2:
        raise ConfigError("prepare needs at least one source and an output folder: vidfsr prepare SRC... OUT")
    *sources, out = args.paths
    config = PrepareConfig(
        min_crop=args.min_crop, quality=args.quality, val_fraction=args.val_fraction,
        workers=args.workers, detector=args.detector,
    )  # fmt: skip
    with progress_bar("prepare") as update:
        summary = prepare(
            sources, out, config,
            progress=lambda done, total, c: update(done, total, f"ok {c['ok']} rejected {c['rejected']}"),
        )  # fmt: skip
    Console().print(
        f"{summary['accepted']} faces accepted, {summary['rejected']} rejected "
        f"({', '.join(f'{k}: {v}' for k, v in summary['rejects_by_reason'].items()) or 'none'}); "
        f"card: {out}/DATASET.md"
    )
    return 0
