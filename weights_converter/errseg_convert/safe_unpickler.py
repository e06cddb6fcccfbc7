"""Allow-list unpickler for PyTorch checkpoints.

A pickle is a program: its GLOBAL opcodes name arbitrary importable callables and REDUCE calls
them. This unpickler never imports anything. ``find_class`` answers only the handful of names a
tensor checkpoint legitimately uses, each with a local stand-in written here:

* tensor rebuild functions (``torch._utils._rebuild_tensor_v2`` and friends) -> ``StorageTensor``
  (a validated, lazily read strided view of a storage; no bytes are read while unpickling);
* typed storage classes (``torch.FloatStorage``, ``torch.HalfStorage``, ...) -> ``StorageType``
  markers that only carry a dtype (they cannot be called);
* ``collections.OrderedDict``, ``torch.Size`` and a few protocol-2 helpers -> plain containers;
* TorchScript classes (``__torch__.*``) -> ``ScriptObject``, an inert attribute bag (TorchScript
  code in the archive is never read);
* numpy array/dtype reconstruction (non-object dtypes only), which some training checkpoints carry
  outside the weights.

Every other global (``os.system``, ``builtins.eval``, ``subprocess.Popen``, unknown classes, ...)
raises ``ConvertError`` naming it; nothing is ever looked up in ``sys.modules`` or imported.
Storage references (pickle "persistent ids") are resolved by a callback given by the archive reader.
"""

import _compat_pickle
import collections
import io
import pickle
import struct

import numpy as np

from .dtypes import TORCH_STORAGE_TYPES
from .errors import ConvertError
from .tensor_ref import StorageTensor, TensorRef


class StorageType:
    """Stand-in for a ``torch.<Type>Storage`` class: only names a dtype; not callable."""

    def __init__(self, torch_name, dtype):
        self.torch_name = torch_name
        self.dtype = dtype

    def __repr__(self):
        return f"torch.{self.torch_name}"


class _Marker:
    """Stand-in for a type used only as an argument (``torch.Tensor``, ``torch.nn.Parameter``)."""

    def __init__(self, qualified_name):
        self.qualified_name = qualified_name

    def __repr__(self):
        return self.qualified_name


class ScriptObject:
    """Inert stand-in for a TorchScript class instance (``__torch__.*``): a bag of attributes.

    Subclasses are created per qualified class name so that error messages and the attribute walk
    can say what an object was; no method of the original class exists here.
    """

    qualified_name = "__torch__"
    attributes = {}  # replaced per instance by __setstate__; never mutated in place
    state = None

    def __init__(self, *args, **kwargs):
        self.attributes = {}
        self.state = None

    def __setstate__(self, state):
        self.attributes = {}
        self.state = None
        if isinstance(state, dict):
            self.attributes = dict(state)
        elif (isinstance(state, tuple) and len(state) == 2 and isinstance(state[0], dict)):
            self.attributes = dict(state[0])
        else:
            self.state = state

    def __repr__(self):
        return f"<{self.qualified_name}>"


def _check_tensor(value, what):
    if not isinstance(value, TensorRef):
        raise ConvertError(f"{what} expects a tensor, got {type(value).__name__}")
    return value


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return StorageTensor(storage, storage_offset, size, stride)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return StorageTensor(storage, storage_offset, size, stride)


def _rebuild_parameter(data, requires_grad=False, backward_hooks=None):
    return _check_tensor(data, "torch._utils._rebuild_parameter")


def _rebuild_parameter_with_state(data, requires_grad=False, backward_hooks=None, state=None):
    return _check_tensor(data, "torch._utils._rebuild_parameter_with_state")


_TENSOR_TYPE_MARKERS = (_Marker("torch.Tensor"), _Marker("torch.nn.parameter.Parameter"))


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (_rebuild_tensor_v2, _rebuild_tensor, _rebuild_parameter,
                    _rebuild_parameter_with_state):
        raise ConvertError("torch._tensor._rebuild_from_type_v2 with a non-tensor rebuild function")
    if new_type not in _TENSOR_TYPE_MARKERS:
        raise ConvertError(f"torch._tensor._rebuild_from_type_v2 of unsupported type {new_type!r}")
    if not isinstance(args, tuple):
        raise ConvertError("torch._tensor._rebuild_from_type_v2: arguments are not a tuple")
    return func(*args)


def _torch_size(values=()):
    values = tuple(values)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ConvertError(f"torch.Size with non-integer entries {values!r}")
    return values


def _restore_type_tag(value, type_str):
    # TorchScript tags typed containers with their static type; the value itself is all we need.
    return value


def _build_list(values):
    if not isinstance(values, list):
        raise ConvertError("TorchScript typed list is not a list")
    return list(values)


def _codecs_encode(text, encoding="utf-8"):
    # Protocol-2 pickles spell a bytes object as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ConvertError("_codecs.encode is only allowed as the protocol-2 bytes encoding")
    return text.encode("latin1")


def _safe_set(values=()):
    return set(values)


def _safe_frozenset(values=()):
    return frozenset(values)


def _numpy_dtype(spec, align=False, copy=False):
    if not isinstance(spec, str):
        raise ConvertError(f"numpy.dtype({spec!r}) is not allowed (only simple type strings)")
    dtype = np.dtype(spec)
    if dtype.hasobject or dtype.fields is not None:
        raise ConvertError(f"numpy.dtype({spec!r}) is not allowed (object or structured dtype)")
    return dtype


_NDARRAY_MARKER = _Marker("numpy.ndarray")


