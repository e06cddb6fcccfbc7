#!/usr/bin/python3
"""References for the published evaluation's input path (spec §2.1; tests/test_upstream_input.cpp).

Writes to tests/data/errseg/upstream_input/:
  exif_o{1..8}.jpg   the same 11x6 JPEG (identical compressed pixels) with an EXIF orientation
                     tag k (TIFF little endian for odd k, big endian for even k)
  exif_o6.png        a PNG with an eXIf chunk, orientation 6
  exif_maps.npz      o1..o8: int32 [H', W'] — Pillow's ImageOps.exif_transpose applied to an
                     image whose pixel values are their own flat index, i.e. which stored pixel
                     lands where once the image is upright
  pil_bilinear.npz   <image>_<W>x<H>: uint8 [H, W, 3] — PIL Image.resize((W, H), Image.BILINEAR)
                     of tests/data/clip/<image>.png (enlarging, shrinking, mixed)

Run:  /usr/bin/python3 tests/reference/gen_upstream_input.py   (numpy + Pillow; deterministic)
"""
import io
import os
import struct

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "data", "errseg", "upstream_input")
CLIP = os.path.join(HERE, "..", "data", "clip")
W, H = 11, 6
RESIZES = {"clip_img_94x61": [(150, 97), (40, 80), (94, 30)], "clip_img_46x70": [(23, 45), (46, 33), (70, 140)]}


def exif_block(orientation, big_endian):
    """b"Exif\\0\\0" + a TIFF structure whose IFD0 holds one entry: Orientation (0x0112, SHORT)."""
    e = ">" if big_endian else "<"
    tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, 8) + struct.pack(e + "H", 1) + \
        struct.pack(e + "HHIHH", 0x0112, 3, 1, orientation, 0) + struct.pack(e + "I", 0)
    return b"Exif\x00\x00" + tiff


def main():
    os.makedirs(OUT, exist_ok=True)
    y, x = np.mgrid[0:H, 0:W]
    rgb = np.stack([x * 23, y * 40, (x * 7 + y * 13) % 256], axis=-1).astype(np.uint8)

    # One JPEG encoding; only the APP1 segment differs between the files.
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=95, exif=exif_block(1, False))
    base = buf.getvalue()
    app1 = exif_block(1, False)
    at = base.index(app1)
    for k in range(1, 9):
        data = base[:at] + exif_block(k, big_endian=(k % 2 == 0)) + base[at + len(app1):]
        with open(os.path.join(OUT, f"exif_o{k}.jpg"), "wb") as f:
            f.write(data)
        assert Image.open(io.BytesIO(data)).getexif().get(0x0112) == k

    Image.fromarray(rgb).save(os.path.join(OUT, "exif_o6.png"), exif=exif_block(6, True))

    maps = {}
    index = np.arange(W * H, dtype=np.int32).reshape(H, W)
    for k in range(1, 9):
        im = Image.fromarray(index, "I")
        exif = im.getexif()
        exif[0x0112] = k
        im.info["exif"] = exif.tobytes()
        maps[f"o{k}"] = np.asarray(ImageOps.exif_transpose(im)).astype(np.int32)
    np.savez(os.path.join(OUT, "exif_maps.npz"), **maps)

    refs = {}
    for name, sizes in RESIZES.items():
        img = Image.open(os.path.join(CLIP, name + ".png")).convert("RGB")
        for w, h in sizes:
            refs[f"{name}_{w}x{h}"] = np.asarray(img.resize((w, h), Image.BILINEAR))
    np.savez_compressed(os.path.join(OUT, "pil_bilinear.npz"), **refs)


if __name__ == "__main__":
    main()
    for f in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, f)):8d}  {f}")
