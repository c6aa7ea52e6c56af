"""Real-world degradation for training the video models: what a face in a camera stream has been through.

A face cut from a real video frame at c x c pixels was blurred by optics and resampling, scaled by some filter,
carries sensor noise, and was compressed as part of an H.264 stream (or a JPEG still). The model input is that
crop resized straight to 128x128 with OpenCV's cubic filter, exactly as the pipeline cuts it
(``vidfsr.pipelines.crops``). Training on the paper's single clean bicubic x8 degradation taught the shipped
models one kind of input; on area-downscaled, compressed video faces their gain over bicubic fell from +1.8 dB to
+0.3 dB (issue 12). This module synthesises the range instead, seeded and reproducible.

Ranges and their reasons (published pipelines work at 512 px HR; ours is 128 px, so spatial numbers are scaled):

- LR side ``lr_sides`` 12-64 px, log-uniform: the detector finds faces from ~10 px (crop ~14 px); crops above
  64 px are already half the 128 px output, where a model has little to add (measured: DESIGN §4 range).
  GFPGAN/CodeFormer draw a downscale factor 0.8-8 uniformly (512 px HR); log-uniform gives small faces, the
  hard and common case on cameras, their share.
- Downscaling filter: area 50% (a frame shrunk by a camera ISP or by ffmpeg's area scaler; the real-video
  benchmark's own degradation), PIL bicubic with antialiasing 20% (the paper's), bilinear without antialiasing
  10% (cheap scalers alias), and Gaussian blur then point sampling 20% (optics and defocus; GFPGAN blurs with
  sigma 0.1-10 at 512 px, i.e. 0.03-2.5 at 128 px; we use 0.3-1.0 LR px, scaled by the factor in HR pixels).
- Gaussian noise sigma 0-5 / 255 on 15% of faces (GFPGAN and CodeFormer: 0-20 at 512 px; sensor noise is
  averaged down with the frame and then smoothed by H.264, so a low-resolution crop carries little of it).
- Compression: real H.264 through PyAV/libx264 on 50% of batches at CRF 18-38 (camera streams sit around CRF
  23-33; 38 is a starved stream), JPEG quality 40-95 on 15% (Real-ESRGAN draws 30-95, GFPGAN 60-100), none on
  35% (lossless captures). A first mix (noise on 40% at sigma 0-8, none on 20%) taught the model to smooth:
  on clean 40-64 px faces it lost 0.5 dB to cubic while gaining 0.5 dB on small ones, so the shares moved
  toward what the video benchmark and cameras show (the model card lists both phases).
  H.264 is encoded per batch: the batch's faces are tiled into one frame at random macroblock phases (so block
  edges fall anywhere on a face, as in a frame), encoded as a two-frame clip where the second frame is the
  first moved by a random 0-3 px (a P-frame, what a stream consists of between keyframes), and the faces are cut
  back out of the frame that was drawn. One encoder per batch keeps the cost low (measured in BENCHMARKS.md).
  That P-frame is a whole-pixel copy of the I-frame, so it looks like the keyframe; deep in a real stream a
  face is predicted from references that moved by fractions of a pixel and changed a little, and the residual
  that a still region gets is small, so its detail fades and its error drifts frame by frame (the real-video
  benchmark: the model's gain at 8x CRF 28 falls from +0.41 dB on the keyframe to +0.18 by frame 11). With
  ``h264_frames`` (``vidfsr train --real-h264-frames``) a batch is coded as a K-frame clip instead, the faces
  exact in one frame 2..K and moved (a sub-pixel random walk, 0-0.8 px a frame) and warped (a smooth random
  field, up to ~0.3 px) in the others; ``h264_file_share`` of those clips are coded as files are (B-frames,
  macroblock-tree) and the rest as cameras stream (``tune=zerolatency``).

Bursts (``degrade_burst``, the multi-frame model's input, issue 12 item 6): the face at frame t and the same face at
t-1 ... t-K+1 as the pipeline cuts them, at the *current* crop box. Each earlier frame is the HR face moved by a
random walk (per-face speed 0-1.2 LR px a frame, squared-uniform: talking heads barely move, walkers do; rotation
~0.5 degrees and scale ~0.5% a frame: head turns and steps toward the camera), then degraded with the same kernel,
LR side and compression settings as the reference, with its own noise. H.264 encodes the K frames as one clip in
time order (the reference is a P-frame), or on a quarter of bursts starts a new GOP at the reference (an I-frame,
what a keyframe interval or a stream's first frames give). Sub-pixel motion and the different quantisation of each
frame are what neighbouring frames add; a static face under lossless capture adds nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import cv2
import numpy as np

from vidfsr.errors import ConfigError

MODEL_SIZE = 128
# x264's macroblocks are 16 px; a tile of 64 px faces plus a 16 px margin keeps each face's context its own.
_CELL = 96
BURST_MOTIONS = ("walk", "video")


@dataclass(frozen=True)
class RealDegradationConfig:
    """Probabilities and ranges of the real-world degradation (module docstring: reasons).

    Attributes:
        lr_sides: inclusive range of the LR face side in pixels, drawn log-uniformly.
        kernels: name -> probability of the downscaling filter (area, bicubic, bilinear, gaussian).
        blur_sigma: Gaussian blur range in LR pixels for the ``gaussian`` kernel.
        noise_prob, noise_sigma: share of faces with Gaussian noise, and its sigma range (of 255).
        h264_prob, crf: share of batches compressed with libx264, and the CRF range.
        h264_presets: x264 presets drawn per batch (encoders in cameras range from fast to poor).
        jpeg_prob, jpeg_quality: share of faces compressed as JPEG instead, and the quality range.
        burst_motion: how a burst's earlier frames move (module docstring): ``walk`` (a random walk, 0-1.2 LR
            px a frame, head turns) or ``video`` (mostly still, some sub-pixel drift, whole-pixel jumps where the
            snapped crop box steps; stiller than the crops of the shared clips, ``benchmarks/crop_motion.py``).
        h264_frames: inclusive range of the length of the clip a compressed batch is coded in. (2, 2) is the
            two-frame clip of the first models (the face in the I-frame or in a P-frame that copies it);
            longer clips code the face in frame 2..K of a clip whose content moves and changes, so it is
            predicted from drifting references as it is deep in a stream (module docstring).
        h264_file_share: share of those longer clips coded as files are (x264's defaults for the preset:
            B-frames, lookahead, macroblock-tree) instead of as cameras stream (``tune=zerolatency``).
    """

    lr_sides: tuple[int, int] = (12, 64)
    kernels: dict[str, float] = field(
        default_factory=lambda: {"area": 0.5, "bicubic": 0.2, "bilinear": 0.1, "gaussian": 0.2}
    )
    blur_sigma: tuple[float, float] = (0.3, 1.0)
    noise_prob: float = 0.15
    noise_sigma: tuple[float, float] = (0.0, 5.0)
    h264_prob: float = 0.5
    crf: tuple[int, int] = (18, 38)
    h264_presets: tuple[str, ...] = ("ultrafast", "veryfast", "medium")
    jpeg_prob: float = 0.15
    jpeg_quality: tuple[int, int] = (40, 95)
    burst_motion: str = "walk"
    h264_frames: tuple[int, int] = (2, 2)
    h264_file_share: float = 0.0

    def __post_init__(self) -> None:
        """Every check of these ranges lives here (training options map onto these fields and are checked by
        building one): a bound stated twice drifts."""
        object.__setattr__(self, "lr_sides", tuple(int(v) for v in self.lr_sides))
        object.__setattr__(self, "crf", tuple(int(v) for v in self.crf))
        if len(self.lr_sides) != 2 or not 4 <= self.lr_sides[0] <= self.lr_sides[1] <= MODEL_SIZE:
            raise ConfigError(f"lr_sides must be two sides 4 <= lo <= hi <= {MODEL_SIZE}, got {self.lr_sides}")
        if not 0 <= self.noise_prob <= 1 or not 0 <= self.jpeg_prob <= 1:
            raise ConfigError(f"noise_prob and jpeg_prob are shares in [0, 1], got {self.noise_prob}, {self.jpeg_prob}")
        if not 0 <= self.h264_prob <= 1 - self.jpeg_prob:
            raise ConfigError(f"h264_prob must be in [0, {1 - self.jpeg_prob:g}] (the other {self.jpeg_prob:.0%} of "
                              f"faces get JPEG), got {self.h264_prob}")  # fmt: skip
        if len(self.crf) != 2 or not 0 <= self.crf[0] <= self.crf[1] <= 51:
            raise ConfigError(f"crf must be two CRFs 0 <= lo <= hi <= 51 (x264's range), got {self.crf}")
        unknown = set(self.kernels) - {"area", "bicubic", "bilinear", "gaussian"}
        if unknown:
            raise ConfigError(f"unknown kernels {sorted(unknown)}; use area, bicubic, bilinear, gaussian")
        object.__setattr__(self, "h264_frames", tuple(int(v) for v in self.h264_frames))
        if len(self.h264_frames) != 2 or not 2 <= self.h264_frames[0] <= self.h264_frames[1] <= 60:
            raise ConfigError(f"h264_frames must be two clip lengths 2 <= lo <= hi <= 60, got {self.h264_frames}")
        if not 0 <= self.h264_file_share <= 1:
            raise ConfigError(f"h264_file_share must be in [0, 1], got {self.h264_file_share}")
        if self.burst_motion not in BURST_MOTIONS:
            raise ConfigError(f"burst_motion must be one of {', '.join(BURST_MOTIONS)}, got {self.burst_motion!r}")

    def to_dict(self) -> dict:
        return {
            "lr_sides": list(self.lr_sides), "kernels": dict(self.kernels), "blur_sigma": list(self.blur_sigma),
            "noise_prob": self.noise_prob, "noise_sigma": list(self.noise_sigma), "h264_prob": self.h264_prob,
            "crf": list(self.crf), "h264_presets": list(self.h264_presets), "jpeg_prob": self.jpeg_prob,
            "jpeg_quality": list(self.jpeg_quality), "burst_motion": self.burst_motion,
            "h264_frames": list(self.h264_frames), "h264_file_share": self.h264_file_share,
        }  # fmt: skip


@dataclass(frozen=True)
class FaceDegradation:
    """What happened to one face (returned beside the images, for tests and for stratified evaluation)."""

    lr_side: int
    kernel: str
    noise: float
    compression: str  # "none", "jpeg:Q", "h264:CRF:preset:I|P"


def downscale(hr: np.ndarray, side: int, kernel: str, sigma: float = 0.0) -> np.ndarray:
    """HR uint8 [H,W,3] -> [side,side,3] float32 (0-255) with one of the training kernels."""
    if kernel == "area":
        return cv2.resize(hr.astype(np.float32), (side, side), interpolation=cv2.INTER_AREA)
    if kernel == "bilinear":
        return cv2.resize(hr.astype(np.float32), (side, side), interpolation=cv2.INTER_LINEAR)
    if kernel == "bicubic":
        from vidfsr.pipelines.resample import resize_matrix

        h, w = hr.shape[:2]
        rows, cols = resize_matrix(h, side).astype(np.float32), resize_matrix(w, side).astype(np.float32)
        return np.einsum("ij,jkc,lk->ilc", rows, hr.astype(np.float32), cols, optimize=True)
    if kernel == "gaussian":
        factor = hr.shape[0] / side
        blurred = cv2.GaussianBlur(hr.astype(np.float32), (0, 0), sigmaX=max(sigma * factor, 0.1))
        # Sample at the LR pixel centres, (i + 0.5) * factor - 0.5 in HR pixels, as every other kernel does.
        # INTER_NEAREST takes floor(i * factor), the top-left of each cell: those faces sat (factor - 1) / 2 HR px
        # off the others (1.1 px at a 40 px side), and a model trained on the mix learned to hedge between the two
        # positions, blurring and shifting its output (issue 12; measured in BENCHMARKS.md).
        matrix = np.float32([[factor, 0, 0.5 * factor - 0.5], [0, factor, 0.5 * factor - 0.5]])
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        return cv2.warpAffine(blurred, matrix, (side, side), flags=flags, borderMode=cv2.BORDER_REFLECT_101)
    raise ValueError(f"unknown kernel {kernel!r}")


def upsample(lr: np.ndarray, size: int = MODEL_SIZE) -> np.ndarray:
    """The model input from an LR face: OpenCV cubic to ``size``, the same filter the pipeline cuts crops with."""
    return cv2.resize(lr, (size, size), interpolation=cv2.INTER_CUBIC)


def h264_roundtrip(
    faces: list[np.ndarray], crf: int, preset: str, rng: np.random.Generator, order: str = "bgr"
) -> tuple[list, str]:
    """Compress uint8 faces (any sizes up to 64 px) with real libx264 as tiles of one frame of a 2-frame clip.

    ``order`` is the faces' channel order (``bgr`` or ``rgb``), so the encoder's YUV conversion weighs the
    channels correctly. Returns the decoded faces and which frame type they came from ("I" or "P").
    """
    # 3 px spare in each cell: the P-frame's content is the canvas moved by up to 3 px.
    cols, height, width, places = _tile_places([f.shape[0] for f in faces], rng, spare=3)
    canvas = _tile(faces, cols, height, width, places)
    dx, dy = (int(v) for v in rng.integers(0, 4, 2))
    moved = np.roll(canvas, (dy, dx), axis=(0, 1))
    use_p = bool(rng.random() < 0.5)
    decoded = _x264_clip([canvas, moved], crf, preset, order)
    out_frame = decoded[1] if use_p else decoded[0]
    shift = (dx, dy) if use_p else (0, 0)
    out = [out_frame[oy + shift[1] : oy + shift[1] + s, ox + shift[0] : ox + shift[0] + s].copy()
           for ox, oy, s in places]  # fmt: skip
    return out, "P" if use_p else "I"


def _x264_clip(canvases: list[np.ndarray], crf: int, preset: str, order: str) -> list[np.ndarray]:
    """Encode same-sized uint8 frames as one libx264 clip (first frame I, the rest P) and decode them."""
    return _x264_coded(canvases, crf, preset, order, camera=True)[0]


# AVPictureType: what each decoded frame was coded as.
_PICTURE_TYPES = {1: "I", 2: "P", 3: "B"}


def _x264_coded(
    canvases: list[np.ndarray], crf: int, preset: str, order: str, camera: bool
) -> tuple[list[np.ndarray], list[str]]:
    """Encode same-sized uint8 frames as one libx264 clip and decode them: (frames in display order, their
    picture types). ``camera``: no B-frames and no lookahead (``tune=zerolatency``), as camera encoders stream;
    otherwise x264's defaults for the preset, as files are coded (B-frames, macroblock-tree rate control)."""
    import av

    height, width = canvases[0].shape[:2]
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, 25)
    # One thread keeps x264 deterministic.
    codec.options = {"crf": str(crf), "preset": preset, "threads": "1", **({"tune": "zerolatency"} if camera else {})}
    packets = []
    for k, img in enumerate(canvases):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format=f"{order}24")
        frame.pts = k
        packets += codec.encode(frame)
    packets += codec.encode(None)
    decoder = av.CodecContext.create("h264", "r")
    decoded = []
    for packet in [*packets, None]:
        decoded += decoder.decode(packet)
    if len(decoded) != len(canvases):
        raise RuntimeError(f"libx264 round trip returned {len(decoded)} frames, expected {len(canvases)}")
    decoded.sort(key=lambda f: f.pts)
    types = [_PICTURE_TYPES.get(int(f.pict_type), "?") for f in decoded]
    return [f.to_ndarray(format=f"{order}24") for f in decoded], types


