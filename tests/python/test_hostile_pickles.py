"""Mutation fuzzing of the converter's input side (a generated corpus instead of atheris, which
does not build here): thousands of deterministic mutations of a real checkpoint's ``data.pkl``
and of a small zip checkpoint must each end in ``ConvertError`` or a clean load -- never another
exception, a hang or a side effect (the allow-list unpickler must not call anything).

ERRSEG_FUZZ_PICKLES=N sets the number of mutations per test (default 1500).
"""

import os
import random
import struct
import time
import unittest
import zipfile

import helpers
from helpers import TINY_PTH, TempDirTestCase, tensor_dict_pickle, write_zip_checkpoint
from errseg_convert import ConvertError
from errseg_convert.checkpoint import open_checkpoint
from errseg_convert.safe_unpickler import safe_loads
from errseg_convert.torch_zip import TorchZipArchive

COUNT = int(os.environ.get("ERRSEG_FUZZ_PICKLES", "1500"))
ADDRESS_SPACE = 4 << 30


def setUpModule():
    # CPython's C unpickler sizes its memo by the largest PUT index: a 10-byte pickle with
    # LONG_BINPUT 2**31-1 makes it allocate (and zero) 16 GB -- see test_huge_memo_index. Cap this
    # process so such a mutation becomes a MemoryError instead of an OOM kill of the machine.
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft > ADDRESS_SPACE:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, hard))

# Byte strings a mutation may splice in: opcodes and names that matter to an unpickler.
TOKENS = [b"cos\nsystem\n", b"cbuiltins\neval\n", b"csubprocess\nPopen\n", b"c__builtin__\neval\n",
          b"\x93", b"R", b"b", b"\x81", b"\x92", b"o", b"i", b"Q", b"h\x00", b"j\x00\x00\x00\x00",
          b"(", b"t", b"\x85", b"\x86", b"\x87", b"}", b"]", b"e", b"u", b"s", b"0", b"2", b".",
          b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x7f", b"J\xff\xff\xff\x7f", b"\x8c\x05torch",
          b"ctorch._utils\n_rebuild_tensor_v2\n", b"ctorch\nFloatStorage\n", b"X\xff\xff\xff\x7f"]


def mutate(rng, data):
    data = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:  # flip bits
            data[min(pos, len(data) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1 and data:  # random byte
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op == 2:  # truncate
            del data[pos:]
        elif op == 3:  # splice a token
            data[pos:pos] = rng.choice(TOKENS)
        elif op == 4 and len(data) > 2:  # delete a run
            del data[pos:pos + rng.randint(1, 16)]
        else:  # duplicate a run
            run = data[pos:pos + rng.randint(1, 64)]
            data[pos:pos] = run
    return bytes(data)


class HugeMemoIndex(TempDirTestCase):

    def test_huge_memo_index(self):
        """A tiny pickle must not make the unpickler allocate gigabytes: here LONG_BINPUT
        2**31 - 1 on an empty dict (the C unpickler resizes its memo array to that index)."""
        data = b"\x80\x02}r\xff\xff\xff\x7f."

        def no_storage(key, dtype, numel):
            raise ConvertError("no storages")
        try:
            safe_loads(data, no_storage)
        except ConvertError as exc:
            self.assertNotIn("MemoryError", str(exc))


class MutatedPickles(TempDirTestCase):

    def setUp(self):
        super().setUp()
        self.marker = self.path("PAYLOAD_RAN")

    def tearDown(self):
        self.assertFalse(os.path.exists(self.marker), "a pickle payload ran")
        super().tearDown()

    def test_mutated_checkpoint_pickle(self):
        """Mutations of the tiny ERR-Seg checkpoint's data.pkl, resolved against its storages."""
        with zipfile.ZipFile(TINY_PTH) as z:
            name = next(n for n in z.namelist() if n.endswith("/data.pkl"))
            seed = z.read(name)
        rng = random.Random(1234)
        outcomes = {"ok": 0, "refused": 0}
        with TorchZipArchive(TINY_PTH) as archive:
            start = time.monotonic()
            for i in range(COUNT):
                data = mutate(rng, seed)
                archive._storages = {}
                try:
                    safe_loads(data, archive._storage, allow_script_objects=False)
                    outcomes["ok"] += 1
                except ConvertError as exc:
                    self.assertTrue(str(exc) and "\n" not in str(exc), repr(exc))
                    outcomes["refused"] += 1
                except Exception as exc:  # noqa: BLE001 -- any other type is the finding
                    self.fail(f"mutation {i}: {type(exc).__name__}: {exc}")
            self.assertLess(time.monotonic() - start, 300)
        self.assertGreater(outcomes["refused"], COUNT // 4)

    def test_mutated_hostile_pickles(self):
        """Mutations of pickles that call os.system / eval / Popen: never run, always refused
        or harmless."""
        rng = random.Random(99)
        payload = f"touch {self.marker}".encode()
        seeds = [b"\x80\x02cos\nsystem\nX" + struct.pack("<I", len(payload)) + payload + b"\x85R.",
                 b"\x80\x02cbuiltins\neval\nX" + struct.pack("<I", 4) + b"1+1)\x85R.",
                 b"\x80\x04\x8c\x02os\x8c\x06system\x93\x8c" + bytes([len(payload)]) + payload + b"\x85R.",
                 b"\x80\x02csubprocess\nPopen\n]q\x00(X\x04\x00\x00\x00trueeb\x85R."]

        def no_storage(key, dtype, numel):
            raise ConvertError("no storages in this archive")
        for i in range(COUNT):
            data = mutate(rng, rng.choice(seeds))
            try:
                safe_loads(data, no_storage)
            except ConvertError:
                pass
            except Exception as exc:  # noqa: BLE001
                self.fail(f"mutation {i}: {type(exc).__name__}: {exc} for {data!r}")

    def zip_findings(self, deflate):
        storages = {"0": struct.pack("<6f", *range(6)), "1": struct.pack("<2e", 1.0, 2.0)}
        pkl = tensor_dict_pickle([("a.weight", "FloatStorage", "0", 6, 0, (2, 3), (3, 1)),
                                  ("a.bias", "HalfStorage", "1", 2, 0, (2,), (1,))])
        good = self.path("good.pth")
        write_zip_checkpoint(good, pkl, storages, deflate=deflate)
        with open(good, "rb") as f:
            seed = f.read()
        rng = random.Random(7)
        path = self.path("mutant.pth")
        findings = {}
        for i in range(COUNT):
            with open(path, "wb") as f:
                f.write(mutate(rng, seed))
            try:
                with open_checkpoint(path) as ckpt:
                    for t in ckpt.tensors.values():
                        t.read()
            except ConvertError as exc:
                self.assertNotIn("\n", str(exc))
            except Exception as exc:  # noqa: BLE001
                findings.setdefault(f"{type(exc).__name__}: {str(exc)[:60]}", i)
        return findings

    def test_mutated_zip_checkpoint(self):
        """Mutations of a whole (small) stored zip checkpoint (as torch.save writes it) through
        open_checkpoint + reading every tensor: nothing but a one-line ConvertError. (Found here
        and fixed: a corrupted 'version needed' field made zipfile raise NotImplementedError.)"""
        self.assertEqual(self.zip_findings(deflate=False), {},
                         "exceptions other than ConvertError (first mutation index each)")

    def test_mutated_deflated_zip_checkpoint(self):
        """The same on a deflated archive: corrupt deflate streams (zlib.error) included."""
        self.assertEqual(self.zip_findings(deflate=True), {},
                         "exceptions other than ConvertError (first mutation index each)")


if __name__ == "__main__":
    unittest.main()
