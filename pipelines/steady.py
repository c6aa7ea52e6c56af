"""Motion-compensated temporal recursion over each face's output region (blend stage).

What a face's model adds changes more from frame to frame than its input does (BENCHMARKS.md, sessions 8 and
10), and averaging it in crop coordinates steadied it only where the face held still. Here each track's previous
output face (after every step of the blend stage) is carried onto the current frame by dense optical flow between
the two frames' freshly pasted outputs and averaged in through the paste's ellipse, except where those two
disagree once blurred to the input's pixel size: there the face really changed (a mouth opening, an occlusion)
and the current frame stands. On lossless input the frame step that follows makes the result agree with the
current frame's pixels again, so the face is a recursive estimate from every frame seen so far: the route video
super-resolution takes. Measured on the real-video benchmark (BENCHMARKS.md, session 15): flicker below
bicubic's, and more PSNR. Faces no model serves are carried the same way (the runner; session 16): with the frame
step the recursion alone gathers detail over the frames, without it the coding noise is averaged.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .blend import low_pass, paste_mask

# Grey levels of blurred disagreement between the carried previous output and the current one at which the
# previous output's share has fallen to 1/e of its weight (a Gaussian gate; BENCHMARKS.md, session 15).
TOLERANCE = 4.0
# Flow is found on copies shrunk FLOW_SHRINK times where an input pixel spans at least FLOW_SHRINK_FROM output
# pixels.
FLOW_SHRINK = 2
FLOW_SHRINK_FROM = 4.0
# ... and from WEAK_FLOW_SHRINK_FROM where the frame step that follows has a share of WEAK_STEP or less (coarsely
# coded and unknown sources, cameras): the recursion there averages coding noise, which the shrunk flow follows as
# well. At 2x on H.264 CRF 28-33 and MJPEG quality 68 the face boxes scored the same or better with it, at 3x
# better, while the lossless and finely coded clips, where the step runs at a half or more and the recursion
# gathers real detail, lost up to 0.11 dB (BENCHMARKS.md, sessions 17 and 18).
WEAK_STEP = 0.25
WEAK_FLOW_SHRINK_FROM = 2.0
# OpenCV's DIS preset, and its variational refinement iterations (None: the preset's) (BENCHMARKS.md, session 16).
FLOW_PRESET = cv2.DISOPTICAL_FLOW_PRESET_MEDIUM
FLOW_REFINEMENT: int | None = None
# The previous face gets its full share wherever the paste's feathered ellipse shows at least 1/MASK_GAIN of the
# model's detail: weighted by the ellipse itself, the feather (the face's rim, hair, background) kept most of
# each frame's fresh detail and flickered above bicubic on the still clips (BENCHMARKS.md, session 16).
MASK_GAIN = 4.0
# The share for faces left to the resize where no frame step anchors them to the current frame (compressed
# sources): there only the coding noise is averaged, and a full share lagged fast motion; the runner raises it
# toward the steady share with the frame step's share (BENCHMARKS.md, session 16).
UNANCHORED_WEIGHT = 0.5
# A face that holds still keeps more of its past: its share rises toward ``still_share`` (the steady share taken
# STILL_GAIN of the way to 1: 0.8 -> 0.9) by exp(-(motion / STILL_MOTION)^2), its median motion in input pixels a
# frame. Measured on the real-video benchmark (BENCHMARKS.md, session 18): clips with flicker above bicubic's at
# 4x and 8x 19 -> 9, the means within -0.01..+0.02 dB; 0.9 for every face had lagged the fastest one (d3, -0.07).
STILL_GAIN = 0.5
STILL_MOTION = 0.1
# OpenCV's DIS flow needs at least 12 pixels each way: a narrower region (a face cut by the frame's edge, a speck)
# is left as pasted.
MIN_SIDE = 16


def still_share(share: float) -> float:
    """The share a face that holds still gets where ``share`` is the steady share (0 stays 0: the recursion off)."""
    return share + (1 - share) * STILL_GAIN if share > 0 else 0.0


def _shifted(image: np.ndarray, dx: int, dy: int, shape: tuple[int, int], fill: np.ndarray | float) -> np.ndarray:
    """``image`` (whose origin lies ``dx, dy`` pixels from the current region's) on the current region's grid;
    pixels it does not cover take ``fill``."""
    h, w = shape
    if isinstance(fill, np.ndarray):
        out = fill.astype(np.float32, copy=True)
    else:
        out = np.full((h, w, *image.shape[2:]), fill, np.float32)
    ih, iw = image.shape[:2]
    x0, y0 = max(dx, 0), max(dy, 0)
    x1, y1 = min(dx + iw, w), min(dy + ih, h)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = image[y0 - dy : y1 - dy, x0 - dx : x1 - dx]
    return out


class SteadyFaces:
    """Per track, the previous frame's face region: ``apply_inplace`` after the paste, ``remember`` after the
    blend stage's last step."""

    def __init__(self, tolerance: float = TOLERANCE) -> None:
        self.tolerance = tolerance
        # track -> (luma of the fresh paste, the final output region, x0, y0)
        self._previous: dict[int, tuple[np.ndarray, np.ndarray, int, int]] = {}
        self._fresh: dict[int, tuple[np.ndarray, int, int]] = {}  # this frame's fresh luma, until remembered
        self._flow: cv2.DISOpticalFlow | None = None

    def forget(self, track_id: int) -> None:
        self._previous.pop(track_id, None)
        self._fresh.pop(track_id, None)

    def clear(self) -> None:
        self._previous.clear()
        self._fresh.clear()

    def __len__(self) -> int:
        return len(self._previous)

    def apply_inplace(
        self, track_id: int, canvas: np.ndarray, box_xyxy: np.ndarray, pixel: float, weight: float,
        step: float = 1.0, still: float = 0.0,
    ) -> float:  # fmt: skip
        """Average the track's previous output, carried by the flow, into the face just pasted over ``box_xyxy``
        (output pixels) of ``canvas``, in place, and say how still the face held: exp(-(m / STILL_MOTION)^2) of
        its median motion m in input pixels (1: still; 0 where nothing was averaged).

        ``pixel`` is the size of one input pixel in output pixels (the blur of the gate), ``weight`` the previous
        output's share where the two frames agree (0: nothing is averaged, the state still follows the track).
        ``step``: the share of the frame step that follows (it picks the flow's precision: ``WEAK_STEP``).
        ``still``: the share a face that holds still gets instead of ``weight`` (``still_share``; ignored below it).
        """
        placed = paste_mask(box_xyxy, canvas.shape)
        if placed is None:
            return 0.0
        (x0, y0, x1, y1), mask = placed
        region = canvas[y0:y1, x0:x1]
        current = region.astype(np.float32)
        luma = _luma(current)
        self._fresh[track_id] = (luma, x0, y0)
        prev = self._previous.get(track_id)
        if prev is None or weight <= 0 or min(luma.shape) < MIN_SIDE:
            return 0.0
        p_luma, p_out, px, py = prev
        p_out = p_out.astype(np.float32)
        shape = current.shape[:2]
        moved = (px, py) != (x0, y0) or p_luma.shape != shape
        if moved:
            # Where the previous region does not reach, the current frame stands in and nothing is averaged.
            cover = _shifted(np.ones(p_luma.shape, np.float32), px - x0, py - y0, shape, 0.0)
            p_luma = _shifted(p_luma, px - x0, py - y0, shape, luma)
            p_out = _shifted(p_out, px - x0, py - y0, shape, current)
        shrink_from = FLOW_SHRINK_FROM if step > WEAK_STEP else min(FLOW_SHRINK_FROM, WEAK_FLOW_SHRINK_FROM)
        flow = self._flow_between(luma, p_luma, pixel, shrink_from)  # current(p) ~ previous(p + flow(p))
        sub = flow[::4, ::4]  # a median needs no more (a face region is up to a few megapixels)
        motion = float(np.median(np.hypot(sub[..., 0], sub[..., 1]))) / pixel
        stillness = float(np.exp(-((motion / STILL_MOTION) ** 2)))
        if still > weight:
            weight += (still - weight) * stillness
        map_x, map_y = _grid(shape)
        map_x, map_y = map_x + flow[..., 0], map_y + flow[..., 1]

        def carry(image: np.ndarray) -> np.ndarray:
            return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

        # The gate compares the fresh pastes' luma blurred to the input's pixel size: detail and coding noise do
        # not count, a real change of the picture does. (In place: a face region is up to a few megapixels.)
        gate = low_pass(carry(p_luma) - luma, max(pixel, 0.5))
        gate *= 1 / self.tolerance
        np.square(gate, out=gate)
        np.negative(gate, out=gate)
        np.exp(gate, out=gate)
        gate *= np.minimum(mask * (weight * MASK_GAIN), weight)  # the share: weight * min(mask * gain, 1)
        if moved:
            gate *= carry(cover)
        out = carry(p_out)
        out -= current
        out *= gate[..., None]
        out += current
        np.clip(out, 0, 255, out=out)
        region[:] = np.rint(out, out=out).astype(np.uint8)
        return stillness

    def remember(self, track_id: int, canvas: np.ndarray) -> None:
        """Keep the face's region of the finished ``canvas`` (after the frame step) for the next frame."""
        fresh = self._fresh.pop(track_id, None)
        if fresh is None:
            return
        luma, x0, y0 = fresh
        h, w = luma.shape
        # The finished face as the canvas holds it (uint8: the exact values, a quarter of float32's memory).
        self._previous[track_id] = (luma, canvas[y0 : y0 + h, x0 : x0 + w].copy(), x0, y0)

    def _flow_between(self, current: np.ndarray, previous: np.ndarray, pixel: float, shrink_from: float) -> np.ndarray:
        """Dense flow from the luma plane ``current`` to ``previous`` (output pixels). Where an input pixel spans
        ``shrink_from`` output pixels or more the flow is found on copies shrunk by ``FLOW_SHRINK`` (the motion is
        the input's, no finer than its pixels' own detail) and scaled back: a quarter of the cost."""
        if self._flow is None:
            self._flow = cv2.DISOpticalFlow_create(FLOW_PRESET)
            if FLOW_REFINEMENT is not None:
                self._flow.setVariationalRefinementIterations(FLOW_REFINEMENT)
        h, w = current.shape[:2]
        shrink = FLOW_SHRINK if pixel >= shrink_from and min(h, w) >= 32 * FLOW_SHRINK else 1
        a, b = _grey(current), _grey(previous)
        if shrink == 1:
            return self._flow.calc(a, b, None)
        size = (round(w / shrink), round(h / shrink))
        small = self._flow.calc(cv2.resize(a, size, interpolation=cv2.INTER_AREA),
                                cv2.resize(b, size, interpolation=cv2.INTER_AREA), None)  # fmt: skip
        flow = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= w / size[0]
        flow[..., 1] *= h / size[1]
        return flow


@lru_cache(maxsize=8)
def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.meshgrid(np.arange(shape[1], dtype=np.float32), np.arange(shape[0], dtype=np.float32))
    x.setflags(write=False)
    y.setflags(write=False)
    return x, y


def _grey(luma: np.ndarray) -> np.ndarray:
    return np.clip(luma, 0, 255).round().astype(np.uint8)


def _luma(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of a float BGR image, as float (no rounding: the gate compares small differences)."""
    return image[..., 0] * 0.114 + image[..., 1] * 0.587 + image[..., 2] * 0.299
