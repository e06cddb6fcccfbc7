#!/usr/bin/python3
"""Test images and reference outputs for the CLIP preprocessing (tests/test_clip_preprocess.cpp).

Writes to tests/data/clip/:
  clip_img_94x61.png, clip_img_46x70.png     synthetic RGB images (gradients, edges, noise: the
                                              bicubic overshoot gets clamped at 0 and 255)
  <image>.resize_S.npy      uint8 [h, w, 3]: torchvision Resize(S, BICUBIC) on the PIL image
  <image>.clip_S.npy        float32 [1, 3, S, S]: open_clip's eval transform (resize, centre crop,
                            ToTensor, Normalize with the OpenAI CLIP mean/std)
  <image>.pil_WxH.npy       uint8 [H, W, 3]: PIL Image.resize((W, H), BICUBIC) (one axis shrunk,
                            the other enlarged)
  <image>.dense.npy         float32 [1, 3, 40, 56]: (x - mean) / std on 0..255 pixels (ImageNet
                            statistics x 255, as ERR-Seg), then F.interpolate bilinear,
                            align_corners=False

Run:  /usr/bin/python3 tests/reference/gen_clip_preprocess.py   (deterministic)
"""
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision import transforms

import open_clip

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "clip")

# (file name, width, height, CLIP sizes to test)
IMAGES = [("clip_img_94x61", 94, 61, [32]),   # shrink; crop offset (49 - 32) / 2 = 8.5 -> 8
          ("clip_img_46x70", 46, 70, [64])]   # enlarge; crop offset (97 - 64) / 2 = 16.5 -> 16
PIL_SIZES = {"clip_img_94x61": (33, 90), "clip_img_46x70": (20, 50)}
DENSE_MEAN = [123.675, 116.280, 103.530]
DENSE_STD = [58.395, 57.120, 57.375]


def synthetic_image(w, h, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([
        255 * x / (w - 1),
        127 + 120 * np.sin(x / 3.0 + y / 5.0),
        np.where((x // 7 + y // 5) % 2 == 0, 250.0, 5.0),   # hard edges: ringing gets clamped
    ], axis=-1)
    img += rng.normal(0, 25, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def main():
    os.makedirs(OUT, exist_ok=True)
    for seed, (name, w, h, sizes) in enumerate(IMAGES):
        Image.fromarray(synthetic_image(w, h, seed), "RGB").save(os.path.join(OUT, name + ".png"))
        pil = Image.open(os.path.join(OUT, name + ".png")).convert("RGB")
        for s in sizes:
            resized = transforms.Resize(s, interpolation=transforms.InterpolationMode.BICUBIC)(pil)
            np.save(os.path.join(OUT, f"{name}.resize_{s}.npy"), np.asarray(resized))
            tf = open_clip.image_transform(s, is_train=False)
            np.save(os.path.join(OUT, f"{name}.clip_{s}.npy"), tf(pil).unsqueeze(0).numpy())
        pw, ph = PIL_SIZES[name]
        np.save(os.path.join(OUT, f"{name}.pil_{pw}x{ph}.npy"), np.asarray(pil.resize((pw, ph), Image.BICUBIC)))

        x = torch.from_numpy(np.array(pil)).permute(2, 0, 1).float().unsqueeze(0)
        mean = torch.tensor(DENSE_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(DENSE_STD).view(1, 3, 1, 1)
        dense = F.interpolate((x - mean) / std, size=(40, 56), mode="bilinear", align_corners=False)
        np.save(os.path.join(OUT, f"{name}.dense.npy"), dense.numpy())


if __name__ == "__main__":
    main()
    for f in sorted(os.listdir(OUT)):
        if f.startswith("clip_img"):
            print(f"{os.path.getsize(os.path.join(OUT, f)):8d}  {f}")
