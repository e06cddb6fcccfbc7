#!/usr/bin/env python3
"""Prepares the evaluation splits of the five ERR-Seg benchmarks from their public downloads,
with the label mappings of the authors' preparation scripts (ERR-Seg / CAT-Seg
``datasets/prepare_*.py``), into the folder layout ``errseg eval --dataset NAME --root ROOT``
reads (docs/EVALUATION.md). Ground truth is written as PNG (8-bit, or 16-bit for ADE-847 and
PC-459, where upstream writes 16-bit TIFF); every file is written atomically.

  prepare_datasets.py ade150 --root ROOT   ADEChallengeData2016/annotations/validation/*.png
  prepare_datasets.py ade847 --root ROOT   ADE20K_2021_17_01/images/ADE/validation/**/ADE_val_*.jpg
                                           (+ *_seg.png); images are resized and re-encoded too
  prepare_datasets.py pc59   --root ROOT   VOCdevkit/VOC2010/trainval_merged.json
  prepare_datasets.py pc459  --root ROOT   VOCdevkit/VOC2010/trainval/*.mat + pascalcontext_val.txt
  prepare_datasets.py voc20  --root ROOT   VOCdevkit/VOC2012/SegmentationClassAug/*.png + val.txt
                                           (writes both voc20 and voc20b ground truth)
  prepare_datasets.py tif-to-png DIR       16-bit TIFF labels of upstream's scripts -> PNG

Needs numpy and PIL; ade847 also OpenCV (cv2, the resize upstream uses) and pc459 SciPy (the
.mat reader upstream uses).
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

TOOLS = Path(__file__).resolve().parent


class PrepareError(Exception):
    """A missing input or a label file that breaks the preparation's assumptions."""


# ---------------------------------------------------------------- helpers

def save_atomic(image, path, fmt, **options):
    """PIL image -> path, through a temporary file in the same folder and a rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        image.save(tmp, format=fmt, **options)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_labels(labels, path):
    """uint8 -> 8-bit grey PNG, uint16 -> 16-bit grey PNG."""
    if labels.dtype == np.uint8:
        save_atomic(Image.fromarray(labels, mode="L"), path, "PNG")
    elif labels.dtype == np.uint16:
        save_atomic(Image.fromarray(labels.astype("<u2"), mode="I;16"), path, "PNG")
    else:
        raise PrepareError(f"{path}: labels of dtype {labels.dtype} (expected uint8 or uint16)")


def read_array(path):
    with Image.open(path) as im:
        return np.array(im)


def require(path, what):
    if not Path(path).exists():
        raise PrepareError(f"missing {what}: {path} (see docs/EVALUATION.md for the downloads)")
    return Path(path)


def lookup_table(mapping, default, size, dtype):
    """Array t with t[k] = mapping[k] for the listed keys and `default` elsewhere."""
    table = np.full(size, default, dtype=dtype)
    for k, v in mapping.items():
        table[k] = v
    return table


def progress(i, n, name):
    if sys.stderr.isatty() and (i % 50 == 0 or i == n):
        print(f"\r{name}: {i}/{n}", end="\n" if i == n else "", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- ADE20K-150

def ade150_labels(raw):
    """ADEChallenge annotation (0 = unlabelled, 1..150) -> 0..149, 255 = ignore."""
    if raw.dtype != np.uint8 or raw.ndim != 2:
        raise PrepareError(f"expected an 8-bit single-channel annotation, got {raw.dtype} {raw.shape}")
    return (raw - np.uint8(1)).astype(np.uint8)  # uint8 wrap-around: 0 -> 255


def prepare_ade150(root):
    base = Path(root) / "ADEChallengeData2016"
    src = require(base / "annotations" / "validation", "ADE20K-150 annotations")
    dst = base / "annotations_detectron2" / "validation"
    dst.mkdir(parents=True, exist_ok=True)
    files = sorted(src.glob("*.png"))
    for i, f in enumerate(files, 1):
        save_labels(ade150_labels(read_array(f)), dst / f.name)
        progress(i, len(files), "ade150")
    return len(files)


# ---------------------------------------------------------------- ADE20K-847

def ade847_object_ids():
    """ADE20K-2021 object id of each ADE-847 class (index = class index)."""
    with open(TOOLS / "data" / "ade847_object_ids.json") as f:
        ids = json.load(f)["ade20k_object_id_of_class"]
    if len(ids) != 847 or len(set(ids)) != 847:
        raise PrepareError("tools/data/ade847_object_ids.json must list 847 distinct ids")
    return ids


def ade847_object_mask(seg_rgb):
    """ADE20K *_seg.png -> per-pixel object class id: (R / 10) * 256 + G."""
    if seg_rgb.ndim != 3 or seg_rgb.shape[2] < 3:
        raise PrepareError(f"expected an RGB segmentation image, got shape {seg_rgb.shape}")
    r = seg_rgb[:, :, 0].astype(np.int32)
    g = seg_rgb[:, :, 1].astype(np.int32)
    return (r // 10) * 256 + g


def ade847_labels(object_mask, ids):
    """Object class ids -> class index 0..846 (uint16), 65535 for objects outside the 847."""
    table = lookup_table({obj: cls for cls, obj in enumerate(ids)}, 65535,
                         max(int(object_mask.max()), max(ids)) + 1, np.uint16)
    return table[object_mask]


def ade847_size(h, w, max_size=512):
    """Upstream's resize rule: the short side becomes 512 if it is longer (None: no resize)."""
    if w >= h > max_size:
        return max_size, round(w / float(h) * max_size)
    if h >= w > max_size:
        return round(h / float(w) * max_size), max_size
    return None