def h264_clip_roundtrip(
    faces: list[np.ndarray],
    crf: int,
    preset: str,
    rng: np.random.Generator,
    frames: tuple[int, int],
    file_share: float,
    order: str = "bgr",
) -> tuple[list, str]:
    """Compress uint8 faces as tiles of one frame deep in a libx264 clip, as a face in a stream is coded.

    A stream codes most frames by prediction from earlier ones that differ a little (the head moved by a
    fraction of a pixel, the mouth and eyes changed) and adds a quantised residual: in a still region almost
    nothing, so detail lost in the keyframe stays lost and the error drifts. The two-frame clip of
    ``h264_roundtrip`` cannot show that: its P-frame is a whole-pixel copy of the I-frame. Here the clip has
    K frames (drawn from ``frames``); the faces' own frame j (2..K) holds them exactly, every other frame holds
    them moved by a random walk of sub-pixel shifts and a smooth random warp of up to ~0.3 px, and the faces
    are cut back out of frame j. ``file_share`` of the clips are coded as files (B-frames, macroblock-tree),
    the rest as cameras stream. Returns the decoded faces and e.g. ``"P:5/8:camera"`` (picture type of the
    faces' frame, j / K, coding style).
    """
    cols, height, width, places = _tile_places([f.shape[0] for f in faces], rng)
    canvas = _tile(faces, cols, height, width, places)
    k_frames = int(rng.integers(frames[0], frames[1] + 1))
    j = int(rng.integers(1, k_frames))  # 0-based; never the keyframe
    camera = bool(rng.random() >= file_share)
    speed = float(rng.uniform(0.0, 0.8))  # LR px a frame: still to turning heads
    warp = float(rng.uniform(0.0, 0.3))  # LR px of non-rigid change: mouth, eyes, expression
    steps = rng.normal(0.0, speed, (k_frames, 2))
    walk = np.cumsum(steps, axis=0)
    walk -= walk[j]
    gx, gy = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    canvases = []
    for k in range(k_frames):
        if k == j:
            canvases.append(canvas)
            continue
        coarse = rng.normal(0.0, warp, (2, max(height // 16, 2), max(width // 16, 2))).astype(np.float32)
        fx, fy = (cv2.resize(c, (width, height), interpolation=cv2.INTER_CUBIC) for c in coarse)
        canvases.append(cv2.remap(canvas, gx + float(walk[k, 0]) + fx, gy + float(walk[k, 1]) + fy,
                                  cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101))  # fmt: skip
    decoded, types = _x264_coded(canvases, crf, preset, order, camera)
    out = [decoded[j][oy : oy + s, ox : ox + s].copy() for ox, oy, s in places]
    return out, f"{types[j]}:{j + 1}/{k_frames}:{'camera' if camera else 'file'}"


def _tile_places(
    sides: list[int], rng: np.random.Generator, spare: int = 0
) -> tuple[int, int, int, list[tuple[int, int, int]]]:
    """(columns, canvas height, canvas width, [(x, y, side)]): each face at a random macroblock phase in its
    own cell, ``spare`` px left free at the cell's far edges. Cells are 96 px, or larger by whole macroblocks
    where a face plus a macroblock of phase room does not fit (wide ``lr_sides``)."""
    n = len(sides)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cell = _cell(sides, spare)
    places = []
    for i, s in enumerate(sides):
        r, c = divmod(i, cols)
        ox = c * cell + int(rng.integers(0, cell - s - spare + 1))
        oy = r * cell + int(rng.integers(0, cell - s - spare + 1))
        places.append((ox, oy, s))
    return cols, rows * cell, cols * cell, places


def _cell(sides: list[int], spare: int) -> int:
    return max(_CELL, 16 * math.ceil((max(sides) + spare + 16) / 16))


def _tile(faces: list[np.ndarray], cols: int, height: int, width: int, places: list) -> np.ndarray:
    canvas = np.zeros((height, width, 3), np.uint8)
    cell = width // cols
    for i, (face, (ox, oy, s)) in enumerate(zip(faces, places, strict=True)):
        r, c = divmod(i, cols)
        # The face's surroundings continue its own edges, as a face in a frame has context, not a black frame.
        pad = cv2.copyMakeBorder(face, oy - r * cell, (r + 1) * cell - oy - s, ox - c * cell,
                                 (c + 1) * cell - ox - s, cv2.BORDER_REFLECT_101)  # fmt: skip
        canvas[r * cell : (r + 1) * cell, c * cell : (c + 1) * cell] = pad
    return canvas


def h264_burst(
    bursts: list[list[np.ndarray]],
    crf: int,
    preset: str,
    rng: np.random.Generator,
    order: str = "bgr",
    keyframe_at_reference: bool = False,
) -> list[list[np.ndarray]]:
    """Compress bursts (``bursts[i][k]``: face i at frame t-k, uint8, up to 64 px) as one K-frame libx264 clip.

    Frame k of every face is a tile of canvas k, so the faces share an encoder as faces in one stream do.
    Encoded in time order (oldest first; the reference t is the last, a P-frame), or with
    ``keyframe_at_reference`` the earlier frames as one clip and the reference alone (an I-frame).
    """
    frames = len(bursts[0])
    cols, height, width, places = _tile_places([b[0].shape[0] for b in bursts], rng)
    canvases = [_tile([b[k] for b in bursts], cols, height, width, places) for k in range(frames)]
    if keyframe_at_reference:
        decoded = _x264_clip(canvases[:1], crf, preset, order)
        if frames > 1:
            decoded += _x264_clip(canvases[1:][::-1], crf, preset, order)[::-1]
    else:
        decoded = _x264_clip(canvases[::-1], crf, preset, order)[::-1]
    return [[decoded[k][oy : oy + s, ox : ox + s].copy() for k in range(frames)] for ox, oy, s in places]


# The fixed evaluation mix (validation during training, ``vidfsr eval``, the model card): the current training
# defaults, frozen here so a later change of the training mix does not silently change the test set.
EVAL_CONFIG = RealDegradationConfig()


class RealDegradation:
    """``degrade_batch(hr_uint8 [B,128,128,3]) -> (model inputs [B,128,128,3] uint8, [FaceDegradation])``.

    Reproducible: the same seed gives the same sequence of batches (x264 is deterministic with one thread).
    """

    def __init__(self, config: RealDegradationConfig | None = None, seed: int | list[int] = 0) -> None:
        self.config = config or RealDegradationConfig()
        self.rng = np.random.default_rng(seed)
        names = list(self.config.kernels)
        probs = np.array([self.config.kernels[k] for k in names], np.float64)
        self._kernels, self._kernel_p = names, probs / probs.sum()

    def get_state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def draw_side(self) -> int:
        lo, hi = self.config.lr_sides
        return round(math.exp(self.rng.uniform(math.log(lo), math.log(hi + 0.5))))

    def degrade_batch(self, hr: np.ndarray, order: str = "bgr") -> tuple[np.ndarray, list[FaceDegradation]]:
        """Degrade uint8 faces [B,H,W,3] in channel ``order`` (``bgr`` or ``rgb``; the training pack is RGB)."""
        cfg, rng = self.config, self.rng
        lows, info = [], []
        for face in hr:
            side = min(max(self.draw_side(), cfg.lr_sides[0]), cfg.lr_sides[1])
            kernel = str(rng.choice(self._kernels, p=self._kernel_p))
            lr = downscale(face, side, kernel, float(rng.uniform(*cfg.blur_sigma)))
            noise = 0.0
            if rng.random() < cfg.noise_prob:
                noise = float(rng.uniform(*cfg.noise_sigma))
                lr = lr + rng.normal(0.0, noise, lr.shape).astype(np.float32)
            lows.append(np.clip(np.round(lr), 0, 255).astype(np.uint8))
            info.append(FaceDegradation(side, kernel, round(noise, 2), "none"))
        u = rng.random()
        if u < cfg.h264_prob:
            crf = int(rng.integers(cfg.crf[0], cfg.crf[1] + 1))
            preset = str(rng.choice(list(cfg.h264_presets)))
            if cfg.h264_frames == (2, 2) and cfg.h264_file_share == 0:
                lows, kind = h264_roundtrip(lows, crf, preset, rng, order)  # the first models' degradation
            else:
                lows, kind = h264_clip_roundtrip(lows, crf, preset, rng, cfg.h264_frames, cfg.h264_file_share, order)
            info = [FaceDegradation(d.lr_side, d.kernel, d.noise, f"h264:{crf}:{preset}:{kind}") for d in info]
        elif u < cfg.h264_prob + cfg.jpeg_prob:
            out = []
            for i, lr in enumerate(lows):
                q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
                bgr = lr[..., ::-1] if order == "rgb" else lr
                _, buf = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, q])
                dec = cv2.imdecode(buf, cv2.IMREAD_COLOR)
                out.append(np.ascontiguousarray(dec[..., ::-1]) if order == "rgb" else dec)
                info[i] = FaceDegradation(info[i].lr_side, info[i].kernel, info[i].noise, f"jpeg:{q}")
            lows = out
        ups = np.stack([upsample(lr) for lr in lows])
        return ups, info

    def _motion_step(self, factor: float):
        """One face's per-frame motion draw: () -> (shift in HR px [2], rotation in degrees, scale factor)."""
        rng = self.rng
        if self.config.burst_motion == "walk":
            speed = 1.2 * float(rng.random()) ** 2 * factor  # most faces nearly still, some fast
            return lambda: (rng.normal(0.0, speed, 2), float(rng.normal(0.0, 0.5)), float(1 + rng.normal(0.0, 0.005)))
        # "video": drawn from an unwindowed phase correlation of consecutive crops of the shared clips at 8x
        # (median 0.04 LR px, mean 0.41, 90th percentile 1.3: nearly still, the snapped box stepping a whole
        # pixel now and then). benchmarks/crop_motion.py, windowed, measures more motion (median 0.68, mean
        # 0.56, 90th percentile 1.12; BENCHMARKS.md, session 10): these draws are stiller than the clips.
        u = float(rng.random())
        drift = 0.03 if u < 0.5 else float(rng.uniform(0.05, 0.5))
        jump = u >= 0.75

        def step() -> tuple[np.ndarray, float, float]:
            d = rng.normal(0.0, drift, 2)
            if jump:
                axes = [(1, 0), (0, 1), (1, 1)][int(rng.integers(3))]
                d = d + np.array(axes) * rng.choice([-1.0, 1.0], 2)
            return d * factor, float(rng.normal(0.0, 0.1)), float(1 + rng.normal(0.0, 0.001))

        return step

    def degrade_burst(
        self, hr: np.ndarray, frames: int, order: str = "bgr"
    ) -> tuple[np.ndarray, list[FaceDegradation]]:
        """Bursts of model inputs [B,K,128,128,3] (index 0 the reference frame t, k the frame t-k) from
        uint8 faces [B,H,W,3]; the target is ``hr`` itself. Module docstring: the motion and its reasons."""
        ups, _moved, info = self.degrade_burst_with_truth(hr, frames, order)
        return ups, info

    def degrade_burst_with_truth(
        self, hr: np.ndarray, frames: int, order: str = "bgr"
    ) -> tuple[np.ndarray, np.ndarray, list[FaceDegradation]]:
        """``degrade_burst`` plus each frame's truth [B,K,H,W,3] (the face as moved for frame k; frame 0 is
        ``hr``): what a temporal-stability term compares the outputs' frame-to-frame change with. The same
        random draws as ``degrade_burst``."""
        cfg, rng = self.config, self.rng
        size = hr.shape[1]
        bursts, info, moved = [], [], []
        for face in hr:
            side = min(max(self.draw_side(), cfg.lr_sides[0]), cfg.lr_sides[1])
            kernel = str(rng.choice(self._kernels, p=self._kernel_p))
            sigma = float(rng.uniform(*cfg.blur_sigma))
            noisy = rng.random() < cfg.noise_prob
            noise = float(rng.uniform(*cfg.noise_sigma)) if noisy else 0.0
            factor = size / side
            step = self._motion_step(factor)
            shift, angle, scale = np.zeros(2), 0.0, 1.0
            lows, truths = [], []
            for k in range(frames):
                if k:
                    d_shift, d_angle, d_scale = step()
                    shift = shift + d_shift
                    angle += d_angle
                    scale *= d_scale
                    m = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, scale)
                    m[:, 2] += shift
                    src = cv2.warpAffine(face, m, (size, size), flags=cv2.INTER_CUBIC,
                                         borderMode=cv2.BORDER_REFLECT_101)  # fmt: skip
                else:
                    src = face
                truths.append(src)
                lr = downscale(src, side, kernel, sigma)
                if noisy:
                    lr = lr + rng.normal(0.0, noise, lr.shape).astype(np.float32)
                lows.append(np.clip(np.round(lr), 0, 255).astype(np.uint8))
            bursts.append(lows)
            moved.append(np.stack(truths))
            info.append(FaceDegradation(side, kernel, round(noise, 2), "none"))
        u = rng.random()
        if u < cfg.h264_prob:
            crf = int(rng.integers(cfg.crf[0], cfg.crf[1] + 1))
            preset = str(rng.choice(list(cfg.h264_presets)))
            key = bool(rng.random() < 0.25)
            bursts = h264_burst(bursts, crf, preset, rng, order, keyframe_at_reference=key)
            kind = "I" if key else "P"
            info = [FaceDegradation(d.lr_side, d.kernel, d.noise, f"h264:{crf}:{preset}:{kind}") for d in info]
        elif u < cfg.h264_prob + cfg.jpeg_prob:
            q = int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1))
            out = []
            for lows in bursts:
                dec = []
                for lr in lows:
                    bgr = lr[..., ::-1] if order == "rgb" else lr
                    _, buf = cv2.imencode(".jpg", np.ascontiguousarray(bgr), [cv2.IMWRITE_JPEG_QUALITY, q])
                    d = cv2.imdecode(buf, cv2.IMREAD_COLOR)
                    dec.append(np.ascontiguousarray(d[..., ::-1]) if order == "rgb" else d)
                out.append(dec)
            bursts = out
            info = [FaceDegradation(d.lr_side, d.kernel, d.noise, f"jpeg:{q}") for d in info]
        ups = np.stack([np.stack([upsample(lr, size) for lr in lows]) for lows in bursts])
        return ups, np.stack(moved), info
