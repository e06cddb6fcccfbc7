"""safetensors writer (format details, atomicity) and reader (validation)."""

import json
import struct
import unittest

import numpy as np

import helpers  # noqa: F401  (sets sys.path)
from helpers import TempDirTestCase, read_safetensors
from errseg_convert import ConvertError
from errseg_convert.safetensors_io import SafetensorsReader, write_safetensors


def producer(array):
    return lambda: array


class Writer(TempDirTestCase):

    def sample(self):
        return {
            "b.weight": ("F32", (2, 3), producer(np.arange(6, dtype=np.float32).reshape(2, 3))),
            "a.bias": ("F16", (3,), producer(np.array([1, 2, 3], dtype=np.float16))),
            "scalar": ("F32", (), producer(np.array(4.5, dtype=np.float32))),
            "empty": ("F32", (0, 4), producer(np.zeros((0, 4), dtype=np.float32))),
        }

    def test_format(self):
        path = self.path("x.safetensors")
        write_safetensors(path, self.sample(), {"errseg.format": "1", "k": "välue"})
        with open(path, "rb") as f:
            raw = f.read()
        (n,) = struct.unpack("<Q", raw[:8])
        self.assertEqual((8 + n) % 8, 0)
        text = raw[8:8 + n].decode("utf-8")
        self.assertEqual(text.rstrip(" ")[-1], "}")   # padded with spaces only
        header = json.loads(text)
        self.assertEqual(header.pop("__metadata__"), {"errseg.format": "1", "k": "välue"})
        names = list(header)
        self.assertEqual(names, sorted(names))
        # contiguous, gap-free data in name order
        offset = 0
        for name in names:
            begin, end = header[name]["data_offsets"]
            self.assertEqual(begin, offset)
            offset = end
        self.assertEqual(8 + n + offset, len(raw))
        self.assertEqual(header["scalar"]["shape"], [])
        _, _, arrays, _ = read_safetensors(path)
        np.testing.assert_array_equal(arrays["b.weight"], np.arange(6).reshape(2, 3))
        np.testing.assert_array_equal(arrays["a.bias"], [1, 2, 3])

    def test_readable_by_the_safetensors_library(self):
        try:
            from safetensors.numpy import load_file
        except ImportError:
            self.skipTest("safetensors is not installed")
        path = self.path("x.safetensors")
        write_safetensors(path, self.sample(), {"m": "v"})
        loaded = load_file(path)
        np.testing.assert_array_equal(loaded["b.weight"], np.arange(6).reshape(2, 3))
        self.assertEqual(loaded["a.bias"].dtype, np.float16)
        self.assertEqual(loaded["scalar"].shape, ())

    def test_round_trip_through_our_reader(self):
        path = self.path("x.safetensors")
        write_safetensors(path, self.sample(), {"m": "v"})
        with SafetensorsReader(path) as reader:
            self.assertEqual(reader.metadata, {"m": "v"})
            self.assertEqual(reader.tensors["b.weight"].shape, (2, 3))
            np.testing.assert_array_equal(reader.tensors["a.bias"].read(), [1, 2, 3])

    def test_failure_leaves_no_file_and_keeps_an_existing_one(self):
        path = self.path("x.safetensors")
        with open(path, "wb") as f:
            f.write(b"previous")

        def boom():
            raise ConvertError("boom")

        tensors = self.sample()
        tensors["c"] = ("F32", (1,), boom)
        with self.assertRaises(ConvertError):
            write_safetensors(path, tensors, {})
        self.assertNoFilesExcept(["x.safetensors"])
        with open(path, "rb") as f:
            self.assertEqual(f.read(), b"previous")

    def test_interrupt_leaves_no_file(self):
        def interrupt():
            raise KeyboardInterrupt

        with self.assertRaises(KeyboardInterrupt):
            write_safetensors(self.path("y.safetensors"), {"a": ("F32", (1,), interrupt)}, {})
        self.assertNoFilesExcept([])

    def test_missing_directory(self):
        with self.assertRaises(ConvertError):
            write_safetensors(self.path("no/such/dir/x.safetensors"), self.sample(), {})


class Reader(TempDirTestCase):

    def write_raw(self, header, data=b"", name="r.safetensors"):
        raw = json.dumps(header).encode()
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(raw)) + raw + data)
        return path

    def assertBad(self, path, needle):
        with self.assertRaises(ConvertError) as ctx:
            SafetensorsReader(path).close()
        self.assertIn(needle, str(ctx.exception))

    def test_offsets_outside_the_file(self):
        path = self.write_raw({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                              bytes(8))
        self.assertBad(path, "do not fit")

    def test_offsets_not_matching_the_shape(self):
        path = self.write_raw({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 12]}},
                              bytes(16))
        self.assertBad(path, "do not fit")

    def test_overlapping_tensors(self):
        path = self.write_raw({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                               "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}},
                              bytes(16))
        self.assertBad(path, "overlap")

    def test_bad_header(self):
        path = self.path("h.safetensors")
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", 1 << 40) + b"{}")
        self.assertBad(path, "header length")
        path = self.write_raw({"a": {"dtype": "Q99", "shape": [1], "data_offsets": [0, 1]}},
                              bytes(1), name="d.safetensors")
        self.assertBad(path, "unsupported dtype")


if __name__ == "__main__":
    unittest.main()
