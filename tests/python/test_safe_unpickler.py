"""The allow-list unpickler refuses everything but tensor-checkpoint types, and never calls it."""

import os
import pickle
import unittest

import numpy as np

import helpers
from helpers import PickleBuilder, TempDirTestCase, needs_torch, run_cli, write_zip_checkpoint
from errseg_convert import ConvertError
from errseg_convert.safe_unpickler import ScriptObject, safe_loads
from errseg_convert.tensor_ref import StorageRef


def no_storage(key, dtype, numel):
    raise AssertionError("no storage expected")


class _Reduce:
    """Pickles as ``func(*args)`` -- how a hostile checkpoint smuggles a call in."""

    def __init__(self, func, args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class HostilePickles(TempDirTestCase):

    def assertRefused(self, data, needle):
        with self.assertRaises(ConvertError) as ctx:
            safe_loads(data, no_storage)
        self.assertIn(needle, str(ctx.exception))

    def test_os_system_is_refused_and_never_called(self):
        sentinel = self.path("pwned")
        # pickle spells os.system as posix.system; also hand-write the 'os' spelling.
        via_pickle = pickle.dumps({"model": _Reduce(os.system, (f"touch {sentinel}",))}, 2)
        self.assertRefused(via_pickle, f"{os.system.__module__}.system")
        by_hand = b"cos\nsystem\n(S'touch " + sentinel.encode() + b"'\ntR."
        self.assertRefused(by_hand, "'os.system'")
        self.assertFalse(os.path.exists(sentinel))

    def test_os_system_through_the_cli_leaves_no_sentinel_and_no_output(self):
        sentinel = self.path("pwned")
        evil = self.path("evil.pth")
        data = pickle.dumps({"model": _Reduce(os.system, (f"touch {sentinel}",))}, 2)
        write_zip_checkpoint(evil, data)
        result = run_cli(evil, self.path("out.safetensors"))
        self.assertEqual(result.returncode, 1)
        self.assertIn("refusing to unpickle global", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1)
        self.assertNotIn("Traceback", result.stderr)
        self.assertFalse(os.path.exists(sentinel))
        self.assertNoFilesExcept(["evil.pth"])

    def test_builtins_eval_and_exec_are_refused(self):
        sentinel = self.path("pwned")
        code = f"open({sentinel!r}, 'w').write('x')"
        self.assertRefused(pickle.dumps(_Reduce(eval, (code,)), 2), "'builtins.eval'")
        self.assertRefused(pickle.dumps(_Reduce(exec, (code,)), 2), "'builtins.exec'")
        self.assertRefused(PickleBuilder().glob("builtins", "getattr").stop(), "builtins.getattr")
        self.assertFalse(os.path.exists(sentinel))

    def test_subprocess_and_importlib_are_refused(self):
        import subprocess
        sentinel = self.path("pwned")
        data = pickle.dumps(_Reduce(subprocess.Popen, (["touch", sentinel],)), 2)
        self.assertRefused(data, "'subprocess.Popen'")
        self.assertRefused(PickleBuilder().glob("importlib", "import_module").stop(),
                           "importlib.import_module")
        self.assertFalse(os.path.exists(sentinel))

    def test_unknown_classes_are_refused(self):
        self.assertRefused(pickle.dumps(unittest.TestCase, 2), "'unittest.case.TestCase'")
        self.assertRefused(PickleBuilder().glob("torch.nn.modules.linear", "Linear").stop(),
                           "'torch.nn.modules.linear.Linear'")
        self.assertRefused(PickleBuilder().glob("collections", "Counter").stop(),
                           "'collections.Counter'")
        self.assertRefused(PickleBuilder().glob("numpy", "load").stop(), "'numpy.load'")

    def test_protocol_4_stack_global_is_checked_too(self):
        data = pickle.dumps(_Reduce(os.system, ("true",)), protocol=4)
        self.assertRefused(data, ".system'")

    def test_torchscript_classes_only_in_torchscript_archives(self):
        data = PickleBuilder().glob("__torch__.evil", "Thing").mark().tuple().reduce().stop()
        with self.assertRaises(ConvertError) as ctx:
            safe_loads(data, no_storage, allow_script_objects=False)
        self.assertIn("__torch__.evil.Thing", str(ctx.exception))
        obj = safe_loads(data, no_storage, allow_script_objects=True)
        self.assertIsInstance(obj, ScriptObject)
        self.assertEqual(obj.qualified_name, "__torch__.evil.Thing")
        custom = PickleBuilder().glob("__torch__.torch.classes.x", "Y").stop()
        with self.assertRaises(ConvertError):
            safe_loads(custom, no_storage, allow_script_objects=True)

    def test_storage_classes_cannot_be_called(self):
        data = PickleBuilder().glob("torch", "FloatStorage").mark().int(3).tuple().reduce().stop()
        self.assertRefused(data, "malformed pickle")

    def test_rebuild_with_a_non_storage_is_refused(self):
        p = PickleBuilder().glob("torch._utils", "_rebuild_tensor_v2").mark()
        p.string("not a storage").int(0).int_tuple([2]).int_tuple([1]).false().tuple().reduce()
        self.assertRefused(p.stop(), "non-storage")

    def test_malformed_persistent_ids_are_refused(self):
        p = PickleBuilder().mark().string("storage").string("FloatStorage").string("0")
        p.string("cpu").int(4).tuple().persid()
        self.assertRefused(p.stop(), "not a torch storage class")
        p = PickleBuilder().mark().string("module").tuple().persid()
        self.assertRefused(p.stop(), "unsupported persistent id")
        p = PickleBuilder().mark().string("storage").glob("torch", "FloatStorage").string("0")
        p.string("cpu").int(-4).tuple().persid()
        self.assertRefused(p.stop(), "invalid element count")

    def test_garbage_and_truncated_pickles(self):
        self.assertRefused(b"\x80\x02}q\x00(X", "malformed pickle")
        self.assertRefused(b"not a pickle at all", "malformed pickle")
        self.assertRefused(b"", "malformed pickle")

    def test_numpy_object_arrays_are_refused_plain_arrays_allowed(self):
        self.assertRefused(pickle.dumps(np.array(["a", 1], dtype=object), 2), "object")
        # Plain numeric arrays and scalars (e.g. in training extras) load inertly.
        safe_loads(pickle.dumps({"it": np.arange(3), "lr": np.float64(0.5)}, 2), no_storage)

    def test_allowed_containers(self):
        import collections
        data = pickle.dumps({"a": collections.OrderedDict(x=1), "b": {1, 2}, "c": b"xy"}, 2)
        obj = safe_loads(data, no_storage)
        self.assertEqual(obj["a"], {"x": 1})
        self.assertEqual(obj["b"], {1, 2})
        self.assertEqual(obj["c"], b"xy")

    def test_valid_tensor_pickle_resolves_storages(self):
        seen = []

        def resolve(key, dtype, numel):
            seen.append((key, dtype, numel))
            return StorageRef(key, dtype, numel, lambda: np.arange(6, dtype="<f4").tobytes())

        data = helpers.tensor_dict_pickle([("w", "FloatStorage", "0", 6, 1, (2, 2), (1, 2))])
        obj = safe_loads(data, resolve)
        self.assertEqual(seen, [("0", "F32", 6)])
        # element [i, j] = storage[1 + i*1 + j*2]
        np.testing.assert_array_equal(obj["w"].read(), [[1, 3], [2, 4]])


@needs_torch
class HostileTorchFiles(TempDirTestCase):

    def test_torch_save_of_a_hostile_object_is_refused(self):
        import torch
        sentinel = self.path("pwned")
        evil = self.path("evil.pth")
        torch.save({"model": {"w": torch.zeros(2)}, "x": _Reduce(os.system, (f"touch {sentinel}",))},
                   evil)
        result = run_cli(evil, self.path("out.safetensors"))
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("refusing to unpickle global", result.stderr)
        self.assertFalse(os.path.exists(sentinel))
        self.assertNoFilesExcept(["evil.pth"])


if __name__ == "__main__":
    unittest.main()
