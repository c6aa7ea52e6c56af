"""What ``vidfsr info`` reports: versions, encoders, devices, and where weights are looked up."""

from __future__ import annotations

import platform
from dataclasses import dataclass, field

from . import __version__, weights

H264_ENCODERS = ("libx264", "libopenh264", "h264_nvenc", "h264_qsv", "h264_vaapi", "h264_videotoolbox")


@dataclass(frozen=True)
class Info:
    versions: dict[str, str]
    h264_encoders: list[str]
    devices: list[str]
    weight_dirs: list[str]
    model: dict[str, str] = field(default_factory=dict)


def _version(module: str) -> str:
    try:
        mod = __import__(module)
    except ImportError:
        return "not installed"
    return str(getattr(mod, "__version__", "?"))


def gather_info(model: str | None = None) -> Info:
    versions = {"vidfsr": __version__, "python": platform.python_version()}
    for mod in ("torch", "av", "cv2", "numpy", "onnxruntime"):
        versions[mod] = _version(mod)
    encoders: list[str] = []
    try:
        import av

        encoders = [name for name in H264_ENCODERS if name in av.codecs_available]
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
    return Info(versions, encoders, devices, [str(d) for d in weights.search_dirs()], model_info)


def render_info(info: Info, console) -> None:
    from rich.table import Table

    table = Table(title="vidfsr info", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in info.versions.items():
        table.add_row(key, value)
    table.add_row("H.264 encoders", ", ".join(info.h264_encoders) or "none")
    table.add_row("devices", "\n".join(info.devices))
    table.add_row("weights searched in", "\n".join(info.weight_dirs))
    for key, value in info.model.items():
        table.add_row(key, value)
    console.print(table)
