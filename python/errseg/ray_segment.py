"""Segment large image sets on a Ray cluster (Ray Data), resumably.

    import errseg.ray_segment as rs
    summary = rs.segment_images("photos/", "errseg_b.safetensors", "ade150", "out/")

or from a shell: ``python3 -m errseg.ray_segment --model M --classes ade150 -o out/ photos/``.

Every image gets ``OUT/<name>_labels.png``, byte for byte what ``errseg segment`` writes, and a
line in ``OUT/manifest.jsonl`` (image, labels file, size, classes present, CRM's classes,
timings, error). Images are decoded by the library, as the CLI does (not by Ray's PIL reader),
and each Ray actor loads the model once. Each actor appends an image's line to its own file in
``OUT/manifest.parts/`` right after writing its PNG; the driver merges them into
``OUT/manifest.jsonl`` (one line per image) at the end, and at the start of a re-run. A re-run
after an interruption (even a kill) does only what is missing: an image counts as done when it
has an error-free line *and* its label PNG exists (PNGs are written atomically, so an existing
one is complete).

On a multi-node cluster, install errseg on every node, put the images, the model and OUT on a
filesystem every node mounts at the same path, and run the same call on the head node (it joins
the running cluster; ``address=`` / RAY_ADDRESS to name one): Ray Data spreads the actors over
the nodes.
"""

import argparse
import json
import os
import sys
import uuid
from typing import Dict, Iterable, List, Optional, Sequence, Union

import numpy as np

import errseg

MANIFEST = "manifest.jsonl"
PARTS = "manifest.parts"  # each actor's lines while a run goes on
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm", ".tga", ".gif")


def list_images(sources: Union[str, os.PathLike, Iterable[Union[str, os.PathLike]]]) -> List[str]:
    """Image paths from folders (their image files, sorted), list files (``@list.txt``: one path
    a line) and image paths, in the order given."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    images: List[str] = []
    for source in map(os.fspath, sources):
        if source.startswith("@"):
            with open(source[1:], encoding="utf-8") as f:
                images += [line.strip() for line in f if line.strip()]
        elif os.path.isdir(source):
            images += sorted(os.path.join(source, n) for n in os.listdir(source)
                             if n.lower().endswith(IMAGE_EXTENSIONS))
        else:
            images.append(source)
    return images


def labels_path(out_dir: str, image: str) -> str:
    """Where the CLI and this module put an image's label map."""
    return os.path.join(out_dir, os.path.splitext(os.path.basename(image))[0] + "_labels.png")


def _check_unique_outputs(images: Sequence[str]) -> None:
    seen: Dict[str, str] = {}
    for image in images:
        stem = os.path.splitext(os.path.basename(image))[0]
        if stem in seen and seen[stem] != image:
            raise errseg.Error(f"'{seen[stem]}' and '{image}' would both write {stem}_labels.png: "
                               "give images distinct file names (or run them into different folders)")
        seen[stem] = image


def _read_entries(out_dir: str) -> Dict[str, dict]:
    """Manifest entries by image: OUT/manifest.jsonl, then the per-actor parts an interrupted run
    left in OUT/manifest.parts/ (later entries win). A line cut short by a kill is skipped."""
    paths = [os.path.join(out_dir, MANIFEST)]
    parts = os.path.join(out_dir, PARTS)
    if os.path.isdir(parts):
        paths += sorted((os.path.join(parts, n) for n in os.listdir(parts)), key=os.path.getmtime)
    entries: Dict[str, dict] = {}
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # the last line of a file whose writer was killed
                entries[entry["image"]] = entry
    return entries


def _finished(out_dir: str, entry: Optional[dict]) -> bool:
    return bool(entry) and not entry["error"] and os.path.exists(labels_path(out_dir, entry["image"]))


def done_images(out_dir: str, images: Sequence[str]) -> List[str]:
    """The images a previous run finished: an error-free manifest entry and the label PNG."""
    entries = _read_entries(out_dir)
    return [i for i in images if _finished(out_dir, entries.get(i))]


def _consolidate_manifest(out_dir: str, images: Sequence[str]) -> None:
    """Rewrites OUT/manifest.jsonl atomically with one line per image that has an entry (a
    finished one, or the error of its last try), in input order, and removes the parts."""
    entries = _read_entries(out_dir)
    path = os.path.join(out_dir, MANIFEST)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for image in images:
            entry = entries.get(image)
            if entry and (entry["error"] or _finished(out_dir, entry)):
                f.write(json.dumps(entry) + "\n")
    os.replace(path + ".tmp", path)
    parts = os.path.join(out_dir, PARTS)
    if os.path.isdir(parts):
        for name in os.listdir(parts):
            os.remove(os.path.join(parts, name))
        os.rmdir(parts)


