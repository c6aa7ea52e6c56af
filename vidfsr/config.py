"""Typed configs from plain dicts (YAML/TOML/CLI only serialise them): unknown keys are errors with a hint.

A leaf module: imports nothing from ``vidfsr.models`` or ``vidfsr.pipelines``.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from .errors import ConfigError, close_match_hint

T = TypeVar("T")


def from_dict(cls: type[T], data: dict[str, Any], what: str) -> T:
    """``cls(**data)`` after checking every key is a field of the dataclass ``cls``."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown {what} {key!r}{close_match_hint(key, names)}")
    return cls(**data)


def resolve_device(spec: str = "auto"):
    """``auto`` -> CUDA when available, else CPU; resolved once by each entry point and passed down."""
    import torch

    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(spec)
    except RuntimeError as exc:
        raise ConfigError(f"unknown device {spec!r}; use auto, cpu, cuda or cuda:N") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {spec} requested but CUDA is not available; use --device cpu")
    return device
