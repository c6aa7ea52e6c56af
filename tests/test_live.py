"""Live RTSP against a real GStreamer RTSP server on 127.0.0.1: read, reconnect, freeze, backlog, publish."""

from __future__ import annotations

import itertools
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import pytest
from vidfsr.pipelines.live import LiveConfig, RtspSource, mask_url
from vidfsr.pipelines.video import VideoFileSink

from vidfsr.cli import main
from vidfsr.errors import StreamError

from .media import pattern

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"


def _gst_available() -> bool:
    if not Path(SYSTEM_PYTHON).exists():
        return False
    probe = "import gi; gi.require_version('GstRtspServer', '1.0'); from gi.repository import GstRtspServer"
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0


if not _gst_available():
    reason = "GStreamer RTSP server not installed (python3-gi, gir1.2-gst-rtsp-server-1.0: see .ci/run)"
    if os.environ.get("CI"):
        raise RuntimeError(reason)  # CI installs it: a missing server there is a broken set-up, not a skip
    pytest.skip(reason, allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, port: int, record: Path, clip: Path | None = None) -> None:
        self.port, self.record, self.clip = port, record, clip
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        args = [SYSTEM_PYTHON, str(SERVER), str(self.port), str(self.record), *([str(self.clip)] if self.clip else [])]
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self.proc.wait(5)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(5)

    def url(self, path: str = "live", user: str = "") -> str:
        return f"rtsp://{user}127.0.0.1:{self.port}/{path}"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(free_port(), tmp_path / "published.ts")
    srv.start()
    yield srv
    srv.stop()


FAST = LiveConfig(open_timeout=10, read_timeout=2, backoff_initial=0.2, backoff_max=1)


def test_mask_url() -> None:
    assert mask_url("rtsp://admin:s3cret@10.0.0.5:554/h264") == "rtsp://admin:***@10.0.0.5:554/h264"
    assert mask_url("rtsp://token@cam/x") == "rtsp://***@cam/x"
    assert mask_url("rtsp://cam/x") == "rtsp://cam/x"


@pytest.mark.timeout(60)
def test_reads_live_frames(server: Server) -> None:
    with RtspSource(server.url(), FAST) as src:
        assert (src.info.width, src.info.height) == (320, 240)
        frames = [f for _, f in zip(range(20), src, strict=False)]
    assert [f.index for f in frames] == list(range(20))
    pts = [f.pts for f in frames]
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert frames[0].image.shape == (240, 320, 3)


@pytest.mark.timeout(90)
def test_reconnects_after_the_server_is_killed(server: Server) -> None:
    with RtspSource(server.url(), FAST) as src:
        it = iter(src)
        for _ in range(5):
            next(it)
        server.signal(signal.SIGKILL)  # PyAV's demux just ends: no exception
        deadline = time.monotonic() + 15
        while src.status.reconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert src.status.reconnects >= 1 and src.status.state in ("reconnecting", "connecting")
        server.start()
        before = src.status.connects
        for _ in range(5):
            next(it)  # frames flow again
        assert src.status.connects == before + 1 or src.status.connects >= 2


@pytest.mark.timeout(60)
def test_frozen_server_times_out(server: Server) -> None:
    with RtspSource(server.url(), FAST) as src:
        next(iter(src))
        server.signal(signal.SIGSTOP)  # frozen: the socket stays open, nothing arrives
        start = time.monotonic()
        while src.status.reconnects == 0 and time.monotonic() - start < 20:
            time.sleep(0.1)
        waited = time.monotonic() - start
        server.signal(signal.SIGCONT)
    assert src.status.reconnects >= 1
    assert waited < 4 * FAST.read_timeout  # the timeout fired instead of blocking forever


def _tiny_weights(tmp_path: Path) -> Path:
    from vidfsr.models.io import save_weights
    from vidfsr.models.registry import create_model

    return save_weights(create_model("fsrnet_lite_x8", channels=8, prior_channels=16), tmp_path / "w.safetensors")


