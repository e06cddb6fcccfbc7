#!/usr/bin/env python3
"""Hostile-input corpus: every case runs the real `errseg` CLI (or the weights converter) on a
hostile file generated here, and must fail cleanly.

    run_hostile.py ERRSEG_BIN TEST_MODELS_DIR WORK_DIR [CASE_NAME_SUBSTRING...]

Each case states the exact exit code and an exact substring of the error. A case passes when:
  * the process ends within its timeout (no hang) with that exit code (no crash: a signal or a
    sanitizer report fails the case);
  * for a failure, stderr is one line (a clear message) containing the substring;
  * it leaves nothing in its output directory beyond what was there before (no partial output);
  * for the pickle cases, the payload did not run (its marker file does not exist).
The hostile files are derived at run time from the converted test model (ctest fixture
test_models); see tests/hostile/README.md for the list and the decisions behind it.
"""
import collections
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib

from output_cases import build_output_cases

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
CONVERTER = os.path.join(REPO, "weights_converter", "convert.py")
SAMPLE = os.path.join(REPO, "tests", "data", "fixtures", "sample_400x300.png")
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
TIMEOUT = 120

Case = collections.namedtuple("Case", "name tool args rc want setup extra_check")


def case(name, args, want, rc=1, tool="cli", setup=None, extra_check=None):
    return Case(name, tool, args, rc, want, setup, extra_check)


# ---------------------------------------------------------------- safetensors helpers

def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n], object_pairs_hook=collections.OrderedDict)
    return header, bytearray(raw[8 + n:])


def write_safetensors(path, header, data, raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + bytes(data))


def png_chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width, height, idat_raw, depth=8, color=2):
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(idat_raw, 9)) + png_chunk(b"IEND", b""))


# ---------------------------------------------------------------- pickle / checkpoint helpers

