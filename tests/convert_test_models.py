#!/usr/bin/env python3
"""Convert every checkpoint the C++ test suite needs into OUTDIR (ctest fixture ``test_models``).

    python3 tests/convert_test_models.py OUTDIR [--force]

* ``tests/data/fixtures/errseg_tiny_seed0.pth`` (+ ``errseg_tiny.config.json``)
  -> ``OUTDIR/errseg_tiny.safetensors``
* the trained demo model ``data/demo/errseg_shapes.pth`` (+ ``errseg_shapes.config.json``)
  -> ``OUTDIR/errseg_shapes.safetensors``
* every ``tests/data/clip/<stem>.pt|.bin|.safetensors`` (+ ``<stem>.config.json`` when present,
  passed as ``--config``) -> ``OUTDIR/<stem>.safetensors``

Idempotent: an output newer than its input, its config, the BPE merges and the converter sources
is left alone (``--force`` converts anyway). Runs the converter in-process (numpy only).
"""

import argparse
import glob
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "weights_converter"))

from errseg_convert import ConvertError  # noqa: E402
from errseg_convert.converter import DEFAULT_MERGES, convert  # noqa: E402

FIXTURES = os.path.join(HERE, "data", "fixtures")
DEMO = os.path.join(REPO, "data", "demo")
CLIP_DIR = os.path.join(HERE, "data", "clip")
CHECKPOINT_EXTENSIONS = (".pt", ".bin", ".safetensors")


def jobs(outdir):
    """(input, config or None, output) for every test checkpoint."""
    found = [(os.path.join(FIXTURES, "errseg_tiny_seed0.pth"),
              os.path.join(FIXTURES, "errseg_tiny.config.json"),
              os.path.join(outdir, "errseg_tiny.safetensors")),
             (os.path.join(DEMO, "errseg_shapes.pth"),
              os.path.join(DEMO, "errseg_shapes.config.json"),
              os.path.join(outdir, "errseg_shapes.safetensors"))]
    for path in sorted(glob.glob(os.path.join(CLIP_DIR, "*"))):
        stem, ext = os.path.splitext(os.path.basename(path))
        if ext not in CHECKPOINT_EXTENSIONS or not os.path.isfile(path):
            continue
        config = os.path.join(CLIP_DIR, stem + ".config.json")
        found.append((path, config if os.path.isfile(config) else None,
                      os.path.join(outdir, stem + ".safetensors")))
    return found


def _converter_sources():
    root = os.path.join(REPO, "weights_converter")
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files if f.endswith(".py")]


def up_to_date(inputs, output):
    if not os.path.exists(output):
        return False
    newest = max(os.path.getmtime(p) for p in inputs)
    return os.path.getmtime(output) >= newest


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir")
    parser.add_argument("--force", action="store_true", help="convert even when up to date")
    args = parser.parse_args(argv)
    os.makedirs(args.outdir, exist_ok=True)
    sources = _converter_sources() + [DEFAULT_MERGES]
    failures = 0
    for source, config, output in jobs(args.outdir):
        inputs = [source] + ([config] if config else []) + sources
        name = os.path.relpath(source, REPO)
        if not args.force and up_to_date(inputs, output):
            print(f"up to date: {os.path.basename(output)}")
            continue
        try:
            summary = convert(source, output, config_path=config)
        except ConvertError as exc:
            print(f"FAILED: {name}: {exc}", file=sys.stderr)
            failures += 1
            continue
        print(f"converted: {name} -> {output} ({summary['tensors']} tensors, "
              f"layout {summary['layout']})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
