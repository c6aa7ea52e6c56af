"""Synthetic eyeglass frames drawn onto training faces (an augmentation of the real-world training data).

The real-video clips the model does worst on are the three whose person wears thin metal glasses: at 8x the
frames are a faint sub-pixel line in the input, the model leaves them as blurred as bicubic does, and the error
maps of those faces are the frames' outline (BENCHMARKS.md, sessions 12, 15 and 17). Few training faces wear
glasses, and fewer thin metal ones. Drawing frames on the high-resolution face before the degradation teaches
the network what a faint line around the eyes becomes: a thin, sharp frame.

Frames are placed from the face's 68 landmarks (lenses around the eyes, a bridge over the nose, temples out to
the face's sides), drawn with anti-aliasing on a 4x supersampled canvas and area-shrunk, so a frame can be
thinner than one pixel of the 128 px face, as metal frames are once a face is 128 px across.

Measured (BENCHMARKS.md, session 17): a fine-tune of the shipped weights with it learned the synthetic frames, but
on real video the glasses clips gained no more than the others, so the shipped weights do not use it.

Clear frames (``clear=True``, session 28): transparent acetate, as d12 wears. They are not a colour painted over
the face but a pale, half-transparent band whose two edges refract into thin darker lines; at 8x and H.264 only a
faint light ring around the eyes is left of them, and the shipped network draws such faces without glasses and
with narrowed eyes (BENCHMARKS.md, session 27). A fine-tune with a quarter of the faces in clear frames left d12
where it was (BENCHMARKS.md, session 28): its coded crops hold no trace of the frames, and on clean ones the
back-projection step already puts back what the input shows.
"""

from __future__ import annotations

import cv2
import numpy as np

SUPERSAMPLE = 4
# Frame width in pixels of the 128 px face (drawn log-uniform): a thin metal frame on a 360-500 px face is 3-6 px
# wide, i.e. 0.8-2 px here; plastic frames are up to ~3.5 px.
WIDTH_RANGE = (0.5, 3.5)
# Lens half-width as a multiple of the eye's half-width (corner to corner), and lens height over lens width.
LENS_WIDTH_RANGE = (1.6, 2.3)
LENS_ASPECT_RANGE = (0.55, 0.85)
# Superellipse exponent: 2 is an ellipse (round frames), larger is a rounded rectangle.
SHAPE_RANGE = (2.0, 5.0)
# Frame colours (RGB), each a range from its dark to its light end: black plastic and dark metal, silver, gold.
PALETTE = (
    ((15, 15, 15), (70, 65, 60)),
    ((140, 140, 140), (225, 225, 225)),
    ((160, 130, 70), (220, 190, 120)),
)
# Clear frames: band colour (RGB, near white with a warm cast from the skin seen through it), the band's opacity,
# its edges' darkness (opacity of a dark line at each edge) and widths (acetate is thick: 1-4 px at 128 px).
CLEAR_COLOUR = ((215, 205, 200), (250, 245, 240))
CLEAR_ALPHA_RANGE = (0.25, 0.6)
CLEAR_EDGE_RANGE = (0.1, 0.35)
CLEAR_WIDTH_RANGE = (1.0, 4.0)


def _lens(centre: np.ndarray, half_w: float, half_h: float, power: float, angle: float) -> np.ndarray:
    """Points of a superellipse lens outline (float xy, 64 points)."""
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    c, s = np.cos(t), np.sin(t)
    x = half_w * np.sign(c) * np.abs(c) ** (2 / power)
    y = half_h * np.sign(s) * np.abs(s) ** (2 / power)
    ca, sa = np.cos(angle), np.sin(angle)
    return np.stack([centre[0] + ca * x - sa * y, centre[1] + sa * x + ca * y], axis=1)


