"""``vidfsr eval``: Y-PSNR/SSIM of a model (or bicubic) on a folder of 128x128 HR face crops."""

from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="PSNR/SSIM (Y channel, papers' protocol) of a model or bicubic on HR face crops",
        epilog="Examples:\n  vidfsr eval --bicubic --hr HR --lr LR_x8\n"
        "  vidfsr eval --model fsrnet_lite_x8 --hr HR --tta",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--model", help="shipped weights name or a .safetensors path (default: vidfsr's default model)")
    what.add_argument("--bicubic", action="store_true", help="evaluate plain bicubic upsampling")
    p.add_argument("--hr", default=None, help="folder of 128x128 HR crops (default: the shared celeba1000/HR)")
    p.add_argument(
        "--degradation",
        choices=["auto", "paper", "real"],
        default="auto",
        help="LR synthesis when --lr is not given: paper (bicubic x scale), real (the real-world degradation, "
        "fixed seed); auto: what the model was trained with",
    )
    p.add_argument("--lr", help="folder of LR files with the same names (stored upsampled to 128x128)")
    p.add_argument("--scale", type=int, choices=[2, 4, 8], help="LR factor (default: the model's; 8 for --bicubic)")
    p.add_argument("--save", help="write each output as PNG named like its HR file")
    p.add_argument("--tta", action="store_true", help="average over the 8 flips/rotations (FSRNet_aug)")
    p.add_argument("--landmarks", help="ground-truth landmarks .npy [N,68,2] in HR file order, for NRMSE")
    p.add_argument("--csv", help="per-image results CSV (default: none)")
    p.add_argument("--limit", type=int, default=0, help="evaluate only the first N images")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import csv
    from pathlib import Path

    import cv2
    import numpy as np
    from rich.console import Console
    from rich.table import Table

    from vidfsr.api import load_default_model
    from vidfsr.config import resolve_device
    from vidfsr.errors import ConfigError
    from vidfsr.models.evaluate import landmark_nrmse, load_eval_set, real_eval_set, score, super_resolve
    from vidfsr.models.io import load_model_meta
    from vidfsr.shared import shared_dir

    model, meta, name = None, {}, args.model
    if not args.bicubic:
        device = resolve_device(args.device)
        if args.model:
            model, meta = load_model_meta(args.model, device)
        else:
            model, meta, name = load_default_model(device)
    hr = args.hr or str(shared_dir() / "data/faces/test/celeba1000/HR")
    degradation = args.degradation
    if degradation == "auto":
        degradation = "real" if '"real"' in meta.get("degradation", "") else "paper"
    scale = args.scale or (model.cfg.scale if model is not None else 8)
    if model is not None and args.scale and args.scale != model.cfg.scale and degradation == "paper":
        raise ConfigError(f"--scale {args.scale} does not match the model's scale {model.cfg.scale}")
    if args.lr is None and degradation == "real":
        data = real_eval_set(hr, args.limit)
    else:
        data = load_eval_set(hr, scale, args.lr, args.limit)
    marks = None
    if model is None:
        sr = data.lr_up
    else:
        device = next(model.parameters()).device
        sr, marks = super_resolve(model, data.lr_up, args.batch_size, args.tta, device)
    psnr, ssim = score(sr, data.hr)
    nrmse = None
    if args.landmarks:
        truth = np.load(args.landmarks)[: len(data.names)]
        if marks is None:
            raise ConfigError("--landmarks needs a model that predicts landmark heatmaps")
        nrmse = landmark_nrmse(marks, truth)
    if args.save:
        out = Path(args.save)
        out.mkdir(parents=True, exist_ok=True)
        for name, img in zip(data.names, sr, strict=True):
            cv2.imwrite(str(out / (Path(name).stem + ".png")), img[:, :, ::-1])
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["name", "psnr_y", "ssim_y", *(["nrmse"] if nrmse is not None else [])])
            for i, name in enumerate(data.names):
                extra = [f"{nrmse[i]:.5f}"] if nrmse is not None else []
                w.writerow([name, f"{psnr[i]:.4f}", f"{ssim[i]:.5f}", *extra])
    label = "bicubic" if model is None else f"{name}{' +TTA' if args.tta else ''}"
    what = f"x{scale}" if degradation == "paper" or args.lr else "real-world degradation (seed 2026)"
    table = Table(title=f"{what} on {hr} ({len(data.names)} faces, Y channel)")
    for col in ("method", "PSNR (dB)", "SSIM", *(["NRMSE"] if nrmse is not None else [])):
        table.add_column(col)
    row = [label, f"{psnr.mean():.2f}", f"{ssim.mean():.4f}", *([f"{nrmse.mean():.4f}"] if nrmse is not None else [])]
    table.add_row(*row)
    Console().print(table)
    return 0
