"""The Python API: build models from weights (vidfsr.models) and hand them to the pipeline (vidfsr.pipelines).

import vidfsr
vidfsr.enhance_video("in.mp4", "out.mp4", scale=2)
enhancer = vidfsr.FrameEnhancer(scale=2)       # frame by frame, for use inside other programs
out = enhancer(bgr_image)
"""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import from_dict, resolve_device
from .errors import AssetNotFoundError, ConfigError, InputError, InputNotFoundError

if TYPE_CHECKING:
    from .pipelines.blend import BlendConfig

logger = logging.getLogger(__name__)

# Shipped weights in order of preference, by the device the model runs on: the first one found is used. A larger
# network gains a little on real video (the grown one up to +0.07 dB, BENCHMARKS.md session 30) for several
# times the lite one's multiply-adds: an accelerator hides that, on a CPU it is what every face costs, so the lite
# network serves there. Every shipped model stays available by name (--model NAME), the paper-protocol weights
# (fsrnet_lite_x8, fsrnet_lite_x4) included.
DEFAULT_WEIGHTS: dict[str, tuple[str, ...]] = {
    "cpu": ("fsrnet_lite_real",),
    "accelerator": ("fsrnet_real", "fsrnet_real_grown", "fsrnet_lite_real"),
}
# Frames buffered between stages for live input: 2 halved latency against 8 at the same throughput.
LIVE_QUEUE = 2