def _freeze_once_flowing(server: Server, then: Callable[[], None]) -> tuple[Callable, list[float]]:
    """A progress callback and the time the camera froze: once 15 frames have flowed (not after a fixed wait:
    on a loaded CI machine the stream may take longer to start), the server is stopped (its socket stays open,
    nothing arrives), and a second later, with the reader sitting in a socket read, ``then`` runs. It also runs
    when frames never flowed, so the run ends and the test fails on its frame count instead of hanging."""
    import threading

    flowing = threading.Event()
    frozen_at: list[float] = []

    def freeze() -> None:
        if flowing.wait(40):
            server.signal(signal.SIGSTOP)
            time.sleep(1.0)
            frozen_at.append(time.monotonic())
        then()

    def progress(summary, total) -> None:
        if summary.frames >= 15:
            flowing.set()

    threading.Thread(target=freeze, daemon=True).start()
    return progress, frozen_at


@pytest.mark.timeout(60)
def test_stop_within_a_second_during_a_frozen_camera(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or SIGTERM) while the camera is frozen: the run ends within a second, not after the read timeout,
    and the recording so far is a finished, playable file."""
    import threading

    from vidfsr.pipelines import live

    import vidfsr

    out = tmp_path / "rec.mp4"
    cfg = LiveConfig(open_timeout=10.0, read_timeout=8.0)
    real = live.RtspSource
    sources: list[RtspSource] = []
    lost: list[str] = []
    finished = threading.Event()

    def make_source(url: str) -> RtspSource:
        sources.append(real(url, cfg))
        return sources[-1]

    def interrupt() -> None:
        import _thread

        _thread.interrupt_main()  # what Ctrl-C does
        if finished.wait(10):
            return
        # The Ctrl-C was not seen (a 60 s hang in CI runs started with `&`: SIGINT was ignored). Say what the
        # main thread was doing and end the run, so the test fails with that instead of hanging.
        import sys
        import traceback

        main = sys._current_frames().get(threading.main_thread().ident)
        lost.append(f"SIGINT handler {signal.getsignal(signal.SIGINT)!r}; main thread:\n"
                    + "".join(traceback.format_stack(main) if main else []))  # fmt: skip
        for src in sources:
            src.interrupt()

    monkeypatch.setattr(live, "RtspSource", make_source)
    progress, frozen_at = _freeze_once_flowing(server, interrupt)
    # A shell starts background jobs with SIGINT ignored, and Python then keeps it ignored: Ctrl-C (and
    # interrupt_main) would do nothing. Caught by the check above in a CI run started with `&`.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        result = vidfsr.enhance_video(server.url(), out, progress, models=(str(_tiny_weights(tmp_path)),), scale=1.0)
        ended = time.monotonic()
    finally:
        signal.signal(signal.SIGINT, previous)
        finished.set()
        server.signal(signal.SIGCONT)
    assert not lost, lost[0]
    assert frozen_at and ended - frozen_at[0] < 1.5  # not the 8 s read timeout
    assert result["frames"] > 10 and out.exists()
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == result["frames"]


@pytest.mark.timeout(60)
def test_stop_event_ends_a_live_run_during_a_frozen_camera(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The library's way to end a live recording (a service, or the CLI's Ctrl-C handler): ``stop`` set while the
    camera is silent ends the run within a second, the recording finished as complete."""
    import threading

    from vidfsr.pipelines import live

    import vidfsr

    out = tmp_path / "rec.mp4"
    cfg = LiveConfig(open_timeout=10.0, read_timeout=8.0)
    real = live.RtspSource
    monkeypatch.setattr(live, "RtspSource", lambda url: real(url, cfg))
    stop = threading.Event()
    progress, stopped_at = _freeze_once_flowing(server, stop.set)
    try:
        result = vidfsr.enhance_video(server.url(), out, progress, stop=stop, models=(str(_tiny_weights(tmp_path)),),
                                      scale=1.0)  # fmt: skip
        ended = time.monotonic()
    finally:
        server.signal(signal.SIGCONT)
    assert stopped_at and ended - stopped_at[0] < 1.5
    assert result["stopped"] is True and result["frames"] > 10 and out.exists()
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == result["frames"]


