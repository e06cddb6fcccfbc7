#!/usr/bin/env python3
"""Per-stage timing of the PyTorch ERR-Seg (bench/pytorch/errseg_torch.py) — the "upstream
PyTorch on the same hardware" column of our benchmark tables (CPU; or GPU with --device cuda,
optionally --autocast fp16|bf16).

    /usr/bin/python3 bench/pytorch/time_errseg.py --checkpoint X.pth --config X.config.json \
        --image IMG --classes ade150|ade847|FILE|"a,b,c" --threads N --repeats R [--json OUT.json]
        [--k K] [--crop S] [--upstream-eval-resize] [--compile] [--cache-text]

Stages (each timed with perf_counter; medians over R runs after one warm-up run):
  preprocess  uint8 image → normalised, bilinear-resized 1×3×S×S tensor
  image       CLIP image tower in dense mode (trunk, HSM stride-16 path, per-pixel projections)
  text        text tower over all T class prompts (upstream caches this per vocabulary; our
              engine too — so it is reported separately and excluded from `e2e_cached_text`;
              --cache-text runs it once before the runs instead of in each)
  head        cost maps, CRM, cost embedding, guidance, ESCF aggregator, up-decoders, logits
  postprocess sigmoid, crop, bilinear resize to the original size, argmax
`e2e` = all five stages in one run; `e2e_cached_text` = e2e minus text. Besides wall-clock
medians (`median_ms`) the JSON holds process CPU time per stage (`median_cpu_ms`, all threads
summed): on a machine shared with other jobs wall time inflates, CPU time much less.
Memory: `peak_rss_mb` (getrusage: whole process, includes checkpoint loading) and
`peak_rss_inference_mb` (VmHWM reset via /proc/self/clear_refs after loading, where allowed).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

STAGES = ("preprocess", "image", "text", "head", "postprocess")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True, help="detectron2 {'model': state_dict} .pth")
    ap.add_argument("--config", required=True, help="config JSON (format of errseg_tiny.config.json)")
    ap.add_argument("--image", required=True)
    ap.add_argument("--classes", default="ade150", help="ade150 | ade847 | ... | FILE | 'a,b,c'")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--k", type=int, default=None, help="override SAMPLE_CLASSES_NUM (CRM's K)")
    ap.add_argument("--crop", type=int, default=None, help="override the network input size S")
    ap.add_argument("--upstream-eval-resize", action="store_true",
                    help="first apply detectron2's ResizeShortestEdge(800, 1333) (PIL bilinear), as "
                         "the published evaluation does")
    ap.add_argument("--compile", action="store_true", help="try torch.compile on the towers and head")
    ap.add_argument("--cache-text", action="store_true",
                    help="encode the vocabulary once, before the runs (timed once, reported as `text`), "
                         "instead of in every run: `e2e_cached_text` is the same, the runs are shorter")
    ap.add_argument("--device", default="cpu", help="cpu or cuda[:N] (GPU: each stage synchronises)")
    ap.add_argument("--autocast", choices=("off", "fp16", "bf16"), default="off",
                    help="GPU mixed precision (torch.autocast), the PyTorch fp16/bf16 baseline")
    ap.add_argument("--json", default=None, help="write the results here")
    return ap.parse_args()


def reset_peak_rss():
    """Resets VmHWM (Linux ≥ 4.0); returns False where not permitted."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def vm_hwm_mb():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def main():
    args = parse_args()
    # Thread pools are sized when the libraries load: set them before importing torch.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import resource
    import torch
    from errseg_torch import ERRSeg, class_list, load_config, read_image, resize_shortest_edge

    torch.set_num_threads(args.threads)
    cfg = load_config(args.config)
    if args.k is not None:
        cfg["head"]["sample_classes_num"] = args.k
    if args.crop is not None:
        cfg["input"]["crop_size"] = args.crop

    t0 = time.perf_counter()
    model = ERRSeg(cfg)
    model.load_checkpoint(args.checkpoint)
    model.eval()
    device = torch.device(args.device)
    model.to(device)
    load_s = time.perf_counter() - t0
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    import gc
    gc.collect()

    classes = class_list(args.classes)
    image = read_image(args.image)
    orig_hw = image.shape[:2]
    if args.upstream_eval_resize:
        image = resize_shortest_edge(image)
    in_hw = image.shape[:2]

    compile_status = "off"
    image_tower, text_fn, head_fn = model.encode_image, model.encode_text, model.decode
    if args.compile:
        if hasattr(torch, "compile"):
            try:
                image_tower = torch.compile(model.clip.visual)
                text_tower = torch.compile(model.clip.text)

                def text_fn(names):
                    emb = text_tower(model.tokenize(names).to(device))
                    return (emb / emb.norm(dim=-1, keepdim=True)).unsqueeze(1)
                head_fn = torch.compile(model.decoder)
                compile_status = "on"
            except Exception as e:  # noqa: BLE001 — report, fall back to eager
                compile_status = f"failed: {type(e).__name__}: {e}"
        else:
            compile_status = f"unavailable (torch {torch.__version__} has no torch.compile)"

    hwm_reset = reset_peak_rss()
    cached_text = None
    if args.cache_text:
        with torch.inference_mode():
            sync()
            c0, p0 = time.perf_counter(), time.process_time()
            cached_text = (text_fn(classes), time.perf_counter() - c0, time.process_time() - p0)
            sync()
        print(f"text (once): {cached_text[1] * 1e3:.1f} ms", flush=True)

    def run_once():
        wall, cpu = {}, {}

        def stage(name, fn):
            sync()
            c0, p0 = time.perf_counter(), time.process_time()
            out = fn()
            sync()
            wall[name] = time.perf_counter() - c0
            cpu[name] = time.process_time() - p0
            return out

        x = stage("preprocess", lambda: model.preprocess(image))
        feats = stage("image", lambda: image_tower(x))
        if cached_text is None:
            text = stage("text", lambda: text_fn(classes))
        else:
            text, wall["text"], cpu["text"] = cached_text
        logits, selected = stage("head", lambda: head_fn(feats, text))
        _, labels = stage("postprocess", lambda: model.postprocess(logits, in_hw, orig_hw))
        for t in (wall, cpu):
            t["e2e"] = sum(t[s] for s in STAGES)
            t["e2e_cached_text"] = t["e2e"] - t["text"]
        return wall, cpu, logits, selected, labels

    runs, cpu_runs = [], []
    import contextlib
    amp = (torch.autocast(device.type, dtype=torch.float16 if args.autocast == "fp16" else torch.bfloat16)
           if args.autocast != "off" else contextlib.nullcontext())
    with torch.inference_mode(), amp:
        for i in range(args.warmup + args.repeats):
            t, cpu, logits, selected, labels = run_once()
            finite = bool(torch.isfinite(logits).all())
            if i >= args.warmup:
                runs.append(t)
                cpu_runs.append(cpu)
            print(f"run {i}{' (warm-up)' if i < args.warmup else ''}: "
                  + "  ".join(f"{k} {v * 1e3:.1f} ms" for k, v in t.items()), flush=True)

    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    med_cpu = {k: statistics.median(r[k] for r in cpu_runs) for k in cpu_runs[0]}
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    sel = logits[0, selected]
    result = {
        "model": {"checkpoint": os.path.abspath(args.checkpoint), "config": os.path.abspath(args.config),
                  "parameters": sum(p.numel() for p in model.parameters()),
                  "crop_size": model.crop_size, "K": int(selected.numel()), "T": len(classes)},
        "input": {"image": os.path.abspath(args.image), "original_hw": list(orig_hw), "model_input_hw": list(in_hw),
                  "classes": args.classes, "upstream_eval_resize": args.upstream_eval_resize},
        "threads": args.threads, "repeats": args.repeats, "warmup": args.warmup, "cache_text": args.cache_text,
        "device": str(device), "autocast": args.autocast,
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "median_ms": {k: v * 1e3 for k, v in med.items()},
        "median_cpu_ms": {k: v * 1e3 for k, v in med_cpu.items()},
        "runs_ms": [{k: v * 1e3 for k, v in r.items()} for r in runs],
        "runs_cpu_ms": [{k: v * 1e3 for k, v in r.items()} for r in cpu_runs],
        "load_s": load_s,
        "peak_rss_mb": peak_rss_mb,
        "peak_rss_inference_mb": vm_hwm_mb() if hwm_reset else None,
        "compile": compile_status,
        "outputs": {"finite": finite, "selected": selected.tolist(),
                    "selected_logits_min": float(sel.min()), "selected_logits_max": float(sel.max()),
                    "labels_present": sorted(set(labels.flatten().tolist()))[:50]},
        "env": {"torch": torch.__version__, "python": platform.python_version(), "machine": platform.machine(),
                "processor": _cpu_name(), "cpu_count": os.cpu_count(),
                "torch_parallel": torch.__config__.parallel_info().splitlines()[:4],
                "loadavg_at_end": list(os.getloadavg())},
    }
    print("median wall: " + "  ".join(f"{k} {v:.1f} ms" for k, v in result["median_ms"].items()))
    print("median CPU:  " + "  ".join(f"{k} {v:.1f} ms" for k, v in result["median_cpu_ms"].items()))
    print(f"peak RSS {peak_rss_mb:.0f} MB (inference {result['peak_rss_inference_mb'] or float('nan'):.0f} MB); "
          f"compile: {compile_status}; outputs finite: {finite}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=2)
    return 0


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


if __name__ == "__main__":
    sys.exit(main())
