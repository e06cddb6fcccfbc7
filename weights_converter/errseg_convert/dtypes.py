"""Element types: PyTorch storage classes, safetensors dtype names and numpy dtypes."""

import numpy as np

# PyTorch typed-storage class name -> (safetensors dtype name, numpy dtype used to read the bytes).
# BFloat16 has no numpy type: its raw bits are read as uint16 and widened by ``to_numpy_float32``.
TORCH_STORAGE_TYPES = {
    "DoubleStorage": ("F64", np.dtype("<f8")),
    "FloatStorage": ("F32", np.dtype("<f4")),
    "HalfStorage": ("F16", np.dtype("<f2")),
    "BFloat16Storage": ("BF16", np.dtype("<u2")),
    "LongStorage": ("I64", np.dtype("<i8")),
    "IntStorage": ("I32", np.dtype("<i4")),
    "ShortStorage": ("I16", np.dtype("<i2")),
    "CharStorage": ("I8", np.dtype("i1")),
    "ByteStorage": ("U8", np.dtype("u1")),
    "BoolStorage": ("BOOL", np.dtype("?")),
    # An untyped storage holds raw bytes.
    "UntypedStorage": ("U8", np.dtype("u1")),
}

# safetensors dtype name -> numpy dtype of its bytes (little-endian).
SAFETENSORS_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}

FLOATING = frozenset({"F64", "F32", "F16", "BF16"})


def itemsize(dtype_name):
    return SAFETENSORS_DTYPES[dtype_name].itemsize


def to_numpy_float32(array, dtype_name):
    """Widen raw storage values of a floating dtype to float32 (exact for F16/BF16)."""
    if dtype_name == "BF16":
        widened = np.array(array, dtype=np.uint32)   # stays an array, also for 0-d tensors
        widened <<= np.uint32(16)
        return widened.view(np.float32)
    return array.astype(np.float32)
