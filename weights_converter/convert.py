#!/usr/bin/env python3
"""Convert a PyTorch / OpenCLIP / ERR-Seg checkpoint into an errseg safetensors model file.

    python3 weights_converter/convert.py INPUT OUTPUT.safetensors [--arch auto|openai-vit|
        openclip-convnext|errseg] [--config CONFIG.json] [--dtype fp32|fp16] [--merges FILE]

Needs only Python 3 and numpy. Pickled checkpoints are read with an allow-list unpickler that never
runs code from the file. See weights_converter/README.md.
"""

import argparse
import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

try:
    import numpy  # noqa: F401
except ImportError:
    sys.exit("convert.py: error: numpy is required (pip install numpy); this interpreter is "
             f"{sys.executable}")

from errseg_convert import ConvertError  # noqa: E402
from errseg_convert.converter import DEFAULT_MERGES, OUTPUT_DTYPES, convert  # noqa: E402
from errseg_convert.layouts import LAYOUTS  # noqa: E402

PROG = "convert.py"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG, description="Convert a checkpoint into an errseg safetensors model file.")
    parser.add_argument("input", help="checkpoint: PyTorch zip (.pth/.pt/.bin), TorchScript "
                        "archive (OpenAI .pt) or .safetensors")
    parser.add_argument("output", help="output .safetensors file (written atomically)")
    parser.add_argument("--arch", default="auto", choices=["auto", *LAYOUTS],
                        help="checkpoint layout (default: detect from tensor names)")
    parser.add_argument("--config", help="model config JSON (errseg.config format): supplies what "
                        "tensor shapes cannot give and is checked against them")
    parser.add_argument("--dtype", default="fp32", choices=list(OUTPUT_DTYPES),
                        help="storage type of floating tensors (default fp32)")
    parser.add_argument("--merges", default=DEFAULT_MERGES,
                        help="CLIP BPE merges embedded as errseg.bpe_merges (default: "
                        "data/clip_bpe_merges.txt of this repository)")
    parser.add_argument("--quiet", action="store_true", help="print nothing on success")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        summary = convert(args.input, args.output, arch=args.arch, config_path=args.config,
                          dtype=args.dtype, merges_path=args.merges)
    except ConvertError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug: say so briefly, details with --debug
        if args.debug:
            traceback.print_exc()
        print(f"{PROG}: internal error: {type(exc).__name__}: {exc} (rerun with --debug)",
              file=sys.stderr)
        return 3
    if not args.quiet:
        dropped = f", dropped {len(summary['dropped'])}" if summary["dropped"] else ""
        print(f"{args.output}: {summary['tensors']} tensors, {summary['parameters']:,} parameters, "
              f"{summary['dtype']}, layout {summary['layout']}{dropped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
