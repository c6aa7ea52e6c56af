"""Model card of a real-world FSRNet (``--degradation real``): degradation ranges, test-set and real-video numbers.

    python benchmarks/real_model_card.py --weights vidfsr/weights/fsrnet_lite_real.safetensors \
        --run checkpoints/lite_real --video benchmarks/results/real_video.json --command "vidfsr train ..."

Evaluates on all 1,000 celeba1000 HR crops degraded once by the real-world degradation (fixed seed 2026, the
same set ``vidfsr eval`` uses for real-world models), split by what the degradation applied, and on the official
LR_x8 files (the paper protocol, for reference); adds the real-video benchmark's tables
(``benchmarks/real_video.py``) and its contact sheet. Writes NAME.md, NAME_curve.png and NAME_sheet.png.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np
from model_card import OPTIMIZERS, contact_sheet, learning_curve, loss_words, validation_points
from real_video import table_markdown
from vidfsr.models.evaluate import as_pasted, load_eval_set, real_eval_set, score, super_resolve
from vidfsr.models.io import load_model, read_metadata
from vidfsr.pipelines.blend import LOSSLESS_CONSISTENCY, LOSSY_CONSISTENCY

from vidfsr.shared import shared_dir

# How a card names each registered real-world network (``vidfsr.models.registry``).
NETWORKS = {
    "fsrnet_lite_real": "FSRNet lite",
    "fsrnet_real_grown": "FSRNet at the paper's widths with one hourglass",
    "fsrnet_real": "FSRNet at the paper's size",
}


def curve_table(curve: list[tuple[int, float]], pasted: list[tuple[int, float]]) -> list[str]:
    """The validation table: the network's output, and the pasted face where the run scored it."""
    if not pasted:
        return ["| images seen | validation PSNR (dB, 200 faces, real-world degradation) |", "|---|---|",
                *[f"| {n} | {p:.2f} |" for n, p in curve]]  # fmt: skip
    after = dict(pasted)
    return ["| images seen | validation PSNR (dB, 200 faces, real-world degradation): output / after the step |",
            "|---|---|", *[f"| {n} | {p:.2f} / {after[n]:.3f} |" if n in after else f"| {n} | {p:.2f} |"
                           for n, p in curve]]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--video", default="benchmarks/results/real_video.json")
    ap.add_argument("--video-sheet", default="")
    ap.add_argument("--command", required=True)
    ap.add_argument("--hardware", default=f"{platform.processor() or platform.machine()}, 2 CPU cores (this machine)")
    ap.add_argument("--notes", default="")
    ap.add_argument("--role", default="the default model of `vidfsr enhance`", help="what the weights are for")
    args = ap.parse_args()
    weights = Path(args.weights)
    model = load_model(weights)
    meta = read_metadata(weights)
    test = shared_dir() / "data/faces/test/celeba1000"
    data = real_eval_set(test / "HR")
    kinds = data.compression
    sr, _ = super_resolve(model, data.lr_up, 16)
    (bp, bs), (mp, ms) = score(data.lr_up, data.hr), score(sr, data.hr)
    # What vidfsr enhance pastes: the output after the back-projection step, at the share it picks by source.
    pp_bp, ps_bp = score(as_pasted(sr, data), data.hr)
    paper = load_eval_set(test / "HR", 8, test / "LR_x8")
    pp, ps = score(super_resolve(model, paper.lr_up, 16)[0], paper.hr)
    stem = weights.with_suffix("")
    training = json.loads(meta.get("training", "{}"))
    until = training.get("images_seen")  # the run may have gone on past these weights
    learning_curve(Path(args.run), Path(f"{stem}_curve.png"), f"{weights.stem} validation (200 faces, real)", until)
    contact_sheet(data.lr_up[:16], data.lr_up[:16], sr[:16], data.hr[:16], Path(f"{stem}_sheet.png"))
    deg = json.loads(meta["degradation"])
    sides = json.loads(meta["native_sides"])
    lines = [
        f"# Model card: {weights.name}",
        "",
        f"{NETWORKS.get(meta.get('model_name', ''), 'FSRNet')} (`{meta.get('model_name')}`, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters) trained on the real-world "
        f"degradation (`vidfsr.models.realdeg`): {args.role}. It takes a face crop of any native size, resized "
        "straight to 128x128 with OpenCV's cubic filter (never shrunk first), and returns 128x128.",
        "",
        f"- Serves native crop sides **{sides[0]}-{sides[1]} px** (`native_sides` in the metadata"
        f"{', measured on real video: the sizes where it beats bicubic' if 'native_sides_measured' in meta else ''});"
        " faces outside are resized like the background.",
        f"- Input: {meta['input_range']}",
        f"- Architecture config: `{meta['arch']}`",
        f"- Training data: {training.get('data', '?')}",
        f"- Training: started from `{training.get('init') or 'scratch'}`, {training.get('steps')} steps, "
        f"{training.get('images_seen')} images seen, batch {training.get('batch_size')}, "
        f"{OPTIMIZERS.get(training.get('optimizer', 'rmsprop'), training.get('optimizer'))} lr "
        f"{training.get('lr')}, precision {training.get('precision')}, wall time "
        f"{training.get('wall_seconds', 0) / 3600:.2f} h on {args.hardware} (beside other work)",
        f"- Loss: {loss_words(training.get('losses', {}))}",
        f"- Command: `{args.command}`",
        "- Licence: research and non-commercial use only (CelebA/LFW/Helen crops, dlib iBUG 300-W landmarks).",
        "",
        "## Degradation (training)",
        "",
        "Reasons for every range are in `models/realdeg.py`'s docstring (scaled from GFPGAN, CodeFormer and "
        "Real-ESRGAN's published ranges to 128 px faces).",
        "",
        "| what | range |",
        "|---|---|",
        f"| LR side | {deg['lr_sides'][0]}-{deg['lr_sides'][1]} px, log-uniform |",
        f"| downscaling kernel | {', '.join(f'{k} {v:.0%}' for k, v in deg['kernels'].items())} |",
        f"| Gaussian blur (gaussian kernel) | sigma {deg['blur_sigma'][0]}-{deg['blur_sigma'][1]} LR px |",
        f"| noise | Gaussian sigma {deg['noise_sigma'][0]}-{deg['noise_sigma'][1]} of 255 on "
        f"{deg['noise_prob']:.0%} of faces |",
        f"| H.264 (libx264 via PyAV) | {deg['h264_prob']:.0%} of batches, CRF {deg['crf'][0]}-{deg['crf'][1]}, "
        f"presets {', '.join(deg['h264_presets'])}, I or P frame |",
        f"| JPEG | {deg['jpeg_prob']:.0%}, quality {deg['jpeg_quality'][0]}-{deg['jpeg_quality'][1]} |",
        "| none | the rest |",
        "",
        "## celeba1000, real-world degradation (1,000 faces, fixed seed 2026, Y channel)",
        "",
        "`vidfsr eval --model " + weights.stem + "` reproduces the model columns of the first row (it defaults "
        "to this set for real-world models; `--back-project` adds the after-the-step columns). The baseline is "
        "the model's own input: the LR face resized to 128 with cubic. The last columns are what `vidfsr "
        "enhance` pastes: the output after its back-projection "
        f"step, at the share it picks by source ({LOSSLESS_CONSISTENCY:g} on the uncompressed faces, "
        f"{LOSSY_CONSISTENCY:g} on JPEG and H.264), taken against the cubic input at each face's own LR side.",
        "",
        "| faces | n | cubic PSNR / SSIM | model PSNR / SSIM | gain (dB) | after the step: PSNR / SSIM | gain (dB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for kind in ("all", "none", "jpeg", "h264"):
        sel = np.ones(len(kinds), bool) if kind == "all" else kinds == kind
        if sel.any():
            lines.append(
                f"| {kind} | {int(sel.sum())} | {bp[sel].mean():.2f} / {bs[sel].mean():.4f} | {mp[sel].mean():.2f} / "
                f"{ms[sel].mean():.4f} | {mp[sel].mean() - bp[sel].mean():+.2f} | {pp_bp[sel].mean():.2f} / "
                f"{ps_bp[sel].mean():.4f} | {pp_bp[sel].mean() - bp[sel].mean():+.2f} |"
            )
    lines += [
        "",
        f"On the official LR_x8 files (paper protocol, not what this model is for): {pp.mean():.2f} dB / "
        f"{ps.mean():.4f} (bicubic 23.53 / 0.6319; the paper-protocol `fsrnet_lite_x8` stays the model for it).",
        "",
        f"## Learning curve\n\n![curve]({Path(f'{stem}_curve.png').name})\n",
        *curve_table(*validation_points(Path(args.run), until)),
        "",
        f"## Contact sheet (celeba1000)\n\n![sheet]({Path(f'{stem}_sheet.png').name})\n",
        "16 test faces: model input (cubic) twice, model output, HR (the sheet's first two columns are the same "
        "input; the real-video sheet below shows Real-ESRGAN beside it).",
    ]
    video = Path(args.video)
    if video.exists():
        v = json.loads(video.read_text())
        lines += ["", "## Real video (benchmarks/real_video.py)", "", f"Command: `{v['command']}`", ""]
        lines += video_tables(v)
        if args.video_sheet:
            lines += ["", f"![real video faces]({Path(args.video_sheet).name})", "",
                      "Face boxes of the third frame at 8x (lossless, then CRF 28 per clip): original | bicubic | "
                      "Real-ESRGAN x4plus (+bicubic x2) | vidfsr."]  # fmt: skip
    if args.notes:
        lines += ["", "## Notes", "", args.notes]
    Path(f"{stem}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def video_tables(v: dict) -> list[str]:
    lines = []
    for title, key in (("All frames", "table"), ("First frames, with Real-ESRGAN", "table_esrgan_frames")):
        table = v.get(key)
        if not table:
            continue
        lines += [
            f"{title}: mean over clips of face-box Y-PSNR (dB) / SSIM / flicker / landmark NRMSE / identity "
            "distance; vidfsr's gain over bicubic (worst clip) and clips won.",
            "",
            *table_markdown(table),
        ]
        lines.append("")
    lines += ["Gain over bicubic by native crop size (input px), all scales and codecs:", "",
              "| crop px | faces | gain (dB) | faces better |", "|---|---|---|---|"]  # fmt: skip
    for r in v.get("by_native_size", []):
        lines.append(f"| {r['crop_px'][0]}-{r['crop_px'][1]} | {r['faces']} | {r['gain_db']:+.2f} | "
                     f"{100 * r['share_better']:.0f}% |")  # fmt: skip
    return lines


if __name__ == "__main__":
    main()