class SegmentBatch:
    """The Ray Data callable class: one per actor, so the model is loaded once per actor."""

    def __init__(self, model: str, classes: Union[str, List[str]], out_dir: str, threads: int = 1,
                 batch: int = 1, **segment_options):
        self.model = errseg.ErrSeg(model, threads=threads)
        self.classes = self.model.encode_classes(classes)
        self.out_dir = out_dir
        self.batch = batch
        self.options = segment_options
        os.makedirs(os.path.join(out_dir, PARTS), exist_ok=True)
        # One file per actor (no two writers share one); a line goes in after the image's PNG.
        self.part = open(os.path.join(out_dir, PARTS, f"{uuid.uuid4().hex}.jsonl"), "a", encoding="utf-8")

    def _record(self, row: dict) -> dict:
        entry = dict(row)
        for key in ("classes_present", "selected", "timings_ms"):
            entry[key] = json.loads(entry[key])
        self.part.write(json.dumps(entry) + "\n")
        self.part.flush()
        return row

    def _row(self, image: str, result) -> dict:
        names = self.classes.names
        out = labels_path(self.out_dir, image)
        errseg.write_label_png(out, result.labels, len(names))
        counts = np.bincount(result.labels.ravel(), minlength=len(names))
        present = [{"index": int(c), "name": names[c], "pixel_fraction": float(counts[c] / result.labels.size)}
                   for c in sorted(np.flatnonzero(counts), key=lambda c: (-counts[c], c))]
        return {"image": image, "labels": out, "width": int(result.labels.shape[1]),
                "height": int(result.labels.shape[0]), "classes_present": json.dumps(present),
                "selected": json.dumps([names[c] for c in result.selected]),
                "timings_ms": json.dumps(result.timings), "error": ""}

    def _failed(self, image: str, error: Exception) -> dict:
        return {"image": image, "labels": "", "width": 0, "height": 0, "classes_present": "[]",
                "selected": "[]", "timings_ms": "{}", "error": str(error)}

    def __call__(self, batch: Dict[str, np.ndarray]) -> Dict[str, list]:
        images = [str(i) for i in batch["image"]]
        rows = []
        for start in range(0, len(images), self.batch):
            group = images[start:start + self.batch]
            try:
                results = self.model.segment_batch(group, self.classes, **self.options)
            except errseg.Error:
                results = None  # find out which image failed: one at a time
            for k, image in enumerate(group):
                try:
                    result = results[k] if results else self.model.segment(image, self.classes, **self.options)
                    rows.append(self._record(self._row(image, result)))
                except errseg.Error as e:
                    rows.append(self._record(self._failed(image, e)))
        return {key: [row[key] for row in rows] for key in rows[0]}


def segment_images(images, model: str, classes: Union[str, List[str]], out_dir: str, *,
                   actors: Optional[int] = None, threads_per_actor: int = 1, batch: int = 1,
                   rows_per_task: int = 4, address: Optional[str] = None, progress: bool = False,
                   **segment_options) -> Dict[str, int]:
    """Segments `images` (see list_images) into `out_dir` with `actors` Ray actors of
    `threads_per_actor` CPU threads each (default: one per CPU of the cluster). Images already
    done (done_images) are skipped. Returns counts: total, skipped, written, failed."""
    import ray

    images = list_images(images)
    _check_unique_outputs(images)
    os.makedirs(out_dir, exist_ok=True)
    _consolidate_manifest(out_dir, images)  # takes in what an interrupted run recorded
    finished = set(done_images(out_dir, images))
    todo = [i for i in images if i not in finished]
    summary = {"total": len(images), "skipped": len(finished), "written": 0, "failed": 0}
    if not todo:
        return summary
    if not ray.is_initialized():
        ray.init(address=address)
    ray.data.DataContext.get_current().enable_progress_bars = progress
    if actors is None:
        actors = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads_per_actor)
    blocks = min(len(todo), max(actors, -(-len(todo) // rows_per_task)))  # every actor gets work
    dataset = ray.data.from_items([{"image": i} for i in todo], override_num_blocks=blocks)
    dataset = dataset.map_batches(
        SegmentBatch, batch_size=rows_per_task, concurrency=actors, num_cpus=threads_per_actor,
        fn_constructor_kwargs=dict(model=model, classes=classes, out_dir=out_dir, threads=threads_per_actor,
                                   batch=batch, **segment_options))
    for row in dataset.iter_rows():  # the rows only count here: the actors keep the records
        summary["failed" if row["error"] else "written"] += 1
        if row["error"]:
            print(f"errseg.ray_segment: error: {row['image']}: {row['error']}", file=sys.stderr)
    _consolidate_manifest(out_dir, images)
    return summary


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m errseg.ray_segment", description=__doc__.split("\n\n")[0])
    p.add_argument("images", nargs="+", help="images, folders, or @list.txt files")
    p.add_argument("--model", required=True, help="converted ERR-Seg model (.safetensors)")
    p.add_argument("--classes", required=True, help="ade150|..., a file, or \"a,b,c\"")
    p.add_argument("-o", "--out-dir", required=True)
    p.add_argument("--address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)")
    p.add_argument("--actors", type=int, help="model replicas (default: cluster CPUs / threads per actor)")
    p.add_argument("--threads-per-actor", type=int, default=1)
    p.add_argument("--batch", type=int, default=1, help="images per image-encoder pass")
    p.add_argument("--ignore-exif", action="store_true")
    p.add_argument("--upstream-resize", action="store_true")
    a = p.parse_args(argv)
    try:
        s = segment_images(a.images, a.model, a.classes, a.out_dir, actors=a.actors,
                           threads_per_actor=a.threads_per_actor, batch=a.batch, address=a.address,
                           progress=sys.stderr.isatty(), exif=not a.ignore_exif,
                           upstream_resize=a.upstream_resize)
    except errseg.Error as e:
        print(f"errseg.ray_segment: error: {e}", file=sys.stderr)
        return 1
    print(f"{s['total']} images: {s['written']} written, {s['skipped']} already done, {s['failed']} failed")
    return 1 if s["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
