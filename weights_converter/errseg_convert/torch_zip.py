"""Reader for PyTorch zip checkpoints: ``torch.save`` (format since torch 1.6) and TorchScript.

Archive layout (all under one top-level folder ``<archive>/``):

* ``data.pkl``     -- the pickled object (a state dict, ``{'model': state_dict}``, or for TorchScript
                      the root module object);
* ``data/<key>``   -- raw bytes of each storage, referenced from the pickle by persistent ids
                      ``('storage', <storage class>, key, location, numel)``;
* ``byteorder``    -- optional, ``little`` or ``big`` (absent means little);
* ``version``, ``code/``, ``constants.pkl``, ``constants/`` ... -- not needed for weights
  (TorchScript code is never read).

Everything is checked before use: entry names (no absolute paths or ``..``), one archive folder,
compression method, declared storage sizes against the entry sizes, and the pickle through
``safe_unpickler``. The legacy (pre-1.6, non-zip) ``torch.save`` format is refused with a hint.
"""

import posixpath
import re
import struct
import zipfile
import zlib

from .dtypes import SAFETENSORS_DTYPES
from .errors import ConvertError
from .safe_unpickler import safe_loads
from .tensor_ref import StorageCache, StorageRef

MAX_PICKLE_BYTES = 256 << 20
_STORAGE_KEY = re.compile(r"^[A-Za-z0-9_.-]+$")

ZIP_MAGIC = b"PK\x03\x04"


def _check_entry_name(name):
    if (not name or name.startswith("/") or "\\" in name or "\x00" in name
            or re.match(r"^[A-Za-z]:", name)):
        raise ConvertError(f"zip entry with an unsafe name {name!r}")
    parts = name.split("/")
    if any(part in ("..", ".") for part in parts):
        raise ConvertError(f"zip entry with an unsafe name {name!r} (path traversal)")


class TorchZipArchive:
    """An opened PyTorch zip archive. Use as a context manager, or call ``close()``."""

    def __init__(self, path):
        self.path = path
        self._cache = StorageCache()
        try:
            self._zip = zipfile.ZipFile(path, "r")
        # NotImplementedError: a central directory claiming a zip version newer than Python reads
        # (e.g. a corrupted 'version needed' field); ValueError covers undecodable names.
        except (zipfile.BadZipFile, NotImplementedError, ValueError, EOFError, struct.error) as exc:
            raise ConvertError(f"{path}: not a valid zip archive (truncated or corrupted?): "
                               f"{exc}") from None
        except OSError as exc:
            raise ConvertError(f"{path}: cannot read: {exc.strerror or exc}") from None
        try:
            self._index()
        except BaseException:
            self._zip.close()
            raise

    def _index(self):
        self._entries = {}
        prefixes = set()
        for info in self._zip.infolist():
            _check_entry_name(info.filename)
            if info.filename in self._entries:
                raise ConvertError(f"{self.path}: duplicate zip entry {info.filename!r}")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ConvertError(f"{self.path}: zip entry {info.filename!r} uses unsupported "
                                   f"compression method {info.compress_type}")
            if info.flag_bits & 0x1:
                raise ConvertError(f"{self.path}: zip entry {info.filename!r} is encrypted")
            self._entries[info.filename] = info
            if not info.is_dir():
                prefixes.add(info.filename.split("/", 1)[0] if "/" in info.filename else "")
        pickles = [n for n in self._entries if n.count("/") == 1 and n.endswith("/data.pkl")]
        if len(pickles) != 1:
            raise ConvertError(f"{self.path}: zip archive is not a PyTorch checkpoint "
                               f"(expected one '<archive>/data.pkl', found {len(pickles)})")
        self.prefix = pickles[0][: -len("/data.pkl")]
        if prefixes != {self.prefix}:
            others = sorted(p for p in prefixes if p != self.prefix)[:3]
            raise ConvertError(f"{self.path}: zip entries outside the archive folder "
                               f"'{self.prefix}/': {others}")
        self.big_endian = False
        order = self._entries.get(f"{self.prefix}/byteorder")
        if order is not None:
            text = self._read_entry(order, limit=16).decode("ascii", "replace").strip()
            if text not in ("little", "big"):
                raise ConvertError(f"{self.path}: unknown byteorder {text!r}")
            self.big_endian = text == "big"
        self.is_torchscript = f"{self.prefix}/constants.pkl" in self._entries or any(
            n.startswith(f"{self.prefix}/code/") for n in self._entries)

    def _read_entry(self, info, limit):
        if info.file_size > limit:
            raise ConvertError(f"{self.path}: zip entry {info.filename!r} is {info.file_size} "
                               f"bytes, more than the {limit} allowed")
        try:
            with self._zip.open(info, "r") as f:
                data = f.read(info.file_size + 1)
        # NotImplementedError: unsupported zip features; zlib.error: corrupt deflate data.
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError, zlib.error) as exc:
            raise ConvertError(f"{self.path}: cannot read zip entry {info.filename!r} (truncated "
                               f"or corrupted archive?): {exc}") from None
        if len(data) != info.file_size:
            raise ConvertError(f"{self.path}: zip entry {info.filename!r} holds {len(data)} bytes "
                               f"but its directory says {info.file_size}")
        return data

    def _storage(self, key, dtype, numel):
        cached = self._storages.get(key)
        if cached is not None:
            if cached.dtype != dtype or cached.numel != numel:
                raise ConvertError(f"{self.path}: storage {key} referenced with two different "
                                   "types or sizes")
            return cached
        if not _STORAGE_KEY.match(key):
            raise ConvertError(f"{self.path}: unsafe storage key {key!r}")
        name = posixpath.join(self.prefix, "data", key)
        info = self._entries.get(name)
        if info is None:
            raise ConvertError(f"{self.path}: storage {key} is missing (no zip entry {name!r})")
        nbytes = numel * SAFETENSORS_DTYPES[dtype].itemsize
        if info.file_size != nbytes:
            raise ConvertError(f"{self.path}: storage {key} declares {numel} {dtype} elements "
                               f"({nbytes} bytes) but its zip entry holds {info.file_size} bytes")
        storage = StorageRef(f"{self.prefix}/data/{key}", dtype, numel,
                             lambda: self._read_entry(info, limit=nbytes), self.big_endian,
                             self._cache)
        self._storages[key] = storage
        return storage

    def load(self):
        """Unpickle ``data.pkl`` safely; tensors come back as lazy ``StorageTensor`` objects."""
        info = self._entries[f"{self.prefix}/data.pkl"]
        data = self._read_entry(info, limit=MAX_PICKLE_BYTES)
        self._storages = {}
        return safe_loads(data, self._storage, allow_script_objects=self.is_torchscript)

    def close(self):
        self._zip.close()
        self._cache.name = self._cache.array = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
