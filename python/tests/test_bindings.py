"""The Python module against the CLI on the converted fixture model: labels, label PNGs, logits,
CLIP embeddings and token ids bit-identical; bad arrays raise errseg.Error; threads agree."""
import os
import threading

import numpy as np
import pytest

import errseg
from conftest import IMAGES, run_cli

VOCAB12 = "wall,floor,ceiling,bed,window,cabinet,person,door,table,chair,lamp,plant"
MANY = ",".join(f"thing{i}" for i in range(300))  # > 255 classes: 16-bit label PNG


@pytest.fixture(scope="module")
def model(model_path):
    return errseg.ErrSeg(model_path, threads=2)


@pytest.mark.parametrize("vocab", ["ade150", VOCAB12, MANY])
def test_segment_matches_cli(cli, model, model_path, tmp_path, vocab):
    run_cli(cli, "segment", "--model", model_path, "--classes", vocab, "--save-logits", "--quiet",
            *IMAGES, "-o", tmp_path / "cli")
    classes = model.encode_classes(vocab)
    for image in IMAGES:
        stem = os.path.splitext(os.path.basename(image))[0]
        for given in (image, errseg.load_image(image)):  # a path, and an array
            r = model.segment(given, classes)
            cli_logits = np.load(tmp_path / "cli" / f"{stem}_logits.npy")
            assert r.logits.dtype == np.float32 and r.logits.shape == cli_logits.shape
            assert np.array_equal(r.logits, cli_logits)
            assert r.labels.dtype == np.int32 and r.labels.shape == errseg.load_image(image).shape[:2]
            ours = tmp_path / f"{stem}_labels.png"
            errseg.write_label_png(ours, r.labels, len(classes))
            assert ours.read_bytes() == (tmp_path / "cli" / f"{stem}_labels.png").read_bytes()
            assert r.selected == sorted(r.selected) and set(np.unique(r.labels)) <= set(r.selected)
            assert r.timings["total"] > 0


def test_segment_batch_and_vocabulary_forms(model):
    names = VOCAB12.split(",")
    by_list = model.segment(IMAGES[0], names)
    by_text = model.segment(IMAGES[0], VOCAB12)
    assert np.array_equal(by_list.labels, by_text.labels)
    batch = model.segment_batch(IMAGES, model.encode_classes(names))
    assert len(batch) == 2 and np.array_equal(batch[0].labels, by_list.labels)
    assert np.array_equal(batch[1].labels, model.segment(IMAGES[1], names).labels)
    probs = model.segment(IMAGES[0], names, keep_probs=True).probs
    assert probs.shape == (12, 300, 400) and model.segment(IMAGES[0], names).probs is None


def test_results_own_their_memory(model):
    labels = model.segment(IMAGES[0], "cat,dog").labels  # the result object is gone
    assert labels.base is not None and labels.shape == (300, 400) and labels.max() <= 1


def _bad_arrays():
    good = np.zeros((20, 30, 3), np.uint8)
    return {
        "float32": good.astype(np.float32),
        "int64": good.astype(np.int64),
        "2 dims": good[:, :, 0].copy(),
        "4 dims": good[None],
        "4 channels": np.zeros((20, 30, 4), np.uint8),
        "1 channel": np.zeros((20, 30, 1), np.uint8),
        "strided view": good[:, ::2],
        "transposed": good.transpose(1, 0, 2),
        "channel-planar": np.zeros((3, 20, 30), np.uint8).transpose(1, 2, 0),
        "empty rows": np.zeros((0, 30, 3), np.uint8),
        "empty cols": np.zeros((20, 0, 3), np.uint8),
        "list": [[[0, 0, 0]]],
        "None": None,
        "object array": np.empty((2, 2, 3), object),
    }


@pytest.mark.parametrize("case", sorted(_bad_arrays()))
def test_bad_array_raises(model, case):
    with pytest.raises(errseg.Error):
        model.segment(_bad_arrays()[case], "cat,dog")


def test_library_errors_raise_with_message(model, model_path, tmp_path):
    with pytest.raises(errseg.Error, match="cannot open"):
        errseg.ErrSeg(str(tmp_path / "missing.safetensors"))
    with pytest.raises(errseg.Error, match="unknown built-in vocabulary 'ade151'"):
        model.encode_classes("ade151")
    with pytest.raises(errseg.Error, match="duplicate class name"):
        model.encode_classes(["cat", "dog", "cat"])
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(errseg.Error, match="not a readable image"):
        model.segment(tmp_path / "bad.png", "cat,dog")
    with pytest.raises(errseg.Error, match="class index"):
        errseg.write_label_png(tmp_path / "x.png", np.full((2, 2), 5, np.int32), 3)
    with pytest.raises(errseg.Error, match="not one path"):
        model.segment_batch(IMAGES[0], "cat,dog")
    with pytest.raises(errseg.Error, match="list of images"):
        model.segment_batch(None, "cat,dog")
    with pytest.raises(errseg.Error, match="no images"):
        model.segment_batch([], "cat,dog")