@dataclass(frozen=True)
class EnhanceOptions:
    """Options of ``vidfsr enhance`` (CLI flags of the same names).

    Attributes:
        models: weights names or .safetensors paths; empty: the shipped defaults for every scale found.
        scale: output size factor; faces are super-resolved, the background resized.
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda:N``.
        precision: ``auto`` (bf16 on CPU, fp16 on CUDA: measured within 0.01 dB of fp32), ``fp32``, ``bf16``,
            ``fp16`` (CUDA).
        backend: ``auto`` (ONNX Runtime for fp32 on CPU when installed, the fastest exact path; eager torch
            otherwise), ``torch``, ``onnx``, ``compile`` (torch.compile: ~40 s of compilation per model).
        batch_size: faces per model call.
        detect_every: detect every k frames, track in between.
        detector: ``yunet`` (default), ``yunet:PATH``, ``haar``, ``insightface:PATH``.
        blend: strength of the enhanced face, 0..1; None: 1 but on coarse coding, falling to 0.7 over H.264
            keyframe QP 30-32 and JPEG/MJPEG quality 60-50 (measured, ``pipelines.blend.auto_strength``).
        mask: ``ellipse`` or ``parsing`` (the model's predicted face components).
        force: enhance faces too large to gain from the models.
        temporal: weight of a track's previous added detail in crop coordinates (0 off, the default since
            ``steady`` does better; see RunConfig).
        steady: share of a track's previous output face carried by optical flow onto the current frame where
            the frames agree (0 off; 0.8 measured: more PSNR, less flicker, see ``pipelines.steady``).
        crop_hold: share of the crop side within which a track keeps its previous crop box (0: a fresh box
            every frame; 0.05 measured: less flicker, see ``pipelines.crops.CropHold``).
        large_from: native crop side (input pixels) from which a face shown at least 256 px large reaches the
            model as a 256 px input instead of 128 (0: never; crops over 128 px never do); None: 48 for lossless
            and finely coded sources (lossless codecs, PNG/BMP/TIFF, H.264 of keyframe QP 26 or finer,
            JPEG/MJPEG of quality 90 or more), 80 for H.264 of QP 26-31 and JPEG/MJPEG of quality 60-89, 0
            otherwise (measured, ``pipelines.crops.auto_large_from``).
        consistency: share of the back-projection step that makes each face agree with the input frame's
            pixels (0 off); None: chosen by the source's codec, 1.0 for lossless sources and 0.75 for
            compressed or unknown ones, a JPEG still or MJPEG file by its quality and an H.264 file by its
            keyframe QP (measured, ``pipelines.blend.auto_consistency``).
        frame_consistency: share of the second back-projection step, at the output's resolution over each
            face's region, enhanced or not (0 off); None: 1.0 for lossless sources and 0 for compressed or
            unknown ones, a JPEG still or MJPEG file by its quality and an H.264 file by its keyframe QP
            (measured, ``pipelines.blend.auto_frame_consistency``).
        codec, crf, preset, pix_fmt: encoder settings.
        compare: also write a side-by-side input (bicubic, as the background) | output here: a video for a
            video, an image for an image, a folder for a folder of images.
        save_faces: write each track's best enhanced face and a JSON report of tracks here.
        min_face, max_faces, score_threshold: detector options.
        stages: which pipeline stages share a thread (``pipelines.runner.parse_threads``; empty: the grouping
            measured fastest, BENCHMARKS.md).
    """

    models: tuple[str, ...] = ()
    scale: float = 2.0
    device: str = "auto"
    precision: str = "auto"
    backend: str = "auto"
    batch_size: int = 4
    detect_every: int = 1
    detector: str = "yunet"
    blend: float | None = None
    mask: str = "ellipse"
    force: bool = False
    temporal: float = 0.0
    steady: float = 0.8
    crop_hold: float = 0.05
    large_from: float | None = None
    consistency: float | None = None
    frame_consistency: float | None = None
    codec: str = "libx264"
    crf: int = 18
    preset: str = "medium"
    pix_fmt: str = "yuv420p"
    compare: str = ""
    save_faces: str = ""
    min_face: float = 8.0
    max_faces: int = 0
    score_threshold: float = 0.6
    stages: str = ""

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> EnhanceOptions:
        if isinstance(kwargs.get("models"), str):
            kwargs["models"] = (kwargs["models"],)
        opts = from_dict(cls, kwargs, "enhance option")
        if not 0.1 <= opts.scale <= 16:
            raise ConfigError(f"--scale must be between 0.1 and 16 (output size / input size), got {opts.scale:g}")
        if opts.batch_size < 1 or opts.detect_every < 1:
            raise ConfigError("batch_size and detect_every must be >= 1")
        if opts.backend not in ("auto", "torch", "onnx", "compile"):
            raise ConfigError(f"backend must be auto, torch, onnx or compile, got {opts.backend!r}")
        if opts.mask not in ("ellipse", "parsing"):
            raise ConfigError(f"mask must be 'ellipse' or 'parsing', got {opts.mask!r}")
        shares_ok = all(c is None or 0 <= c <= 1 for c in (opts.blend, opts.consistency, opts.frame_consistency))
        if not 0 <= opts.temporal < 1 or not shares_ok:
            raise ConfigError("blend, consistency and frame_consistency must be in [0, 1] and temporal in [0, 1)")
        if not 0 <= opts.steady < 1:
            raise ConfigError(f"steady must be in [0, 1) (the previous detail's share), got {opts.steady:g}")
        if not 0 <= opts.crop_hold < 0.5:
            raise ConfigError(f"crop_hold must be in [0, 0.5) (a share of the crop side), got {opts.crop_hold:g}")
        if opts.large_from is not None and opts.large_from < 0:
            raise ConfigError(f"large_from must be >= 0 (input pixels; 0 off), got {opts.large_from:g}")
        return opts


