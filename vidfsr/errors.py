"""Exceptions raised by vidfsr.

Every class derives from :class:`VidfsrError` and from the builtin a caller would naturally catch, so
``except ValueError`` keeps working for code that does not know about vidfsr (the PyAV pattern). Messages say
what went wrong *and* how to fix it; the CLI prints them as one line and exits 2.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class VidfsrError(Exception):
    """Base class of every error vidfsr raises on purpose."""


class InputError(VidfsrError, ValueError):
    """A file, stream or argument given by the user cannot be used."""


class InputNotFoundError(InputError, FileNotFoundError):
    """An input path does not exist."""


class ConfigError(VidfsrError, ValueError):
    """A configuration value or key is invalid."""


class AssetNotFoundError(VidfsrError, FileNotFoundError):
    """Weights or another asset could not be found locally nor downloaded."""


class AssetIntegrityError(VidfsrError, ValueError):
    """A downloaded or given asset does not match its pinned checksum."""


class MissingDependencyError(VidfsrError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class StreamError(VidfsrError, OSError):
    """Reading or writing a video stream failed (decode, encode, network)."""


class PipelineError(VidfsrError, RuntimeError):
    """A pipeline stage failed; the original exception is chained as ``__cause__``."""


class NotImplementedYetError(VidfsrError, NotImplementedError):
    """A command exists in the interface but its implementation has not landed yet."""


def close_match_hint(word: str, choices: Iterable[str]) -> str:
    """Return ``" (did you mean 'x'?)"`` for the closest choice, or an empty string."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


def missing_dependency(module: str, extra: str) -> MissingDependencyError:
    """Build the error for an optional import that failed."""
    return MissingDependencyError(f"{module} is not installed; install it with: pip install 'vidfsr[{extra}]'")
