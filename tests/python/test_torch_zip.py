"""Reading PyTorch zip checkpoints: validation of archives, storages and views; dtypes."""

import shutil
import struct
import unittest
import zipfile

import numpy as np

import helpers
from helpers import TINY_PTH, TempDirTestCase, needs_torch, tensor_dict_pickle, write_zip_checkpoint
from errseg_convert import ConvertError
from errseg_convert.checkpoint import open_checkpoint
from errseg_convert.dtypes import to_numpy_float32


def read_all(path):
    with open_checkpoint(path) as ckpt:
        return {name: t.read() for name, t in ckpt.tensors.items()}, ckpt.kind


class HandMadeArchives(TempDirTestCase):
    """Archives built byte by byte, so every field can be made wrong."""

    def write(self, entries, storages, name="ckpt.pth", **kwargs):
        path = self.path(name)
        write_zip_checkpoint(path, tensor_dict_pickle(entries), storages, **kwargs)
        return path

    def assertFails(self, path, needle):
        with self.assertRaises(ConvertError) as ctx:
            read_all(path)
        self.assertIn(needle, str(ctx.exception))

    def test_valid_strided_views_of_one_storage(self):
        data = np.arange(12, dtype="<f4")
        path = self.write([("a", "FloatStorage", "0", 12, 0, (3, 4), (4, 1)),
                           ("t", "FloatStorage", "0", 12, 0, (4, 3), (1, 4)),
                           ("s", "FloatStorage", "0", 12, 5, (2, 2), (4, 2)),
                           ("e", "FloatStorage", "0", 12, 12, (0,), (1,)),
                           ("scalar", "FloatStorage", "0", 12, 7, (), ())],
                          {"0": data.tobytes()})
        tensors, kind = read_all(path)
        self.assertEqual(kind, "torch-zip")
        base = data.reshape(3, 4)
        np.testing.assert_array_equal(tensors["a"], base)
        np.testing.assert_array_equal(tensors["t"], base.T)
        np.testing.assert_array_equal(tensors["s"], [[5, 7], [9, 11]])
        self.assertEqual(tensors["e"].shape, (0,))
        self.assertEqual(tensors["scalar"].shape, ())
        self.assertEqual(float(tensors["scalar"]), 7.0)
        self.assertTrue(tensors["t"].flags.c_contiguous)

    def test_offset_out_of_bounds(self):
        path = self.write([("w", "FloatStorage", "0", 4, 3, (2,), (1,))],
                          {"0": bytes(16)})
        self.assertFails(path, "reaches element 4 but the storage holds 4")

    def test_stride_out_of_bounds(self):
        path = self.write([("w", "FloatStorage", "0", 4, 0, (2, 2), (3, 1))],
                          {"0": bytes(16)})
        self.assertFails(path, "reaches element 4")

    def test_huge_broadcast_view(self):
        path = self.write([("w", "FloatStorage", "0", 4, 0, (1 << 45,), (0,))], {"0": bytes(16)})
        self.assertFails(path, "implausibly large")

    def test_deeply_nested_torchscript_objects(self):
        depth = 50000
        p = helpers.PickleBuilder()
        for _ in range(depth):
            p.glob("__torch__", "M")
            p.data += b")\x81}"            # EMPTY_TUPLE NEWOBJ EMPTY_DICT
            p.string("child")
        p.data += b"N"                       # innermost child = None
        p.data += b"sb" * depth              # SETITEM BUILD, innermost first
        path = self.path("deep.pt")
        write_zip_checkpoint(path, p.stop(), {}, extra={"archive/constants.pkl": b"\x80\x02)."})
        self.assertFails(path, "holds no tensors")

    def test_negative_offset_and_mismatched_stride(self):
        path = self.write([("w", "FloatStorage", "0", 4, -1, (2,), (1,))], {"0": bytes(16)})
        self.assertFails(path, "invalid storage offset")
        path = self.write([("w", "FloatStorage", "0", 4, 0, (2, 2), (1,))], {"0": bytes(16)},
                          name="b.pth")
        self.assertFails(path, "different lengths")

    def test_declared_numel_must_match_the_entry_size(self):
        path = self.write([("w", "FloatStorage", "0", 1000, 0, (1000,), (1,))],
                          {"0": bytes(16)})
        self.assertFails(path, "declares 1000 F32 elements (4000 bytes) but its zip entry holds 16")

    def test_missing_storage_entry(self):
        path = self.write([("w", "FloatStorage", "7", 4, 0, (4,), (1,))], {"0": bytes(16)})
        self.assertFails(path, "storage 7 is missing")

    def test_unsafe_storage_key(self):
        path = self.write([("w", "FloatStorage", "../../x", 4, 0, (4,), (1,))], {"0": bytes(16)})
        self.assertFails(path, "unsafe storage key")

    def test_path_traversal_entry_names(self):
        for bad in ("archive/../../evil", "/abs/evil", "archive/./x"):
            with self.subTest(bad=bad):
                path = self.write([], {}, name="t.pth", extra={bad: b"x"})
                self.assertFails(path, "unsafe name")

    def test_entries_outside_the_archive_folder(self):
        path = self.write([("w", "FloatStorage", "0", 4, 0, (4,), (1,))], {"0": bytes(16)},
                          extra={"other/thing": b"x"})
        self.assertFails(path, "outside the archive folder")

    def test_no_data_pkl(self):
        path = self.path("x.pth")
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("a/b.txt", "x")
        self.assertFails(path, "not a PyTorch checkpoint")

    def test_big_endian_archives_are_byteswapped(self):
        values = np.array([1.5, -2.0, 3.25], dtype=">f4")
        path = self.write([("w", "FloatStorage", "0", 3, 0, (3,), (1,))],
                          {"0": values.tobytes()}, extra={"archive/byteorder": b"big"})
        tensors, _ = read_all(path)
        np.testing.assert_array_equal(tensors["w"], [1.5, -2.0, 3.25])

    def test_dtypes_of_storages(self):
        half = np.array([1, 2.5], dtype="<f2")
        bf16 = np.array([0x3FC0, 0xC000], dtype="<u2")      # 1.5, -2.0
        f64 = np.array([0.25, 8.0], dtype="<f8")
        i64 = np.array([3, -4], dtype="<i8")
        path = self.write([("h", "HalfStorage", "0", 2, 0, (2,), (1,)),
                           ("b", "BFloat16Storage", "1", 2, 0, (2,), (1,)),
                           ("d", "DoubleStorage", "2", 2, 0, (2,), (1,)),
                           ("l", "LongStorage", "3", 2, 0, (2,), (1,))],
                          {"0": half.tobytes(), "1": bf16.tobytes(), "2": f64.tobytes(),
                           "3": i64.tobytes()})
        with open_checkpoint(path) as ckpt:
            t = ckpt.tensors
            self.assertEqual([t[k].dtype for k in "hbdl"], ["F16", "BF16", "F64", "I64"])
            np.testing.assert_array_equal(to_numpy_float32(t["h"].read(), "F16"), [1, 2.5])
            np.testing.assert_array_equal(to_numpy_float32(t["b"].read(), "BF16"), [1.5, -2])
            np.testing.assert_array_equal(to_numpy_float32(t["d"].read(), "F64"), [0.25, 8])
            np.testing.assert_array_equal(t["l"].read(), [3, -4])


