"""safetensors reading and (streaming, atomic) writing.

File format: 8-byte little-endian header length N, then N bytes of JSON
``{"__metadata__": {str: str}, name: {"dtype", "shape", "data_offsets": [begin, end]}, ...}``
(padded with spaces so that the data starts at a multiple of 8), then the tensor bytes,
little-endian and C-contiguous, offsets relative to the start of the data, with no gaps.
The writer stores tensors sorted by name.
"""

import json
import math
import os
import struct
import tempfile

import numpy as np

from .dtypes import SAFETENSORS_DTYPES
from .errors import ConvertError
from .input_files import open_regular
from .tensor_ref import TensorRef

MAX_HEADER_BYTES = 100 << 20


class SafetensorsTensor(TensorRef):
    """A tensor stored in a safetensors file, read on demand."""

    def __init__(self, reader, name, dtype, shape, begin, end):
        self._reader = reader
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self._begin = begin
        self._end = end

    def read(self):
        data = self._reader.read_range(self._begin, self._end)
        return np.frombuffer(data, dtype=SAFETENSORS_DTYPES[self.dtype]).reshape(self.shape).copy()


class SafetensorsReader:
    """Parses and validates a safetensors header; ``tensors`` maps names to lazy tensors."""

    def __init__(self, path):
        self.path = path
        try:
            self._file = open_regular(path, "safetensors file")
        except OSError as exc:
            raise ConvertError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            self._parse()
        except BaseException:
            self._file.close()
            raise

    def _parse(self):
        file_size = os.fstat(self._file.fileno()).st_size
        head = self._file.read(8)
        if len(head) != 8:
            raise ConvertError(f"{self.path}: too short for a safetensors file")
        (header_len,) = struct.unpack("<Q", head)
        if header_len > MAX_HEADER_BYTES or 8 + header_len > file_size:
            raise ConvertError(f"{self.path}: safetensors header length {header_len} is invalid "
                               f"for a {file_size}-byte file")
        raw = self._file.read(header_len)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConvertError(f"{self.path}: safetensors header is not valid JSON: {exc}") from None
        if not isinstance(header, dict):
            raise ConvertError(f"{self.path}: safetensors header is not a JSON object")
        self.metadata = header.pop("__metadata__", None) or {}
        if not isinstance(self.metadata, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.metadata.items()):
            raise ConvertError(f"{self.path}: __metadata__ must map strings to strings")
        self._data_start = 8 + header_len
        data_size = file_size - self._data_start
        self.tensors = {}
        spans = []
        for name, entry in header.items():
            if not isinstance(entry, dict) or set(entry) != {"dtype", "shape", "data_offsets"}:
                raise ConvertError(f"{self.path}: malformed header entry for {name!r}")
            dtype, shape, offsets = entry["dtype"], entry["shape"], entry["data_offsets"]
            if dtype not in SAFETENSORS_DTYPES:
                raise ConvertError(f"{self.path}: tensor {name!r} has unsupported dtype {dtype!r}")
            if not (isinstance(shape, list) and all(
                    isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
                raise ConvertError(f"{self.path}: tensor {name!r} has an invalid shape {shape!r}")
            if not (isinstance(offsets, list) and len(offsets) == 2 and all(
                    isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
                raise ConvertError(f"{self.path}: tensor {name!r} has invalid data_offsets")
            begin, end = offsets
            nbytes = math.prod(shape) * SAFETENSORS_DTYPES[dtype].itemsize
            if not (0 <= begin <= end <= data_size) or end - begin != nbytes:
                raise ConvertError(f"{self.path}: tensor {name!r} data_offsets {offsets} do not "
                                   f"fit its shape {shape} {dtype} or the file ({data_size} bytes)")
            spans.append((begin, end, name))
            self.tensors[name] = SafetensorsTensor(self, name, dtype, tuple(shape), begin, end)
        spans.sort()
        for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
            if b1 < e0:
                raise ConvertError(f"{self.path}: tensors {n0!r} and {n1!r} overlap")

    def read_range(self, begin, end):
        self._file.seek(self._data_start + begin)
        data = self._file.read(end - begin)
        if len(data) != end - begin:
            raise ConvertError(f"{self.path}: file truncated while reading tensor data")
        return data

    def close(self):
        self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def looks_like_safetensors(prefix):
    """True when the first bytes of a file look like a safetensors header."""
    if len(prefix) < 9:
        return False
    (header_len,) = struct.unpack("<Q", prefix[:8])
    return 2 <= header_len <= MAX_HEADER_BYTES and prefix[8:9] == b"{"


def build_header(entries, metadata):
    """JSON header bytes (space-padded to a multiple of 8) for ``entries`` =
    ``[(name, dtype, shape)]`` in storage order; returns (header bytes, total data bytes)."""
    header = {"__metadata__": dict(metadata)}
    offset = 0
    for name, dtype, shape in entries:
        nbytes = math.prod(shape) * SAFETENSORS_DTYPES[dtype].itemsize
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return raw, offset


def write_safetensors(path, tensors, metadata):
    """Write ``tensors`` (name -> (dtype, shape, producer)) to ``path`` atomically.

    ``producer()`` returns the numpy array for that tensor; it is called once, in name order, so
    only one tensor is in memory at a time. The file is written to a temporary file in the same
    directory and renamed over ``path`` only when complete; on any error nothing is left behind.
    """
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConvertError("safetensors metadata must map strings to strings")
    names = sorted(tensors)
    entries = [(name, tensors[name][0], tuple(tensors[name][1])) for name in names]
    header, _ = build_header(entries, metadata)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                                   dir=directory)
    except OSError as exc:
        raise ConvertError(f"cannot create the output file in {directory}: "
                           f"{exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(struct.pack("<Q", len(header)))
            out.write(header)
            for name, dtype, shape in entries:
                array = tensors[name][2]()
                np_dtype = SAFETENSORS_DTYPES[dtype]
                if array.dtype != np_dtype or tuple(array.shape) != shape:
                    raise ConvertError(f"internal error: tensor {name} produced {array.dtype} "
                                       f"{array.shape}, header says {dtype} {shape}")
                out.write(np.ascontiguousarray(array).tobytes())
            out.flush()
            os.fsync(out.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise ConvertError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
