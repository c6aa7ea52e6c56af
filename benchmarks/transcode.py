"""Transcode speed of vidfsr's source/sink (with a numpy round-trip per frame) vs the ffmpeg CLI.

    python benchmarks/transcode.py [--clip ../shared/data/videos/talking_head/liveportrait_source_s18.mp4]

Both sides decode the same clip and encode libx264 (crf 18, preset medium, yuv420p) with the audio copied;
the ratio is vidfsr's speed over ffmpeg's (target >= 0.9). Needs Debian's ffmpeg.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from vidfsr.pipelines.video import EncodeOptions, VideoFileSink, VideoFileSource

from vidfsr.shared import shared_dir


def vidfsr_transcode(src: Path, dst: Path) -> int:
    with VideoFileSource(src) as source:
        info = source.info
        opts = EncodeOptions(crf=18, preset="medium")
        with VideoFileSink(dst, info.width, info.height, info.time_base, info.rate, src, opts) as sink:
            for frame in source:
                sink.write(frame.image, frame.pts)  # frame.image is a BGR numpy array: the full round-trip
        return source.frames_read


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clip", default=str(shared_dir() / "data/videos/talking_head/liveportrait_source_s18.mp4"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default="")
    args = ap.parse_args()
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg CLI not found (apt-get install ffmpeg)")
    src = Path(args.clip)
    with tempfile.TemporaryDirectory() as tmp:
        ours, theirs = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            frames = vidfsr_transcode(src, Path(tmp) / "ours.mp4")
            ours.append(time.perf_counter() - t)
            cmd = [ffmpeg, "-loglevel", "error", "-y", "-i", str(src), "-map", "0:v:0", "-map", "0:a?", "-c:v",
                   "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p", "-c:a", "copy",
                   str(Path(tmp) / "ffmpeg.mp4")]  # fmt: skip
            t = time.perf_counter()
            subprocess.run(cmd, check=True)
            theirs.append(time.perf_counter() - t)
    version = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True).stdout.split("\n")[0]
    result = {"clip": src.name, "frames": frames, "vidfsr_s": round(min(ours), 2), "ffmpeg_s": round(min(theirs), 2),
              "speed_ratio": round(min(theirs) / min(ours), 3), "ffmpeg": version}  # fmt: skip
    print(json.dumps(result, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
