"""Shared helpers for the converter tests (tests/python/test_*.py)."""

import importlib.util
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CONVERTER_DIR = os.path.join(REPO, "weights_converter")
CONVERT_PY = os.path.join(CONVERTER_DIR, "convert.py")
FIXTURES = os.path.join(REPO, "tests", "data", "fixtures")
TINY_PTH = os.path.join(FIXTURES, "errseg_tiny_seed0.pth")
TINY_CONFIG = os.path.join(FIXTURES, "errseg_tiny.config.json")
MERGES = os.path.join(REPO, "data", "clip_bpe_merges.txt")

if CONVERTER_DIR not in sys.path:
    sys.path.insert(0, CONVERTER_DIR)

# Tests that build checkpoints with torch import it themselves (importing it is slow); the
# converter itself never needs torch.
HAVE_TORCH = importlib.util.find_spec("torch") is not None

needs_torch = unittest.skipUnless(HAVE_TORCH, "torch is not installed")


class TempDirTestCase(unittest.TestCase):
    """Gives each test a fresh temporary directory ``self.tmp``."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="errseg_convert_test_")
        self.tmp = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp, name)

    def assertNoFilesExcept(self, allowed):
        self.assertEqual(sorted(os.listdir(self.tmp)), sorted(allowed))


def run_cli(*args, python=sys.executable):
    """Run convert.py in a subprocess; returns CompletedProcess with text stdout/stderr."""
    return subprocess.run([python, CONVERT_PY, *args], capture_output=True, text=True,
                          timeout=300)


def read_safetensors(path):
    """Minimal independent reader: (header dict without metadata, metadata, data bytes, raw)."""
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    arrays = {}
    dtypes = {"F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "U8": "u1"}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        arrays[name] = np.frombuffer(raw[base + begin: base + end],
                                     dtype=dtypes[entry["dtype"]]).reshape(entry["shape"])
    return header, metadata, arrays, raw


def write_zip_checkpoint(path, data_pkl, storages=None, prefix="archive", extra=None,
                         deflate=False):
    """Write a hand-made torch zip archive: ``prefix/data.pkl`` + ``prefix/data/<key>``
    (stored as torch does, or deflated as a re-zipped checkpoint would be)."""
    import zipfile
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED) as z:
        z.writestr(f"{prefix}/data.pkl", data_pkl)
        for key, blob in (storages or {}).items():
            z.writestr(f"{prefix}/data/{key}", blob)
        for name, blob in (extra or {}).items():
            z.writestr(name, blob)
        z.writestr(f"{prefix}/version", "3\n")


class PickleBuilder:
    """Writes protocol-2 pickle opcodes by hand, to build checkpoints torch would never write."""

    def __init__(self):
        self.data = bytearray(b"\x80\x02")

    def glob(self, module, name):
        self.data += b"c" + f"{module}\n{name}\n".encode()
        return self

    def mark(self):
        self.data += b"("
        return self

    def tuple(self):
        self.data += b"t"
        return self

    def reduce(self):
        self.data += b"R"
        return self

    def persid(self):
        self.data += b"Q"
        return self

    def string(self, text):
        raw = text.encode("utf-8")
        self.data += b"X" + struct.pack("<I", len(raw)) + raw
        return self

    def int(self, value):
        if -(1 << 31) <= value < (1 << 31):
            self.data += b"J" + struct.pack("<i", value)
        else:                                   # LONG1: little-endian two's complement
            raw = value.to_bytes((value.bit_length() + 8) // 8, "little", signed=True)
            self.data += b"\x8a" + bytes([len(raw)]) + raw
        return self

    def false(self):
        self.data += b"\x89"
        return self

    def empty_dict(self):
        self.data += b"}"
        return self

    def setitems(self):
        self.data += b"u"
        return self

    def int_tuple(self, values):
        self.mark()
        for v in values:
            self.int(v)
        return self.tuple()

    def tensor(self, storage_type, key, numel, offset, size, stride):
        """Push ``_rebuild_tensor_v2(<storage key>, offset, size, stride, False, OrderedDict())``."""
        self.glob("torch._utils", "_rebuild_tensor_v2").mark()
        self.mark().string("storage").glob("torch", storage_type).string(key).string("cpu")
        self.int(numel).tuple().persid()
        self.int(offset).int_tuple(size).int_tuple(stride).false()
        self.glob("collections", "OrderedDict").mark().tuple().reduce()
        return self.tuple().reduce()

    def stop(self):
        return bytes(self.data + b".")


def tensor_dict_pickle(entries):
    """Pickle of ``{name: tensor}`` for entries ``(name, storage_type, key, numel, offset, size,
    stride)``."""
    p = PickleBuilder().empty_dict().mark()
    for name, storage_type, key, numel, offset, size, stride in entries:
        p.string(name).tensor(storage_type, key, numel, offset, size, stride)
    return p.setitems().stop()
