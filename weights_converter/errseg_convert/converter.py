"""The conversion: input checkpoint -> errseg safetensors model file (docs/ARCHITECTURE.md)."""

import json
import os

import numpy as np

from .checkpoint import open_checkpoint
from .dtypes import FLOATING, to_numpy_float32
from .errors import ConvertError
from .input_files import read_capped
from .layouts import apply_layout, detect_layout, get_layout
from .model_config import load_config_file
from .safetensors_io import write_safetensors

FORMAT_VERSION = "1"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_MERGES = os.path.join(REPO_ROOT, "data", "clip_bpe_merges.txt")
OUTPUT_DTYPES = {"fp32": "F32", "fp16": "F16"}   # --dtype -> safetensors dtype of float tensors
MAX_MERGES_BYTES = 64 << 20                      # CLIP's merges file is 1.6 MB (as the C++ reader)


def read_merges(path):
    """The CLIP BPE merge list, one ``a b`` pair per line, as text for ``errseg.bpe_merges``."""
    try:
        text = read_capped(path, "--merges", MAX_MERGES_BYTES).decode("utf-8")
    except OSError as exc:
        raise ConvertError(f"--merges {path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConvertError(f"--merges {path}: not UTF-8 text") from None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise ConvertError(f"--merges {path}: empty")
    if "#version" in lines[0]:
        raise ConvertError(f"--merges {path}: starts with the vocabulary's '#version' header; "
                           "pass the merges without it (like data/clip_bpe_merges.txt)")
    for number, line in enumerate(lines, 1):
        parts = line.split(" ")
        if len(parts) != 2 or not parts[0] or not parts[1]:
            raise ConvertError(f"--merges {path}:{number}: expected two symbols separated by one "
                               f"space, got {line[:40]!r}")
    return "\n".join(lines) + "\n"


def _cast(tensor, name, out_dtype):
    values = to_numpy_float32(tensor.read(), tensor.dtype)
    if out_dtype == "F32":
        return values
    with np.errstate(over="ignore"):
        half = values.astype(np.float16)
    overflow = np.isfinite(values) & ~np.isfinite(half)
    if overflow.any():
        raise ConvertError(f"tensor {name}: {int(overflow.sum())} value(s) overflow float16 "
                           f"(max |x| = {float(np.abs(values[overflow]).max()):g}); use --dtype fp32")
    return half


def convert(input_path, output_path, arch="auto", config_path=None, dtype="fp32",
            merges_path=DEFAULT_MERGES):
    """Convert ``input_path`` into ``output_path``; returns a summary dict.

    Raises ``ConvertError`` (and leaves no output file) on any problem.
    """
    if dtype not in OUTPUT_DTYPES:
        raise ConvertError(f"--dtype must be one of {', '.join(OUTPUT_DTYPES)}, got {dtype!r}")
    out_dtype = OUTPUT_DTYPES[dtype]
    if os.path.exists(output_path) and os.path.exists(input_path) and \
            os.path.samefile(input_path, output_path):
        raise ConvertError("the output file must differ from the input file")
    merges = read_merges(merges_path)
    user_config = load_config_file(config_path) if config_path else None

    with open_checkpoint(input_path) as ckpt:
        layout = detect_layout(ckpt.tensors) if arch == "auto" else get_layout(arch)
        if not layout.matches(set(ckpt.tensors)):
            try:
                hint = f" (it looks like {detect_layout(ckpt.tensors).name})"
            except ConvertError:
                hint = ""
            raise ConvertError(f"--arch {arch}: the checkpoint lacks the tensors that mark the "
                               f"{arch} layout{hint}")
        result = apply_layout(layout, ckpt.tensors, user_config)
        for name, tensor in result.tensors.items():
            if tensor.dtype not in FLOATING:
                raise ConvertError(f"tensor {layout.source_name(name)} has dtype {tensor.dtype}; "
                                   "model weights must be floating point")
        source = (f"{os.path.basename(input_path)} ({ckpt.kind}{ckpt.wrapper}, "
                  f"layout {layout.name})")
        metadata = {
            "errseg.format": FORMAT_VERSION,
            "errseg.config": json.dumps(result.config, ensure_ascii=False),
            "errseg.bpe_merges": merges,
            "errseg.source": source,
        }
        outputs = {
            name: (out_dtype, tensor.shape,
                   (lambda t=tensor, n=layout.source_name(name): _cast(t, n, out_dtype)))
            for name, tensor in result.tensors.items()
        }
        write_safetensors(output_path, outputs, metadata)

    return {
        "layout": layout.name,
        "tensors": len(outputs),
        "parameters": sum(t.numel for t in result.tensors.values()),
        "dropped": result.dropped,
        "dtype": out_dtype,
        "config": result.config,
        "source": source,
    }
