"""Model card of an FSRGAN fine-tune: PSNR/SSIM and the paper's face analysis beside FSRNet and bicubic.

    python benchmarks/fsrgan_card.py --weights W.safetensors --fsrnet fsrnet_lite_real --run RUN \
        --video-faces data/video_faces --command "vidfsr train ..."

Sets (every method on the same inputs): all 1,000 celeba1000 HR crops with the official LR_x8 files (the paper's
Table 4 setting), the same crops under the fixed-seed real-world degradation (what the video models are trained
for), and HR crops cut from the shared clips (``benchmarks/video_faces.py``) under that degradation. Face analysis
as ``vidfsr eval --face-metrics``: dlib 68-point landmark NRMSE and dlib identity distance, SR vs HR, in the crop
rule's face box. Writes NAME.md, NAME_curve.png (validation PSNR and every loss term) and NAME_sheet.png
(LR | bicubic | FSRNet | FSRGAN | HR, celeba1000 then video faces).
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
from pathlib import Path

import cv2
import numpy as np
from model_card import OPTIMIZERS, loss_words
from vidfsr.models.evaluate import EvalSet, back_projected, load_eval_set, real_eval_set, score, super_resolve
from vidfsr.models.face_metrics import FaceAnalyser, face_metrics
from vidfsr.models.io import load_model, read_metadata

from vidfsr.shared import shared_dir


def evaluate(
    data: EvalSet, models: dict, analyser: FaceAnalyser, bp_side: int = 0
) -> tuple[dict[str, dict], dict[str, np.ndarray], dict[str, dict[str, np.ndarray]]]:
    """Rows of mean metrics, the outputs, and per-face metrics (for paired differences)."""
    rows, outputs, per_face = {}, {"bicubic": data.baseline}, {}
    for name, model in models.items():
        outputs[name] = super_resolve(model, data.lr_up, 16)[0]
    if bp_side:
        for name in list(models):
            outputs[f"{name} + back-projection"] = back_projected(outputs[name], data.lr_up, bp_side)
    for name, sr in outputs.items():
        psnr, ssim = score(sr, data.hr)
        nrmse, ident = face_metrics(analyser, sr, data.hr)
        per_face[name] = {"psnr": psnr, "nrmse": nrmse, "identity": ident}
        rows[name] = {"psnr": float(psnr.mean()), "ssim": float(ssim.mean()), "nrmse": float(nrmse.mean()),
                      "identity": float(ident.mean()), "faces": len(sr)}  # fmt: skip
    return rows, outputs, per_face


def paired(per_face: dict[str, dict[str, np.ndarray]], a: str, b: str) -> dict[str, list[float]]:
    """Mean per-face difference ``a - b`` of each metric and its standard error: is a gap more than noise?"""
    out = {}
    for key in ("psnr", "nrmse", "identity"):
        d = per_face[a][key] - per_face[b][key]
        out[key] = [float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d)))]
    return out


def curves(run: Path, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(run / "train_log.csv") as f:
        log = list(csv.DictReader(f))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5), dpi=100)
    val = [(int(r["step"]), float(r["val_psnr"])) for r in log if r.get("val_psnr")]
    axes[0].plot(*zip(*val, strict=True), marker="o")
    axes[0].set_title("validation Y-PSNR (dB), real-world set")
    for key in ("fine", "coarse", "prior", "perceptual"):
        axes[1].plot([int(r["step"]) for r in log], [float(r[key]) for r in log], label=key)
    axes[1].set_yscale("log")
    axes[1].set_title("generator terms")
    axes[1].legend()
    for key in ("adv", "disc"):
        axes[2].plot([int(r["step"]) for r in log], [float(r[key]) for r in log], label=key)
    axes[2].set_title("adversarial (generator) and discriminator BCE")
    axes[2].legend()
    for ax in axes:
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def sheet(sets: list[tuple[EvalSet, dict[str, np.ndarray]]], names: list[str], out: Path, per_set: int = 6) -> None:
    rows = []
    for data, outputs in sets:
        for i in np.linspace(0, len(data.hr) - 1, per_set).astype(int):
            lr_side = 16
            lr = cv2.resize(data.baseline[i], (lr_side, lr_side), interpolation=cv2.INTER_AREA)
            tiles = [cv2.resize(lr, (128, 128), interpolation=cv2.INTER_NEAREST)]
            tiles += [outputs[n][i] for n in names] + [data.hr[i]]
            rows.append(np.hstack(tiles))
    grid = np.vstack(rows)
    header = np.full((24, grid.shape[1], 3), 255, np.uint8)
    for k, label in enumerate(["input (shrunk)", *names, "HR"]):
        cv2.putText(header, label[:18], (k * 128 + 4, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1)
    cv2.imwrite(str(out), np.vstack([header, grid])[:, :, ::-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--fsrnet", default="fsrnet_lite_real")
    ap.add_argument("--run", required=True)
    ap.add_argument("--video-faces", default="data/video_faces")
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--command", required=True)
    ap.add_argument("--notes", default="", help="markdown appended to the card (what was tried, what it showed)")
    ap.add_argument(
        "--notes-file",
        default="",
        help="a markdown file appended after --notes: the card's prose, kept in a file so that rerunning this "
        "script does not drop it (the shipped card's: benchmarks/cards/fsrgan_lite_real.notes.md)",
    )
    ap.add_argument("--out", default="", help="results JSON (default: benchmarks/results/NAME.json)")
    ap.add_argument(
        "--no-back-project",
        action="store_true",
        help="skip the rows of both models after the pipeline's back-projection (official set)",
    )
    args = ap.parse_args()
    weights = Path(args.weights)
    models = {"FSRNet": load_model(args.fsrnet), "FSRGAN": load_model(weights)}
    analyser = FaceAnalyser()
    test = shared_dir() / "data/faces/test/celeba1000"
    sets = {
        "celeba1000, official LR_x8 (paper protocol)": load_eval_set(test / "HR", 8, test / "LR_x8", args.limit),
        "celeba1000, real-world degradation (seed 2026)": real_eval_set(test / "HR", args.limit),
    }
    if Path(args.video_faces).is_dir():
        sets["faces from the shared clips, real-world degradation"] = real_eval_set(args.video_faces, args.limit)
    results, shown, gaps = {}, [], {}
    for title, data in sets.items():
        official = "official" in title
        bp = official and not args.no_back_project  # the official LR files are 16 px faces
        rows, outputs, per_face = evaluate(data, models, analyser, 16 if bp else 0)
        results[title] = rows
        gaps[title] = {"FSRGAN - FSRNet": paired(per_face, "FSRGAN", "FSRNet")}
        if bp:
            gaps[title]["both back-projected"] = paired(
                per_face, "FSRGAN + back-projection", "FSRNet + back-projection"
            )
        if not official:
            shown.append((data, outputs))
        print(title, json.dumps(rows), json.dumps(gaps[title]), flush=True)
    stem = weights.with_suffix("")
    curves(Path(args.run), Path(f"{stem}_curve.png"))
    sheet(shown, ["bicubic", "FSRNet", "FSRGAN"], Path(f"{stem}_sheet.png"))
    meta = read_metadata(weights)
    training = json.loads(meta.get("training", "{}"))
    losses = training.get("losses", {})
    lines = [
        f"# {stem.name}", "",
        f"FSRGAN (conditional discriminator on [SR or HR, LR input], perceptual term) fine-tuned from `{args.fsrnet}`",
        "on the real-world degradation (`models/realdeg.py`; ranges in the FSRNet card). Hardware: "
        f"{platform.processor() or platform.machine()}, 2 CPU cores.", "",
        f"Training: `{args.command}`; {training.get('steps')} steps, {training.get('images_seen')} images, "
        f"{training.get('wall_seconds')} s, "
        f"{OPTIMIZERS.get(training.get('optimizer', 'rmsprop'), training.get('optimizer'))} lr {training.get('lr')}. "
        f"Losses: {loss_words(losses)}; + {losses.get('adv_weight')} x adversarial BCE + "
        f"{losses.get('perceptual_weight')} x perceptual "
        f"(`{losses.get('perceptual')}`). The perceptual term is the MSE between the features of a frozen "
        f"FSRNet prior-estimation network (`--perceptual prior:{args.fsrnet}`: its stem, hourglass and joint layer) "
        "of the SR and the HR face: ImageNet VGG-16 (the paper's choice) cannot be downloaded on this machine, "
        "and features trained to find landmarks and face parts measure the face structure FSRGAN is meant to keep.",
        "",
        f"Evaluate: `vidfsr eval --model {args.fsrnet} --model {weights} --face-metrics "
        "[--lr ../shared/data/faces/test/celeba1000/LR_x8 | --degradation real] [--hr data/video_faces]`.", "",
        "| set | method | Y-PSNR (dB) | Y-SSIM | landmark NRMSE (dlib) | identity distance (dlib) |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    for title, rows in results.items():
        for name, r in rows.items():
            lines.append(f"| {title} ({r['faces']} faces) | {name} | {r['psnr']:.2f} | {r['ssim']:.4f} | "
                         f"{r['nrmse']:.4f} | {r['identity']:.4f} |")  # fmt: skip
    lines += [
        "",
        "Paired per-face differences, mean +- standard error (negative NRMSE and identity: FSRGAN closer "
        "to the truth):",
        "",
        "| set | pair | Y-PSNR (dB) | landmark NRMSE | identity distance |",
        "|---|---|---|---|---|",
    ]
    for title, pairs in gaps.items():
        for pair, g in pairs.items():
            lines.append(
                f"| {title} | {pair} | "
                + " | ".join(f"{g[k][0]:+.4f} +- {g[k][1]:.4f}" for k in ("psnr", "nrmse", "identity"))
                + " |"
            )
    lines += ["", *([args.notes, ""] if args.notes else [])]
    if args.notes_file:
        lines += [Path(args.notes_file).read_text().rstrip(), ""]
    lines += [f"![curves]({stem.name}_curve.png)", "", f"![sheet]({stem.name}_sheet.png)", ""]
    Path(f"{stem}.md").write_text("\n".join(lines))
    Path(args.out or f"benchmarks/results/{stem.name}.json").write_text(
        json.dumps({"rows": results, "paired": gaps}, indent=1)
    )


if __name__ == "__main__":
    main()
