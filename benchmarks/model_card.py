"""Evaluate shipped weights and write their model card, learning curve and contact sheet.

    python benchmarks/model_card.py --weights vidfsr/weights/fsrnet_lite_x8.safetensors --run runs/lite_x8 \
        --command "vidfsr train ..." [--tta]

Evaluates on ../shared/data/faces/test/celeba1000 with the papers' protocol (Y channel, DESIGN §5): bicubic,
the model, and the model with 8-fold TTA (FSRNet_aug). x8 uses the official LR_x8 files; other scales degrade
the same HR crops with the project's LR synthesis. Writes NAME.md, NAME_curve.png and NAME_sheet.png next to
the weights.
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
from pathlib import Path

import cv2
import numpy as np
from vidfsr.models.evaluate import load_eval_set, score, super_resolve
from vidfsr.models.io import load_model, read_metadata

from vidfsr.shared import shared_dir

PUBLISHED = [("FSRNet (retrained by later papers)", 26.66, 0.7714), ("DIC (CVPR 2020)", 27.37, 0.8022)]


OPTIMIZERS = {"rmsprop": "RMSprop", "adam": "Adam"}


def loss_words(losses: dict) -> str:
    """The training loss as the card reads it (``training.losses`` of the metadata)."""
    pixel = "smooth L1 (Charbonnier)" if losses.get("pixel") == "charbonnier" else "squared"
    if losses.get("reduction") == "projected":
        raw = losses.get("raw_weight", 0)
        kept = f", the plain output term kept at weight {raw:g}" if raw else ", no term on the plain output"
        return (
            f"{pixel} error of the output after the back-projection step the pipeline pastes{kept}; "
            f"prior (landmarks, parsing) squared, weight {losses.get('beta', 1):g}"
        )
    reduction = losses.get("reduction", "mean")
    return f"{pixel} error of the output (reduction {reduction}); prior weight {losses.get('beta', 1):g}"


def validation_points(run: Path, until: int | None = None) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """(images, validation PSNR) of a run's log: the network's output, and the pasted face where it was scored.

    ``until`` (the weights' ``images_seen``) drops the points a run logged after the weights the card describes
    were exported: a run resumed past its shipped weights would otherwise draw a curve they never reached.
    """
    points, pasted = [], []
    with open(run / "train_log.csv") as f:
        for row in csv.DictReader(f):
            if until is not None and int(row["images"]) > until:
                break
            if row["val_psnr"]:
                points.append((int(row["images"]), float(row["val_psnr"])))
            if row.get("val_psnr_pasted"):
                pasted.append((int(row["images"]), float(row["val_psnr_pasted"])))
    return points, pasted


def learning_curve(run: Path, out: Path, title: str, until: int | None = None) -> list[tuple[int, float]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points, pasted = validation_points(run, until)
    if points:
        fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
        ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label="network output")
        if pasted:  # real-world runs also score the face after the pipeline's back-projection step
            ax.plot([p[0] for p in pasted], [p[1] for p in pasted], marker="o", label="after the step (pasted)")
            ax.legend()
        ax.set_xlabel("training images seen")
        ax.set_ylabel("validation Y-PSNR (dB)")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(out)
        plt.close(fig)
    return points


def read_log(run: Path) -> dict[int, tuple[int, float, float]]:
    """step -> (images, val PSNR, val SSIM) of a run's validations."""
    with open(run / "train_log.csv") as f:
        return {int(r["step"]): (int(r["images"]), float(r["val_psnr"]), float(r["val_ssim"]))
                for r in csv.DictReader(f) if r["val_psnr"]}  # fmt: skip


def ablation(run: Path, other: Path, label: str, plot: Path, data, name: str) -> list[str]:
    """Validation at equal steps of this run and one trained the same way without the prior branch, and the
    ablated model's test-set score at its last step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    mine, theirs = read_log(run), read_log(other)
    steps = sorted(set(mine) & set(theirs))
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    for log, lab in ((mine, name), (theirs, label)):
        pts = sorted(log.items())
        ax.plot([v[0] for _, v in pts], [v[1] for _, v in pts], marker="o", label=lab)
    ax.set_xlabel("training images seen")
    ax.set_ylabel("validation Y-PSNR (dB)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(plot)
    plt.close(fig)
    lines = [
        "",
        f"## Ablation: the prior branch\n\n![ablation]({plot.name})\n",
        f"Same data, batch, optimiser, learning rate and seed; `{other.name}` drops the prior estimation network "
        "(the paper's Baseline_v1). Validation on the same 200 test faces at equal steps:",
        "",
        f"| step | images | {name} PSNR / SSIM | {label} PSNR / SSIM | difference (dB) |",
        "|---|---|---|---|---|",
    ]
    for st in steps:
        a, b = mine[st], theirs[st]
        lines.append(f"| {st} | {a[0]} | {a[1]:.2f} / {a[2]:.4f} | {b[1]:.2f} / {b[2]:.4f} | {a[1] - b[1]:+.2f} |")
    final = other / "final.safetensors"
    if final.exists():
        model = load_model(final)
        psnr, ssim = score(super_resolve(model, data.lr_up, 16)[0], data.hr)
        params = sum(p.numel() for p in model.parameters()) / 1e6
        lines += ["", f"{label} on all 1,000 celeba1000 faces after {max(theirs)} steps: {psnr.mean():.2f} dB / "
                  f"{ssim.mean():.4f} ({params:.2f} M parameters)."]  # fmt: skip
    return lines


def contact_sheet(lr: np.ndarray, bicubic: np.ndarray, sr: np.ndarray, hr: np.ndarray, out: Path) -> None:
    """16 faces, one row each of 4 tiles: LR input (nearest), bicubic, vidfsr, HR."""
    rows = []
    for i in range(16):
        lr_small = cv2.resize(lr[i], (128, 128), interpolation=cv2.INTER_NEAREST)
        rows.append(np.hstack([lr_small, bicubic[i], sr[i], hr[i]]))
    grid = np.vstack([np.hstack(rows[k : k + 4]) for k in range(0, 16, 4)])
    header = np.full((24, grid.shape[1], 3), 255, np.uint8)
    for j in range(4):
        for k, label in enumerate(("LR input", "bicubic", "vidfsr", "HR")):
            cv2.putText(header, label, (j * 512 + k * 128 + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
    cv2.imwrite(str(out), np.vstack([header, grid])[:, :, ::-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--run", required=True, help="training run folder (train_log.csv)")
    ap.add_argument("--command", required=True, help="the exact training command(s)")
    ap.add_argument("--hardware", default=f"{platform.processor() or platform.machine()}, 2 CPU cores (this machine)")
    ap.add_argument("--notes", default="")
    ap.add_argument("--tta", action="store_true")
    ap.add_argument("--ablation", help="run folder of the same training without the prior branch (Baseline_v1)")
    ap.add_argument("--ablation-label", default="without prior branch (Baseline_v1)")
    args = ap.parse_args()
    weights = Path(args.weights)
    model = load_model(weights)
    meta = read_metadata(weights)
    scale = model.cfg.scale
    test = shared_dir() / "data/faces/test/celeba1000"
    data = load_eval_set(test / "HR", scale, test / "LR_x8" if scale == 8 else None)
    results = {"bicubic": score(data.lr_up, data.hr)}
    sr, _ = super_resolve(model, data.lr_up, 16)
    results[weights.stem] = score(sr, data.hr)
    if args.tta:
        results[weights.stem + " + TTA (FSRNet_aug)"] = score(
            super_resolve(model, data.lr_up, 16, tta=True)[0], data.hr
        )
    stem = weights.with_suffix("")
    training = json.loads(meta.get("training", "{}"))
    curve = learning_curve(
        Path(args.run),
        Path(f"{stem}_curve.png"),
        f"{weights.stem} validation (200 test faces)",
        training.get("images_seen"),
    )
    lr_small = np.stack([cv2.resize(x, (128 // scale,) * 2, interpolation=cv2.INTER_AREA) for x in data.lr_up[:16]])
    contact_sheet(lr_small, data.lr_up[:16], sr[:16], data.hr[:16], Path(f"{stem}_sheet.png"))
    lines = [
        f"# Model card: {weights.name}",
        "",
        f"FSRNet, configuration `{meta.get('model_name')}` (x{scale}: LR {128 // scale}x{128 // scale} -> 128x128), "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters.",
        "",
        f"- Architecture config: `{meta['arch']}`",
        f"- Input: {meta['input_range']}",
        f"- Training data: {training.get('data', '?')} (made by `vidfsr prepare`, see docs/datasets/shared_train)",
        f"- Training: {training.get('steps')} steps, {training.get('images_seen')} images seen, batch "
        f"{training.get('batch_size')}, RMSprop lr {training.get('lr')}, precision {training.get('precision')}, "
        f"wall time {training.get('wall_seconds', 0) / 3600:.2f} h on {args.hardware}",
        f"- Command: `{args.command}`",
        "- Licence: trained on CelebA/LFW/Helen-derived crops with landmarks from dlib's iBUG 300-W model: "
        "research and non-commercial use only.",
        "",
        f"## Evaluation: x{scale} on celeba1000 (1,000 faces, Y channel, papers' protocol)",
        "",
        f"LR input: {'the official LR_x8 files' if scale == 8 else f'HR degraded x{scale} by vidfsr LR synthesis'}.",
        "Measured by `python benchmarks/model_card.py` (this card's generator); the same numbers come from "
        f"`vidfsr eval --model {weights.stem} --hr ../shared/data/faces/test/celeba1000/HR"
        f"{' --lr ../shared/data/faces/test/celeba1000/LR_x8' if scale == 8 else ''} [--tta]` "
        "(and `vidfsr eval --bicubic ...` for bicubic).",
        "",
        "| method | PSNR (dB) | SSIM |",
        "|---|---|---|",
    ]
    for name, (psnr, ssim) in results.items():
        lines.append(f"| {name} | {psnr.mean():.2f} | {ssim.mean():.4f} |")
    if scale == 8:
        lines += [f"| {name} (published) | {p:.2f} | {s:.4f} |" for name, p, s in PUBLISHED]
    lines += [
        "",
        f"## Learning curve\n\n![curve]({Path(f'{stem}_curve.png').name})\n",
        "| images seen | validation PSNR (dB, 200 test faces) |",
        "|---|---|",
        *[f"| {n} | {p:.2f} |" for n, p in curve],
        "",
        f"## Contact sheet\n\n![sheet]({Path(f'{stem}_sheet.png').name})\n",
        "16 test faces: LR input (nearest-neighbour), bicubic, vidfsr, HR.",
    ]
    if args.ablation:
        lines += ablation(Path(args.run), Path(args.ablation), args.ablation_label, Path(f"{stem}_ablation.png"),
                          data, weights.stem)  # fmt: skip
    if args.notes:
        lines += ["", "## Notes", "", args.notes]
    Path(f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:40]))


if __name__ == "__main__":
    main()
