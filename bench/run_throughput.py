#!/usr/bin/env python3
"""Throughput of `errseg segment` on many images: wall time per image for several --batch sizes.

    python3 bench/run_throughput.py --errseg build/errseg --model errseg_b.safetensors
        [--classes ade150] [--images 8] [--batches 1,2,4] [--threads 2] [--repeats 2]
        [--device cpu|cuda] [--precision fp32|fp16|bf16] [--compare OTHER_ERRSEG_BINARY]

What it does: writes `--images` synthetic PNGs of mixed sizes (640x480, 512x683, 800x600, like
ADE20K photos), encodes the vocabulary once (`errseg embed-text`, so every timed run reuses the
same class embeddings), then times whole `errseg segment --class-embeddings ... --batch b` runs
(model loading included, once per run) and reports the median wall time per image and images/s.
`--compare` times another errseg binary the same way (e.g. a build of an earlier commit) at
--batch 1 without passing --batch, for an A/B of the pipeline itself. Needs only the standard
library. Prints a markdown table.
"""

import argparse
import os
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import zlib

SIZES = [(640, 480), (512, 683), (800, 600)]


def write_png(path, width, height, seed):
    rows = []
    for y in range(height):
        row = bytearray(b"\0")
        for x in range(width):
            row += bytes(((x * 3 + y * 5 + seed * 37) % 256, (x * y // 97 + seed * 11) % 256,
                          (255 - y * 2 + x // 3) % 256))
        rows.append(bytes(row))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
                + chunk(b"IEND", b""))


def timed(cmd):
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--errseg", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--classes", default="ade150")
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--batches", default="1,2,4")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--precision", default="fp32")
    ap.add_argument("--compare", help="another errseg binary, timed without --batch")
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="errseg_throughput_")
    try:
        images = []
        for i in range(args.images):
            w, h = SIZES[i % len(SIZES)]
            path = os.path.join(work, f"img{i:03d}.png")
            write_png(path, w, h, i)
            images.append(path)
        emb = os.path.join(work, "classes.npy")
        subprocess.run([args.errseg, "embed-text", "--model", args.model, "--classes", args.classes, "--out", emb,
                        "--threads", str(args.threads)], check=True, stdout=subprocess.DEVNULL)

        def command(binary, batch):
            cmd = [binary, "segment", "--model", args.model, "--classes", args.classes, "--class-embeddings", emb,
                   "--threads", str(args.threads), "--quiet", "-o", os.path.join(work, "out")]
            if args.device != "cpu" or args.precision != "fp32":
                cmd += ["--device", args.device, "--precision", args.precision]
            if batch is not None:
                cmd += ["--batch", str(batch)]
            return cmd + images

        runs = [(f"errseg --batch {b}", command(args.errseg, int(b))) for b in args.batches.split(",")]
        if args.compare:
            runs.insert(0, (f"{args.compare} (no --batch)", command(args.compare, None)))
        rows = []
        for label, cmd in runs:
            times = [timed(cmd) for _ in range(args.repeats)]
            t = statistics.median(times)
            rows.append((label, t))
            print(f"{label}: {t:.2f} s for {args.images} images ({', '.join(f'{x:.2f}' for x in times)})",
                  file=sys.stderr, flush=True)
        base = rows[0][1]
        print(f"\n{args.images} images ({', '.join(f'{w}x{h}' for w, h in SIZES)}), vocabulary {args.classes}, "
              f"{args.threads} threads, device {args.device} {args.precision}; whole command incl. model load, "
              f"median of {args.repeats}\n")
        print("| run | wall s | s / image | images / s | vs first row |")
        print("|---|---:|---:|---:|---:|")
        for label, t in rows:
            print(f"| {label} | {t:.2f} | {t / args.images:.3f} | {args.images / t:.3f} | {base / t:.2f}x |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
