#!/usr/bin/env python3
"""Python package vs the CLI on the same images: per-image time of `errseg segment`, of
ErrSeg.segment + write_label_png in one Python process, the binding's own overhead (wall time of
a segment call minus the library's timings["total"], for a path and for an array), and Ray Data (errseg.ray_segment) on a
local Ray with --cpus CPUs.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_vs_cli.py --cli build/errseg \\
        --model build/test_models/errseg_tiny.safetensors [--images 40] [--cpus 2] [--no-ray]

Images: copies of the two fixture photos (400x300, 257x385), alternating. Prints one line per
measurement; the CLI's per-image figure is (T(N images) - T(1 image)) / (N - 1), so model loading
and class encoding are left out of both sides.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import errseg

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "data", "fixtures")


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cli", required=True)
    p.add_argument("--model", required=True)
    p.add_argument("--classes", default="ade150")
    p.add_argument("--images", type=int, default=40)
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--no-ray", action="store_true")
    a = p.parse_args()

    work = tempfile.mkdtemp(prefix="errseg-bench-")
    sources = [os.path.join(FIXTURES, "sample_400x300.png"), os.path.join(FIXTURES, "sample_257x385.png")]
    images = []
    for i in range(a.images):
        images.append(os.path.join(work, "in", f"img{i:03d}.png"))
        os.makedirs(os.path.dirname(images[-1]), exist_ok=True)
        shutil.copy(sources[i % 2], images[-1])

    def cli(paths, out):
        subprocess.run([a.cli, "segment", "--model", a.model, "--classes", a.classes, "--threads", str(a.cpus),
                        "--quiet", *paths, "-o", os.path.join(work, out)], check=True, stdout=subprocess.DEVNULL)

    t1 = timed(lambda: cli(images[:1], "cli1"))
    tn = timed(lambda: cli(images, "clin"))
    cli_per_image = (tn - t1) / (len(images) - 1)
    print(f"CLI ({a.cpus} threads): {len(images)} images in {tn:.2f} s, 1 image in {t1:.2f} s -> "
          f"{1000 * cli_per_image:.1f} ms per image, {1 / cli_per_image:.1f} images/s")

    model = errseg.ErrSeg(a.model, threads=a.cpus)
    classes = model.encode_classes(a.classes)
    out = os.path.join(work, "py")
    os.makedirs(out)
    overhead = []

    def python_run():
        for path in images:
            t = time.perf_counter()
            r = model.segment(path, classes)
            overhead.append(1000 * (time.perf_counter() - t) - r.timings["total"])
            name = os.path.splitext(os.path.basename(path))[0] + "_labels.png"
            errseg.write_label_png(os.path.join(out, name), r.labels, len(classes))

    python_run()  # warm-up (allocator caches, page faults), as the CLI's first image
    overhead.clear()
    tp = timed(python_run)
    same = all(open(os.path.join(out, n), "rb").read() == open(os.path.join(work, "clin", n), "rb").read()
               for n in os.listdir(out))
    print(f"Python ({a.cpus} threads): {1000 * tp / len(images):.1f} ms per image "
          f"({100 * (tp / len(images) / cli_per_image - 1):+.1f} % vs CLI), {len(images) / tp:.1f} images/s; "
          f"segment() call minus library total: median {statistics.median(overhead):.2f} ms "
          f"(decoding the file included); label PNGs identical to the CLI's: {same}")

    arrays = [errseg.load_image(p) for p in images[:2]]
    array_overhead = []
    for k in range(len(images)):
        t = time.perf_counter()
        r = model.segment(arrays[k % 2], classes)
        array_overhead.append(1000 * (time.perf_counter() - t) - r.timings["total"])
    print(f"Python, array input: segment() call minus library total: median {statistics.median(array_overhead):.2f} ms "
          f"(argument checks, one copy of the pixels, GIL release, result object)")

    if a.no_ray:
        return
    import ray
    import errseg.ray_segment as rs
    t_init = timed(lambda: ray.init(num_cpus=a.cpus, include_dashboard=False, log_to_driver=False))
    ray_out = os.path.join(work, "ray")
    tr = timed(lambda: rs.segment_images(images, a.model, a.classes, ray_out, actors=a.cpus, threads_per_actor=1))
    same = all(open(rs.labels_path(ray_out, i), "rb").read() == open(rs.labels_path(os.path.join(work, "clin"), i), "rb").read()
               for i in images)
    print(f"Ray Data ({a.cpus} actors x 1 thread, local): {len(images)} images in {tr:.2f} s "
          f"(+ {t_init:.1f} s ray.init) -> {len(images) / tr:.1f} images/s vs CLI {len(images) / tn:.1f} images/s "
          f"end to end ({1 / cli_per_image:.1f} steady); identical to the CLI: {same}")
    ray.shutdown()
    shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
