"""What ``vidfsr info`` reports: versions, encoders, devices, and where weights are looked up."""

from __future__ import annotations

import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__, weights

H264_ENCODERS = ("libx264", "libopenh264", "h264_nvenc", "h264_qsv", "h264_vaapi", "h264_videotoolbox")


@dataclass(frozen=True)
class Info:
    versions: dict[str, str]
    h264_encoders: list[str]
    devices: list[str]
    weight_dirs: list[str]
    model: dict[str, str] = field(default_factory=dict)
    shipped: list[str] = field(default_factory=list)


def _version(module: str) -> str:
    try:
        mod = __import__(module)
    except ImportError:
        return "not installed"
    return str(getattr(mod, "__version__", "?"))


def _opens(encoder: str) -> bool:
    """Whether the encoder really opens here: FFmpeg builds list h264_nvenc or h264_qsv on machines where
    they cannot start (no GPU, no driver)."""
    from fractions import Fraction

    import av

    try:
        ctx = av.CodecContext.create(encoder, "w")
        ctx.width, ctx.height, ctx.pix_fmt, ctx.time_base = 64, 64, "yuv420p", Fraction(1, 25)
        ctx.open()
    except Exception:
        return False
    return True


def _default_label(stem: str, folder: Path, default_weights: Callable[[str], tuple[str, ...]]) -> str:
    """`` (default)``, `` (default on CPU)``, `` (default on CUDA)`` or nothing: whether these weights are the first
    of the device's preferences that this install ships."""
    on = []
    for label, device in (("CPU", "cpu"), ("CUDA", "cuda")):
        shipped = [n for n in default_weights(device) if (folder / f"{n}.safetensors").exists()]
        if shipped[:1] == [stem]:
            on.append(label)
    return " (default)" if len(on) == 2 else f" (default on {on[0]})" if on else ""


def shipped_weights() -> list[str]:
    """One line per weights file bundled in the package: name, face sizes served, degradation, metrics."""
    import json

    lines = []
    folder = Path(__file__).parent / "weights"
    for path in sorted(folder.glob("*.safetensors")):
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="np") as f:
                meta = dict(f.metadata() or {})
        except Exception as exc:
            lines.append(f"{path.stem}: unreadable ({exc})")
            continue
        deg = json.loads(meta.get("degradation", "{}")).get("name", "paper")
        sides = meta.get("native_sides")
        arch = json.loads(meta.get("arch", "{}"))
        if deg == "real" and sides:
            from .api import default_weights

            lo, hi = json.loads(sides)
            kind = "FSRGAN, " if meta.get("model_name", "").endswith("+gan") else ""
            default = _default_label(path.stem, folder, default_weights)
            lines.append(f"{path.stem}: face crops of {lo:g}-{hi:g} px, {kind}real-world degradation{default}")
        else:
            lines.append(f"{path.stem}: x{arch.get('scale', '?')}, paper protocol (bicubic degradation)")
    return lines


def gather_info(model: str | None = None) -> Info:
    versions = {"vidfsr": __version__, "python": platform.python_version()}
    for mod in ("torch", "av", "cv2", "numpy", "onnxruntime"):
        versions[mod] = _version(mod)
    encoders: list[str] = []
    try:
        import av

        encoders = [name for name in H264_ENCODERS if name in av.codecs_available and _opens(name)]
        versions["ffmpeg (PyAV)"] = ".".join(str(x) for x in av.library_versions["libavcodec"])
    except ImportError:
        pass
    devices = ["cpu"]
    try:
        import torch

        devices[0] = f"cpu ({torch.get_num_threads()} threads)"
        if torch.cuda.is_available():
            devices += [f"cuda:{i} {torch.cuda.get_device_name(i)}" for i in range(torch.cuda.device_count())]
    except ImportError:
        pass
    model_info: dict[str, str] = {}
    if model is not None:
        from vidfsr.models import describe_model

        model_info = describe_model(model)
    dirs = [str(d) for d in weights.search_dirs()]
    return Info(versions, encoders, devices, dirs, model_info, shipped_weights())


def render_info(info: Info, console) -> None:
    from rich.table import Table

    table = Table(title="vidfsr info", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in info.versions.items():
        table.add_row(key, value)
    table.add_row("H.264 encoders", ", ".join(info.h264_encoders) or "none")
    table.add_row("devices", "\n".join(info.devices))
    table.add_row("shipped weights", "\n".join(info.shipped) or "none")
    table.add_row("weights searched in", "\n".join(info.weight_dirs))
    for key, value in info.model.items():
        table.add_row(key, value)
    console.print(table)