def draw_glasses(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator, clear: bool = False) -> np.ndarray:
    """A new copy of ``image`` (HxWx3 uint8, any channel order with the palette read as RGB) wearing frames
    placed from its 68 ``landmarks`` (x, y pixels); ``clear``: transparent acetate frames instead of coloured
    ones (the draws of coloured frames do not depend on whether clear ones exist)."""
    h, w = image.shape[:2]
    lm = np.asarray(landmarks, np.float64)
    left, right = lm[36:42], lm[42:48]  # the subject's right eye is on the image's left
    lc, rc = left.mean(axis=0), right.mean(axis=0)
    axis = rc - lc
    angle = float(np.arctan2(axis[1], axis[0]))
    eye_half = 0.25 * (np.linalg.norm(left[3] - left[0]) + np.linalg.norm(right[3] - right[0]))
    half_w = eye_half * rng.uniform(*LENS_WIDTH_RANGE)
    half_h = half_w * rng.uniform(*LENS_ASPECT_RANGE)
    power = rng.uniform(*SHAPE_RANGE)
    # Lenses sit a little below the eye line's centre more often than above (the eye is in the upper half).
    up = np.array([np.sin(angle), -np.cos(angle)])
    drop = -up * half_h * rng.uniform(-0.1, 0.3)
    # log-uniform: thin frames as often as thick
    width = float(np.exp(rng.uniform(*np.log(CLEAR_WIDTH_RANGE if clear else WIDTH_RANGE))))
    ends = CLEAR_COLOUR if clear else PALETTE[int(rng.integers(len(PALETTE)))]
    dark, light = (np.array(c, np.float64) for c in ends)
    colour = dark + rng.uniform() * (light - dark) + rng.normal(0, 4, 3)
    alpha = rng.uniform(*CLEAR_ALPHA_RANGE) if clear else rng.uniform(0.6, 1.0)
    edge = rng.uniform(*CLEAR_EDGE_RANGE) if clear else 0.0

    k = SUPERSAMPLE
    layer = np.zeros((h * k, w * k), np.uint8)
    thick = max(1, round(width * k))
    shift = 4  # cv2's fixed-point bits: sub-pixel placement on the supersampled canvas

    def pts(p: np.ndarray) -> np.ndarray:
        return np.round((p * k + (k - 1) / 2) * (1 << shift)).astype(np.int32)

    lenses = [_lens(c + drop, half_w, half_h, power, angle) for c in (lc, rc)]
    for lens in lenses:
        cv2.polylines(layer, [pts(lens)], True, 255, thick, cv2.LINE_AA, shift)
    # The bridge joins the lenses' inner edges a little above their centres.
    inner_l = lc + drop + np.array([np.cos(angle), np.sin(angle)]) * half_w * 0.95 + up * half_h * 0.3
    inner_r = rc + drop - np.array([np.cos(angle), np.sin(angle)]) * half_w * 0.95 + up * half_h * 0.3
    mid = 0.5 * (inner_l + inner_r) + up * half_h * rng.uniform(0.0, 0.25)
    cv2.polylines(layer, [pts(np.stack([inner_l, mid, inner_r]))], False, 255, thick, cv2.LINE_AA, shift)
    # Temples from the lenses' outer edges to the face's sides (jaw landmarks 0 and 16), at the lens top third.
    for c, side, sign in ((lc, lm[0], -1.0), (rc, lm[16], 1.0)):
        start = c + drop + sign * np.array([np.cos(angle), np.sin(angle)]) * half_w + up * half_h * 0.35
        end = np.array([side[0], start[1] + rng.uniform(-0.05, 0.05) * half_w])
        cv2.polylines(layer, [pts(np.stack([start, end]))], False, 255, thick, cv2.LINE_AA, shift)
    out = image.astype(np.float32)
    if clear:
        # The band's two boundaries (a quarter-pixel line each at 128 px) refract: a thin dark line at each edge.
        ring = np.ones((3, 3), np.uint8)
        rim = cv2.dilate(layer, ring) - cv2.erode(layer, ring)
        layer = cv2.erode(layer, ring)
        shade = cv2.resize(rim, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) * (edge / 255)
        out *= 1 - 0.6 * shade[..., None]  # darker, not black: the edge still passes most of the light
    cover = cv2.resize(layer, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32) * (alpha / 255)
    out += cover[..., None] * (colour[None, None, :].astype(np.float32) - out)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
