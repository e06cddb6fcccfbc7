"""Object-centric crops for the image tower's first training stage (train_demo.py --object-steps):
one shape per small image, on one background texture, with its attributes as labels.

A 320-px scene is mostly background, and a scene costs about as much to draw as the tower's
forward and backward pass; a crop holding one object at the scale the scenes show it gives the
tower a labelled shape for a fraction of that. Drawn with scenes.py's own textures, shapes and
paint, so the objects look exactly as in the scenes.
"""
import numpy as np

import scenes

APPEARANCES = list(scenes.COLOURS) + scenes.TEXTURES


def make_object_crop(seed, size=96):
    """(uint8 size×size×3 image, shape index into SHAPES, appearance index into APPEARANCES,
    background index into BACKGROUNDS) of one training-name object (scenes.TRAIN_NAMES) of
    random size, rotation and position on a random background texture."""
    rng = np.random.default_rng(seed)
    background = str(rng.choice(scenes.BACKGROUNDS))
    img = np.asarray(scenes.BACKGROUND_TEXTURES[background](rng, size, size), np.float32)
    name = str(rng.choice([n for n in scenes.TRAIN_NAMES if n not in scenes.BACKGROUNDS]))
    adjective, shape = name.split(" ")
    # radius relative to the crop: about the scale of scenes' objects after the resize to 320 px
    r = size * rng.uniform(0.2, 0.42)
    cx, cy = rng.uniform(r * 0.8, size - r * 0.8, 2)
    mask = scenes.shape_mask(rng, shape, size, size, cx, cy, r)
    scenes.paint_object(rng, name, img, mask)
    image = np.clip(img, 0, 255).round().astype(np.uint8)
    return (image, scenes.SHAPES.index(shape), APPEARANCES.index(adjective),
            scenes.BACKGROUNDS.index(background))


def make_batch(seeds, size=96):
    """Stacked crops and their three label vectors for a list of seeds."""
    crops = [make_object_crop(int(s), size) for s in seeds]
    return (np.stack([c[0] for c in crops]),) + tuple(np.array([c[k] for c in crops]) for k in (1, 2, 3))
