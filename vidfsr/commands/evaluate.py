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
    what.add_argument(
        "--model", action="append", default=[],
        help="shipped weights name or a .safetensors path, repeatable: side by side (default: vidfsr's default)",
    )  # fmt: skip
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
    p.add_argument(
        "--back-project", action="store_true",
        help="also each model's output after the back-projection step vidfsr enhance applies (what it pastes: "
        "the full step on uncompressed faces, 0.75 on JPEG/H.264 ones)",
    )  # fmt: skip
    p.add_argument("--landmarks", help="ground-truth landmarks .npy [N,68,2] in HR file order, for NRMSE")
    p.add_argument(
        "--face-metrics", action="store_true",
        help="also the paper's face analysis with dlib: 68-point landmark NRMSE and identity distance of SR vs HR, "
        "with bicubic beside (needs the prepare extra)",
    )  # fmt: skip
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
    from vidfsr.models.evaluate import (
        as_pasted,
        landmark_nrmse,
        load_eval_set,
        real_burst_eval_set,
        real_eval_set,
        score,
        super_resolve,
    )
    from vidfsr.models.io import load_model_meta
    from vidfsr.shared import shared_dir

    models: list[tuple[str, object, dict]] = []  # (label, model, metadata)
    if not args.bicubic:
        device = resolve_device(args.device)
        if args.model:
            models = [(m, *load_model_meta(m, device)) for m in args.model]
        else:
            model, meta, name = load_default_model(device)
            models = [(name, model, meta)]
    model, meta = (models[0][1], models[0][2]) if models else (None, {})
    hr = args.hr or str(shared_dir() / "data/faces/test/celeba1000/HR")
    degradation = args.degradation
    if degradation == "auto":
        degradation = "real" if '"real"' in meta.get("degradation", "") else "paper"
    scale = args.scale or (model.cfg.scale if model is not None else 8)
    if model is not None and args.scale and args.scale != model.cfg.scale and degradation == "paper":
        raise ConfigError(f"--scale {args.scale} does not match the model's scale {model.cfg.scale}")
    frames = max((m.cfg.frames for _, m, _ in models), default=1)
    if frames > 1 and any(m.cfg.frames != frames for _, m, _ in models):
        raise ConfigError("evaluate single-frame and multi-frame models in separate runs (their inputs differ)")
    if args.lr is None and degradation == "real":
        data = real_burst_eval_set(hr, frames, args.limit) if frames > 1 else real_eval_set(hr, args.limit)
    elif frames > 1:
        raise ConfigError("a multi-frame model is evaluated on real-world bursts: use --degradation real")
    else:
        data = load_eval_set(hr, scale, args.lr, args.limit)
    rows: list[tuple[str, np.ndarray, np.ndarray | None]] = []  # (label, SR faces, landmarks)
    if not models or args.face_metrics:
        rows.append(("bicubic", data.baseline, None))
    if args.back_project and data.lr_side is None:
        raise ConfigError("--back-project needs each face's LR side: not available for multi-frame bursts")
    for label, m, _ in models:
        device = next(m.parameters()).device
        sr, marks = super_resolve(m, data.lr_up, args.batch_size, args.tta, device)
        rows.append((f"{label}{' +TTA' if args.tta else ''}", sr, marks))
        if args.back_project:
            rows.append((f"{rows[-1][0]} + back-projection", as_pasted(sr, data), None))
    analyser = None
    if args.face_metrics:
        from vidfsr.models.face_metrics import FaceAnalyser, face_metrics

        analyser = FaceAnalyser()
    what = f"x{scale}" if degradation == "paper" or args.lr else "real-world degradation (seed 2026)"
    table = Table(title=f"{what} on {hr} ({len(data.names)} faces, Y channel)")
    cols = ["method", "PSNR (dB)", "SSIM"]
    cols += ["NRMSE (heatmaps)"] if args.landmarks else []
    cols += ["landmark NRMSE (dlib)", "identity distance (dlib)"] if analyser else []
    for col in cols:
        table.add_column(col)
    per_image: dict[str, list[str]] = {n: [] for n in data.names}
    header = ["name"]
    if args.landmarks and all(marks is None for _, _, marks in rows):
        raise ConfigError("--landmarks needs a model that predicts landmark heatmaps")
    for label, sr, marks in rows:
        psnr, ssim = score(sr, data.hr)
        cells = [label, f"{psnr.mean():.2f}", f"{ssim.mean():.4f}"]
        values = [psnr, ssim]
        pre = "" if len(rows) == 1 else f"{label}:"  # one method: plain column names
        header += [f"{pre}psnr_y", f"{pre}ssim_y"]
        if args.landmarks:
            if marks is None:
                cells.append("")
            else:
                truth = np.load(args.landmarks)[: len(data.names)]
                nrmse = landmark_nrmse(marks, truth)
                cells.append(f"{nrmse.mean():.4f}")
                values.append(nrmse)
                header.append(f"{pre}nrmse")
        if analyser is not None:
            dl, ident = face_metrics(analyser, sr, data.hr)
            cells += [f"{dl.mean():.4f}", f"{ident.mean():.4f}"]
            values += [dl, ident]
            header += [f"{pre}dlib_nrmse", f"{pre}identity"]
        table.add_row(*cells)
        for i, n in enumerate(data.names):
            per_image[n] += [f"{v[i]:.5f}" for v in values]
    if args.save:
        out = Path(args.save)
        out.mkdir(parents=True, exist_ok=True)
        for n, img in zip(data.names, rows[-1][1], strict=True):
            cv2.imwrite(str(out / (Path(n).stem + ".png")), img[:, :, ::-1])
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            for n in data.names:
                w.writerow([n, *per_image[n]])
    Console().print(table)
    return 0
