"""The package skeleton: errors, CLI behaviour, asset resolution, light import, synthetic media."""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidfsr import errors, weights
from vidfsr.cli import main

from .media import make_video


def test_errors_subclass_matching_builtins() -> None:
    assert issubclass(errors.InputError, ValueError)
    assert issubclass(errors.InputNotFoundError, FileNotFoundError)
    assert issubclass(errors.AssetNotFoundError, FileNotFoundError)
    assert issubclass(errors.MissingDependencyError, ImportError)
    assert issubclass(errors.NotImplementedYetError, NotImplementedError)
    for cls in (errors.InputError, errors.ConfigError, errors.StreamError, errors.PipelineError):
        assert issubclass(cls, errors.VidfsrError)
    assert "vidfsr[prepare]" in str(errors.missing_dependency("dlib", "prepare"))


def test_import_vidfsr_is_light() -> None:
    code = "import sys, vidfsr, vidfsr.cli; print(any(m in sys.modules for m in ('torch', 'av', 'cv2')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_info_reports_versions_and_encoders(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch" in out and "libx264" in out and "weights searched in" in out
    assert "fsrnet_lite_x8" in out and "paper protocol" in out  # the shipped weights are listed
    from vidfsr.info import _opens

    assert _opens("libx264") and not _opens("h264_nvenc")  # listed only where it opens (no GPU here)


def test_info_model_prints_params_and_macs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--model", "fsrnet_x8"]) == 0
    out = capsys.readouterr().out
    assert "3.24 M" in out and "13.83" in out


def test_unknown_option_gets_a_hint(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--modle", "x"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments" in err and "--model" in err


def test_missing_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prepare", str(tmp_path / "nope"), str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "no such file" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["OUT.xyz"], "not a video container"),
        (["OUT"], "no extension"),
        (["OUT.mp4", "--scale", "100"], "between 0.1 and 16"),
        (["OUT.mp4", "--scale", "16"], "beyond H.264"),
        (["OUT.mp4", "--compare", "CMP"], "no extension"),
        (["OUT.mp4", "--stages", "decode,enhance"], "once each"),
    ],
)
def test_bad_enhance_arguments_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    from .media import make_video

    src = make_video(tmp_path / "in.mp4", frames=3, size=(640, 360))
    args = [str(tmp_path / a) if a.startswith(("OUT", "CMP")) else a for a in extra]
    assert main(["enhance", str(src), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) <= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"]  # nothing written


def test_garbage_input_fails_before_models_load(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import vidfsr.api

    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video" * 100)
    monkeypatch.setattr(vidfsr.api, "load_models", lambda names: pytest.fail("models loaded before the input"))
    assert main(["enhance", str(garbage), str(tmp_path / "out.mp4")]) == 2
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.parametrize(
    "image, message",
    [
        (np.zeros((64, 64), np.uint8), "COLOR_GRAY2BGR"),
        (np.zeros((64, 64, 4), np.uint8), "COLOR_BGRA2BGR"),
        (np.zeros((64, 64, 3), np.float32), "uint8"),
        ([[1, 2], [3, 4]], "numpy array"),
        (np.zeros((64, 64, 5), np.uint8), "shape"),
    ],
)
def test_frame_enhancer_says_how_to_fix_bad_arrays(image, message: str) -> None:
    from vidfsr.api import check_image
    from vidfsr.errors import InputError

    with pytest.raises(InputError, match=message):
        check_image(image)


def test_debug_shows_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "prepare", str(tmp_path / "nope"), str(tmp_path / "out")]) == 2
    assert "Traceback" in capsys.readouterr().err