def prepare_ade847(root):
    import cv2  # the resize upstream uses; bilinear for images, nearest for labels

    base = Path(root) / "ADE20K_2021_17_01"
    src = require(base / "images" / "ADE" / "validation", "ADE20K-2021 validation images")
    img_dst = base / "images_detectron2" / "validation"
    lab_dst = base / "annotations_detectron2" / "validation"
    img_dst.mkdir(parents=True, exist_ok=True)
    lab_dst.mkdir(parents=True, exist_ok=True)
    ids = ade847_object_ids()
    # Upstream walks index_ade20k.pkl and keeps names "ADE_val_*"; walking the folder finds the
    # same files without unpickling a downloaded file.
    files = sorted(p for p in src.rglob("ADE_val_*.jpg"))
    for i, f in enumerate(files, 1):
        img = read_array(f)
        lab = ade847_object_mask(read_array(require(f.with_name(f.stem + "_seg.png"), "segmentation")))
        size = ade847_size(img.shape[0], img.shape[1])
        if size is not None:
            img = cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
            lab = cv2.resize(lab, (size[1], size[0]), interpolation=cv2.INTER_NEAREST)
        save_atomic(Image.fromarray(img), img_dst / f.name, "JPEG")  # PIL's default quality, as upstream
        save_labels(ade847_labels(lab, ids), lab_dst / (f.stem + ".png"))
        progress(i, len(files), "ade847")
    return len(files)


# ---------------------------------------------------------------- Pascal Context 59

# Pascal Context ids (labels.txt, 1-based) of the 59 classes, ascending; class index = rank.
PC59_CONTEXT_IDS = (2, 9, 18, 19, 22, 23, 25, 31, 33, 34, 44, 45, 46, 59, 65, 68, 72, 80, 85, 98, 104,
                    105, 113, 115, 144, 158, 159, 162, 187, 189, 207, 220, 232, 258, 259, 260, 284, 295,
                    296, 308, 324, 326, 347, 349, 354, 355, 360, 366, 368, 397, 415, 416, 420, 424, 427,
                    440, 445, 454, 458)


