#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses into fuzz/corpus/<harness>/ (committed; rerun
only to change them). Needs numpy and Pillow (Debian: python3-numpy python3-pil).

    /usr/bin/python3 fuzz/make_seeds.py
"""
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CORPUS = os.path.join(HERE, "corpus")


def put(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, offset, blob = {}, 0, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blob += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob


TINY_CONFIG = open(os.path.join(REPO, "tests", "data", "fixtures", "errseg_tiny.config.json")).read()
MERGES_HEAD = "".join(open(os.path.join(REPO, "data", "clip_bpe_merges.txt"), encoding="utf-8").readlines()[:40])


def seeds_safetensors():
    f32 = np.arange(6, dtype="<f4")
    put("safetensors", "basic.safetensors", safetensors(
        [("clip.w", "F32", (2, 3), f32.tobytes()),
         ("clip.h", "F16", (3,), np.ones(3, "<f2").tobytes()),
         ("clip.b", "BF16", (2,), b"\x80\x3f\x00\x40"),
         ("clip.i", "I64", (1,), struct.pack("<q", 7)),
         ("clip.u", "U8", (4,), b"\x01\x02\x03\x04"),
         ("clip.e", "F32", (0, 3), b"")],
        {"errseg.format": "1", "errseg.config": TINY_CONFIG}))
    put("safetensors", "unaligned.safetensors", safetensors(
        [("a", "U8", (1,), b"\x05"), ("b", "F32", (2,), np.ones(2, "<f4").tobytes())]))
    put("safetensors", "merges.safetensors", safetensors(
        [("x", "F32", (1,), b"\x00\x00\xc0\x7f")],  # a NaN
        {"errseg.bpe_merges": MERGES_HEAD, "errseg.config": "{\"architecture\": \"clip\"}"}))
    put("safetensors", "empty_header.safetensors", struct.pack("<Q", 2) + b"{}")


def seeds_image():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    for name, img, kw in [
        ("rgb.png", Image.fromarray(rgb), {}),
        ("gray.png", Image.fromarray(rgb[..., 0]), {}),
        ("rgba.png", Image.fromarray(np.dstack([rgb, rgb[..., :1]])), {}),
        ("palette.png", Image.fromarray(rgb).convert("P"), {}),
        ("rgb2.png", Image.fromarray(rgb[::-1]), {}),
        ("gray16.png", Image.fromarray((rgb[..., 0].astype(np.uint16) * 257)), {}),
        ("baseline.jpg", Image.fromarray(rgb), {"quality": 80}),
        ("progressive.jpg", Image.fromarray(rgb), {"quality": 60, "progressive": True}),
        ("gray.jpg", Image.fromarray(rgb[..., 1]), {"quality": 70}),
        ("rgb.bmp", Image.fromarray(rgb), {}),
        ("rgb.ppm", Image.fromarray(rgb), {}),
        ("gray.pgm", Image.fromarray(rgb[..., 2]), {}),
    ]:
        buf = io.BytesIO()
        fmt = {"png": "PNG", "jpg": "JPEG", "bmp": "BMP", "ppm": "PPM", "pgm": "PPM"}[name.rsplit(".", 1)[1]]
        img.save(buf, format=fmt, **kw)
        put("image", name, buf.getvalue())
    # A PNG whose IHDR claims 100000 x 100000 (refused before any decoding).
    def chunk(t, body):
        return struct.pack(">I", len(body)) + t + body + struct.pack(">I", zlib.crc32(t + body))
    big = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    put("image", "huge_ihdr.png", big)
    # EXIF orientation blocks (JPEG APP1 little endian, PNG eXIf big endian): the test images.
    exif_dir = os.path.join(HERE, "..", "tests", "data", "errseg", "upstream_input")
    for src, name in [("exif_o5.jpg", "exif5.jpg"), ("exif_o6.png", "exif6.png")]:
        with open(os.path.join(exif_dir, src), "rb") as f:
            put("image", name, f.read())


def seeds_tokenizer():
    # First byte: context length selector; the rest: the text.
    for i, t in enumerate([b"a photo of a cat", b"A Photo of THE traffic-cone, 42 times!",
                           b"caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 \xf0\x9f\x90\x88 emoji",
                           b"&amp;lt;b&gt; html &#39;entities&#x27; &nbsp;",
                           b"\xff\xfe\xc3(invalid \xe2\x82 utf8 \xed\xa0\x80 surrogate",
                           b"   multiple\t\twhite\n\nspace   ", b"<start_of_text>x<end_of_text>",
                           b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                           "\u4e2d\u6587 \u0440\u0443\u0441\u0441\u043a\u0438\u0439 \u0627\u0644\u0639\u0631\u0628\u064a\u0629".encode(),
                           b"don't won't it's I'm we've they'll he'd 1,000.5",
                           # mojibake: UTF-8 read as windows-1252 (twice), Latin-1 with C1
                           # controls, A0 turned into a space, CESU-8 and a Java null
                           "caf\u00c3\u00a9 \u00e2\u20ac\u0153q\u00e2\u20ac\u009d \u00c3\u0192\u00c2\u00a9".encode(),
                           "voil\u00c3 le \u00e2\u0080\u0094 \u00ed\u00a0\u00bd\u00ed\u00b8\u0080 \u00c0\u0080".encode()]):
        put("tokenizer", f"text{i}", bytes([77 + i]) + t)


def seeds_bpe_merges():
    put("bpe_merges", "head", MERGES_HEAD)
    put("bpe_merges", "version", "#version: 0.2\n" + MERGES_HEAD)
    put("bpe_merges", "crlf", MERGES_HEAD.replace("\n", "\r\n"))
    put("bpe_merges", "bad", "i n\nth e</w>\nx\n\u0100 \u0101\n")


def seeds_vocabulary():
    put("vocabulary", "json", json.dumps(["cat", "traffic cone", "sky, heaven", "caf\u00e9"]))
    put("vocabulary", "lines", "wall\nfloor\r\n\n  ceiling  \nbed, bunk bed\n")
    put("vocabulary", "inline", "cat,dog , ,sky")
    put("vocabulary", "builtin", "tiny3")
    put("vocabulary", "dup", "[\"a\", \"a \"]")
    put("vocabulary", "nested", "[[\"a\"], 1, null]")


def seeds_config():
    put("config", "errseg_tiny.json", TINY_CONFIG)
    clip_dir = os.path.join(REPO, "tests", "data", "clip")
    for f in sorted(os.listdir(clip_dir)):
        if f.endswith(".config.json"):
            put("config", f, open(os.path.join(clip_dir, f), "rb").read())
    put("config", "numbers.json", "[0, -0, 1e-400, 1.5e300, -12.25, 9007199254740993, 1E2, \"\\u00e9\\ud83d\\ude00\"]")


def npy_bytes(arr, version=None):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, version=version)
    return buf.getvalue()


def seeds_npy():
    put("npy", "f4.npy", npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3)))
    put("npy", "f2.npy", npy_bytes(np.ones((3,), "<f2")))
    put("npy", "i8_v2.npy", npy_bytes(np.arange(4, dtype="<i8"), version=(2, 0)))
    put("npy", "u1_fortran.npy", npy_bytes(np.asfortranarray(np.arange(6, dtype=np.uint8).reshape(2, 3))))
    put("npy", "bool.npy", npy_bytes(np.array([True, False])))
    put("npy", "scalar.npy", npy_bytes(np.float32(3.5).reshape(())))
    put("npy", "unicode.npy", npy_bytes(np.array(["cat", "caf\u00e9"])))
    put("npy", "bytes.npy", npy_bytes(np.array([b"ab", b"c"])))


def seeds_npz():
    for name, fn in [("stored.npz", np.savez), ("deflated.npz", np.savez_compressed)]:
        buf = io.BytesIO()
        fn(buf, a=np.arange(5, dtype="<f4"), names=np.array(["x", "yz"]), m=np.eye(2, dtype="<i4"))
        put("npz", name, buf.getvalue())


if __name__ == "__main__":
    for fn in [seeds_safetensors, seeds_image, seeds_tokenizer, seeds_bpe_merges, seeds_vocabulary,
               seeds_config, seeds_npy, seeds_npz]:
        fn()
    total = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(CORPUS) for f in fs)
    print(f"seed corpora written to {CORPUS}: {total} bytes", file=sys.stderr)
