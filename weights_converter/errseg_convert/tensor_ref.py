"""Lazily read tensors.

A checkpoint is first read as a map of ``TensorRef`` objects whose dtype and shape are known
without touching the tensor bytes; ``read()`` produces the numpy array on demand. This keeps the
converter's memory at about one tensor at a time and lets every check on names and shapes run
before any large read.
"""

import math

import numpy as np

from .dtypes import SAFETENSORS_DTYPES
from .errors import ConvertError


MAX_ELEMENTS = 1 << 40


def _check_dims(what, values):
    if not isinstance(values, tuple) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
        raise ConvertError(f"{what} must be a tuple of non-negative integers, got {values!r}")


class TensorRef:
    """A tensor whose bytes are read on demand. ``dtype`` is a safetensors dtype name."""

    dtype = None
    shape = ()

    @property
    def numel(self):
        return math.prod(self.shape)

    def read(self):
        """Return a C-contiguous numpy array with this tensor's values (BF16 as raw uint16)."""
        raise NotImplementedError


class StorageCache:
    """Holds the most recently read storage of an archive (one slot, so memory stays bounded
    by the largest storage while consecutive views of one storage are read only once)."""

    def __init__(self):
        self.name = None
        self.array = None


class StorageRef:
    """A flat typed storage (PyTorch's ``storage``): ``numel`` elements of ``dtype``.

    ``load_bytes()`` returns exactly ``numel * itemsize`` bytes.
    """

    def __init__(self, name, dtype, numel, load_bytes, big_endian=False, cache=None):
        self.name = name
        self.dtype = dtype
        self.numel = numel
        self._load_bytes = load_bytes
        self._big_endian = big_endian
        self._cache = cache if cache is not None else StorageCache()

    def array(self):
        if self._cache.name == self.name and self._cache.array is not None:
            return self._cache.array
        self._cache.name, self._cache.array = None, None
        np_dtype = SAFETENSORS_DTYPES[self.dtype]
        data = self._load_bytes()
        if len(data) != self.numel * np_dtype.itemsize:
            raise ConvertError(f"storage {self.name}: read {len(data)} bytes, expected "
                               f"{self.numel * np_dtype.itemsize}")
        if self._big_endian:
            arr = np.frombuffer(data, dtype=np_dtype.newbyteorder(">")).astype(np_dtype)
        else:
            arr = np.frombuffer(data, dtype=np_dtype)
        self._cache.name, self._cache.array = self.name, arr
        return arr


class StorageTensor(TensorRef):
    """A strided view into a ``StorageRef`` (PyTorch's storage offset, size and stride).

    The view is validated on construction: every element it addresses lies inside the storage,
    so the later ``as_strided`` never reads outside the buffer.
    """

    def __init__(self, storage, offset, shape, stride):
        if not isinstance(storage, StorageRef):
            raise ConvertError(f"tensor rebuilt from a non-storage object {type(storage).__name__}")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ConvertError(f"storage {storage.name}: invalid storage offset {offset!r}")
        shape = tuple(shape) if isinstance(shape, (list, tuple)) else shape
        stride = tuple(stride) if isinstance(stride, (list, tuple)) else stride
        _check_dims(f"storage {storage.name}: tensor size", shape)
        _check_dims(f"storage {storage.name}: tensor stride", stride)
        if len(shape) != len(stride):
            raise ConvertError(f"storage {storage.name}: size {shape} and stride {stride} "
                               "have different lengths")
        if math.prod(shape) > MAX_ELEMENTS:
            raise ConvertError(f"storage {storage.name}: tensor size {shape} is implausibly large")
        if math.prod(shape) > 0:
            last = offset + sum((n - 1) * s for n, s in zip(shape, stride))
            if last >= storage.numel:
                raise ConvertError(
                    f"storage {storage.name}: tensor of size {shape}, stride {stride}, offset "
                    f"{offset} reaches element {last} but the storage holds {storage.numel}")
        elif offset > storage.numel:
            raise ConvertError(f"storage {storage.name}: offset {offset} beyond the storage "
                               f"({storage.numel} elements)")
        self.storage = storage
        self.offset = offset
        self.shape = shape
        self.stride = stride
        self.dtype = storage.dtype

    def read(self):
        base = self.storage.array()
        np_dtype = base.dtype
        if self.numel == 0:
            return np.zeros(self.shape, dtype=np_dtype)
        view = np.lib.stride_tricks.as_strided(
            base[self.offset:], shape=self.shape,
            strides=tuple(s * np_dtype.itemsize for s in self.stride), writeable=False)
        return np.array(view, order="C", copy=True)


class ArrayTensor(TensorRef):
    """A tensor already in memory (used by tests and for tiny derived tensors)."""

    def __init__(self, array, dtype):
        self._array = np.array(array, order="C")
        self.dtype = dtype
        self.shape = tuple(self._array.shape)

    def read(self):
        return self._array
