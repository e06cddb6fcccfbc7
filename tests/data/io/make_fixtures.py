"""Regenerates the small .npz fixtures used by tests/test_npz.cpp.

Run with a Python that has numpy:  python3 make_fixtures.py   (in this directory)
np.savez / np.savez_compressed write ZIP members with fixed 1980 timestamps, so the
output is reproducible (for a given numpy/zlib).
"""
import numpy as np

logits = (np.arange(24, dtype=np.float32).reshape(2, 3, 4) - 10) / 4
np.savez(
    "sample.npz",
    logits=logits,
    labels=np.array([0, -1, 5, 2**40, 255], dtype=np.int64),
    ids=np.array([[1, -2], [3, 2**30]], dtype=np.int32),
    mask=np.array([[0, 1], [254, 255]], dtype=np.uint8),
    scalar=np.float32(2.5),
    empty=np.zeros((0, 3), np.float32),
    class_names=np.array(["wall", "caf\u00e9", "\u65e5\u672c", "a", "\U0001F600x"]),
)
np.savez(
    "extra.npz",
    fort=np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3)),
    fort_names=np.asfortranarray(np.array([["a", "bb"], ["ccc", "d"]])),
    raw=np.array([b"ab", b"c\x00d", b""]),
    note=np.array("timing: 1.5 s"),
    flags=np.array([True, False, True]),
    half=np.array([1.0, -2.5, 65504], dtype=np.float16),
)
np.savez_compressed("compressed.npz", x=np.ones(4, np.float32), names=np.array(["sky", "tree"]))  # deflated
np.savez("float64.npz", x=np.ones(3))  # unsupported dtype: must be refused

# A 16x16 JPEG of a flat colour (200, 100, 50) with a 4:4:4 layout (decoded within +-3),
# and a progressive one; stb_image must read both.
try:
    from PIL import Image

    flat = Image.new("RGB", (16, 16), (200, 100, 50))
    flat.save("flat.jpg", quality=95, subsampling=0)
    flat.save("flat_progressive.jpg", quality=95, subsampling=0, progressive=True)
except ImportError:  # Pillow is optional: the JPEG fixtures are committed
    pass