@pytest.mark.timeout(60)
def test_slow_consumer_stays_near_real_time(server: Server) -> None:
    with RtspSource(server.url(), FAST) as src:
        start_wall = time.monotonic()
        lags = []
        for i, frame in enumerate(src):
            # pts are wall-clock stamps since the source started: lag = now - capture time
            lags.append(time.monotonic() - start_wall - float(frame.pts * frame.time_base) + (start_wall - src._t0))
            time.sleep(0.2)  # process at 5 fps, a fifth of the camera's 25 fps
            if i == 15:
                break
        skipped = src.status.frames_skipped
    assert skipped > 30  # frames it never saw were dropped and counted, not queued
    assert max(lags[3:]) < 0.6  # latency stays bounded instead of growing with every frame


@pytest.mark.timeout(60)
def test_publish_to_the_server(server: Server) -> None:
    sink = VideoFileSink(server.url("publish"), 320, 240, Fraction(1, 90000), Fraction(25))
    for i in range(40):
        sink.write(pattern(i, 320, 240), i * 3600)
        time.sleep(0.01)
    sink.close()
    # The server writes its MPEG-TS record as the packets arrive: poll until it holds the frames (a read
    # while its last packet is half written raises), instead of hoping one fixed sleep was long enough.
    deadline, decoded, error = time.monotonic() + 15, 0, None
    while time.monotonic() < deadline and decoded < 35:
        time.sleep(0.25)
        decoded = 0
        try:
            with av.open(str(server.record)) as c:
                for _ in c.decode(video=0):
                    decoded += 1
        except (av.error.InvalidDataError, av.error.EOFError, FileNotFoundError) as exc:
            error = exc  # torn at the end: the frames before the tear still count
    assert decoded >= 35, f"{decoded} frames in the server's record after 15 s (last read error: {error!r})"


@pytest.mark.timeout(60)
def test_unreachable_camera_is_one_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    url = f"rtsp://admin:hunter2@127.0.0.1:{free_port()}/cam"
    with pytest.raises(StreamError, match=r"admin:\*\*\*@"):
        RtspSource(url, LiveConfig(open_timeout=2, backoff_initial=0.2))
    weights = _tiny_weights(tmp_path)
    assert main(["enhance", url, str(tmp_path / "never.mp4"), "--model", str(weights)]) == 2
    err = capsys.readouterr().err
    assert "no video within" in err and "admin:***@" in err and "hunter2" not in err
    assert not (tmp_path / "never.mp4").exists()


@pytest.mark.timeout(120)
def test_enhance_live_to_file(server: Server, tmp_path: Path) -> None:
    from vidfsr.pipelines.blend import auto_consistency, auto_frame_consistency

    import vidfsr

    weights = _tiny_weights(tmp_path)
    out = tmp_path / "rec.mp4"
    result = vidfsr.enhance_video(server.url(user="u:p@"), out, models=(str(weights),), max_frames=25, scale=1.0)
    assert result["frames"] == 25 and "u:***@" in result["input"]
    # The camera's H.264 quantiser sets the shares, as a file's does.
    assert result["source_codec"] == "h264" and result["source_quality"] is not None
    assert result["frame_consistency"] == auto_frame_consistency("h264", result["source_quality"])
    assert result["consistency"] == auto_consistency("h264", result["source_quality"])
    # Arrival to written output: positive, and bounded (frames are tiny, the model is tiny).
    assert 0 < result["latency_mean_s"] <= result["latency_max_s"] < 3
    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 25


@pytest.mark.timeout(120)
def test_enhance_real_faces_from_a_camera(tmp_path: Path, shared: Path) -> None:
    """A real talking-head clip sent as a camera would: faces are found, enhanced and timed from arrival."""
    from vidfsr.models.io import save_weights
    from vidfsr.models.registry import create_model

    import vidfsr

    clip = shared / "data/videos/talking_head/liveportrait_driving_d18.mp4"
    srv = Server(free_port(), tmp_path / "published.ts", clip)
    srv.start()
    try:
        model = create_model("fsrnet_lite_x4", channels=8, prior_channels=16)
        weights = save_weights(model, tmp_path / "w.safetensors")
        out = tmp_path / "rec.mp4"
        result = vidfsr.enhance_video(srv.url("clip"), out, models=(str(weights),), max_frames=30, force=True)
    finally:
        srv.stop()
    assert result["frames"] == 30 and result["faces_enhanced"] >= 20 and result["tracks"] >= 1
    assert result["latency_max_s"] < 5 and result["in_flight"] == 0