def _numpy_reconstruct(subtype, shape, dtype_code):
    if subtype is not _NDARRAY_MARKER:
        raise ConvertError(f"numpy _reconstruct of unsupported type {subtype!r}")
    # The array's contents arrive through BUILD, i.e. ndarray.__setstate__, with a dtype that was
    # itself built by _numpy_dtype (object dtypes are refused there).
    return _GuardedArray(np.ndarray((0,), dtype=np.uint8))


class _GuardedArray:
    """Receives ndarray state from BUILD and checks the dtype before numpy sees the data."""

    def __init__(self, array):
        self.array = array

    def __setstate__(self, state):
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise ConvertError("malformed numpy array state")
        dtype = state[-3]
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise ConvertError("numpy arrays with object dtype are not allowed")
        self.array.__setstate__(state)


def _numpy_scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, bytes):
        raise ConvertError("numpy scalar of object dtype or without raw bytes is not allowed")
    if len(data) != dtype.itemsize:
        raise ConvertError("numpy scalar with the wrong number of bytes")
    return np.frombuffer(data, dtype=dtype)[0]


def _allowed_globals():
    table = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch", "Tensor"): _TENSOR_TYPE_MARKERS[0],
        ("torch.nn.parameter", "Parameter"): _TENSOR_TYPE_MARKERS[1],
        ("torch", "Size"): _torch_size,
        ("torch.jit._pickle", "restore_type_tag"): _restore_type_tag,
        ("torch.jit._pickle", "build_intlist"): _build_list,
        ("torch.jit._pickle", "build_doublelist"): _build_list,
        ("torch.jit._pickle", "build_boollist"): _build_list,
        ("torch.jit._pickle", "build_tensorlist"): _build_list,
        ("_codecs", "encode"): _codecs_encode,
        ("builtins", "set"): _safe_set,
        ("builtins", "frozenset"): _safe_frozenset,
        ("numpy", "dtype"): _numpy_dtype,
        ("numpy", "ndarray"): _NDARRAY_MARKER,
        ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
        ("numpy.core.multiarray", "scalar"): _numpy_scalar,
        ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    }
    for torch_name, (dtype, _) in TORCH_STORAGE_TYPES.items():
        module = "torch.storage" if torch_name == "UntypedStorage" else "torch"
        table[(module, torch_name)] = StorageType(torch_name, dtype)
        if torch_name == "UntypedStorage":
            table[("torch", torch_name)] = table[(module, torch_name)]
    return table


_ALLOWED = _allowed_globals()
_SCRIPT_CLASSES = {}


def _script_class(qualified_name):
    cls = _SCRIPT_CLASSES.get(qualified_name)
    if cls is None:
        cls = type("ScriptObject", (ScriptObject,), {"qualified_name": qualified_name})
        _SCRIPT_CLASSES[qualified_name] = cls
    return cls


class SafeUnpickler(pickle._Unpickler):
    """Unpickles a PyTorch ``data.pkl`` with allow-listed globals only.

    Based on the pure-Python unpickler: its memo is a dict, whereas the C unpickler sizes an
    array by the largest memo index, so a 12-byte pickle could make it allocate gigabytes.

    ``resolve_storage(pid)`` maps a persistent id to a ``StorageRef`` (done by the archive reader,
    which knows where the bytes are and checks their size).
    """

    def __init__(self, file, resolve_storage, allow_script_objects=True):
        super().__init__(file)
        self._resolve_storage = resolve_storage
        self._allow_script_objects = allow_script_objects

    def find_class(self, module, name):
        # Protocol 0-2 pickles spell Python 3 names the Python 2 way (__builtin__.eval,
        # commands.Popen); translate for the lookup and the message, as the stdlib does.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        found = _ALLOWED.get((module, name))
        if found is not None:
            return found
        if self._allow_script_objects and (module == "__torch__" or
                                           module.startswith("__torch__.")):
            if "torch.classes" in module:
                raise ConvertError(f"refusing TorchScript custom class '{module}.{name}'")
            return _script_class(f"{module}.{name}")
        raise ConvertError(f"refusing to unpickle global '{module}.{name}': not on the allow-list "
                           "of tensor-checkpoint types (the file may be malicious or not a "
                           "weights checkpoint)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise ConvertError(f"unsupported persistent id {pid!r:.80} in the pickle")
        _, storage_type, key, location, numel = pid
        if not isinstance(storage_type, StorageType):
            raise ConvertError(f"persistent id names storage type {storage_type!r:.60}, not a "
                               "torch storage class")
        if not isinstance(key, str) or not isinstance(location, str):
            raise ConvertError(f"malformed storage reference {pid!r:.80}")
        if not isinstance(numel, int) or isinstance(numel, bool) or numel < 0:
            raise ConvertError(f"storage {key}: invalid element count {numel!r}")
        return self._resolve_storage(key, storage_type.dtype, numel)


def safe_loads(data, resolve_storage, allow_script_objects=True):
    """Unpickle ``data`` (bytes) with ``SafeUnpickler``; any failure becomes ``ConvertError``."""
    try:
        return SafeUnpickler(io.BytesIO(data), resolve_storage, allow_script_objects).load()
    except ConvertError:
        raise
    except RecursionError:
        raise ConvertError("pickle nests too deeply") from None
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError,
            KeyError, UnicodeDecodeError, MemoryError, OverflowError, struct.error) as exc:
        raise ConvertError(f"malformed pickle: {type(exc).__name__}: {exc}") from None
