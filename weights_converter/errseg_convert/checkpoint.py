"""Open any supported input file and present it as a flat ``name -> TensorRef`` map.

Supported inputs, recognised by their first bytes (not by the file extension):

* PyTorch zip checkpoints (``torch.save`` since torch 1.6): a state dict, a detectron2-style
  ``{'model': state_dict, ...}``, or ``{'state_dict': ...}``; other top-level entries are ignored;
* TorchScript archives (OpenAI's ``ViT-B-16.pt``): the module attribute tree is walked and every
  tensor attribute becomes ``path.to.attr`` (like ``state_dict()``);
* safetensors files (OpenCLIP hub ``open_clip_model.safetensors``).

The legacy pre-1.6 ``torch.save`` format (raw pickle stream or tar) is refused with a hint.
"""

import collections.abc
import os

from .errors import ConvertError
from .safe_unpickler import ScriptObject
from .input_files import open_regular
from .safetensors_io import SafetensorsReader, looks_like_safetensors
from .tensor_ref import TensorRef
from .torch_zip import ZIP_MAGIC, TorchZipArchive


class Checkpoint:
    """Tensors of an input file. Keep it open (context manager) while tensors are read."""

    def __init__(self, path, kind, tensors, wrapper, closer):
        self.path = path
        self.kind = kind            # 'torch-zip', 'torchscript' or 'safetensors'
        self.tensors = tensors      # dict: name -> TensorRef, in file order
        self.wrapper = wrapper      # e.g. "['model']" when the state dict was nested, else ''
        self._closer = closer

    def close(self):
        self._closer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _walk_script_object(root):
    """Tensor attributes of a TorchScript module tree as ``{"a.b.weight": tensor}`` (iterative:
    a hostile archive may nest objects arbitrarily deep)."""
    out, seen = {}, set()
    stack = [("", root)]
    while stack:
        prefix, obj = stack.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        children = []
        for name, value in obj.attributes.items():
            if not isinstance(name, str):
                continue
            if isinstance(value, TensorRef):
                out[prefix + name] = value
            elif isinstance(value, ScriptObject):
                children.append((f"{prefix}{name}.", value))
        stack.extend(reversed(children))
    return out


def _state_dict_of(obj, path):
    """Find the state dict inside an unpickled torch.save object."""
    wrapper = ""
    if isinstance(obj, collections.abc.Mapping):
        for key in ("model", "state_dict"):
            inner = obj.get(key)
            if isinstance(inner, collections.abc.Mapping):
                obj, wrapper = inner, f"['{key}']"
                break
    if not isinstance(obj, collections.abc.Mapping):
        raise ConvertError(f"{path}: the checkpoint holds a {type(obj).__name__}, not a state "
                           "dict (expected a dict of tensors, or {'model': state_dict})")
    tensors = {}
    for name, value in obj.items():
        if isinstance(name, str) and isinstance(value, TensorRef):
            tensors[name] = value
    if not tensors:
        raise ConvertError(f"{path}: the checkpoint{wrapper} holds no tensors")
    return tensors, wrapper


def _strip_common_prefix(tensors, prefix="module."):
    if tensors and all(name.startswith(prefix) for name in tensors):
        return {name[len(prefix):]: t for name, t in tensors.items()}
    return tensors


def open_checkpoint(path):
    """Open ``path`` and return a ``Checkpoint``; raises ``ConvertError`` on anything unusable."""
    if os.path.isdir(path):
        raise ConvertError(f"{path}: is a directory, not a checkpoint file")
    try:
        with open_regular(path, "checkpoint") as f:  # a FIFO or a device is refused, not waited on
            head = f.read(512)
    except OSError as exc:
        raise ConvertError(f"{path}: cannot read: {exc.strerror or exc}") from None

    if head.startswith(ZIP_MAGIC):
        archive = TorchZipArchive(path)
        try:
            obj = archive.load()
            if archive.is_torchscript:
                if not isinstance(obj, ScriptObject):
                    raise ConvertError(f"{path}: TorchScript archive whose data.pkl is not a "
                                       "module object")
                tensors = _walk_script_object(obj)
                if not tensors:
                    raise ConvertError(f"{path}: the TorchScript module holds no tensors")
                return Checkpoint(path, "torchscript", tensors, "", archive.close)
            tensors, wrapper = _state_dict_of(obj, path)
            return Checkpoint(path, "torch-zip", _strip_common_prefix(tensors), wrapper,
                              archive.close)
        except BaseException:
            archive.close()
            raise

    if looks_like_safetensors(head):
        reader = SafetensorsReader(path)
        if not reader.tensors:
            reader.close()
            raise ConvertError(f"{path}: the safetensors file holds no tensors")
        return Checkpoint(path, "safetensors", dict(reader.tensors), "", reader.close)

    if head[:1] == b"\x80" or head[257:262] == b"ustar":
        raise ConvertError(
            f"{path}: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it "
            "with a recent PyTorch: torch.save(torch.load(path), new_path)")
    if not head:
        raise ConvertError(f"{path}: empty file")
    raise ConvertError(f"{path}: unrecognised file format (expected a PyTorch zip checkpoint, a "
                       "TorchScript archive or a safetensors file)")