def test_console_script_installed() -> None:
    out = subprocess.run(["vidfsr", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "vidfsr" in out.stdout


# ------------------------------------------------------------------------------------------ asset resolution


def _fake_asset(monkeypatch: pytest.MonkeyPatch, content: bytes, url: str | None) -> weights.Asset:
    asset = weights.Asset("fake", "fake.bin", hashlib.sha256(content).hexdigest(), url, "a test asset")
    monkeypatch.setitem(weights.ASSETS, "fake", asset)
    return asset


def test_resolve_explicit_path_and_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache) -> None:
    _fake_asset(monkeypatch, b"x", None)
    sub = tmp_path / "models" / "fake"
    sub.mkdir(parents=True)
    (sub / "fake.bin").write_bytes(b"x")
    monkeypatch.setenv("VIDFSR_MODEL_DIR", str(tmp_path / "models"))
    assert weights.resolve("fake") == sub / "fake.bin"  # one sub-folder down, like shared/models/yunet
    assert weights.resolve(str(sub / "fake.bin")) == sub / "fake.bin"
    with pytest.raises(errors.InputNotFoundError):
        weights.resolve(str(tmp_path / "missing.onnx"))


def test_resolve_downloads_verifies_and_caches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache) -> None:
    src = tmp_path / "remote.bin"
    src.write_bytes(b"payload")
    _fake_asset(monkeypatch, b"payload", src.as_uri())
    monkeypatch.setenv("VIDFSR_MODEL_DIR", str(tmp_path / "empty"))
    path = weights.resolve("fake")
    assert path == isolated_cache / "fake.bin" and path.read_bytes() == b"payload"
    src.unlink()
    assert weights.resolve("fake") == path  # now served from the cache


def test_resolve_rejects_bad_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache) -> None:
    src = tmp_path / "remote.bin"
    src.write_bytes(b"tampered")
    _fake_asset(monkeypatch, b"payload", src.as_uri())
    monkeypatch.setenv("VIDFSR_MODEL_DIR", str(tmp_path / "empty"))
    with pytest.raises(errors.AssetIntegrityError, match="sha256"):
        weights.resolve("fake")
    assert not list(isolated_cache.glob("*"))  # nothing half-written left behind


def test_resolve_offline_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_cache) -> None:
    _fake_asset(monkeypatch, b"payload", (tmp_path / "unreachable.bin").as_uri())
    monkeypatch.setenv("VIDFSR_MODEL_DIR", str(tmp_path / "empty"))
    with pytest.raises(errors.AssetNotFoundError, match=r"fake\.bin.*VIDFSR_MODEL_DIR"):
        weights.resolve("fake")


def test_yunet_found_in_shared_models(shared: Path, isolated_cache) -> None:
    path = weights.resolve("yunet", download=False)
    assert weights.sha256_of(path) == weights.ASSETS["yunet"].sha256


# ------------------------------------------------------------------------------------------ synthetic media


def test_make_video_variants(tmp_path: Path) -> None:
    ntsc = make_video(tmp_path / "a.mp4", frames=12, rate=Fraction(30000, 1001), audio=True)
    with av.open(str(ntsc)) as c:
        v = c.streams.video[0]
        assert v.average_rate == Fraction(30000, 1001)
        assert len(c.streams.audio) == 1
        assert sum(1 for _ in c.decode(video=0)) == 12
    vfr = make_video(tmp_path / "b.mp4", frames=6, vfr=True)
    with av.open(str(vfr)) as c:
        pts = [f.pts for f in c.decode(video=0)]
        gaps = {b - a for a, b in itertools.pairwise(pts)}
        assert len(gaps) == 2
    rot = make_video(tmp_path / "c.mp4", frames=3, rotation=90)
    with av.open(str(rot)) as c:
        assert abs(next(iter(c.decode(video=0))).rotation) == 90
    odd = make_video(tmp_path / "d.mkv", frames=3, size=(63, 37), codec="ffv1", pix_fmt="yuv444p")
    with av.open(str(odd)) as c:
        f = next(iter(c.decode(video=0)))
        assert (f.width, f.height) == (63, 37)


def test_ctrl_c_sets_the_cli_stop_event_and_main_restores_the_handlers() -> None:
    """The CLI's Ctrl-C/SIGTERM handlers also set the event its runs poll (a KeyboardInterrupt can be swallowed on its
    way up; the event is polled), and main() puts the previous handlers back."""
    import signal

    from vidfsr import cli

    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    assert main(["info"]) == 0
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before
    assert not cli.stop_event().is_set()
    with pytest.raises(KeyboardInterrupt):
        cli._on_sigint(signal.SIGINT, None)
    assert cli.stop_event().is_set()
    assert main(["info"]) == 0 and not cli.stop_event().is_set()  # each run starts with a fresh event
    with pytest.raises(cli.Terminated):
        cli._on_sigterm(signal.SIGTERM, None)
    assert cli.stop_event().is_set()
