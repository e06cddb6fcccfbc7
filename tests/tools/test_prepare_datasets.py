"""tools/prepare_datasets.py on small synthetic dataset folders: the label mappings of the
authors' preparation scripts, computed by hand here, and the output layout `errseg eval
--dataset` reads. Run by ctest (python_prepare_datasets) with pytest."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SRC = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(SRC / "tools"))
import prepare_datasets as pd  # noqa: E402


def png(path, array, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)


def read(path):
    with Image.open(path) as im:
        return im.mode, np.array(im)


def run(*args):
    return subprocess.run([sys.executable, str(SRC / "tools" / "prepare_datasets.py"), *args],
                          capture_output=True, text=True)


# ---------------------------------------------------------------- ADE20K-150

def test_ade150_shifts_labels_and_ignores_unlabelled(tmp_path):
    raw = np.array([[0, 1, 2], [150, 149, 0]], np.uint8)
    png(tmp_path / "ADEChallengeData2016/annotations/validation/ADE_val_00000001.png", raw)
    assert run("ade150", "--root", str(tmp_path)).returncode == 0
    mode, out = read(tmp_path / "ADEChallengeData2016/annotations_detectron2/validation/ADE_val_00000001.png")
    assert mode == "L"
    assert out.tolist() == [[255, 0, 1], [149, 148, 255]]
    assert not list((tmp_path / "ADEChallengeData2016/annotations_detectron2/validation").glob(".*tmp*"))


def test_missing_input_is_a_clear_error(tmp_path):
    r = run("ade150", "--root", str(tmp_path))
    assert r.returncode == 1
    assert "missing ADE20K-150 annotations" in r.stderr and "ADEChallengeData2016" in r.stderr


# ---------------------------------------------------------------- ADE20K-847

def seg_png_for(object_ids):
    """An ADE20K *_seg.png whose R/G encode `object_ids` (R = id // 256 * 10, G = id % 256)."""
    rgb = np.zeros(object_ids.shape + (3,), np.uint8)
    rgb[..., 0] = (object_ids // 256) * 10 + 3  # +3: the division by 10 truncates
    rgb[..., 1] = object_ids % 256
    return rgb


def test_ade847_object_ids_table_matches_the_vocabulary():
    ids = pd.ade847_object_ids()
    assert len(ids) == 847 and ids[0] == 2978 and ids[1] == 312  # wall, building
    assert len(json.load(open(SRC / "data/classes/ade847.json"))) == 847


def test_ade847_maps_object_ids_and_resizes_like_upstream(tmp_path):
    cv2 = pytest.importorskip("cv2")
    ids = pd.ade847_object_ids()
    base = tmp_path / "ADE20K_2021_17_01/images/ADE/validation/a/b"
    # Small image (not resized): exact mapping, unknown object id 7 -> 65535.
    small = np.array([[2978, 312, 7], [ids[846], 0, 2978]], np.int64)
    png(base / "ADE_val_00000001_seg.png", seg_png_for(small))
    png(base / "ADE_val_00000001.jpg", np.full((2, 3, 3), 100, np.uint8))
    # 600x800 image: the short side becomes 512 -> 512x683 (round(800 / 600 * 512)).
    big = np.full((600, 800), 312, np.int64)
    big[:, 400:] = 2978
    rng = np.random.default_rng(0)
    png(base / "ADE_val_00000002_seg.png", seg_png_for(big))
    png(base / "ADE_val_00000002.jpg", rng.integers(0, 256, (600, 800, 3), dtype=np.uint8))
    # A training image is not touched.
    png(base / "ADE_train_00000001.jpg", np.zeros((4, 4, 3), np.uint8))
    assert run("ade847", "--root", str(tmp_path)).returncode == 0

    out = tmp_path / "ADE20K_2021_17_01"
    mode, lab = read(out / "annotations_detectron2/validation/ADE_val_00000001.png")
    assert mode.startswith("I")  # 16-bit grey
    assert lab.tolist() == [[0, 1, 65535], [846, 65535, 0]]
    _, lab2 = read(out / "annotations_detectron2/validation/ADE_val_00000002.png")
    assert lab2.shape == (512, 683)
    expected = cv2.resize(big.astype(np.int32), (683, 512), interpolation=cv2.INTER_NEAREST)
    assert (lab2 == np.where(expected == 2978, 0, 1)).all()
    with Image.open(out / "images_detectron2/validation/ADE_val_00000002.jpg") as im:
        assert im.size == (683, 512) and im.format == "JPEG"
    assert not (out / "images_detectron2/validation/ADE_train_00000001.jpg").exists()


def test_ade847_resize_rule():
    assert pd.ade847_size(600, 800) == (512, 683)
    assert pd.ade847_size(800, 600) == (683, 512)
    assert pd.ade847_size(512, 900) is None  # short side not above 512
    assert pd.ade847_size(300, 2000) is None


# ---------------------------------------------------------------- Pascal Context 59

def test_coco_rle_strings_decoded_by_hand():
    # Each run below 16 is one character (value + 48); from the 4th run on, the stored value is
    # the difference to the run two before. Runs 3, 2, 4, 1: "3", "2", "4", 1 - 2 = -1 -> 0x1F ('O').
    assert pd.coco_rle_counts("324O") == [3, 2, 4, 1]
    # 40 = 0b1_01000: first chunk 8 | 0x20 (more) -> 'X', then 1 -> '1'.
    assert pd.coco_rle_counts("X1") == [40]
    assert pd.coco_rle_counts([5, 5]) == [5, 5]
    mask = pd.coco_rle_decode({"size": [2, 3], "counts": "114"})  # column-major: 0, 1, then 4 zeros
    assert mask.tolist() == [[0, 0, 0], [1, 0, 0]]
    with pytest.raises(pd.PrepareError):
        pd.coco_rle_decode({"size": [2, 3], "counts": [1, 1]})


def test_pc59_ids_are_the_59_classes_in_the_459_list():
    pc459 = json.load(open(SRC / "data/classes/pc459.json"))
    pc59 = json.load(open(SRC / "data/classes/pc59.json"))
    names = [pc459[i - 1] for i in pd.PC59_CONTEXT_IDS]  # labels.txt ids are 1-based
    assert len(names) == 59 and list(pd.PC59_CONTEXT_IDS) == sorted(pd.PC59_CONTEXT_IDS)
    assert names == [n if n != "diningtable" else "table" for n in pc59]


def test_pc59_from_merged_json(tmp_path):
    base = tmp_path / "VOCdevkit/VOC2010"
    base.mkdir(parents=True)
    # 2x3 image: segment 1 (aeroplane, id 2) covers column 0; segment 2 (unknown id 1 =
    # accordion, not in PC-59) covers row 1, painting over; the rest stays 0 (unlabelled).
    seg1 = {"size": [2, 3], "counts": [0, 2, 4]}
    seg2 = {"size": [2, 3], "counts": [1, 1, 1, 1, 1, 1]}
    wood = {"size": [2, 3], "counts": [5, 1]}  # id 458 (wood) at the bottom-right
    data = {"images": [{"image_id": 1, "file_name": "2008_000001.jpg", "height": 2, "width": 3, "phase": "val"},
                       {"image_id": 2, "file_name": "2008_000002.jpg", "height": 2, "width": 3, "phase": "train"}],
            "annos_segmentation": [{"image_id": 1, "category_id": 2, "segmentation": seg1},
                                   {"image_id": 1, "category_id": 1, "segmentation": seg2},
                                   {"image_id": 1, "category_id": 458, "segmentation": wood},
                                   {"image_id": 2, "category_id": 2, "segmentation": seg1}]}
    (base / "trainval_merged.json").write_text(json.dumps(data))
    assert run("pc59", "--root", str(tmp_path)).returncode == 0
    out = base / "annotations_detectron2/pc59_val"
    assert sorted(p.name for p in out.iterdir()) == ["2008_000001.png"]
    _, lab = read(out / "2008_000001.png")
    assert lab.tolist() == [[0, 255, 255], [255, 255, 58]]


# ---------------------------------------------------------------- Pascal Context 459

def test_pc459_from_mat_files(tmp_path):
    scipy_io = pytest.importorskip("scipy.io")
    base = tmp_path / "VOCdevkit/VOC2010"
    (base / "trainval").mkdir(parents=True)
    label_map = np.array([[1, 2, 459], [300, 1, 1]], np.uint16)
    scipy_io.savemat(base / "trainval/2008_000001.mat", {"LabelMap": label_map}, do_compression=True)
    (base / "pascalcontext_val.txt").write_text("2008_000001\n2008_000002\n")  # the second has no .mat
    r = run("pc459", "--root", str(tmp_path))
    assert r.returncode == 0, r.stderr
    mode, lab = read(base / "annotations_detectron2/pc459_val/2008_000001.png")
    assert mode.startswith("I") and lab.tolist() == [[0, 1, 458], [299, 0, 0]]
    assert not (base / "annotations_detectron2/pc459_val/2008_000002.png").exists()


def test_pc459_refuses_unlabelled_pixels():
    with pytest.raises(pd.PrepareError):
        pd.pc459_labels(np.array([[0, 1]], np.uint16))


# ---------------------------------------------------------------- Pascal VOC 20 (and 20b)

def test_voc20_and_background_variant(tmp_path):
    base = tmp_path / "VOCdevkit/VOC2012"
    (base / "ImageSets/Segmentation").mkdir(parents=True)
    (base / "ImageSets/Segmentation/val.txt").write_text("2007_000001\n2007_000002\n")
    png(base / "SegmentationClassAug/2007_000001.png", np.array([[0, 1, 20], [255, 7, 21]], np.uint8))
    png(base / "SegmentationClassAug/2007_000002.png", np.array([[0, 0], [255, 0]], np.uint8))  # background only
    assert run("voc20", "--root", str(tmp_path)).returncode == 0
    _, voc20 = read(base / "annotations_detectron2/val/2007_000001.png")
    _, voc20b = read(base / "annotations_detectron2_bg/val/2007_000001.png")
    assert voc20.tolist() == [[255, 0, 19], [255, 6, 255]]
    assert voc20b.tolist() == [[20, 0, 19], [255, 6, 255]]
    # Nothing labelled in voc20 terms: no file (as upstream); in voc20b the background counts.
    assert not (base / "annotations_detectron2/val/2007_000002.png").exists()
    _, bg2 = read(base / "annotations_detectron2_bg/val/2007_000002.png")
    assert bg2.tolist() == [[20, 20], [255, 20]]


def test_voc20_palette_labels_are_indices(tmp_path):
    # The original SegmentationClass PNGs are palette images: their indices are the classes.
    p = Image.fromarray(np.array([[0, 15]], np.uint8), mode="P")
    p.putpalette([0, 0, 0, 128, 0, 0] * 128)
    assert pd.voc_labels(np.array(p), background=False).tolist() == [[255, 14]]


# ---------------------------------------------------------------- TIFF -> PNG

def test_tif_to_png_keeps_16_bit_values(tmp_path):
    labels = np.array([[0, 458, 65535]], np.uint16)
    Image.fromarray(labels).save(tmp_path / "a.tif")
    assert run("tif-to-png", str(tmp_path)).returncode == 0
    mode, back = read(tmp_path / "a.png")
    assert mode.startswith("I") and back.tolist() == labels.tolist()
