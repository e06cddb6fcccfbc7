"""Procedural scenes for the demo ERR-Seg model: coloured and textured shapes on textured
backgrounds, with an exact per-pixel label map.

Every class name is one of
  * a background region: "grass", "sky", "sand", "water", "brick wall";
  * a solid-coloured shape: "<colour> <shape>", e.g. "red circle";
  * a black-and-white textured shape: "<texture> <shape>", e.g. "striped square".
Label ids are indices into VOCABULARY. HELD_OUT names never appear in training scenes (their
words do, in other combinations): they measure compositional generalisation.

Only numpy and PIL; every scene is a pure function of its seed (numpy's PCG64).
"""
import math

import numpy as np
from PIL import Image, ImageDraw

BACKGROUNDS = ["grass", "sky", "sand", "water", "brick wall"]
COLOURS = {"red": (215, 35, 35), "green": (35, 165, 55), "blue": (35, 75, 215),
           "yellow": (240, 215, 35), "purple": (135, 50, 175), "orange": (245, 135, 25)}
TEXTURES = ["striped", "dotted", "checkered"]
SHAPES = ["circle", "square", "triangle", "star"]

VOCABULARY = BACKGROUNDS + [f"{c} {s}" for c in COLOURS for s in SHAPES] + \
    [f"{t} {s}" for t in TEXTURES for s in SHAPES]
# one unseen shape per colour and texture, every word still seen in other names
HELD_OUT = ["blue triangle", "red star", "yellow circle", "green square", "purple circle",
            "orange square", "striped circle", "dotted triangle", "checkered star"]
TRAIN_NAMES = [n for n in VOCABULARY if n not in HELD_OUT]
OBJECT_NAMES = [n for n in VOCABULARY if n not in BACKGROUNDS]


def smooth_noise(rng, h, w, cell):
    """Value noise in [0, 1): uniform random values on a grid of `cell` pixels, bilinearly
    interpolated."""
    gh, gw = h // cell + 2, w // cell + 2
    grid = Image.fromarray(rng.random((gh, gw)).astype(np.float32), mode="F")
    big = np.asarray(grid.resize((gw * cell, gh * cell), Image.BILINEAR))
    return big[:h, :w]


def _mix(a, b, t):
    """Per-pixel blend of two RGB colours (or images) by t in [0, 1] (H×W)."""
    t = t[..., None]
    return np.asarray(a, np.float32) * (1 - t) + np.asarray(b, np.float32) * t


def texture_grass(rng, h, w):
    blades = smooth_noise(rng, h * 8, w, 2)[::8]          # streaks: fine in x, long in y
    patches = smooth_noise(rng, h, w, 40)
    img = _mix((35, 105, 30), (120, 185, 60), 0.65 * blades + 0.35 * patches)
    return img + rng.normal(0, 8, (h, w, 1))


def texture_sky(rng, h, w):
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None].repeat(w, 1)
    img = _mix((70, 135, 225), (175, 210, 245), y)
    clouds = np.clip((smooth_noise(rng, h, w, 48) * 0.7 + smooth_noise(rng, h, w, 16) * 0.3 - 0.55) * 4, 0, 1)
    return _mix(img, (250, 250, 252), clouds * rng.uniform(0.4, 0.9))


def texture_sand(rng, h, w):
    dunes = smooth_noise(rng, h, w, 60)
    img = _mix((200, 170, 120), (235, 210, 160), dunes)
    img = img + rng.normal(0, 14, (h, w, 1))
    grains = rng.random((h, w)) < 0.03
    img[grains] *= 0.7
    return img


def texture_water(rng, h, w):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    period = rng.uniform(8, 16)
    warp = smooth_noise(rng, h, w, 32) * 6
    ripples = 0.5 + 0.5 * np.sin(2 * math.pi * (yy + warp + 0.08 * xx * rng.uniform(-1, 1)) / period)
    img = _mix((20, 80, 140), (60, 150, 190), ripples ** 2)
    return img + rng.normal(0, 5, (h, w, 1))


