"""``vidfsr enhance IN OUT``: super-resolve every face of a video, an image or a folder of images."""

from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enhance",
        help="enhance the faces of a video, image or folder of images",
        description="Detect, track and super-resolve every face, paste it back seamlessly and re-encode with "
        "the input's timestamps and audio. Faces larger than the models can improve pass through unchanged.",
        epilog="Examples:\n  vidfsr enhance in.mp4 out.mp4\n"
        "  vidfsr enhance cam.mp4 out.mp4 --scale 4 --compare cmp.mp4\n  vidfsr enhance photo.jpg photo_x2.png\n"
        "  vidfsr enhance photos/ enhanced/ --save-faces faces/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="video file, image, or folder of images")
    p.add_argument("output", help="output file (container from its extension) or folder")
    p.add_argument(
        "--model",
        action="append",
        default=[],
        help="weights name or .safetensors path (repeatable; default: fsrnet_lite_real on a CPU, the larger "
        "fsrnet_real_grown on CUDA; 'vidfsr info' lists the shipped ones)",
    )
    p.add_argument("--scale", type=float, default=2.0, help="output size factor (default 2)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    p.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto")
    p.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx", "compile"],
        default="auto",
        help="how the model runs (auto: ONNX Runtime for --precision fp32 on CPU when installed, else torch)",
    )
    p.add_argument("--batch-size", type=int, default=4, help="faces per model call")
    p.add_argument("--detect-every", type=int, default=1, help="detect every k frames, track in between")
    p.add_argument(
        "--detector",
        default="yunet",
        help="yunet | yunet:PATH | haar | insightface:PATH (insightface's pretrained models are for "
        "non-commercial research only)",
    )
    p.add_argument(
        "--blend",
        type=float,
        default=None,
        help="strength of the enhanced face (0..1; default by source, measured: 1, falling to 0.7 on coarse coding: "
        "H.264 files and cameras from keyframe QP 30 to 32, JPEG and MJPEG files from quality 60 to 50)",
    )
    p.add_argument("--mask", choices=["ellipse", "parsing"], default="ellipse")
    p.add_argument("--force", action="store_true", help="also enhance faces too large to gain")
    p.add_argument(
        "--temporal",
        type=float,
        default=0.0,
        help="weight of each track's previous added detail in crop coordinates (default 0: off, --steady does better)",
    )
    p.add_argument(
        "--steady",
        type=float,
        default=0.8,
        help="share of each face's previous output carried onto the frame by optical flow, where the frames "
        "agree (0 off; default 0.8: measured, more PSNR and less flicker)",
    )
    p.add_argument(
        "--crop-hold",
        type=float,
        default=0.05,
        help="a face keeps its crop box while it stays within this share of the crop side (0 off; default "
        "0.05: measured, less flicker)",
    )
    p.add_argument(
        "--large-from",
        type=float,
        default=None,
        help="native crop side (input px) from which a face shown at least 256 px large reaches the model as a "
        "256 px input, up to 128 px crops (0 off; default by source, measured: 48 for lossless video and "
        "PNG/BMP/TIFF, H.264 of keyframe QP 26 or finer and JPEG/MJPEG of quality 90+, 80 for QP 26-31 and "
        "quality 60-89, off for coarser input)",
    )
    p.add_argument(
        "--consistency",
        type=float,
        default=None,
        help="back-projection share: each face made to agree with the input's pixels (0 off; default by source, "
        "measured: 1.0 for lossless codecs and PNG/BMP/TIFF, 0.75 for compressed video and cameras; JPEG and MJPEG "
        "files by their quality, 0.75 up to 80, 1.0 from 85; H.264 files and cameras by their keyframe QP, 0.75 up "
        "to 29, 0.5 from 33)",
    )
    p.add_argument(
        "--frame-consistency",
        type=float,
        default=None,
        help="second back-projection step at the output's resolution over each face's region (0 off; default by "
        "source, measured: 1.0 for lossless codecs and PNG/BMP/TIFF, 0 for compressed video and cameras; JPEG and "
        "MJPEG files by their quality, 0 up to 85, 0.5 from 90; H.264 files and cameras by their keyframe QP, 0 "
        "from 30, 0.5 up to 22; with --steady it runs before the average and again after it)",
    )
    p.add_argument("--codec", default="libx264")
    p.add_argument("--crf", type=int, default=18)
    p.add_argument("--preset", default="medium")
    p.add_argument("--pix-fmt", default="yuv420p")
    p.add_argument(
        "--compare",
        default="",
        help="also write a side-by-side bicubic input | output here (a video, an image, or a folder for a folder)",
    )
    p.add_argument("--save-faces", default="", help="folder for each track's best enhanced face + tracks.json")
    p.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads for the model (0: half the cores on CPU: the other stages run beside it)",
    )
    p.add_argument("--max-frames", type=int, default=0, help="stop after this many frames (live: until Ctrl-C)")
    p.add_argument(
        "--stages", default="",
        help='stages per thread, e.g. "decode,detect,crops,enhance,blend,encode" (six threads); "+" joins '
        "neighbours in one thread (default: the grouping measured fastest)",
    )  # fmt: skip
    p.add_argument("--min-face", type=float, default=8.0)
    p.add_argument("--max-faces", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from vidfsr.api import enhance_video, set_cpu_threads
    from vidfsr.cli import stop_event

    from .progress import progress_bar

    set_cpu_threads(args.threads)  # an entry point: the one place global backend flags are set

    options = {
        "models": tuple(args.model), "scale": args.scale, "device": args.device, "precision": args.precision,
        "backend": args.backend,
        "batch_size": args.batch_size, "detect_every": args.detect_every, "detector": args.detector,
        "blend": args.blend, "mask": args.mask, "force": args.force, "temporal": args.temporal, "steady": args.steady,
        "crop_hold": args.crop_hold, "large_from": args.large_from,
        "consistency": args.consistency, "frame_consistency": args.frame_consistency,
        "codec": args.codec, "crf": args.crf, "preset": args.preset, "pix_fmt": args.pix_fmt,
        "compare": args.compare, "save_faces": args.save_faces, "min_face": args.min_face,
        "max_faces": args.max_faces, "stages": args.stages,
    }  # fmt: skip
    with progress_bar("enhance") as update:

        def report(summary, total: int) -> None:
            fps = summary.frames / max(summary.seconds, 1e-9)
            text = f"{fps:.1f} fps, {summary.faces_enhanced} faces, {summary.in_flight} in flight, "
            text += f"{summary.tracks} tracks"
            if summary.latency_last_s is not None:
                text += f", latency {summary.latency_last_s:.2f} s"
            update(summary.frames, total or None, text)

        result = enhance_video(
            args.input, args.output, progress=report, max_frames=args.max_frames, stop=stop_event(), **options
        )
    if result.get("stopped") and "://" not in str(args.input):
        # Ctrl-C seen only through the stop event (its KeyboardInterrupt swallowed): end as Ctrl-C does.
        Console(stderr=True).print(f"[red]interrupted[/]: {result['frames']} frames kept in {result['output']}")
        return 130
    table = Table(title=f"vidfsr enhance -> {result['output']}")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key in ("frames", "faces_detected", "faces_enhanced", "tracks", "corrupt_packets", "dropped_frames",
                "reconnects"):  # fmt: skip
        if key in result:
            table.add_row(key.replace("_", " "), str(result[key]))
    if result.get("consistency") is not None:
        # What the source's coding chose (or the options forced): a user comparing runs should see it.
        source = result.get("source_codec") or "unknown"
        quality = result.get("source_quality")
        if quality is not None:
            source += f", {'keyframe QP' if source == 'h264' else 'quality'} {quality:.3g}"
        table.add_row("back-projection", f"crop {result['consistency']:g}, frame {result['frame_consistency']:g} "
                      f"({source})")  # fmt: skip
        table.add_row("paste strength", f"{result['strength']:g}")
    table.add_row("wall time", f"{result['seconds']:.1f} s")
    if result.get("latency_mean_s") is not None:
        table.add_row("latency mean / max", f"{result['latency_mean_s']:.2f} / {result['latency_max_s']:.2f} s")
    for stage, seconds in result["stage_seconds"].items():
        table.add_row(f"  {stage}", f"{seconds:.1f} s")
    Console().print(table)
    return 0
