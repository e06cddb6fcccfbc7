#!/usr/bin/python3
"""Writes a held-out set of procedural scenes for `errseg eval`:

    /usr/bin/python3 training/make_eval_set.py OUTDIR [--count 100] [--seed 1000000] [--size HxW]

OUTDIR/images/NNNN.png, OUTDIR/labels/NNNN.png (8-bit class index into scenes.VOCABULARY) and
OUTDIR/classes.txt (the vocabulary, one name per line, for `--classes`). Scene seeds come from
--seed (training draws its scene seeds from numpy's generator seeded with [seed, step], so these
scenes are not training scenes). Objects are drawn from every object name, half of them from
the HELD_OUT names that training never shows, and image sizes vary around the model's crop size.
"""
import argparse
import os

import numpy as np
from PIL import Image

import scenes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir")
    ap.add_argument("--count", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1000000)
    ap.add_argument("--size", help="HxW for every image (default: sizes from 240 to 400 px)")
    args = ap.parse_args()
    for sub in ("images", "labels"):
        os.makedirs(os.path.join(args.outdir, sub), exist_ok=True)
    seen = [n for n in scenes.OBJECT_NAMES if n not in scenes.HELD_OUT]
    # held-out names as often as all seen ones together
    pool = seen + scenes.HELD_OUT * (len(seen) // len(scenes.HELD_OUT))
    rng = np.random.default_rng(args.seed)
    for i in range(args.count):
        h, w = (int(v) for v in rng.choice([240, 288, 320, 360, 400], 2))
        if args.size:
            h, w = (int(v) for v in args.size.split("x"))
        image, labels = scenes.make_scene(args.seed + i, h, w, names=pool)
        stem = f"{i:04d}"
        Image.fromarray(image).save(os.path.join(args.outdir, "images", stem + ".png"))
        Image.fromarray(labels.astype(np.uint8)).save(os.path.join(args.outdir, "labels", stem + ".png"))
    with open(os.path.join(args.outdir, "classes.txt"), "w") as f:
        f.write("\n".join(scenes.VOCABULARY) + "\n")


if __name__ == "__main__":
    main()