def texture_brick(rng, h, w):
    bh = int(rng.integers(12, 22))
    bw = int(bh * rng.uniform(2.0, 2.8))
    yy, xx = np.mgrid[0:h, 0:w]
    row = yy // bh
    xs = xx + (row % 2) * (bw // 2)
    col = xs // bw
    mortar = ((yy % bh) < 2) | ((xs % bw) < 2)
    shade = np.random.default_rng(int(rng.integers(1 << 31))).uniform(0.75, 1.15, (h // bh + 2, w // bw + 3))
    brick = np.asarray((165, 65, 45), np.float32) * shade[row, col][..., None]
    img = np.where(mortar[..., None], np.float32(200), brick)
    return img + rng.normal(0, 7, (h, w, 1))


BACKGROUND_TEXTURES = {"grass": texture_grass, "sky": texture_sky, "sand": texture_sand,
                       "water": texture_water, "brick wall": texture_brick}


def texture_pattern(rng, kind, h, w):
    """A black-and-white object texture: True where the dark ink is."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    a = rng.uniform(0, math.pi)
    u = xx * math.cos(a) + yy * math.sin(a)
    v = -xx * math.sin(a) + yy * math.cos(a)
    p = rng.uniform(9, 16)
    if kind == "striped":
        return (u % p) < p * rng.uniform(0.35, 0.55)
    if kind == "checkered":
        return ((u // p + v // p) % 2) == 0
    # dotted
    r = p * rng.uniform(0.18, 0.3)
    du, dv = (u % p) - p / 2, (v % p) - p / 2
    return du * du + dv * dv < r * r


def shape_mask(rng, shape, h, w, cx, cy, r):
    """Boolean H×W mask of one shape of radius r centred at (cx, cy), randomly rotated."""
    if shape == "circle":
        yy, xx = np.mgrid[0:h, 0:w]
        return (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    a0 = rng.uniform(0, 2 * math.pi)
    if shape == "square":
        pts = [(r * 0.8 * math.sqrt(2), a0 + k * math.pi / 2) for k in range(4)]
    elif shape == "triangle":
        pts = [(r * 1.1, a0 + k * 2 * math.pi / 3) for k in range(3)]
    else:  # star: five points, inner radius 0.45
        pts = [(r * (1.15 if k % 2 == 0 else 0.5), a0 + k * math.pi / 5) for k in range(10)]
    m = Image.new("L", (w, h), 0)
    ImageDraw.Draw(m).polygon([(cx + d * math.cos(t), cy + d * math.sin(t)) for d, t in pts], fill=1)
    return np.asarray(m, bool)


def paint_object(rng, name, img, mask):
    adjective, shape = name.split(" ")
    h, w = mask.shape
    if adjective in COLOURS:
        base = np.asarray(COLOURS[adjective], np.float32) + rng.uniform(-20, 20, 3)
        light = smooth_noise(rng, h, w, 64) * 0.3 + 0.85     # gentle shading
        obj = base * light[..., None] + rng.normal(0, 5, (h, w, 1))
    else:
        dark, bright = rng.uniform(0, 70), rng.uniform(185, 255)
        ink = texture_pattern(rng, adjective, h, w)
        obj = np.where(ink, np.float32(dark), np.float32(bright))[..., None].repeat(3, 2)
        obj = obj + rng.normal(0, 5, (h, w, 1))
    img[mask] = obj[mask]


def background_layout(rng, h, w):
    """Region id per pixel (0 or 0/1) and the background names: one texture, or two split by a
    wavy line (mostly a horizon, with sky or a wall above)."""
    if rng.random() < 0.2:
        return np.zeros((h, w), np.int64), [str(rng.choice(BACKGROUNDS))]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if rng.random() < 0.7:
        top = str(rng.choice(["sky", "sky", "brick wall"]))
        bottom = str(rng.choice([b for b in BACKGROUNDS if b != top]))
        a = math.pi / 2 + rng.uniform(-0.25, 0.25)
    else:
        top, bottom = (str(b) for b in rng.choice(BACKGROUNDS, 2, replace=False))
        a = rng.uniform(0, 2 * math.pi)
    cx, cy = w * rng.uniform(0.3, 0.7), h * rng.uniform(0.3, 0.7)
    d = (xx - cx) * math.cos(a) + (yy - cy) * math.sin(a)
    d = d + (smooth_noise(rng, h, w, 40) - 0.5) * rng.uniform(0, 30)
    return (d > 0).astype(np.int64), [top, bottom]


def make_scene(seed, h=320, w=320, names=None, max_objects=4):
    """One scene: (uint8 H×W×3 image, int64 H×W label map of VOCABULARY ids).
    `names`: the object names to draw from (default TRAIN_NAMES' objects)."""
    rng = np.random.default_rng(seed)
    pool = [n for n in (names or TRAIN_NAMES) if n not in BACKGROUNDS]
    region, bgs = background_layout(rng, h, w)
    img = np.zeros((h, w, 3), np.float32)
    labels = np.zeros((h, w), np.int64)
    for i, bg in enumerate(bgs):
        m = region == i
        img[m] = BACKGROUND_TEXTURES[bg](rng, h, w)[m]
        labels[m] = VOCABULARY.index(bg)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        name = str(rng.choice(pool))
        r = min(h, w) * rng.uniform(0.08, 0.2)
        cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
        m = shape_mask(rng, name.split(" ")[1], h, w, cx, cy, r)
        paint_object(rng, name, img, m)
        labels[m] = VOCABULARY.index(name)
    return np.clip(img, 0, 255).round().astype(np.uint8), labels