def test_two_threads_give_the_serial_results(model):
    classes = model.encode_classes("ade150")
    images = [errseg.load_image(p) for p in IMAGES]
    serial = [model.segment(i, classes) for i in images]
    got = {}

    def work(k):
        got[k] = [model.segment(images[k], classes) for _ in range(3)]

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(2):
        for r in got[k]:
            assert np.array_equal(r.labels, serial[k].labels) and np.array_equal(r.logits, serial[k].logits)


@pytest.mark.parametrize("name", ["errseg_tiny", "clip_vit_openai"])
def test_clip_image_embeddings_match_cli(cli, models_dir, tmp_path, name):
    path = os.path.join(models_dir, name + ".safetensors")
    clip = errseg.Clip(path, threads=2)
    run_cli(cli, "embed-image", "--model", path, "--out", tmp_path / "i.npy", "--quiet", *IMAGES)
    assert np.array_equal(clip.embed_image(list(IMAGES)), np.load(tmp_path / "i.npy"))
    one = clip.embed_image(errseg.load_image(IMAGES[1], exif=False), normalize=True)
    assert one.shape[0] == 1 and abs(np.linalg.norm(one) - 1) < 1e-5


def test_clip_text_and_classify_match_cli(cli, model_path, tmp_path):
    clip = errseg.Clip(model_path, threads=2)  # an ERR-Seg file carries a whole CLIP
    texts = ["a photo of a cat", "a diagram"]
    run_cli(cli, "embed-text", "--model", model_path, "--out", tmp_path / "t.npy", *texts)
    assert np.array_equal(clip.embed_text(texts), np.load(tmp_path / "t.npy"))
    top = clip.classify(IMAGES[0], ["cat", "dog", "car"], top=3)
    assert len(top) == 3 and abs(sum(p for _, p in top) - 1) < 1e-5
    lines = run_cli(cli, "classify", "--model", model_path, "--labels", "cat,dog,car", "--top", "3", "--quiet",
                    IMAGES[0]).splitlines()
    cli_top = [(line.split("%")[1].strip(), float(line.split("%")[0])) for line in lines[1:]]
    assert [n for n, _ in cli_top] == [n for n, _ in top]
    assert all(abs(p_cli - 100 * p) < 0.006 for (_, p_cli), (_, p) in zip(cli_top, top))


def test_tokenize_matches_cli(cli, model_path, model):
    texts = ["a photo of a cat", "Straße, café!"]
    cli_ids = [list(map(int, line.split())) for line in run_cli(cli, "tokenize", "--model", model_path, *texts).splitlines()]
    assert model.tokenize(texts).tolist() == cli_ids
    assert errseg.tokenize(texts).tolist() == cli_ids  # the packaged standard CLIP vocabulary


def test_class_embeddings_are_read_only(model):
    emb = model.encode_classes("cat,dog").embeddings
    assert emb.shape == (2, model.embed_dim) and not emb.flags.writeable
    with pytest.raises(ValueError):
        emb[0, 0] = 1


def test_thread_count_checked(model_path):
    with pytest.raises(errseg.Error, match="threads"):
        errseg.ErrSeg(model_path, threads=0)
    errseg.set_num_threads(2)
    assert errseg.get_num_threads() == 2


def test_cpu_isa():
    # The kernels' path: the best this CPU has unless ERRSEG_ISA lowers it.
    assert errseg.cpu_isa() in ("sse2", "avx2", "avx512")
    forced = os.environ.get("ERRSEG_ISA")
    if forced:
        assert errseg.cpu_isa() == forced
    else:
        flags = open("/proc/cpuinfo").read().split()
        want = "sse2"
        if "avx2" in flags and "fma" in flags:
            want = "avx2"
            if all(f in flags for f in ("avx512f", "avx512bw", "avx512dq", "avx512vl")):
                want = "avx512"
        assert errseg.cpu_isa() == want


def test_device_and_precision_checked(model_path, models_dir):
    # The run-time device front: fp16 needs the GPU, bf16 on the CPU a CPU with AVX512-BF16; a bad
    # device name is refused; a CUDA device is refused by a build without the CUDA backend, or by
    # one without a usable GPU.
    with pytest.raises(errseg.Error, match="needs --device cuda"):
        errseg.ErrSeg(model_path, precision="fp16")
    cpu_has_bf16 = (not os.environ.get("ERRSEG_NO_CPU_BF16") and os.path.exists("/proc/cpuinfo")
                    and "avx512_bf16" in open("/proc/cpuinfo").read().split())
    if cpu_has_bf16:
        assert errseg.ErrSeg(model_path, precision="bf16").embed_dim > 0
    else:
        with pytest.raises(errseg.Error, match="--precision bf16 on the CPU"):
            errseg.ErrSeg(model_path, precision="bf16")
    with pytest.raises(errseg.Error, match="device"):
        errseg.ErrSeg(model_path, device="tpu")
    with pytest.raises(errseg.Error, match="--device cuda"):
        errseg.ErrSeg(model_path, device="cuda")
    with pytest.raises(errseg.Error, match="--device cuda"):
        errseg.Clip(os.path.join(models_dir, "clip_convnext_linear.safetensors"), device="cuda")
    assert errseg.ErrSeg(model_path, device="cpu", precision="fp32").embed_dim > 0