class DamagedFiles(TempDirTestCase):

    def test_truncated_zip(self):
        with open(TINY_PTH, "rb") as f:
            data = f.read()
        for keep in (len(data) // 2, len(data) - 10, 100):
            with self.subTest(keep=keep):
                path = self.path(f"cut{keep}.pth")
                with open(path, "wb") as f:
                    f.write(data[:keep])
                with self.assertRaises(ConvertError) as ctx:
                    read_all(path)
                self.assertIn("zip", str(ctx.exception))

    def test_corrupted_storage_bytes_fail_the_crc_check(self):
        path = self.path("bad.pth")
        shutil.copy(TINY_PTH, path)
        with zipfile.ZipFile(path) as z:
            info = z.getinfo("errseg_tiny_seed0/data/0")
        with open(path, "r+b") as f:
            f.seek(info.header_offset + 26)
            name_len, extra_len = struct.unpack("<HH", f.read(4))
            f.seek(info.header_offset + 30 + name_len + extra_len + 8)
            f.write(b"\xff\xff\xff\xff")
        with self.assertRaises(ConvertError) as ctx:
            read_all(path)
        self.assertIn("CRC", str(ctx.exception))

    def test_not_a_checkpoint(self):
        for name, content, needle in (("empty.pth", b"", "empty file"),
                                      ("text.pth", b"hello world\n", "unrecognised file format"),
                                      ("tar.pth", b"\0" * 257 + b"ustar" + b"\0" * 300, "legacy")):
            with self.subTest(name=name):
                path = self.path(name)
                with open(path, "wb") as f:
                    f.write(content)
                with self.assertRaises(ConvertError) as ctx:
                    read_all(path)
                self.assertIn(needle, str(ctx.exception))

    def test_missing_file_and_directory(self):
        with self.assertRaises(ConvertError):
            read_all(self.path("nope.pth"))
        with self.assertRaises(ConvertError) as ctx:
            read_all(self.tmp)
        self.assertIn("directory", str(ctx.exception))


@needs_torch
class TorchWrittenFiles(TempDirTestCase):

    def test_legacy_format_is_refused(self):
        import torch
        path = self.path("legacy.pth")
        torch.save({"w": torch.zeros(3)}, path, _use_new_zipfile_serialization=False)
        with self.assertRaises(ConvertError) as ctx:
            read_all(path)
        self.assertIn("legacy (pre-1.6, non-zip) torch.save format", str(ctx.exception))

    def test_views_dtypes_and_parameters(self):
        import torch
        g = torch.Generator().manual_seed(0)
        big = torch.randn(5, 6, generator=g)
        tensors = {
            "big": big, "view": big[1:, ::2], "t": big.t(), "row": big[3],
            "half": torch.randn(4, 3, generator=g).half(),
            "bf16": torch.randn(7, generator=g).bfloat16(),
            "double": torch.randn(2, 2, dtype=torch.float64, generator=g),
            "param": torch.nn.Parameter(torch.randn(3, generator=g)),
            "scalar": torch.tensor(4.5), "long": torch.arange(5),
        }
        path = self.path("views.pth")
        torch.save({"model": tensors, "iteration": 7, "extra": np.arange(3)}, path)
        with open_checkpoint(path) as ckpt:
            self.assertEqual(ckpt.wrapper, "['model']")
            self.assertEqual(list(ckpt.tensors), list(tensors))
            for name, ref in ckpt.tensors.items():
                expected = tensors[name].detach()
                self.assertEqual(ref.shape, tuple(expected.shape), name)
                values = ref.read()
                if expected.is_floating_point():
                    values = to_numpy_float32(values, ref.dtype)
                    expected = expected.float()
                np.testing.assert_array_equal(values, expected.numpy(), err_msg=name)

    def test_state_dict_with_module_prefix(self):
        import torch
        path = self.path("ddp.pth")
        torch.save({"state_dict": {"module.a": torch.ones(2), "module.b": torch.zeros(1)}}, path)
        with open_checkpoint(path) as ckpt:
            self.assertEqual(sorted(ckpt.tensors), ["a", "b"])

    def test_torchscript_archive_attribute_walk(self):
        import torch

        class Inner(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = torch.nn.Linear(3, 2)
                self.register_buffer("buf", torch.arange(4.0))

            def forward(self, x):
                return self.lin(x) + self.buf[:2]

        class Outer(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.blocks = torch.nn.Sequential(Inner(), torch.nn.Linear(2, 3))
                self.emb = torch.nn.Parameter(torch.randn(3))

            def forward(self, x):
                return self.blocks(x) * self.emb

        model = Outer()
        path = self.path("ts.pt")
        torch.jit.trace(model, torch.randn(1, 3)).save(path)
        tensors, kind = read_all(path)
        self.assertEqual(kind, "torchscript")
        expected = model.state_dict()
        self.assertEqual(sorted(tensors), sorted(expected))
        for name, value in expected.items():
            np.testing.assert_array_equal(tensors[name], value.numpy(), err_msg=name)


if __name__ == "__main__":
    unittest.main()