def set_cpu_threads(threads: int = 0) -> int:
    """Set torch's CPU threads for a pipeline run (0: half the cores, at least 1) and numpy's BLAS to one thread.

    Detection, blending and encoding run in their own threads beside the model: on this project's 2-core
    machine one model thread made the whole pipeline ~15% faster than two. The BLAS limit matters as much: the
    crop resampling's small matrix products woke OpenBLAS's worker threads, which then busy-waited on a core the
    other stages needed (the pipeline ran 17% faster without them; BENCHMARKS.md). Call it from an entry point
    only: it changes process-wide settings.
    """
    import torch
    from threadpoolctl import threadpool_limits

    n = threads or max(1, (os.cpu_count() or 2) // 2)
    torch.set_num_threads(n)
    threadpool_limits(1, user_api="blas")
    return n


def default_weights(device: Any = "cpu") -> tuple[str, ...]:
    """The shipped weights names :func:`load_default_model` tries on ``device``, in order of preference."""
    kind = device if isinstance(device, str) else device.type
    return DEFAULT_WEIGHTS["cpu" if kind.split(":")[0] == "cpu" else "accelerator"]


def load_models(names: Sequence[str], device: Any = "cpu") -> dict[Any, Any]:
    """Native-size range -> loaded FSRNet, from explicit weights (in order of preference) or the shipped default
    for ``device`` (the models are loaded on the CPU; the enhancer moves them)."""
    from .models.io import load_model_meta, native_sides
    from .pipelines.crops import ModelRange

    models: dict[Any, Any] = {}
    for name in names:
        model, meta = load_model_meta(name)
        key = ModelRange(*native_sides(meta, model.cfg))
        if key in models:
            raise ConfigError(f"{name} serves the same face sizes ({key.lo:g}-{key.hi:g} px) as an earlier --model")
        models[key] = model
    if names:
        return models
    model, meta, name = load_default_model(prefer=device)
    logger.info("model %s (the default on %s)", name, device)
    return {ModelRange(*native_sides(meta, model.cfg)): model}


def load_default_model(device: Any = "cpu", prefer: Any = None) -> tuple[Any, dict[str, str], str]:
    """(model, weights metadata, name) of the first shipped default weights found for the device the model will
    run on (``prefer``, else ``device``; ``DEFAULT_WEIGHTS``), loaded on ``device``."""
    from .models.io import load_model_meta

    for name in default_weights(device if prefer is None else prefer):
        try:
            model, meta = load_model_meta(name, device)
        except AssetNotFoundError:
            continue
        return model, meta, name
    raise AssetNotFoundError(
        "no FSRNet weights found (vidfsr/weights/ is empty in this install); train some with 'vidfsr train' "
        "and pass --model RUN/final.safetensors"
    )


def resolve_backend(backend: str, device_type: str, precision: str) -> str:
    """``auto``: exact fp32 on a CPU runs fastest in ONNX Runtime (BENCHMARKS.md); everything else in torch."""
    if backend != "auto":
        return backend
    if device_type == "cpu" and precision == "fp32":
        import importlib.util

        if importlib.util.find_spec("onnxruntime") is not None:
            return "onnx"
        logger.info("fp32 on CPU: pip install 'vidfsr[onnx]' for the faster exact ONNX Runtime path")
    return "torch"


def large_from(opts: EnhanceOptions, source_codec: str | None, quality: float | None = None) -> float:
    """The native crop side from which faces reach the model as 256 px inputs: the option, or by source
    (``pipelines.crops.auto_large_from``), as ``blend_config`` picks the shares."""
    from .pipelines.crops import auto_large_from

    return auto_large_from(source_codec, quality) if opts.large_from is None else opts.large_from


def blend_config(opts: EnhanceOptions, source_codec: str | None, quality: float | None = None) -> BlendConfig:
    """The blend settings for a source coded with ``source_codec`` (and, for a JPEG, saved at ``quality``; for
    H.264, quantised at keyframe QP ``quality``): the back-projection shares follow the source (its pixels are
    the truth only when lossless or nearly so), and the paste strength its coarseness, unless the options set
    them."""
    from .pipelines.blend import BlendConfig, auto_consistency, auto_frame_consistency, auto_strength
    from .pipelines.qp import QP_CODECS

    consistency, frame, strength = opts.consistency, opts.frame_consistency, opts.blend
    consistency = auto_consistency(source_codec, quality) if consistency is None else consistency
    frame = auto_frame_consistency(source_codec, quality) if frame is None else frame
    strength = auto_strength(source_codec, quality) if strength is None else strength
    measure = "keyframe QP" if (source_codec or "").lower() in QP_CODECS else "quality"
    source = f"source codec {source_codec or 'unknown'}" + ("" if quality is None else f", {measure} {quality:g}")
    logger.info(
        "back-projection shares: crop %g (%s), frame %g (%s)",
        consistency,
        source if opts.consistency is None else "--consistency",
        frame,
        source if opts.frame_consistency is None else "--frame-consistency",
    )
    logger.info("paste strength %g (%s)", strength, source if opts.blend is None else "--blend")
    return BlendConfig(strength=strength, mask=opts.mask, consistency=consistency, frame_consistency=frame)


def build_runner(opts: EnhanceOptions, source_codec: str | None = None, quality: float | None = None):
    """Detector, enhancer and runner for these options (the heavy imports happen here). ``source_codec``: the
    input's codec (``VideoInfo.codec``, or an image format), and for JPEG/MJPEG ``quality`` (``pipelines.jpeg``),
    for H.264 the keyframe QP (``pipelines.qp``),
    which set the back-projection shares the options leave unset."""
    from .pipelines.detect import DetectorConfig, create_detector
    from .pipelines.enhance import Enhancer, EnhancerConfig
    from .pipelines.runner import ACCELERATOR_THREADS, DEFAULT_THREADS, RunConfig, Runner, parse_threads

    device = resolve_device(opts.device)
    stages = opts.stages or (ACCELERATOR_THREADS if device.type == "cuda" else DEFAULT_THREADS)
    parse_threads(stages)  # a bad grouping fails before the models load
    models = load_models(opts.models, device)
    backend = resolve_backend(opts.backend, device.type, opts.precision)
    enhancer = Enhancer(
        models,
        device,
        EnhancerConfig(opts.batch_size, opts.precision, True, parsing_mask=opts.mask == "parsing", backend=backend),
    )
    detector = create_detector(opts.detector, DetectorConfig(opts.score_threshold, 0.3, opts.min_face, opts.max_faces))
    config = RunConfig(
        scale=opts.scale,
        detect_every=opts.detect_every,
        force=opts.force,
        batch_size=max(opts.batch_size, 8),
        temporal=opts.temporal,
        steady=opts.steady,
        crop_hold=opts.crop_hold,
        large_from=large_from(opts, source_codec, quality),
        blend=blend_config(opts, source_codec, quality),
        keep_best=bool(opts.save_faces),
        threads=stages,
    )
    return Runner(detector, enhancer, config)


def _is_image(path: Path) -> bool:
    from .pipelines.types import IMAGE_EXTS

    return path.suffix.lower() in IMAGE_EXTS


def enhance_video(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    progress: Callable[[Any, int], None] | None = None,
    max_frames: int = 0,
    stop: threading.Event | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Enhance every face in a video file (or an image, or a folder of images) and write the result.

    Returns the run summary (frames, faces, tracks, time per stage). ``progress(summary, total_frames)`` is
    called after every frame. ``src`` and ``dst`` may be ``rtsp://`` URLs (live input keeps only the newest
    frame when processing falls behind; output is published). ``max_frames`` stops after that many frames
    (0: all; live input otherwise runs until interrupted). Setting ``stop`` (from any thread) ends a video run
    within a second, even while a camera is silent, with every frame read so far written: a live recording is
    finished as complete (how a recording ends), a file's output is kept as the playable ``.partial`` file
    that Ctrl-C leaves; the result then says ``"stopped": True``. Options are the fields of
    :class:`EnhanceOptions`.
    """
    opts = EnhanceOptions.from_kwargs(**options)
    live = "://" in str(src)
    src_path = Path(src)
    if not live and not src_path.exists():
        raise InputNotFoundError(f"{src}: no such file or folder")
    if not live and (src_path.is_dir() or _is_image(src_path)):
        return _enhance_images(src_path, Path(dst), opts, progress)
    return _enhance_stream(str(src), str(dst), opts, progress, max_frames, stop)


VIDEO_EXTS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".ts")
MAX_SIDE = 8192  # H.264's largest level (6.2) tops out at 8192x4320


def check_video_output(path: str) -> None:
    """Refuse an output whose container cannot be told from its name, before anything is computed."""
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_EXTS:
        what = f"extension {suffix!r}" if suffix else "no extension"
        raise InputError(f"{path}: {what} is not a video container vidfsr writes; use one of {', '.join(VIDEO_EXTS)}")


def check_output_size(width: int, height: int, scale: float) -> None:
    w, h = round(width * scale), round(height * scale)
    if max(w, h) > MAX_SIDE:
        fit = MAX_SIDE / max(width, height)
        raise InputError(
            f"--scale {scale:g} makes {width}x{height} frames {w}x{h}, beyond H.264's {MAX_SIDE} px; "
            f"use --scale {int(fit * 100) / 100:g} or less"
        )


def _relay_stop(stop: threading.Event, done: threading.Event, source) -> None:
    """Interrupts the source once ``stop`` is set: its frames end (a source waiting on a silent camera lets go
    at once), and the frames already read flow through the stages and are written."""
    while not done.is_set():
        if stop.wait(0.05):
            source.interrupt()
            return


def _video_quality(path: str, codec: str) -> float | None:
    """An MJPEG file's JPEG quality (its frames are JPEG stills, judged like them), an H.264 file's keyframe QP
    (``pipelines.qp``); None for other codecs."""
    from .pipelines.blend import JPEG_CODECS
    from .pipelines.jpeg import mjpeg_file_quality
    from .pipelines.qp import QP_CODECS, keyframe_qp

    if codec.lower() in JPEG_CODECS:
        return mjpeg_file_quality(path)
    return keyframe_qp(path) if codec.lower() in QP_CODECS else None


def _enhance_stream(
    src: str, dst: str, opts: EnhanceOptions, progress, max_frames: int, stop: threading.Event | None = None
) -> dict[str, Any]:
    import itertools

    from .pipelines.live import RtspSource, mask_url
    from .pipelines.video import EncodeOptions, VideoFileSink, VideoFileSource

    live = "://" in src
    if not live and "://" not in dst and Path(dst).resolve() == Path(src).resolve():
        raise InputError(f"{dst}: output would overwrite the input")
    if "://" not in dst:
        check_video_output(dst)
    if opts.compare:
        check_video_output(opts.compare)
    encode = EncodeOptions(opts.codec, opts.crf, opts.preset, opts.pix_fmt)
    audio = None if live else src
    # The input is opened before the models load: a bad input fails in a moment, not after seconds of loading.
    with RtspSource(src) if live else VideoFileSource(src) as source:
        info = source.info
        check_output_size(info.width, info.height, opts.scale)
        quality = source.keyframe_qp if live else _video_quality(src, info.codec)
        runner = build_runner(opts, info.codec, quality)
        if live:
            # Short queues: every frame waiting between stages is latency (BENCHMARKS.md, live latency).
            runner.config = dataclasses.replace(runner.config, queue_size=LIVE_QUEUE)
        width, height = runner.output_size(info.width, info.height)
        sinks = [VideoFileSink(dst, width, height, info.time_base, info.rate, audio, encode)]
        if opts.compare:
            sinks.append(VideoFileSink(opts.compare, 2 * width, height, info.time_base, info.rate, audio, encode))
        frames = itertools.islice(source, max_frames) if max_frames else source
        done = threading.Event()
        if stop is not None:
            threading.Thread(target=_relay_stop, args=(stop, done, source), name="vidfsr-stop", daemon=True).start()
        complete = False
        try:

            def write(frame, image) -> None:
                sinks[0].write(image, frame.pts)
                if len(sinks) > 1:
                    from .pipelines.runner import side_by_side

                    sinks[1].write(side_by_side(frame.image, image), frame.pts)

            report = None if progress is None else (lambda s: progress(s, info.frames))
            try:
                summary = runner.run(frames, write, report, interrupt_source=source.interrupt)
            except KeyboardInterrupt:
                if not live:
                    raise
                summary = runner.summary  # Ctrl-C is how a live recording ends: keep it as complete
            stopped = stop is not None and stop.is_set()
            complete = live or not stopped  # a file stopped early is kept like Ctrl-C leaves it: .partial
        finally:
            done.set()
            outputs = [sink.close(complete=complete) for sink in sinks]
        result = summary.as_dict()
        result["consistency"] = runner.config.blend.consistency
        result["strength"] = runner.config.blend.strength
        result["frame_consistency"] = runner.config.blend.frame_consistency
        result["source_codec"], result["source_quality"] = info.codec, quality  # what chose the shares
        result["large_from"] = runner.config.large_from
        if stopped:
            result["stopped"] = True
        result["corrupt_packets"] = source.corrupt_packets
        if live:
            result["dropped_frames"] = source.status.frames_skipped
            result["reconnects"] = source.status.reconnects
            result["input"] = mask_url(src)
    if opts.save_faces:
        result["faces_report"] = str(runner.best.save(Path(opts.save_faces), runner.tracker.records))
    result["output"] = mask_url(dst) if complete or "://" in dst else str(outputs[0])
    return result


# Still-image suffixes as the codec names ``auto_consistency`` knows.
_IMAGE_CODECS = {".png": "png", ".bmp": "bmp", ".tif": "tiff", ".tiff": "tiff", ".ppm": "ppm", ".pgm": "pgm"}


def _image_codec(path: Path) -> str:
    suffix = path.suffix.lower()
    return _IMAGE_CODECS.get(suffix, suffix.lstrip("."))


_ALPHA_EXTS = (".png", ".tif", ".tiff", ".webp")


def _alpha_plane(path: Path) -> Any:
    """The 8-bit alpha plane of a transparent image (PNG, TIFF, WebP), or None: read only for formats that can
    carry one, so the common JPEG and opaque stills are decoded once."""
    import cv2
    import numpy as np

    if path.suffix.lower() not in _ALPHA_EXTS:
        return None
    raw = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if raw is None or raw.ndim != 3 or raw.shape[2] != 4:
        return None
    alpha = raw[..., 3]
    return alpha if alpha.dtype == np.uint8 else (alpha / 257).round().astype(np.uint8)


def _image_source(path: Path) -> tuple[str, int | None]:
    """An image's format and, for a JPEG, the quality it was saved at (read from its tables)."""
    from .pipelines.blend import JPEG_CODECS
    from .pipelines.jpeg import jpeg_file_quality

    codec = _image_codec(path)
    return codec, jpeg_file_quality(path) if codec in JPEG_CODECS else None


def _enhance_images(src: Path, dst: Path, opts: EnhanceOptions, progress) -> dict[str, Any]:
    import cv2
    import numpy as np

    from .pipelines.track import TrackerConfig
    from .pipelines.types import Frame

    files = sorted(p for p in src.rglob("*") if _is_image(p)) if src.is_dir() else [src]
    if not files:
        raise InputError(f"{src}: no images found")
    if src.is_dir() and _is_image(dst):
        raise InputError(f"{dst}: a folder of images needs an output folder")
    if not src.is_dir() and not _is_image(dst):
        from .pipelines.types import IMAGE_EXTS

        raise InputError(f"{dst}: an image input needs an image output ({', '.join(sorted(IMAGE_EXTS))})")
    compare = Path(opts.compare) if opts.compare else None
    if compare is not None and (src.is_dir() == _is_image(compare)):
        raise InputError(f"{compare}: --compare takes an image for an image input and a folder for a folder of images")
    runner = build_runner(dataclasses.replace(opts, detect_every=1), _image_codec(files[0]))
    # A still has no history: every detection is a face at once.
    runner.config = dataclasses.replace(runner.config, tracker=TrackerConfig(min_hits=1))
    written = 0
    for path in files:
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            logger.warning("%s: unreadable image, skipped", path)
            continue
        check_output_size(image.shape[1], image.shape[0], opts.scale)
        runner.start_over()  # each image alone: no track, smoothing or best face carries over from the last
        # A folder may mix PNG and JPEG of any quality: the shares (and the large-face input size) follow each
        # file's format and tables.
        source = _image_source(path)
        runner.config = dataclasses.replace(runner.config, blend=blend_config(opts, *source),
                                            large_from=large_from(opts, *source))  # fmt: skip
        out_path = dst / path.relative_to(src) if src.is_dir() else dst
        out_path.parent.mkdir(parents=True, exist_ok=True)
        result: list = []
        runner.run([Frame(0, image, source=str(path))], lambda f, img, out=result: out.append(img))
        output = result[0]
        alpha = _alpha_plane(path) if out_path.suffix.lower() in _ALPHA_EXTS else None
        if alpha is not None:
            # Transparency is kept: the alpha plane is resized like the background (the faces are opaque pixels).
            from .pipelines.runner import resize_background

            output = np.dstack([output, resize_background(alpha, output.shape[1::-1])])
        if not cv2.imwrite(str(out_path), output):
            raise InputError(f"{out_path}: cannot write an image there (check the extension)")
        if compare is not None:
            from .pipelines.runner import side_by_side

            pair_path = compare / path.relative_to(src) if src.is_dir() else compare
            pair_path.parent.mkdir(parents=True, exist_ok=True)
            if not cv2.imwrite(str(pair_path), side_by_side(image, result[0])):
                raise InputError(f"{pair_path}: cannot write an image there (check the extension)")
        if opts.save_faces:
            # A folder of images: one faces folder per image (track ids start again with each image).
            faces_dir = Path(opts.save_faces)
            runner.best.save(faces_dir / path.relative_to(src).with_suffix("") if src.is_dir() else faces_dir,
                             runner.tracker.records)  # fmt: skip
        written += 1
        if progress:
            progress(runner.summary, len(files))
    summary = runner.summary.as_dict()
    summary["images_written"] = written
    summary["output"] = str(dst)
    if opts.save_faces:
        summary["faces_report"] = opts.save_faces
    return summary


def check_image(image: Any) -> None:
    """One line on how to fix an array the pipeline cannot take (instead of OpenCV's or torch's own words)."""
    import numpy as np

    if not isinstance(image, np.ndarray):
        raise InputError(f"expected a numpy array (H x W x 3, uint8, BGR), got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InputError(
            f"expected uint8 pixels (0-255), got {image.dtype}; if it is float in [0, 1], convert with "
            "np.clip(img * 255, 0, 255).astype(np.uint8)"
        )
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        raise InputError(
            "expected a colour image (H x W x 3, BGR), got grayscale; use cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)"
        )
    if image.ndim == 3 and image.shape[2] == 4:
        raise InputError("expected 3 channels (BGR), got 4 (BGRA); use cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)")
    if image.ndim != 3 or image.shape[2] != 3 or min(image.shape[:2]) < 1:
        raise InputError(f"expected an H x W x 3 BGR image, got an array of shape {image.shape}")


class FrameEnhancer:
    """Frame-level API: ``FrameEnhancer(**options)(bgr_image) -> bgr_image``, tracking across calls.

    Runs detection, tracking, batched SR (one frame's faces per batch) and blending in the calling thread.
    """

    def __init__(self, **options: Any) -> None:
        self.options = EnhanceOptions.from_kwargs(**options)
        self.runner = build_runner(self.options)
        self._index = 0

    def __call__(self, image) -> Any:
        from .pipelines.types import Frame

        check_image(image)
        out: list = []
        self.runner.run([Frame(self._index, image)], lambda f, img: out.append(img))
        self._index += 1
        return out[0]