def coco_rle_counts(counts):
    """COCO RLE counts: a list of ints, or the compressed string (6-bit chunks, 5 data bits,
    0x20 = more, 0x10 = sign of the last chunk; from the third count on, a delta to the count
    two before)."""
    if isinstance(counts, list):
        return [int(c) for c in counts]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    out, pos = [], 0
    while pos < len(counts):
        value, shift, more = 0, 0, True
        while more:
            if pos >= len(counts):
                raise PrepareError("truncated RLE string")
            c = ord(counts[pos]) - 48
            value |= (c & 0x1F) << (5 * shift)
            more = bool(c & 0x20)
            pos += 1
            shift += 1
            if not more and (c & 0x10):
                value |= -1 << (5 * shift)
        if len(out) > 2:
            value += out[-2]
        out.append(value)
    return out


def coco_rle_decode(rle):
    """{'size': [h, w], 'counts': ...} -> uint8 mask (column-major runs, starting with zeros)."""
    h, w = (int(v) for v in rle["size"])
    counts = coco_rle_counts(rle["counts"])
    if any(c < 0 for c in counts) or sum(counts) != h * w:
        raise PrepareError(f"RLE runs sum to {sum(counts)} for a {h}x{w} mask")
    values = np.zeros(len(counts), np.uint8)
    values[1::2] = 1
    return np.repeat(values, counts).reshape(w, h).T


def pc59_labels(context_mask):
    """Pascal Context ids (0 = unlabelled) -> 0..58, 255 for everything else."""
    table = lookup_table({cid: i for i, cid in enumerate(PC59_CONTEXT_IDS)}, 255,
                         max(int(context_mask.max()), 459) + 1, np.uint8)
    return table[context_mask]


def prepare_pc59(root):
    base = Path(root) / "VOCdevkit" / "VOC2010"
    with open(require(base / "trainval_merged.json", "Pascal Context annotations")) as f:
        data = json.load(f)
    dst = base / "annotations_detectron2" / "pc59_val"
    dst.mkdir(parents=True, exist_ok=True)
    images = {d["image_id"]: d for d in data["images"] if d["phase"] == "val"}
    segments = {}
    for ann in data["annos_segmentation"]:  # in file order: later segments paint over earlier ones
        if ann["image_id"] in images:
            segments.setdefault(ann["image_id"], []).append(ann)
    written = 0
    for i, (image_id, info) in enumerate(images.items(), 1):
        if image_id not in segments:
            raise PrepareError(f"Pascal Context image {info['file_name']} has no segmentation")
        mask = np.zeros((info["height"], info["width"]), np.int64)
        for ann in segments[image_id]:
            mask[coco_rle_decode(ann["segmentation"]) != 0] = ann["category_id"]
        save_labels(pc59_labels(mask), dst / info["file_name"].replace("jpg", "png"))
        written += 1
        progress(i, len(images), "pc59")
    return written


# ---------------------------------------------------------------- Pascal Context 459

def pc459_labels(label_map):
    """The .mat LabelMap (1..459) -> 0..458 as uint16."""
    labels = np.asarray(label_map).astype(np.int64) - 1
    if labels.size and (labels.min() < 0 or labels.max() > 65535):
        raise PrepareError(f"LabelMap values outside 1..65536 (min {labels.min() + 1})")
    return labels.astype(np.uint16)


def prepare_pc459(root, val_list=None):
    import scipy.io  # the .mat reader upstream uses

    base = Path(root) / "VOCdevkit" / "VOC2010"
    listing = require(Path(val_list) if val_list else base / "pascalcontext_val.txt",
                      "validation list (pascalcontext_val.txt of the ERR-Seg / CAT-Seg repository)")
    dst = base / "annotations_detectron2" / "pc459_val"
    dst.mkdir(parents=True, exist_ok=True)
    ids = [line.strip() for line in open(listing) if line.strip()]
    written = 0
    for i, image_id in enumerate(ids, 1):
        mat = base / "trainval" / f"{image_id}.mat"
        if mat.exists():  # upstream skips listed images without a .mat
            save_labels(pc459_labels(scipy.io.loadmat(mat)["LabelMap"]), dst / f"{image_id}.png")
            written += 1
        progress(i, len(ids), "pc459")
    return written


