"""Training throughput (images/s, forward + backward + RMSprop step) per model and precision on this machine.

    python benchmarks/train_throughput.py [--models fsrnet_x8 fsrnet_lite_x8] [--steps 10] [--out FILE.json]

Prints a table and writes JSON. Inputs are random tensors of the real shapes: throughput does not depend on
pixel values. Loss is the full eq. 4 loss with rendered prior targets.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import time

import torch
from vidfsr.models.losses import fsrnet_loss
from vidfsr.models.registry import create_model


def measure(name: str, precision: str, channels_last: bool, batch: int, steps: int) -> float:
    torch.manual_seed(0)
    model = create_model(name)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model.to(memory_format=fmt).train()
    opt = torch.optim.RMSprop(model.parameters(), lr=2.5e-4)
    cfg = model.cfg
    x = torch.rand(batch, 3, 128, 128).contiguous(memory_format=fmt)
    hr = torch.rand(batch, 3, 128, 128)
    heat = torch.rand(batch, cfg.landmarks, 64, 64)
    parse = torch.rand(batch, cfg.parsing, 64, 64)
    ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else contextlib.nullcontext

    def step() -> None:
        with ctx():
            out = model(x)
        loss, _ = fsrnet_loss(out, hr, heat, parse, cfg)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(2):  # warm-up: allocator and kernel selection
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["fsrnet_x8", "fsrnet_lite_x8"])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--batch", type=int, default=14)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    rows = []
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}")
    print(f"{'model':<18} {'precision':<9} {'layout':<13} {'img/s':>7}")
    for name in args.models:
        for precision, cl in (("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)):
            rate = measure(name, precision, cl, args.batch, args.steps)
            layout = "channels_last" if cl else "contiguous"
            rows.append({"model": name, "precision": precision, "layout": layout, "img_per_s": round(rate, 2)})
            print(f"{name:<18} {precision:<9} {layout:<13} {rate:7.2f}", flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"batch": args.batch, "threads": torch.get_num_threads(), "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
