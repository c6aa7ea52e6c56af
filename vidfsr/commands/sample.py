"""``vidfsr sample OUT``: make a small-face test clip from the shared footage."""

from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="make a surveillance-like sample clip (small faces, with audio)")
    p.add_argument("output", help="clip to write, e.g. sample.mp4")
    p.add_argument("--factor", type=float, default=0.5, help="downscale factor of the source clip")
    p.add_argument("--face-px", type=int, default=0, help="instead of --factor: size the largest face crop to this")
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--clip", default=None, help="source clip (default: the shared multi-person clip)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from vidfsr.sample import make_sample

    r = make_sample(args.output, args.factor, args.seconds, args.clip, args.face_px)
    Console().print(
        f"{r['output']}: {r['frames']} frames, {r['size'][0]}x{r['size'][1]} (x{r['factor']} of {r['source']})"
    )
    return 0