# ---------------------------------------------------------------- Pascal VOC 20

def voc_labels(raw, background):
    """VOC class ids (0 background, 1..20, 255 boundary) -> 0..19; background -> 255 (voc20)
    or 20 (voc20b); other values -> 255."""
    mapping = {c: c - 1 for c in range(1, 21)}
    mapping[0] = 20 if background else 255
    return lookup_table(mapping, 255, 256, np.uint8)[raw.astype(np.int64)]


def prepare_voc20(root, labels_dir="SegmentationClassAug"):
    base = Path(root) / "VOCdevkit" / "VOC2012"
    listing = require(base / "ImageSets" / "Segmentation" / "val.txt", "VOC 2012 val list")
    src = require(base / labels_dir, "VOC 2012 segmentation labels")
    outs = {False: base / "annotations_detectron2" / "val", True: base / "annotations_detectron2_bg" / "val"}
    for d in outs.values():
        d.mkdir(parents=True, exist_ok=True)
    ids = [line.strip() for line in open(listing) if line.strip()]
    written = 0
    for i, image_id in enumerate(ids, 1):
        raw = read_array(require(src / f"{image_id}.png", "VOC label"))
        for background, d in outs.items():
            labels = voc_labels(raw, background)
            if (labels == 255).all():  # upstream writes no file for an image without labels
                continue
            save_labels(labels, d / f"{image_id}.png")
            written += 1
        progress(i, len(ids), "voc20")
    return written


# ---------------------------------------------------------------- upstream TIFF -> PNG

def tif_to_png(folder):
    """Converts upstream's 16-bit TIFF labels (ADE-847, PC-459) in `folder` to PNG."""
    files = sorted(Path(folder).glob("*.tif"))
    if not files:
        raise PrepareError(f"no .tif files in {folder}")
    for f in files:
        labels = read_array(f)
        if labels.dtype not in (np.uint8, np.uint16) or labels.ndim != 2:
            raise PrepareError(f"{f}: expected 8/16-bit single-channel labels, got {labels.dtype} {labels.shape}")
        save_labels(labels, f.with_suffix(".png"))
    return len(files)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset", choices=["ade150", "ade847", "pc59", "pc459", "voc20", "tif-to-png"])
    parser.add_argument("folder", nargs="?", help="tif-to-png: the folder of .tif labels")
    parser.add_argument("--root", help="dataset root (DETECTRON2_DATASETS layout)")
    parser.add_argument("--val-list", help="pc459: validation id list (default ROOT/VOCdevkit/VOC2010/pascalcontext_val.txt)")
    parser.add_argument("--voc-labels", default="SegmentationClassAug",
                        help="voc20: label folder under VOC2012 (default SegmentationClassAug, as upstream)")
    args = parser.parse_args(argv)
    try:
        if args.dataset == "tif-to-png":
            if not args.folder:
                parser.error("tif-to-png needs the folder of .tif labels")
            n = tif_to_png(args.folder)
        else:
            if not args.root:
                parser.error(f"{args.dataset} needs --root")
            if args.dataset == "ade150":
                n = prepare_ade150(args.root)
            elif args.dataset == "ade847":
                n = prepare_ade847(args.root)
            elif args.dataset == "pc59":
                n = prepare_pc59(args.root)
            elif args.dataset == "pc459":
                n = prepare_pc459(args.root, args.val_list)
            else:
                n = prepare_voc20(args.root, args.voc_labels)
    except (PrepareError, OSError, KeyError, ValueError) as e:
        print(f"prepare_datasets {args.dataset}: error: {e}", file=sys.stderr)
        return 1
    except ImportError as e:
        print(f"prepare_datasets {args.dataset}: error: {e} (ade847 needs OpenCV, pc459 SciPy: "
              "scripts/install_deps.sh installs them)", file=sys.stderr)
        return 1
    print(f"{args.dataset}: wrote {n} label files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