def torch_zip(path, pickle_bytes, names=None):
    """A PyTorch-style zip checkpoint holding the given data.pkl (and optional extra entries)."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pickle_bytes)
        z.writestr("archive/version", "3\n")
        for name, body in (names or {}).items():
            z.writestr(name, body)


def reduce_pickle(module, name, arg, proto=2):
    """A pickle whose REDUCE would call module.name(arg): GLOBAL (or STACK_GLOBAL) + REDUCE."""
    a = arg.encode()
    if proto >= 4:
        s = lambda t: b"\x8c" + bytes([len(t)]) + t  # SHORT_BINUNICODE
        body = s(module.encode()) + s(name.encode()) + b"\x93" + s(a) + b"\x85R."
        return b"\x80\x04" + body
    return b"\x80\x02c" + module.encode() + b"\n" + name.encode() + b"\n" + b"X" + struct.pack("<I", len(a)) + a + b"\x85R."


# ---------------------------------------------------------------- the cases

def build_cases(bin_path, models, work):
    files = os.path.join(work, "files")
    os.makedirs(files, exist_ok=True)
    tiny = os.path.join(models, "errseg_tiny.safetensors")
    clip = os.path.join(models, "clip_convnext_linear.safetensors")
    header, data = read_safetensors(tiny)
    tensor_names = [k for k in header if k != "__metadata__"]
    head_names = [k for k in tensor_names if k.startswith("head.")]

    def f(name):
        return os.path.join(files, name)

    def variant(name, mutate, raw_header=None):
        h = json.loads(json.dumps(header), object_pairs_hook=collections.OrderedDict)
        d = bytearray(data)
        mutate(h, d)
        write_safetensors(f(name), h, d, raw_header)
        return f(name)

    def raw(name, body):
        with open(f(name), "wb") as out:
            out.write(body)
        return f(name)

    def seg(model, classes="voc20", image=SAMPLE, extra=()):
        return ["segment", "--model", model, "--classes", classes, "--quiet", *extra, image]

    cases = []
    add = cases.append

    # ---- model files (segment) ----
    add(case("model_zero_bytes", seg(raw("zero.safetensors", b"")),
             "file is 0 bytes, shorter than the 8-byte header length"))
    add(case("model_5_bytes", seg(raw("short.safetensors", b"\x10\x00\x00\x00\x00")),
             "file is 5 bytes, shorter than the 8-byte header length"))
    whole = open(tiny, "rb").read()
    add(case("model_truncated", seg(raw("truncated.safetensors", whole[: len(whole) // 2])),
             "are out of range of the"))
    add(case("model_header_len_past_eof",
             seg(raw("hlen_eof.safetensors", struct.pack("<Q", 4096) + b'{"a": 1}')),
             "header length 4096 extends beyond the end of the file (16 bytes)"))
    add(case("model_header_len_2p63", seg(raw("hlen_2p63.safetensors", struct.pack("<Q", 1 << 63) + b"{}      ")),
             "header length 9223372036854775808 exceeds the 100 MB limit"))
    add(case("model_header_not_json",
             seg(raw("notjson.safetensors", struct.pack("<Q", 8) + b"{'a': 1}")), "header is not valid JSON"))
    add(case("model_header_duplicate_key",
             seg(raw("dupkey.safetensors", struct.pack("<Q", 16) + b'{"a": {}, "a":1}')), "duplicate key 'a'"))
    t0, t1 = head_names[0], head_names[1]

    def overlap(h, d):
        h[t1]["data_offsets"] = list(h[t0]["data_offsets"])
        h[t1]["shape"] = list(h[t0]["shape"])
    add(case("model_overlapping_tensors", seg(variant("overlap.safetensors", overlap)), "overlap"))

    def past_end(h, d):
        b, e = h[t0]["data_offsets"]
        h[t0]["data_offsets"] = [len(d) - (e - b) + 4, len(d) + 4]
    add(case("model_offsets_past_end", seg(variant("past_end.safetensors", past_end)),
             f"tensor '{t0}': data_offsets [{len(data) - (header[t0]['data_offsets'][1] - header[t0]['data_offsets'][0]) + 4}, {len(data) + 4}] are out of range"))

    def reversed_offsets(h, d):
        b, e = h[t0]["data_offsets"]
        h[t0]["data_offsets"] = [e, b]
    add(case("model_offsets_reversed", seg(variant("reversed.safetensors", reversed_offsets)), "have begin > end"))

    def offsets_2p64(h, d):
        h[t0]["data_offsets"] = [0, 18446744073709551616]
    add(case("model_offsets_2p64", seg(variant("off2p64.safetensors", offsets_2p64)),
             "data_offsets must be non-negative integers"))

    def unknown_dtype(h, d):
        h[t0]["dtype"] = "F64"
    add(case("model_unknown_dtype", seg(variant("f64.safetensors", unknown_dtype)),
             f"tensor '{t0}': unsupported dtype 'F64'"))

    def shape_mismatch(h, d):
        h[t0]["shape"] = [h[t0]["shape"][0] + 1] + h[t0]["shape"][1:]
    add(case("model_shape_bytes_mismatch", seg(variant("shape_bytes.safetensors", shape_mismatch)),
             f"tensor '{t0}': data_offsets cover"))

    def absurd_shape(h, d):
        h[t0]["shape"] = [1 << 40, 1 << 40]
    add(case("model_absurd_shape", seg(variant("absurd_shape.safetensors", absurd_shape)),
             "is larger than the data section"))

    def unknown_field(h, d):
        h[t0]["exec"] = "rm -rf /"
    add(case("model_unknown_entry_field", seg(variant("field.safetensors", unknown_field)), "unknown field 'exec'"))

    missing = head_names[-1]

    def drop(h, d):
        del h[missing]
    add(case("model_missing_tensor", seg(variant("missing.safetensors", drop)), f"has no tensor '{missing}'"))

    def extra(h, d):
        h["head.unexpected.weight"] = {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}
    # Decision (README): unexpected extra tensors are accepted silently; a model file legitimately
    # holds tensors a verb does not use (segment never reads the CLIP pooling head).
    add(case("model_extra_tensor_accepted", seg(variant("extra.safetensors", extra)), "", rc=0))

    nan_name = head_names[0]

    def nan(h, d):
        b = h[nan_name]["data_offsets"][0]
        d[b + 4:b + 8] = struct.pack("<f", float("nan"))
    add(case("model_nan_weight", seg(variant("nan.safetensors", nan)),
             f"tensor '{nan_name}' in model file"))
    add(case("model_nan_weight_message", seg(f("nan.safetensors")),
             "holds 1 non-finite value (NaN/Inf; first: nan at element 1): the model file is corrupt"))

    inf_name = next(k for k in tensor_names if k.startswith("clip.visual.") and len(header[k]["shape"]) == 4)

    def inf16(h, d):
        # Re-store one conv weight as F16 (appended at the end) with an Inf in it.
        b, e = h[inf_name]["data_offsets"]
        count = (e - b) // 4
        vals = list(struct.unpack(f"<{count}f", bytes(d[b:e])))
        half = bytearray(struct.pack(f"<{count}e", *[max(-60000.0, min(60000.0, v)) for v in vals]))
        half[6:8] = b"\x00\x7c"  # +Inf in F16
        start = len(d)
        d.extend(half)
        h[inf_name]["dtype"] = "F16"
        h[inf_name]["data_offsets"] = [start, start + len(half)]
    add(case("model_inf_weight_f16", seg(variant("inf16.safetensors", inf16)),
             f"tensor '{inf_name}' in model file"))

    reshaped = next(k for k in head_names if len(header[k]["shape"]) == 2 and header[k]["shape"][0] != header[k]["shape"][1])

    def wrong_shape(h, d):
        h[reshaped]["shape"] = h[reshaped]["shape"][::-1]
    add(case("model_wrong_tensor_shape", seg(variant("wrong_shape.safetensors", wrong_shape)),
             f"tensor '{reshaped}' has shape"))

    def int_weight(h, d):
        h[t0]["dtype"] = "I32"
    add(case("model_integer_weight", seg(variant("i32.safetensors", int_weight)),
             "expected a floating-point type (F32, F16 or BF16)"))

    add(case("model_clip_only_for_segment", seg(clip), "model config has architecture 'clip', expected 'errseg'"))
    add(case("model_clip_only_for_embed_classes",
             ["embed-text", "--model", clip, "--classes", "voc20", "--out", "@OUT@/x.safetensors"],
             "expected 'errseg' (is this a plain CLIP model file?)"))

    def no_config(h, d):
        del h["__metadata__"]["errseg.config"]
    add(case("model_without_config", seg(variant("noconfig.safetensors", no_config)),
             "has no 'errseg.config' metadata"))

    def bad_config(h, d):
        h["__metadata__"]["errseg.config"] = "{\"architecture\": \"errseg\","
    add(case("model_config_not_json", seg(variant("badconfig.safetensors", bad_config)),
             "metadata 'errseg.config' is not valid JSON"))

    def bad_crop(h, d):
        c = json.loads(h["__metadata__"]["errseg.config"])
        c["input"]["crop_size"] = 17
        h["__metadata__"]["errseg.config"] = json.dumps(c)
    add(case("model_config_bad_crop_size", seg(variant("badcrop.safetensors", bad_crop)),
             "crop_size must be a positive multiple of 16"))

    def zero_std(h, d):
        c = json.loads(h["__metadata__"]["errseg.config"])
        c["input"]["pixel_std"] = [58.0, 0.0, 57.0]
        h["__metadata__"]["errseg.config"] = json.dumps(c)
    add(case("model_config_zero_pixel_std", seg(variant("zerostd.safetensors", zero_std)),
             "ERR-Seg config: input.pixel_std[1] must be in [0.01, 1000] (0-255 RGB), got 0"))

    def no_merges(h, d):
        del h["__metadata__"]["errseg.bpe_merges"]
    add(case("model_without_bpe_merges", seg(variant("nomerges.safetensors", no_merges)),
             "has no 'errseg.bpe_merges' metadata"))

    def bad_merges(h, d):
        h["__metadata__"]["errseg.bpe_merges"] = "i n\nthis is not a merge line\n"
    add(case("model_bad_bpe_merges", seg(variant("badmerges.safetensors", bad_merges)),
             "BPE merges line 2: expected two symbols separated by a space"))
    add(case("model_is_directory", seg(files), "is not a regular file"))
    add(case("info_header_len_2p63", ["info", "--model", f("hlen_2p63.safetensors")], "exceeds the 100 MB limit"))

    # ---- images ----
    add(case("image_100000x100000", seg(tiny, image=raw("huge.png", png(100000, 100000, b"\x00" * 64))),
             "image is 100000x100000, larger than the limit of 32768 pixels per side and 64 Mpixel"))
    add(case("image_zero_bytes", seg(tiny, image=raw("empty.png", b"")), "image data is empty"))
    # Decompression bomb: ~20 KB of zlib that inflates to 1.2 GB of pixels; refused from IHDR.
    bomb_rows = (b"\x00" + b"\x00" * 3 * 20000) * 20
    add(case("image_png_decompression_bomb", seg(tiny, image=raw("bomb.png", png(20000, 20000, bomb_rows))),
             "image is 20000x20000, larger than the limit of 32768 pixels per side and 64 Mpixel"))
    add(case("image_over_max_pixels", seg(tiny, image=raw("big8k.png", png(8000, 8000, b"\x00" * 64)),
                                          extra=["--max-pixels", "16000000"]),
             "image is 8000x8000 (64000000 pixels), larger than the limit of 16000000 pixels"))
    sample = open(SAMPLE, "rb").read()
    add(case("image_truncated_png", seg(tiny, image=raw("trunc.png", sample[: len(sample) // 3])),
             "truncated or corrupt PNG image (chunk 'IDAT' declares"))
    # 200 bytes whose second IDAT declares 2 GB: stb grew its buffer to that before reading it.
    add(case("image_png_chunk_past_eof",
             seg(tiny, image=os.path.join(REPO, "fuzz", "regressions", "image", "png_idat_length_past_eof_2gb_realloc.png")),
             "truncated or corrupt PNG image (chunk"))
    add(case("image_pgm_16bit", seg(tiny, image=raw("deep.pgm", b"P5\n4 4\n65535\n" + b"\x12\x34" * 16)),
             "16-bit PNM images are not supported"))
    add(case("image_ppm_truncated", seg(tiny, image=raw("short.ppm", b"P6\n64 64\n255\n" + b"\x80" * 100)),
             "truncated PNM image (64x64 needs 12288 bytes of pixels, the file has 100)"))
    add(case("image_pnm_number_overflow", seg(tiny, image=raw("overflow.pgm", b"P5\n99999999999 2\n255\n\x00\x00")),
             "corrupt PNM image (number too long in its header)"))
    add(case("image_jpeg_fill_bytes_bad_huffman",
             seg(tiny, image=os.path.join(REPO, "fuzz", "regressions", "image", "jpeg_fill_bytes_huffman_overflow.jpg")),
             "corrupt JPEG image (invalid Huffman table)"))
    add(case("image_jpeg_undefined_huffman_table",
             seg(tiny, image=os.path.join(REPO, "fuzz", "regressions", "image",
                                          "jpeg_progressive_scan_undefined_huffman_table.jpg")),
             "corrupt JPEG image (scan uses an undefined Huffman table)"))
    add(case("image_jpeg_undefined_quantization_table",
             seg(tiny, image=os.path.join(REPO, "fuzz", "regressions", "image",
                                          "jpeg_scan_undefined_quantization_table.jpg")),
             "corrupt JPEG image (scan uses an undefined quantization table)"))
    flat_jpg = open(os.path.join(REPO, "tests", "data", "io", "flat.jpg"), "rb").read()
    add(case("image_jpeg_truncated", seg(tiny, image=raw("cut.jpg", flat_jpg[: len(flat_jpg) * 6 // 10])),
             "corrupt JPEG image (truncated: the file ends before its end-of-image marker)"))
    # 36 bytes declaring 1815 x 23813 at 1 bit per pixel: stb decoded 43 M black pixels for seconds.
    add(case("image_bmp_truncated",
             seg(tiny, image=os.path.join(REPO, "fuzz", "regressions", "image", "bmp_1bpp_43mpix_in_36_bytes_timeout.bmp")),
             "truncated BMP image (1815x23813 at 1 bits per pixel needs"))
    add(case("image_gif", seg(tiny, image=raw("anim.gif", b"GIF89a" + b"\x00" * 32)), "GIF images are not supported"))
    add(case("image_not_an_image", seg(tiny, image=raw("text.png", b"hello, I am text")), "not a readable image"))
    # A directory is an input folder (its images); one without any image is refused.
    os.makedirs(f("no_images.png"), exist_ok=True)
    raw("no_images.png/readme.txt", b"no image here")
    add(case("image_is_directory_without_images", seg(tiny, image=f("no_images.png")), "no input image found"))

    # ---- vocabularies ----
    add(case("vocab_empty_inline", seg(tiny, classes=""), "the vocabulary is empty"))
    add(case("vocab_empty_file", seg(tiny, classes=raw("empty.txt", b"\n\n  \n")), "the vocabulary is empty"))
    add(case("vocab_empty_json", seg(tiny, classes=raw("empty.json", b"[]")), "the vocabulary is empty"))
    ten_k = raw("10000.txt", "".join(f"class {i}\n" for i in range(10000)).encode())
    add(case("vocab_10000_refused_by_default", seg(tiny, classes=ten_k),
             "the vocabulary has 10000 classes, more than the limit of 4096 (raise it with --max-classes)"))
    add(case("vocab_10000_accepted_when_raised", seg(tiny, classes=ten_k, extra=["--max-classes", "10000"]), "", rc=0,
             extra_check=lambda out: json.load(open(os.path.join(out, "sample_400x300.json")))["num_classes"] == 10000))
    add(case("vocab_memory_estimate_refused", seg(tiny, classes=ten_k, extra=["--max-classes", "10000", "--max-memory", "100"]),
             "a vocabulary of 10000 classes needs an estimated 260 MB, more than the --max-memory limit of 100 MB"))
    add(case("vocab_duplicate_names", seg(tiny, classes="cat,dog,cat"), "duplicate class name 'cat'"))
    add(case("vocab_duplicate_after_trim", seg(tiny, classes=raw("dup.json", b'["sky", " sky "]')),
             "duplicate class name 'sky'"))
    # 3 names of ~240 bytes (under the 256-byte limit), each ~120 tokens: more than the context of 77.
    long_names = ",".join(f"n{i} " + " ".join(chr(97 + j % 26) for j in range(118)) for i in range(3))
    add(case("vocab_names_longer_than_context", seg(tiny, classes=long_names), "", rc=0))
    add(case("vocab_name_over_256_bytes", seg(tiny, classes="cat," + "x" * 300), "class 1 name is 300 bytes long (limit 256)"))
    add(case("vocab_non_utf8", seg(tiny, classes=raw("latin1.txt", b"caf\xe9\nsky\n")), "class 0 name is not valid UTF-8"))
    add(case("vocab_json_not_strings", seg(tiny, classes=raw("ints.json", b"[1, 2]")), "entry 0 is not a string"))
    add(case("vocab_json_broken", seg(tiny, classes=raw("broken.json", b'["a", ')), "is not valid JSON"))
    add(case("vocab_unknown_builtin", seg(tiny, classes="ade151"), "unknown built-in vocabulary 'ade151'"))
    add(case("class_embeddings_bare_npy",
             seg(tiny, extra=["--class-embeddings", raw("emb.npy", npy_f32([3, 32]))]),
             "is a bare .npy array, which does not say which vocabulary and model it was made for"))
    add(case("class_embeddings_garbage", seg(tiny, extra=["--class-embeddings", raw("emb.txt", b"1 2 3")]),
             "is not readable as a class-embeddings file"))

    # Class-embeddings files (embed-text --classes) made for other classes, by another model, or
    # holding a NaN: refused, never used for a confident but wrong label map.
    voc20 = json.load(open(os.path.join(REPO, "data", "classes", "voc20.json")))

    def class_embeddings(name, classes, identity="v1:0000000000000000", poison=None):
        values = [0.125] * (len(classes) * 32)  # the tiny model's embedding width is 32
        if poison is not None:
            values[poison] = float("nan")
        meta = {"errseg.class_embeddings": "1", "errseg.vocabulary": "made-up", "errseg.top_k": "0",
                "errseg.classes": json.dumps(classes), "errseg.model_identity": identity,
                "errseg.model_file": "other.safetensors"}
        h = {"__metadata__": meta, "class_embeddings": {"dtype": "F32", "shape": [len(classes), 32],
                                                        "data_offsets": [0, 4 * len(values)]}}
        write_safetensors(f(name), h, struct.pack(f"<{len(values)}f", *values))
        return f(name)
    add(case("class_embeddings_other_vocabulary",
             seg(tiny, extra=["--class-embeddings", class_embeddings("emb_vocab.safetensors", ["a", "b", "c"])]),
             "was made for vocabulary 'made-up' (3 classes), not for --classes 'voc20' (20 classes)"))
    add(case("class_embeddings_other_model",
             seg(tiny, extra=["--class-embeddings", class_embeddings("emb_model.safetensors", voc20)]),
             "was made by another model (other.safetensors, text tower v1:0000000000000000)"))
    add(case("class_embeddings_nan",
             seg(tiny, extra=["--class-embeddings", class_embeddings("emb_nan.safetensors", voc20, poison=70)]),
             "holds 1 non-finite value (NaN/Inf; first in class 2 'bird')"))

    cases += robustness_cases(tiny, header, data, f, raw, variant, seg)

    # ---- outputs ----
    add(case("outdir_under_regular_file", ["segment", "--model", tiny, "--classes", "voc20", "--quiet", SAMPLE,
                                           "-o", os.path.join(SAMPLE, "sub")],
             "cannot create output directory"))

    def block_json(out):
        os.makedirs(os.path.join(out, "sample_400x300.json", "keep"), exist_ok=True)
    add(case("output_write_fails_leaves_nothing", seg(tiny), "a directory has that name", setup=block_json))
    cases.extend(build_output_cases(case, tiny, SAMPLE, files))

    # ---- tokenizer CLI: a name longer than the context is truncated to it, ending in EOT ----
    add(case("tokenize_truncates_to_context", ["tokenize", "--model", tiny, long_names.split(",")[0]], "", rc=0,
             extra_check=None))

    # ---- the converter: hostile checkpoints ----
    marker = os.path.join(work, "PAYLOAD_RAN")
    conv = lambda path: [path, "@OUT@/model.safetensors"]
    for name, (mod, fn), proto in [("pickle_os_system", ("os", "system"), 2),
                                   ("pickle_posix_system", ("posix", "system"), 2),
                                   ("pickle_builtins_eval", ("builtins", "eval"), 2),
                                   ("pickle_py2_builtin_eval", ("__builtin__", "eval"), 2),
                                   ("pickle_subprocess_popen", ("subprocess", "Popen"), 2),
                                   ("pickle_stack_global_os_system", ("os", "system"), 4)]:
        payload = f"touch {marker}" if fn != "eval" else f"open({marker!r}, 'w')"
        path = f(name + ".pth")
        torch_zip(path, reduce_pickle(mod, fn, payload, proto))
        want_mod = {"__builtin__": "builtins"}.get(mod, mod)
        add(case(name, conv(path), f"refusing to unpickle global '{want_mod}.{fn}'", tool="convert"))
    path = f("zip_slip.pth")
    torch_zip(path, reduce_pickle("os", "system", "true"), {"archive/../../evil.sh": b"echo pwned"})
    add(case("checkpoint_zip_slip", conv(path), "zip entry with an unsafe name 'archive/../../evil.sh' (path traversal)",
             tool="convert"))
    path = f("zip_absolute.pth")
    torch_zip(path, b"\x80\x02}q\x00.", {"/etc/cron.d/evil": b"* * * * * root true"})
    add(case("checkpoint_absolute_zip_name", conv(path), "zip entry with an unsafe name '/etc/cron.d/evil'", tool="convert"))
    add(case("checkpoint_legacy_pickle", conv(raw("legacy.pt", reduce_pickle("os", "system", f"touch {marker}"))),
             "legacy (pre-1.6, non-zip) torch.save format is not supported", tool="convert"))
    # A 12-byte pickle whose LONG_BINPUT index is 2**31-1: CPython's C unpickler would size its
    # memo to it (16 GB); ours keeps a dict memo, so this is "holds no tensors". The 4 GB
    # address-space limit the converter runs under here turns a regression into a clean
    # MemoryError refusal rather than an OOM kill.
    path = f("huge_memo.pth")
    torch_zip(path, b"\x80\x02}r\xff\xff\xff\x7f.")
    add(case("pickle_huge_memo_index", conv(path), ("malformed pickle: MemoryError", "holds no tensors"),
             tool="convert"))
    # A central directory whose "version needed to extract" is 25.5: zipfile refuses it with
    # NotImplementedError, which must come out as a ConvertError, not an internal error.
    path = f("zip_version.pth")
    torch_zip(path, b"\x80\x02}q\x00.")
    blob = bytearray(open(path, "rb").read())
    central = blob.index(b"PK\x01\x02")
    blob[central + 6:central + 8] = struct.pack("<H", 255)
    add(case("checkpoint_zip_unknown_version", conv(raw("zip_version.pth", bytes(blob))),
             "not a valid zip archive (truncated or corrupted?): zip file version 25.5", tool="convert"))
    # A deflated data.pkl whose compressed stream is overwritten with garbage.
    path = f("zip_bad_deflate.pth")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00(" + b"X\x01\x00\x00\x00a" * 200 + b"u.")
    blob = bytearray(open(path, "rb").read())
    start = 30 + len("archive/data.pkl")
    blob[start:start + 8] = b"\xff" * 8
    add(case("checkpoint_zip_corrupt_deflate", conv(raw("zip_bad_deflate.pth", bytes(blob))),
             "cannot read zip entry 'archive/data.pkl' (truncated or corrupted archive?)", tool="convert"))
    add(case("checkpoint_empty", conv(raw("empty.pth", b"")), "empty file", tool="convert"))
    add(case("checkpoint_truncated_zip", conv(raw("trunc.pth", open(f("pickle_os_system.pth"), "rb").read()[:60])),
             "not a valid zip archive", tool="convert"))
    return cases, marker


def robustness_cases(tiny, header, data, f, raw, variant, seg):
    """Issue 11 classes 1, 2, 6, 7, 8: non-regular and unbounded inputs, silent wrong outputs,
    text hygiene, errors that name the cause (tests/hostile/README.md)."""
    cases = []
    add = cases.append
    config = json.loads(header["__metadata__"]["errseg.config"])
    embed_dim = config["clip"]["embed_dim"]

    def fifo(name):
        path = f(name)
        if os.path.lexists(path):
            os.remove(path)
        os.mkfifo(path)
        return path

    def loop(name):
        a, b = f(name + "_a"), f(name + "_b")
        for p in (a, b):
            if os.path.lexists(p):
                os.remove(p)
        os.symlink(b, a)
        os.symlink(a, b)
        return a

    def with_config(name, change):
        def mutate(h, d):
            c = json.loads(h["__metadata__"]["errseg.config"])
            change(c)
            h["__metadata__"]["errseg.config"] = json.dumps(c)
        return variant(name, mutate)

    # ---- class 2: FIFOs, devices, loops and oversized files never block or eat memory ----
    add(case("fifo_as_image", seg(tiny, image=fifo("fifo_image.png")),
             "is not a regular file (it is a FIFO / named pipe)"))
    add(case("fifo_as_model", seg(fifo("fifo_model.safetensors")), "is not a regular file (it is a FIFO / named pipe)"))
    add(case("fifo_as_class_list", seg(tiny, classes=fifo("fifo_classes.txt")),
             "cannot read class list file: '" + f("fifo_classes.txt") + "' is not a regular file (it is a FIFO"))
    add(case("fifo_as_class_embeddings", seg(tiny, extra=["--class-embeddings", fifo("fifo_emb.npy")]),
             "is not a regular file (it is a FIFO / named pipe)"))
    add(case("char_device_as_class_list", seg(tiny, classes="/dev/zero"),
             "'/dev/zero' is not a regular file (it is a character device)"))
    add(case("fifo_as_eval_classes", ["eval", "--classes", f("fifo_classes.txt"), "--labels", f("."), "--predictions", f(".")],
             "it is a FIFO / named pipe"))
    add(case("fifo_as_checkpoint", [fifo("fifo_checkpoint.pth"), "@OUT@/model.safetensors"],
             "is not a regular file (it is a FIFO / named pipe)", tool="convert"))
    big = f("huge_classes.txt")
    with open(big, "wb") as out:
        out.truncate(40 << 20)  # sparse: 40 MB of zeros that take no disk
    add(case("class_list_over_cap", seg(tiny, classes=big), "is larger than the limit of 33554432 bytes"))

    # ---- class 6: results that would be silently wrong ----
    add(case("label_png_over_65536_classes", seg(tiny, extra=["--max-classes", "70000"]),
             "--max-classes 70000 is more than segment supports: its label PNGs hold 16-bit class indices"))

    def extreme(h, d):  # finite weights whose products overflow float32 in the last up-decoder
        b, e = h["head.up_decoder3.up_conv.weight"]["data_offsets"]
        count = (e - b) // 4
        d[b:e] = struct.pack(f"<{count}f", *([3e38] * count))
    add(case("extreme_weights_non_finite_logits", seg(variant("extreme.safetensors", extreme)),
             "the decoder's output (logits) for this image holds"))
    add(case("config_pixel_mean_1e308",
             seg(with_config("mean1e308.safetensors", lambda c: c["input"].update(pixel_mean=[1e308, 116.28, 103.53]))),
             "ERR-Seg config: input.pixel_mean[0] = 1e+308 is out of range"))
    add(case("config_pixel_std_tiny",
             seg(with_config("std_tiny.safetensors", lambda c: c["input"].update(pixel_std=[58.0, 1e-20, 57.0]))),
             "ERR-Seg config: input.pixel_std[1] must be in [0.01, 1000]"))
    add(case("config_negative_ln_eps",
             seg(with_config("ln_eps.safetensors", lambda c: c["clip"]["text"].update(ln_eps=-1.0))),
             "CLIP config: text.ln_eps must be in (0, 1], got -1"))
    add(case("config_crop_size_too_small",
             seg(with_config("crop16.safetensors", lambda c: c["input"].update(crop_size=16))),
             "crop_size 16 is too small for the network: the image encoder's deepest stage has stride 32"))

    # ---- class 7: text hygiene ----
    latin1_image = os.path.join(os.fsencode(f("")), b"caf\xe9.png")
    shutil.copyfile(SAMPLE, latin1_image)

    def json_valid_with_replacement(out):
        with open(os.path.join(os.fsencode(out), b"caf\xe9.json"), "rb") as fh:
            summary = json.loads(fh.read().decode("utf-8"))  # strict UTF-8, then strict JSON
        return summary["image"].endswith("caf\ufffd.png")
    add(case("non_utf8_file_name_valid_json", seg(tiny, image=os.fsdecode(latin1_image)), "", rc=0,
             extra_check=json_valid_with_replacement))

    def first_class(name):
        def check(out):
            summary = json.load(open(os.path.join(out, "sample_400x300.json")))
            names = {e["name"] for e in summary["classes_present"] + summary["selected_classes"]}
            return name in names and not any(n.startswith("\ufeff") for n in names)
        return check
    add(case("class_list_bom_stripped", seg(tiny, classes=raw("bom.txt", b"\xef\xbb\xbfcat\ndog\n"),
                                            extra=["--top-k", "2"]), "", rc=0, extra_check=first_class("cat")))
    add(case("class_list_json_object", seg(tiny, classes=raw("obj.json", b'{"classes": ["a", "b"]}')),
             "is a JSON object, expected a JSON array of strings"))
    add(case("class_list_json_bare_string", seg(tiny, classes=raw("str.txt", b'"cat"\n')),
             "is a JSON string, expected a JSON array of strings"))

    def inline_json(out):
        summary = json.load(open(os.path.join(out, "sample_400x300.json")))
        return summary["num_classes"] == 2 and {e["name"] for e in summary["selected_classes"]} == {"a, b", "c"}
    add(case("inline_json_array_not_split", seg(tiny, classes='["a, b", "c"]'), "", rc=0, extra_check=inline_json))

    # ---- class 8: errors that name the cause ----
    add(case("threads_overflow", seg(tiny, extra=["--threads", "99999999999999999999"]),
             "--threads value '99999999999999999999' overflows: it must be in [1, 1024]"))
    add(case("threads_zero", seg(tiny, extra=["--threads", "0"]), "--threads must be in [1, 1024], got 0"))
    add(case("max_pixels_not_a_number", seg(tiny, extra=["--max-pixels", "12abc"]),
             "--max-pixels expects an integer, got '12abc'"))
    add(case("symlink_loop_as_model", seg(loop("model_loop")),
             "Too many levels of symbolic links (a symbolic link loop"))
    add(case("symlink_loop_as_image", seg(tiny, image=loop("image_loop")),
             "Too many levels of symbolic links (a symbolic link loop"))
    add(case("symlink_loop_as_class_list", seg(tiny, classes=loop("classes_loop")),
             "cannot read class list file: cannot open"))
    labels, preds = f("eval_labels"), f("eval_preds")
    for d in (labels, preds):
        os.makedirs(d, exist_ok=True)
    gray = lambda value: png(4, 2, (b"\x00" + bytes([value]) * 4) * 2, depth=8, color=0)
    with open(os.path.join(labels, "x.png"), "wb") as out:
        out.write(gray(1))
    with open(os.path.join(preds, "x_labels.png"), "wb") as out:
        out.write(gray(200))
    add(case("eval_prediction_out_of_range",
             ["eval", "--classes", "voc20", "--labels", labels, "--predictions", preds],
             f"', prediction '{os.path.join(preds, 'x_labels.png')}': predicted label 200 at pixel 0 is outside [0, 20)"))
    return cases


def npy_f32(shape):
    hdr = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % ", ".join(map(str, shape))
    hdr += " " * (-(10 + len(hdr) + 1) % 64) + "\n"
    count = 1
    for s in shape:
        count *= s
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(hdr)) + hdr.encode() + b"\x00" * (4 * count)


# ---------------------------------------------------------------- running

def listing(d):
    out = set()
    for root, dirs, names in os.walk(d):
        for n in dirs + names:
            out.add(os.path.relpath(os.path.join(root, n), d))
    return out


def run_case(c, bin_path, work, marker):
    out = os.path.join(work, "out", c.name)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    if c.setup:
        c.setup(out)
    before = listing(out)
    args = [a.replace("@OUT@", out) for a in c.args]
    if c.tool == "cli":
        argv = [bin_path, *args]
        if args[0] == "segment":
            argv += ["-o", out] if "-o" not in args else []
    else:
        argv = [PYTHON, CONVERTER, *args]
    def limit_memory():  # the converter cases: a hostile pickle must not take the machine down
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))
    try:
        p = subprocess.run(argv, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL,
                           preexec_fn=limit_memory if c.tool == "convert" else None)
    except subprocess.TimeoutExpired:
        return f"timed out after {TIMEOUT} s"
    err = p.stderr.decode("utf-8", "replace")
    problems = []
    if p.returncode < 0:
        problems.append(f"killed by signal {-p.returncode}")
    elif p.returncode != c.rc:
        problems.append(f"exit code {p.returncode}, expected {c.rc}")
    if "Sanitizer" in err or "runtime error:" in err:
        problems.append("sanitizer report")
    if c.rc != 0:
        lines = [l for l in err.splitlines() if l.strip()]
        if len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr, expected one error line")
        wants = c.want if isinstance(c.want, tuple) else (c.want,)
        if not any(w in err for w in wants):
            problems.append(f"expected {' or '.join(map(repr, wants))} in stderr")
        left = listing(out) - before
        if left:
            problems.append(f"partial output left: {sorted(left)}")
    elif c.extra_check and not c.extra_check(out):
        problems.append("output check failed")
    if os.path.exists(marker):
        problems.append("PICKLE PAYLOAD RAN")
        os.remove(marker)
    if problems:
        return "; ".join(problems) + f"\n      command: {' '.join(argv)}\n      stderr: {err.strip()[:600]}"
    return None


def check_tokenize_truncation(bin_path, tiny, text):
    p = subprocess.run([bin_path, "tokenize", "--model", tiny, text], capture_output=True, timeout=TIMEOUT)
    ids = [int(x) for x in p.stdout.split()]
    return len(ids) == 77 and ids[-1] == 49407 and ids[0] == 49406 and 0 not in ids


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    bin_path, models, work = (os.path.abspath(a) for a in sys.argv[1:4])
    only = sys.argv[4:]
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    cases, marker = build_cases(bin_path, models, work)
    names = [c.name for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    failed = 0
    ran = 0
    for c in cases:
        if only and not any(o in c.name for o in only):
            continue
        ran += 1
        problem = run_case(c, bin_path, work, marker)
        if c.name == "tokenize_truncates_to_context" and problem is None:
            text = c.args[-1]
            if not check_tokenize_truncation(bin_path, c.args[2], text):
                problem = "tokenize did not truncate to 77 ids ending in <end_of_text>"
        print(f"{'ok  ' if problem is None else 'FAIL'} {c.name}" + ("" if problem is None else f": {problem}"))
        failed += problem is not None
    print(f"{ran - failed} passed, {failed} failed ({ran} hostile cases)")
    if failed == 0:
        shutil.rmtree(os.path.join(work, "files"), ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
