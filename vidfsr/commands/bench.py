"""``vidfsr bench``: faces/s of the model per run path and batch size, the accuracy each path costs, and
optionally the whole pipeline on a clip."""

from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure model faces/s per run path and batch size (and accuracy, and a clip end to end)",
        description="Times the enhance stage exactly as 'vidfsr enhance' runs it (uint8 crops in and out) for "
        "each path (backend-precision) and batch size. Models without weights are timed untrained.",
        epilog="Examples:\n  vidfsr bench\n"
        "  vidfsr bench --model fsrnet_x8 --paths torch-bf16 onnx-fp32 --batches 1 8\n"
        "  vidfsr bench --peak-gflops 538 1075 --accuracy 1000 --out bench.json\n"
        "  vidfsr bench --clip in.mp4 --force",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model", nargs="+", default=["fsrnet_lite_x8", "fsrnet_x8"], help="weights or architectures")
    p.add_argument("--paths", nargs="+", help="run paths, e.g. torch-bf16 onnx-fp32 compile-bf16 (default: per device)")
    p.add_argument("--batches", nargs="+", type=int, default=[1, 4, 8])
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=0, help="torch/ONNX threads (0: all cores, the model alone)")
    p.add_argument("--seconds", type=float, default=2.0, help="length of one timing window")
    p.add_argument("--repeats", type=int, default=3, help="windows per measurement (paths take turns; median)")
    p.add_argument(
        "--peak-gflops", nargs=2, type=float, metavar=("FP32", "BF16"), help="device peak, for fraction of peak"
    )
    p.add_argument("--accuracy", type=int, default=0, metavar="N", help="also score each path on N test faces")
    p.add_argument("--hr", help="HR test crops for --accuracy (default: shared celeba1000/HR)")
    p.add_argument("--clip", help="also run 'vidfsr enhance' on this clip and report wall time per stage")
    p.add_argument("--force", action="store_true", help="with --clip: enhance every face")
    p.add_argument("--out", help="write all results as JSON here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import tempfile
    import time
    from pathlib import Path

    import torch
    from rich.console import Console
    from rich.table import Table

    from vidfsr import bench
    from vidfsr.config import resolve_device

    console = Console()
    device = resolve_device(args.device)
    threads = args.threads or (os.cpu_count() or 1)
    torch.set_num_threads(threads)  # an entry point: the one place global backend flags are set
    paths = args.paths or bench.DEFAULT_PATHS.get(device.type, bench.DEFAULT_PATHS["cpu"])
    peak = {"fp32": args.peak_gflops[0], "bf16": args.peak_gflops[1]} if args.peak_gflops else None
    results: dict = {"device": str(device), "threads": threads}

    table = Table(title=f"enhance stage on {device} ({threads} threads): faces/s")
    for col in ("model", "path", "batch", "faces/s", "GFLOP/s", "% of peak", "first call s"):
        table.add_column(col, justify="left" if col in ("model", "path") else "right", no_wrap=col != "model")

    def show(row: bench.SpeedRow) -> None:
        frac = "" if row.fraction_of_peak is None else f"{100 * row.fraction_of_peak:.0f}%"
        name = row.model + ("" if row.trained else " *")
        table.add_row(name, row.path, str(row.batch), f"{row.faces_per_s:.1f}", f"{row.gflops_per_s:.0f}", frac,
                      f"{row.first_call_s:.1f}")  # fmt: skip
        console.print(f"  {name} {row.path} batch {row.batch}: {row.faces_per_s:.1f} faces/s", highlight=False)

    rows = bench.speed(args.model, paths, args.batches, str(device), args.seconds, peak, show, args.repeats)
    results["speed"] = bench.as_dicts(rows)
    console.print(table)
    if not all(r.trained for r in rows):
        console.print("* no weights found: the untrained architecture was timed (speed does not depend on weights)")

    if args.accuracy:
        from vidfsr.shared import shared_dir

        test = shared_dir() / "data/faces/test/celeba1000"
        hr = Path(args.hr) if args.hr else test / "HR"
        lr = None if args.hr else test / "LR_x8"
        acc = bench.accuracy([m for m in args.model if any(r.model == m and r.trained for r in rows)], paths, hr, lr,
                             args.accuracy, str(device))  # fmt: skip
        results["accuracy"] = bench.as_dicts(acc)
        t2 = Table(title=f"accuracy per path ({hr}, Y channel)")
        for col in ("model", "path", "faces", "PSNR (dB)", "SSIM", "vs fp32 (dB)"):
            t2.add_column(col)
        for r in acc:
            t2.add_row(r.model, r.path, str(r.faces), f"{r.psnr:.3f}", f"{r.ssim:.4f}", f"{r.delta_psnr_vs_fp32:+.4f}")
        console.print(t2)

    if args.clip:
        import vidfsr
        from vidfsr.api import set_cpu_threads

        set_cpu_threads(0)  # as 'vidfsr enhance' runs: the other stages need the remaining cores
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            summary = vidfsr.enhance_video(args.clip, Path(tmp) / "out.mp4", force=args.force, device=str(device))
            wall = time.perf_counter() - t
        results["pipeline"] = {"clip": args.clip, "wall_s": round(wall, 2), **summary}
        t3 = Table(title=f"vidfsr enhance {args.clip}")
        t3.add_column("what")
        t3.add_column("value", justify="right")
        t3.add_row("frames", str(summary["frames"]))
        t3.add_row("faces enhanced", str(summary["faces_enhanced"]))
        t3.add_row("wall time", f"{wall:.2f} s ({summary['frames'] / wall:.1f} fps)")
        for stage, sec in summary["stage_seconds"].items():
            t3.add_row(f"  {stage} (busy)", f"{sec:.2f} s")
        console.print(t3)

    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=1, default=str))
        console.print(f"results written to {args.out}")
    return 0
