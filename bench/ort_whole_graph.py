#!/usr/bin/env python3
"""ERR-Seg as ONE static ONNX graph (uint8 image + cached class embeddings → logits and labels),
run by ONNX Runtime: export, correctness check against PyTorch eager, timing, agreement with
`errseg segment`. bench/run_cpu_bench.py calls it (`--whole-graph`, and in its full run); it also
runs alone:

    /usr/bin/python3 bench/ort_whole_graph.py export --checkpoint X.pth --config X.config.json \\
        --image IMG --classes ade150 --k 32 --dir OUT [--threads 2]
    /usr/bin/python3 bench/ort_whole_graph.py time --dir OUT [--threads 2 --warmup 1 --repeats 3]
    /usr/bin/python3 bench/ort_whole_graph.py cli --dir OUT --errseg build/errseg --model X.safetensors

What the graph is: bench/pytorch/errseg_torch.py (the upstream-equivalent PyTorch ERR-Seg) traced
with torch.onnx.export (opset 17) from `preprocess` (uint8 H×W×3 → normalised, resized to the
crop) through the dense image tower, the whole head and `postprocess` (sigmoid, bilinear to the
image size, argmax). The image size, T and K are fixed at export (one graph per vocabulary and
image size). CRM's selection stays inside the graph: its class weights are counted with an
equality-against-every-class sum (ONNX has no bincount; the counts are the same integers) and
the K classes are taken with ONNX TopK, whose ties go to the lower class index — so the eager
reference of the check uses `tie_break="index"`, and `errseg segment` runs with
`--crm-ties lower-index`. Class embeddings are a graph input (computed once by the PyTorch text
tower, as ours are cached per vocabulary).

Files in --dir: `whole_graph.onnx`, `inputs.npz` (image, class_embeddings), `outputs.npz` (ORT's
logits and labels from the check), `export.json`, `time.json`, `cli.json`.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "pytorch"))

OPSET = 17
MAX_REL_ERR = 1e-4   # ORT vs PyTorch eager on the kept classes' logits: fp32 rounding only


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def save_npz(path, **arrays):
    import numpy as np
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def ort_session(path, threads):
    """The session every ORT figure uses: CPU provider, all graph optimisations, `threads` intra-op
    threads, sequential execution (as bench/run_cpu_bench.py's tower runs)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def compare(logits, labels, ref_logits, ref_labels):
    """Agreement of a run with a reference: the classes CRM kept (logits −100 elsewhere), max error
    on the kept classes relative to their largest |logit|, label agreement."""
    import numpy as np
    kept = np.flatnonzero((logits > -100).any(axis=(1, 2)))
    ref_kept = np.flatnonzero((ref_logits > -100).any(axis=(1, 2)))
    out = {"K": int(ref_kept.size), "selected_equal": bool(np.array_equal(kept, ref_kept)),
           "label_agreement": float((labels == ref_labels).mean())}
    if out["selected_equal"]:
        diff = np.abs(logits[kept].astype(np.float64) - ref_logits[kept])
        scale = float(np.abs(ref_logits[kept]).max())
        out["max_abs_err"] = float(diff.max())
        out["max_rel_err"] = float(diff.max() / scale) if scale else float(diff.max())
        # How flat the logits are across classes says how many labels rounding may flip (random
        # weights give nearly equal logits): the reference's top-2 gap per position, and the share
        # of positions whose gap is within twice the largest difference found.
        if kept.size > 1:
            top2 = np.sort(ref_logits[kept], axis=0)[-2:]
            gap = top2[1] - top2[0]
            out["top2_gap_median"] = float(np.median(gap))
            out["near_tie_fraction"] = float((gap <= 2 * out["max_abs_err"]).mean())
    else:
        out["selected_only_here"] = sorted(set(kept.tolist()) - set(ref_kept.tolist()))
        out["selected_only_in_reference"] = sorted(set(ref_kept.tolist()) - set(kept.tolist()))
    return out


# ----------------------------------------------------------------------------------------------
# export (torch)

def whole_graph_module(model, image_hw, tie_break="topk"):
    """nn.Module: (uint8 H×W×3 image, T×1×E class embeddings) → (1×T×H4×W4 logits, H×W labels)."""
    import torch

    class WholeGraph(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, image, class_embeddings):
            x = self.model.preprocess_chw(image.permute(2, 0, 1))
            logits, _ = self.model.decode(self.model.encode_image(x), class_embeddings, tie_break)
            _, labels = self.model.postprocess(logits, image_hw, image_hw)
            return logits, labels

    return WholeGraph().eval()


def cmd_export(a):
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    import numpy as np
    import torch
    from errseg_torch import ERRSeg, class_list, load_config, read_image

    torch.set_num_threads(a.threads)
    os.makedirs(a.dir, exist_ok=True)
    cfg = load_config(a.config)
    if a.k is not None:
        cfg["head"]["sample_classes_num"] = a.k
    model = ERRSeg(cfg)
    model.load_checkpoint(a.checkpoint)
    model.eval()
    image_np = read_image(a.image)
    image = torch.from_numpy(image_np)
    hw = tuple(image_np.shape[:2])
    classes = class_list(a.classes)
    with torch.inference_mode():
        text = model.encode_text(classes)
    save_npz(os.path.join(a.dir, "inputs.npz"), image=image_np, class_embeddings=text.numpy())

    path = os.path.join(a.dir, "whole_graph.onnx")
    t0 = time.perf_counter()
    import warnings
    with torch.no_grad(), warnings.catch_warnings():
        # tracing warns about every Python int taken from a shape: static here by design
        warnings.simplefilter("ignore")
        torch.onnx.export(whole_graph_module(model, hw), (image, text), path + ".tmp", opset_version=OPSET,
                          do_constant_folding=True, input_names=["image", "class_embeddings"],
                          output_names=["logits", "labels"])
    os.replace(path + ".tmp", path)
    export_s = time.perf_counter() - t0
    print(f"exported {path} ({os.path.getsize(path) / 2**20:.0f} MiB) in {export_s:.1f} s", flush=True)

    with torch.inference_mode():   # the reference: eager, ONNX TopK's tie rule
        ref_logits, ref_labels = whole_graph_module(model, hw, tie_break="index")(image, text)
    ref_logits, ref_labels = ref_logits[0].numpy(), ref_labels.numpy()
    sess = ort_session(path, a.threads)
    logits, labels = sess.run(["logits", "labels"], {"image": image_np, "class_embeddings": text.numpy()})
    save_npz(os.path.join(a.dir, "outputs.npz"), logits=logits[0], labels=labels)
    check = compare(logits[0], labels, ref_logits, ref_labels)
    import onnxruntime
    result = {"onnx": path, "onnx_mib": os.path.getsize(path) / 2**20, "export_s": export_s, "opset": OPSET,
              "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
              "T": len(classes), "K": cfg["head"]["sample_classes_num"], "image_hw": list(hw),
              "crop": model.crop_size, "classes": a.classes, "check_vs_eager": check}
    write_json(os.path.join(a.dir, "export.json"), result)
    print("ORT whole graph vs PyTorch eager: " + json.dumps(check), flush=True)
    if not check["selected_equal"] or check["max_rel_err"] > MAX_REL_ERR:
        print(f"error: the exported graph differs from PyTorch eager beyond rounding (max rel. error bound "
              f"{MAX_REL_ERR:g}): {path}", file=sys.stderr)
        return 1
    return 0


# ----------------------------------------------------------------------------------------------
# timing (ORT only: torch is not loaded in this process)

def cmd_time(a):
    import numpy as np
    import onnxruntime as ort
    inputs = np.load(os.path.join(a.dir, "inputs.npz"))
    feed = {"image": inputs["image"], "class_embeddings": inputs["class_embeddings"]}
    t0 = time.perf_counter()
    sess = ort_session(os.path.join(a.dir, "whole_graph.onnx"), a.threads)
    load_s = time.perf_counter() - t0
    walls, cpus = [], []
    for i in range(a.warmup + a.repeats):
        c0, w0 = time.process_time(), time.perf_counter()
        sess.run(["labels"], feed)              # image → labels, like `segment` with cached classes
        wall, cpu = time.perf_counter() - w0, time.process_time() - c0
        if i >= a.warmup:
            walls.append(wall * 1e3)
            cpus.append(cpu * 1e3)
        print(f"  ort whole graph run {i}{' (warm-up)' if i < a.warmup else ''}: {wall * 1e3:.0f} ms", flush=True)
    import resource
    result = {"ms": statistics.median(walls), "runs_ms": walls, "cpu_ms": statistics.median(cpus),
              "session_load_s": load_s, "threads": a.threads, "warmup": a.warmup, "repeats": a.repeats,
              "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
              "onnxruntime": ort.__version__}
    write_json(os.path.join(a.dir, "time.json"), result)
    return 0


# ----------------------------------------------------------------------------------------------
# agreement with our CLI

def cmd_cli(a):
    import numpy as np
    from PIL import Image
    exp = read_json(os.path.join(a.dir, "export.json"))
    ort_out = np.load(os.path.join(a.dir, "outputs.npz"))
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, "image.png")    # the exact pixels the graph saw
        Image.fromarray(np.load(os.path.join(a.dir, "inputs.npz"))["image"]).save(img)
        cmd = [a.errseg, "segment", "--model", a.model, "--classes", exp["classes"], "--top-k", str(exp["K"]),
               "--crm-ties", "lower-index", "--format", "labels,logits", "--threads", str(a.threads), "--quiet",
               img, "-o", os.path.join(tmp, "out")]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"errseg segment failed ({p.returncode}): {p.stderr.strip()}")
        labels = np.asarray(Image.open(os.path.join(tmp, "out", "image_labels.png"))).astype(np.int64)
        logits = np.load(os.path.join(tmp, "out", "image_logits.npy"))
    result = {"command": " ".join(cmd[:1] + ["segment"] + cmd[2:-3] + ["IMAGE"]),
              "ours_vs_ort": compare(logits, labels, ort_out["logits"], ort_out["labels"])}
    write_json(os.path.join(a.dir, "cli.json"), result)
    print("errseg segment vs ORT whole graph: " + json.dumps(result["ours_vs_ort"]), flush=True)
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export", help="export, then check ORT against PyTorch eager")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--config", required=True)
    e.add_argument("--image", required=True)
    e.add_argument("--classes", default="ade150")
    e.add_argument("--k", type=int, default=None, help="CRM's K (default: the config's)")
    t = sub.add_parser("time", help="time ORT on the exported graph")
    t.add_argument("--warmup", type=int, default=1)
    t.add_argument("--repeats", type=int, default=3)
    c = sub.add_parser("cli", help="compare `errseg segment` with ORT's outputs of the check")
    c.add_argument("--errseg", required=True, help="the errseg CLI")
    c.add_argument("--model", required=True, help="the same weights, converted (.safetensors)")
    for p in (e, t, c):
        p.add_argument("--dir", required=True, help="folder of the graph and its results")
        p.add_argument("--threads", type=int, default=2)
    a = ap.parse_args(argv)
    return {"export": cmd_export, "time": cmd_time, "cli": cmd_cli}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
