#!/usr/bin/env python3
"""errseg vs PyTorch eager vs ONNX Runtime on this CPU, side by side, in one run.

    /usr/bin/python3 bench/run_cpu_bench.py [--quick] [--threads 2] [--repeats R]
        [--cache DIR] [--build DIR] [--out docs/PERFORMANCE.md] [--wait-quiet SECONDS]
        [--no-ort] [--no-torch] [--render-only] [--whole-graph]

Steps (results go to <build>/bench_results/*.json; --render-only re-renders the markdown from them):
  1. build bench_ops / bench_models (cmake, ERRSEG_BENCH=ON) unless present
  2. random-weight, real-size model files in the cache dir (default <build>/bench_cache):
     OpenCLIP ViT-B-16 (open_clip.create_model, pretrained=None; its state dict has the OpenAI names,
     converted with --arch openai-vit and act=gelu), OpenCLIP convnext_base_w_320, ERR-Seg B
     (bench/make_random_checkpoints.py) — each converted with weights_converter/convert.py
  3. ours: bench_ops (op shapes, FLOP/s) and bench_models (whole models), Google Benchmark JSON
  4. PyTorch eager on the same weights, shapes and thread count (torch.set_num_threads + OMP/
     OpenBLAS env), torch.inference_mode; same op table (bench_ops --dump_cases)
  5. ONNX Runtime: torch.onnx.export of the same towers (opset 17), intra_op_num_threads = threads;
     a model that fails to export or load is reported as skipped
  6. PyTorch ERR-Seg end to end: bench/pytorch/time_errseg.py (same checkpoint, image, K), and ONNX
     Runtime on the exported whole ERR-Seg graph (bench/ort_whole_graph.py: export, check against
     PyTorch eager and `errseg segment`, timing)
  7. docs/PERFORMANCE.md: machine, versions, tables, ratios, GEMM efficiency vs FMA peak

--whole-graph: only the ERR-Seg end-to-end comparison (errseg, ORT whole graph, PyTorch eager;
ADE-150 K 32 and ADE-847 K 48, --quick: ADE-150 only); replaces only its section of --out.

Timing protocol: each workload gets `--warmup` untimed runs then `--repeats` timed runs; we report
medians. OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are removed from the environment of every timed
process (they slow current OpenBLAS builds); the OpenBLAS kernel that runs is recorded. The load
average is recorded before and after each step (the machine may be shared).
Run with an interpreter that has torch, open_clip, timm, onnxruntime (here: /usr/bin/python3).
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TEMPLATE = "A photo of a {} in the scene"
STRIP_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


# ----------------------------------------------------------------------------------------------
# small utilities

def log(msg):
    print(f"[run_cpu_bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def loadavg():
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def timing_env(threads):
    env = dict(os.environ)
    for k in STRIP_ENV:
        env.pop(k, None)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[k] = str(threads)
    env["ERRSEG_BENCH_THREADS"] = str(threads)
    return env


def run(cmd, env=None, check=True, cwd=None):
    log("$ " + " ".join(cmd))
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=env, cwd=cwd)
    if check and p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    return p.returncode, time.perf_counter() - t0


def median_time(fn, warmup, repeats):
    """Median wall time (s) of fn over `repeats` calls after `warmup` calls, every sample, and the
    median process CPU time (s, all threads)."""
    for _ in range(warmup):
        fn()
    samples, cpu = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(samples), samples, statistics.median(cpu)


def op_time(fn, min_time, repeats):
    """Like Google Benchmark: per repetition, enough calls to fill min_time; median per call (s)."""
    fn()  # warm-up (and calibration)
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    n = max(1, int(min_time / one))
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        samples.append((time.perf_counter() - t0) / n)
    return statistics.median(samples), n


def read_json(path, default=None):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def ade_prompts(vocab="ade150"):
    with open(os.path.join(REPO, "data", "classes", vocab + ".json"), encoding="utf-8") as f:
        names = json.load(f)
    return [TEMPLATE.format(n.split(", ")[0] if ", " in n else n) for n in names]


def openblas_info():
    """Which OpenBLAS (and kernel) the current process loaded, via /proc/self/maps + ctypes."""
    import ctypes
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1] if len(line.split()) >= 6 else ""
                if re.search(r"lib(open)?blas[^/]*\.so", os.path.basename(path)):
                    libs.add(path)
    except OSError:
        pass
    out = {"libraries": sorted(libs)}
    for path in sorted(libs):
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
            out["corename"] = lib.openblas_get_corename().decode()
            out["config"] = lib.openblas_get_config().decode()
            out["library"] = path
            break
        except (OSError, AttributeError):
            continue
    return out


# ----------------------------------------------------------------------------------------------
# machine description

def machine_info():
    info = {"cpu_model": platform.processor() or "unknown", "logical_cpus": os.cpu_count(), "flags": []}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        first = text.split("\n\n")[0]
        fields = {}
        for line in first.splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                fields[k.strip()] = v.strip()
        info["cpu_model"] = fields.get("model name", info["cpu_model"])
        info["cpu_family"] = fields.get("cpu family")
        info["cpu_model_number"] = fields.get("model")
        info["vendor"] = fields.get("vendor_id")
        info["cpu_mhz"] = float(fields.get("cpu MHz", "0") or 0)
        flags = fields.get("flags", "").split()
        info["flags"] = [f for f in ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512dq",
                                     "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "avx512_fp16",
                                     "amx_tile", "amx_bf16", "amx_int8") if f in flags]
        info["hypervisor"] = "hypervisor" in flags
    except OSError:
        pass
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k in ("Core(s) per socket", "Socket(s)", "Thread(s) per core", "L2 cache", "L3 cache",
                     "CPU max MHz", "Hypervisor vendor"):
                info[k] = v
    except OSError:
        pass
    try:
        with open("/proc/meminfo") as f:
            info["mem_total_gib"] = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    return info


def fma_peak(info, threads):
    """FP32 FMA peak estimate in GFLOP/s for `threads` cores, with the assumption spelled out."""
    width = 16 if "avx512f" in info["flags"] else 8 if "avx2" in info["flags"] else 4
    units = 2  # 2 FMA pipes per core: Zen 2/3/4, Intel Haswell..Ice Lake client (1-2 on some AVX-512 parts)
    ghz = None
    src = ""
    if info.get("CPU max MHz"):
        try:
            ghz = float(info["CPU max MHz"]) / 1000
            src = "lscpu 'CPU max MHz'"
        except ValueError:
            ghz = None
    if not ghz and info.get("cpu_mhz"):
        ghz = info["cpu_mhz"] / 1000
        src = "/proc/cpuinfo 'cpu MHz' (under a hypervisor this is the nominal/TSC clock; boost may be higher)"
    if not ghz:
        return None, "clock unknown"
    peak = threads * units * width * 2 * ghz
    desc = (f"{threads} core(s) x {units} FMA units x {width} fp32 lanes x 2 flops x {ghz:.3f} GHz "
            f"({src}) = {peak:.1f} GFLOP/s")
    return peak, desc


# ----------------------------------------------------------------------------------------------
# step 1: build

def ensure_build(args):
    """Configures once, then always rebuilds incrementally: the binaries must match the headers now in
    the tree (a no-op when nothing changed)."""
    exes = [os.path.join(args.build, "bench", n) for n in ("bench_ops", "bench_models")]
    if not os.path.exists(os.path.join(args.build, "CMakeCache.txt")):
        gen = ["-G", "Ninja"] if shutil.which("ninja") else []
        run(["cmake", "-S", REPO, "-B", args.build, *gen, "-DCMAKE_BUILD_TYPE=Release", "-DERRSEG_BENCH=ON",
             "-DERRSEG_TESTS=OFF"])
    if not args.no_build:
        run(["cmake", "--build", args.build, "-j", str(os.cpu_count() or 2), "--target", "bench_ops", "bench_models",
             "errseg"])
    return exes + [os.path.join(args.build, "errseg")]


def source_digest():
    """sha256 over the library headers and our bench sources (identifies the code that was measured
    without asking git)."""
    import hashlib
    h = hashlib.sha256()
    files = []
    for root in (os.path.join(REPO, "include"), HERE):
        for d, _, names in os.walk(root):
            files += [os.path.join(d, n) for n in names if n.endswith((".hpp", ".cpp", ".cuh", ".h"))]
    for f in sorted(files):
        if os.sep + "cuda" + os.sep in f:
            continue
        h.update(os.path.relpath(f, REPO).encode())
        with open(f, "rb") as fh:
            h.update(fh.read())
    return h.hexdigest()[:16]


def perf_profile(args, exe, models):
    """perf record (cpu-clock) of one ERR-Seg ADE-150 forward of ours: top symbols by self time."""
    if not shutil.which("perf"):
        return {"error": "perf not installed"}
    data = os.path.join(args.results, "perf_errseg150.data")
    rc, _ = run(["perf", "record", "-q", "-e", "cpu-clock", "-F", "499", "-g", "-o", data, "--", exe,
                 f"--threads={args.threads}", f"--errseg={models['errseg']}", f"--image={models['image']}",
                 "--warmup=1", "--benchmark_filter=^errseg/e2e/ade150"], env=timing_env(args.threads), check=False)
    if rc != 0:
        return {"error": f"perf record exit {rc}"}
    p = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "symbol", "--stdio",
                        "--percent-limit", "0.7", "-g", "none"], capture_output=True, text=True)
    top = []
    for line in p.stdout.splitlines():
        m = re.match(r"\s+([0-9.]+)%\s+\[(.)\]\s+(.*)", line)
        if m:
            full = re.sub(r"\s+-\s+-\s*$", "", m.group(3)).strip()
            sym = re.sub(r"\(.*", "", full) if len(full) > 90 else full
            if sym.startswith("std::"):  # a lambda run by the pool: name the op it belongs to
                inner = [n for n in re.findall(r"errseg::(?:\w+::)*?(\w+)\(", full) if n not in ("Tensor",)]
                sym = "lambda in " + "/".join(dict.fromkeys(inner[:2])) if inner else sym
            top.append({"pct": float(m.group(1)), "kind": "kernel" if m.group(2) == "k" else "user", "symbol": sym})
    return {"top": top[:15]}


# ----------------------------------------------------------------------------------------------
# step 2: model files

def prepare_models(args):
    c = args.cache
    os.makedirs(c, exist_ok=True)
    py = sys.executable
    conv = os.path.join(REPO, "weights_converter", "convert.py")
    m = {
        "vit_pth": os.path.join(c, "openclip_vit_b16_random.pth"),
        "vit": os.path.join(c, "openclip_vit_b16_random.safetensors"),
        "convnext_pth": os.path.join(c, "openclip_convnext_base_w_320_random.pth"),
        "convnext": os.path.join(c, "openclip_convnext_base_w_320_random.safetensors"),
        "errseg_pth": os.path.join(c, "errseg_b_random.pth"),
        "errseg_config": os.path.join(c, "errseg_b_random.config.json"),
        "errseg": os.path.join(c, "errseg_b_random.safetensors"),
        "image": os.path.join(c, "bench_400x300.png"),
    }
    if not os.path.exists(m["image"]):
        from PIL import Image
        import numpy as np
        h, w = 300, 400
        y, x = np.mgrid[0:h, 0:w]
        rgb = np.stack([(x * 255) // w, (y * 255) // h, ((x // 25 + y // 25) % 2) * 200 + 20], -1).astype(np.uint8)
        Image.fromarray(rgb).save(m["image"])
    for name, arch in (("ViT-B-16", "vit"), ("convnext_base_w_320", "convnext")):
        if args.whole_graph:
            break
        pth = m[arch + "_pth"]
        if not os.path.exists(pth):
            log(f"creating random {name} (open_clip, pretrained=None) -> {pth}")
            code = ("import torch, open_clip, sys; torch.manual_seed(0); "
                    f"m = open_clip.create_model({name!r}, pretrained=None); "
                    f"torch.save(m.state_dict(), {pth + '.tmp'!r})")
            run([py, "-c", code])
            os.replace(pth + ".tmp", pth)
        if not os.path.exists(m[arch]):
            extra = []
            if arch == "vit":
                cfg = os.path.join(c, "openclip_vit_b16.config.json")
                write_json(cfg, {"architecture": "clip", "clip": {"act": "gelu"},
                                 "note": "OpenCLIP ViT-B-16 (plain GELU), RANDOM weights"})
                extra = ["--arch", "openai-vit", "--config", cfg]
            run([py, conv, pth, m[arch], *extra])
    if not os.path.exists(m["errseg_pth"]):
        run([py, os.path.join(HERE, "make_random_checkpoints.py"), "--variant", "B", "--out", m["errseg_pth"],
             "--threads", str(args.threads)])
    if not os.path.exists(m["errseg"]):
        run([py, conv, m["errseg_pth"], m["errseg"]])
    return m


# ----------------------------------------------------------------------------------------------
# step 3: ours

def gbench_results(path):
    """Google Benchmark JSON -> {name: {'ms': median, 'runs': [...], counters...}}."""
    data = read_json(path, {})
    per = {}
    for b in data.get("benchmarks", []):
        name = re.sub(r"(/iterations:\d+)?(/repeats:\d+)?(/real_time)?$", "", b.get("run_name", b["name"]))
        if b.get("error_occurred"):
            per.setdefault(name, {})["error"] = b.get("error_message")
            continue
        unit = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b.get("time_unit", "ns")]
        entry = per.setdefault(name, {"runs_ms": []})
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                entry["ms"] = b["real_time"] * unit
                entry["counters"] = {k: v for k, v in b.items() if k not in _GB_KEYS}
        else:
            entry["runs_ms"].append(b["real_time"] * unit)
            entry.setdefault("counters_runs", []).append({k: v for k, v in b.items() if k not in _GB_KEYS})
    for e in per.values():
        if "ms" not in e and e.get("runs_ms"):
            e["ms"] = statistics.median(e["runs_ms"])
            e["counters"] = e["counters_runs"][len(e["counters_runs"]) // 2] if e.get("counters_runs") else {}
    return {"context": data.get("context", {}), "benchmarks": per}


_GB_KEYS = {"name", "run_name", "run_type", "repetitions", "repetition_index", "threads", "iterations",
            "real_time", "cpu_time", "time_unit", "family_index", "per_family_instance_index",
            "aggregate_name", "aggregate_unit", "error_occurred", "error_message"}


def dump_op_cases(args, exe):
    cases = os.path.join(args.results, "op_cases.json")
    run([exe, f"--threads={args.threads}", f"--dump_cases={cases}"], env=timing_env(args.threads))
    return cases


def run_ours_ops(args, exe, flt, out):
    run([exe, f"--threads={args.threads}", f"--benchmark_filter={flt}",
         f"--benchmark_min_time={args.op_min_time}", f"--benchmark_repetitions={args.op_repeats}",
         "--benchmark_format=console", f"--benchmark_out={out}", "--benchmark_out_format=json"],
        env=timing_env(args.threads), check=False)
    return gbench_results(out)


def run_ours_models(args, exe, models, key, flt):
    """One process per group (so peak RSS is per workload)."""
    out = os.path.join(args.results, f"ours_models_{key}.json")
    rc, _ = run([exe, f"--threads={args.threads}", f"--vit={models['vit']}", f"--convnext={models['convnext']}",
                 f"--errseg={models['errseg']}", f"--image={models['image']}", f"--warmup={args.warmup}",
                 f"--benchmark_filter={flt}", f"--benchmark_repetitions={args.repeats}",
                 "--benchmark_format=console", f"--benchmark_out={out}", "--benchmark_out_format=json"],
                env=timing_env(args.threads), check=False)
    r = gbench_results(out)
    if rc != 0:
        r["failed"] = f"exit {rc}"
    return r


# ----------------------------------------------------------------------------------------------
# workers (run in a fresh interpreter so thread settings apply before torch / ORT load)

def worker_torch_ops(spec):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(spec["threads"])
    cases = read_json(spec["cases"])
    flt = re.compile(spec.get("filter") or ".")
    g = torch.Generator().manual_seed(0)

    def rnd(*shape, scale=1.0):
        return (torch.rand(*shape, generator=g) * 2 - 1) * scale

    res = {}
    with torch.inference_mode():
        for c in cases:
            if not flt.search(c["name"]):
                continue
            p, op = c["params"], c["op"]
            if op == "linear":
                x, w, b = rnd(p["M"], p["K"]), rnd(p["N"], p["K"], scale=0.05), rnd(p["N"])
                fn = lambda x=x, w=w, b=b: F.linear(x, w, b)  # noqa: E731
            elif op == "conv2d":
                gr = p.get("groups", 1)
                x, w, b = rnd(p["N"], p["C"], p["H"], p["W"]), rnd(p["O"], p["C"] // gr, p["k"], p["k"], scale=0.05), rnd(p["O"])
                fn = lambda x=x, w=w, b=b, p=p, gr=gr: F.conv2d(x, w, b, p["stride"], p["pad"], 1, gr)  # noqa: E731
            elif op == "conv_transpose2d":
                x, w, b = rnd(p["N"], p["C"], p["H"], p["W"]), rnd(p["C"], p["O"], p["k"], p["k"], scale=0.05), rnd(p["O"])
                fn = lambda x=x, w=w, b=b, p=p: F.conv_transpose2d(x, w, b, p["stride"])  # noqa: E731
            elif op == "attention":
                B, H, Lq, Lk, D = p["B"], p["H"], p["Lq"], p["Lk"], p["D"]
                q, k, v = rnd(B, H, Lq, D), rnd(B, H, Lk, D), rnd(B, H, Lk, D)
                mask = torch.full((Lq, Lk), float("-inf")).triu_(1) if p["causal"] else None
                scale = D ** -0.5

                def fn(q=q, k=k, v=v, mask=mask, scale=scale):
                    s = (q * scale) @ k.transpose(-2, -1)
                    if mask is not None:
                        s = s + mask
                    return s.softmax(-1) @ v
            elif op == "layer_norm":
                x, w, b = rnd(p["R"], p["C"]), rnd(p["C"]), rnd(p["C"])
                fn = lambda x=x, w=w, b=b, C=p["C"]: F.layer_norm(x, (C,), w, b, 1e-5)  # noqa: E731
            elif op in ("layer_norm_nhwc", "layer_norm2d"):
                x, w, b = rnd(p["N"], p["C"], p["H"], p["W"]), rnd(p["C"]), rnd(p["C"])
                if op == "layer_norm_nhwc":  # timm ConvNeXtBlock: permute, nn.LayerNorm
                    fn = lambda x=x, w=w, b=b, C=p["C"]: F.layer_norm(x.permute(0, 2, 3, 1), (C,), w, b, 1e-6)  # noqa: E731
                else:  # timm LayerNorm2d
                    fn = lambda x=x, w=w, b=b, C=p["C"]: F.layer_norm(  # noqa: E731
                        x.permute(0, 2, 3, 1), (C,), w, b, 1e-6).permute(0, 3, 1, 2)
            elif op == "group_norm":
                x, w, b = rnd(p["N"], p["C"], p["H"], p["W"]), rnd(p["C"]), rnd(p["C"])
                fn = lambda x=x, w=w, b=b, G=p["G"]: F.group_norm(x, G, w, b, 1e-5)  # noqa: E731
            elif op == "gelu":
                x = rnd(p["n"], scale=3.0)
                fn = lambda x=x: F.gelu(x)  # noqa: E731
            elif op == "resize_bilinear":
                x = rnd(p["N"], p["C"], p["H"], p["W"])
                fn = lambda x=x, p=p: F.interpolate(x, size=(p["OH"], p["OW"]), mode="bilinear",  # noqa: E731
                                                    align_corners=bool(p["align_corners"]))
            elif op == "add":
                a = rnd(p["N"], p["C"], p["H"], p["W"])
                b = rnd(1, p["C"], 1, 1) if p["per_channel"] else rnd(p["N"], p["C"], p["H"], p["W"])
                fn = lambda a=a, b=b: a + b  # noqa: E731
            else:
                continue
            sec, n = op_time(fn, spec["min_time"], spec["repeats"])
            res[c["name"]] = {"ms": sec * 1e3, "iterations": n, "flops": c["flops"], "bytes": c["bytes"]}
            if spec.get("onnx_dir") and op in ("linear", "conv2d"):
                res[c["name"]]["onnx"] = _export_op(c, spec["onnx_dir"])
            print(f"  torch {c['name']:45s} {sec * 1e3:9.3f} ms"
                  + (f"  {c['flops'] / sec / 1e9:7.1f} GFLOP/s" if c["flops"] else ""), flush=True)
    return {"ops": res, "env": torch_env()}


def _export_op(c, onnx_dir):
    """The op as a one-node ONNX model (weights as initialisers), for ORT's kernels; path or None."""
    import torch
    p = c["params"]
    path = os.path.join(onnx_dir, re.sub(r"[^A-Za-z0-9_.-]", "_", c["name"]) + ".onnx")
    if os.path.exists(path):
        return path
    os.makedirs(onnx_dir, exist_ok=True)
    try:
        if c["op"] == "linear":
            mod, x = torch.nn.Linear(p["K"], p["N"]), torch.rand(p["M"], p["K"])
        else:
            mod = torch.nn.Conv2d(p["C"], p["O"], p["k"], p["stride"], p["pad"], groups=p.get("groups", 1))
            x = torch.rand(p["N"], p["C"], p["H"], p["W"])
        with torch.no_grad():
            torch.onnx.export(mod.eval(), (x,), path + ".tmp", opset_version=17, input_names=["x"])
        os.replace(path + ".tmp", path)
        return path
    except Exception as e:  # noqa: BLE001
        print(f"  ONNX export of {c['name']} failed: {e}", flush=True)
        return None


def worker_ort_ops(spec):
    import numpy as np
    import onnxruntime as ort
    rng = np.random.default_rng(0)
    res = {}
    for name, e in spec["ops"].items():
        path = e.get("onnx")
        if not path:
            continue
        so = ort.SessionOptions()
        so.intra_op_num_threads = spec["threads"]
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
            inp = sess.get_inputs()[0]
            x = rng.uniform(-1, 1, [int(d) for d in inp.shape]).astype(np.float32)
            sec, n = op_time(lambda: sess.run(None, {inp.name: x}), spec["min_time"], spec["repeats"])
            res[name] = {"ms": sec * 1e3, "iterations": n, "flops": e.get("flops")}
            print(f"  ort   {name:45s} {sec * 1e3:9.3f} ms"
                  + (f"  {e['flops'] / sec / 1e9:7.1f} GFLOP/s" if e.get("flops") else ""), flush=True)
        except Exception as ex:  # noqa: BLE001
            res[name] = {"error": f"{type(ex).__name__}: {str(ex)[:200]}"}
    return {"ops": res, "env": {"onnxruntime": ort.__version__}}


def torch_env():
    import torch
    return {"torch": torch.__version__, "threads": torch.get_num_threads(),
            "parallel_info": torch.__config__.parallel_info().splitlines()[:6],
            "mkldnn": bool(torch.backends.mkldnn.is_available()),
            "blas_info": re.findall(r"BLAS_INFO=([^,]+)", torch.__config__.show()),
            "openblas": openblas_info()}


def _convnext_stages(model):
    import torch

    class Stages(torch.nn.Module):
        def __init__(self, trunk):
            super().__init__()
            self.trunk = trunk

        def forward(self, x):
            x = self.trunk.stem(x)
            outs = []
            for s in self.trunk.stages:
                x = s(x)
                outs.append(x)
            return tuple(outs)

    return Stages(model.visual.trunk).eval()


def _tower_modules(spec):
    """name -> (module, example input) for the tower workloads, on the cached random weights."""
    import open_clip
    import torch

    class Image(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            return self.m.encode_image(x)

    class Text(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, t):
            return self.m.encode_text(t)

    g = torch.Generator().manual_seed(7)
    out = {}
    want = set(spec["workloads"])
    if want & {"vit_pooled224"}:
        vit = open_clip.create_model("ViT-B-16", pretrained=None)
        vit.load_state_dict(torch.load(spec["models"]["vit_pth"], map_location="cpu"))
        vit.eval()
        out["vit_pooled224"] = (Image(vit).eval(), (torch.rand(1, 3, 224, 224, generator=g) * 2 - 1,))
    if want & {"convnext_trunk640", "convnext_pooled320", "convnext_text150_full77"}:
        cn = open_clip.create_model("convnext_base_w_320", pretrained=None)
        cn.load_state_dict(torch.load(spec["models"]["convnext_pth"], map_location="cpu"))
        cn.eval()
        out["convnext_trunk640"] = (_convnext_stages(cn), (torch.rand(1, 3, 640, 640, generator=g) * 2 - 1,))
        out["convnext_pooled320"] = (Image(cn).eval(), (torch.rand(1, 3, 320, 320, generator=g) * 2 - 1,))
        tokens = open_clip.tokenize(ade_prompts("ade150"))
        out["convnext_text150_full77"] = (Text(cn).eval(), (tokens,))
    return {k: v for k, v in out.items() if k in want}


def worker_torch_models(spec):
    import torch
    torch.set_num_threads(spec["threads"])
    res = {}
    with torch.inference_mode():
        for name, (mod, inputs) in _tower_modules(spec).items():
            sec, runs, cpu = median_time(lambda: mod(*inputs), spec["warmup"], spec["repeats"])
            res[name] = {"ms": sec * 1e3, "runs_ms": [r * 1e3 for r in runs], "cpu_ms": cpu * 1e3}
            print(f"  torch {name:28s} {sec * 1e3:10.1f} ms  runs {[round(r * 1e3, 1) for r in runs]}", flush=True)
    return {"models": res, "env": torch_env()}


def worker_export(spec):
    import torch
    torch.set_num_threads(spec["threads"])
    res = {}
    for name, (mod, inputs) in _tower_modules(spec).items():
        path = os.path.join(spec["onnx_dir"], name + ".onnx")
        if os.path.exists(path):
            res[name] = {"path": path}
            continue
        t0 = time.perf_counter()
        try:
            with torch.no_grad():
                torch.onnx.export(mod, inputs, path + ".tmp", opset_version=17, do_constant_folding=True,
                                  input_names=[f"in{i}" for i in range(len(inputs))])
            os.replace(path + ".tmp", path)
            res[name] = {"path": path, "export_s": time.perf_counter() - t0}
            print(f"  exported {name} in {time.perf_counter() - t0:.1f} s", flush=True)
        except Exception as e:  # noqa: BLE001 — report and skip this model
            res[name] = {"error": f"export failed: {type(e).__name__}: {str(e)[:300]}"}
            print(f"  export of {name} FAILED: {type(e).__name__}: {e}", flush=True)
    return res


def worker_ort(spec):
    import numpy as np
    import onnxruntime as ort
    exported = spec["exported"]
    res = {}
    rng = np.random.default_rng(7)
    inputs = {
        "vit_pooled224": lambda: [rng.uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)],
        "convnext_trunk640": lambda: [rng.uniform(-1, 1, (1, 3, 640, 640)).astype(np.float32)],
        "convnext_pooled320": lambda: [rng.uniform(-1, 1, (1, 3, 320, 320)).astype(np.float32)],
        "convnext_text150_full77": lambda: [np.load(spec["tokens_npy"]).astype(np.int64)],
    }
    for name in spec["workloads"]:
        e = exported.get(name, {})
        if "path" not in e:
            res[name] = {"error": e.get("error", "not exported")}
            continue
        try:
            so = ort.SessionOptions()
            so.intra_op_num_threads = spec["threads"]
            so.inter_op_num_threads = 1
            so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            sess = ort.InferenceSession(e["path"], so, providers=["CPUExecutionProvider"])
            feed = dict(zip([i.name for i in sess.get_inputs()], inputs[name]()))
            sec, runs, cpu = median_time(lambda: sess.run(None, feed), spec["warmup"], spec["repeats"])
            res[name] = {"ms": sec * 1e3, "runs_ms": [r * 1e3 for r in runs], "cpu_ms": cpu * 1e3}
            print(f"  ort   {name:28s} {sec * 1e3:10.1f} ms  runs {[round(r * 1e3, 1) for r in runs]}", flush=True)
            del sess
        except Exception as ex:  # noqa: BLE001
            res[name] = {"error": f"ORT failed: {type(ex).__name__}: {str(ex)[:300]}"}
            print(f"  ORT {name} FAILED: {ex}", flush=True)
    return {"models": res, "env": {"onnxruntime": ort.__version__, "threads": spec["threads"]}}


WORKERS = {"torch-ops": worker_torch_ops, "torch-models": worker_torch_models, "export": worker_export,
           "ort": worker_ort, "ort-ops": worker_ort_ops, "torch-env": lambda spec: {"env": torch_env()}}


def run_worker(kind, spec, args, out):
    spec_path = out + ".spec.json"
    write_json(spec_path, spec)
    rc, secs = run([sys.executable, os.path.abspath(__file__), "--worker", kind, "--spec", spec_path, "--worker-out", out],
                   env=timing_env(args.threads), check=False)
    r = read_json(out, None)
    if rc != 0 or r is None:
        return {"failed": f"worker {kind} exit {rc}"}
    return r


# ----------------------------------------------------------------------------------------------
# step 6: PyTorch ERR-Seg end to end

def run_torch_errseg(args, models, vocab, k, repeats, warmup):
    out = os.path.join(args.results, f"torch_errseg_{vocab}_K{k}.json")
    rc, _ = run([sys.executable, os.path.join(HERE, "pytorch", "time_errseg.py"), "--checkpoint", models["errseg_pth"],
                 "--config", models["errseg_config"], "--image", models["image"], "--classes", vocab,
                 "--threads", str(args.threads), "--repeats", str(repeats), "--warmup", str(warmup), "--k", str(k),
                 "--cache-text", "--json", out], env=timing_env(args.threads), check=False)
    r = read_json(out, None)
    if rc != 0 or r is None:
        return {"failed": f"time_errseg.py exit {rc}"}
    return r


def files_key(*paths):
    """Identifies the inputs of a cached result: sha256 over small files, size + mtime of large ones."""
    import hashlib
    h = hashlib.sha256()
    for p in paths:
        st = os.stat(p)
        h.update(p.encode())
        if st.st_size < 1 << 20:
            with open(p, "rb") as f:
                h.update(f.read())
        else:
            h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def run_ort_whole_graph(args, cli, models, vocab, k):
    """ERR-Seg B as one exported ONNX graph in ONNX Runtime (bench/ort_whole_graph.py): export and
    check against PyTorch eager (cached while checkpoint, image and exporting code are unchanged),
    agreement with `errseg segment`, then the timed runs (a process without torch)."""
    d = os.path.join(args.cache, f"onnx_errseg_{vocab}_K{k}")
    tool = os.path.join(HERE, "ort_whole_graph.py")
    key = files_key(models["errseg_pth"], models["image"], tool, os.path.join(HERE, "pytorch", "errseg_torch.py"))
    common = ["--dir", d, "--threads", str(args.threads)]
    exp = read_json(os.path.join(d, "export.json"), {})
    if exp.get("key") != key or not os.path.exists(os.path.join(d, "whole_graph.onnx")):
        rc, _ = run([sys.executable, tool, "export", "--checkpoint", models["errseg_pth"], "--config",
                     models["errseg_config"], "--image", models["image"], "--classes", vocab, "--k", str(k), *common],
                    env=timing_env(args.threads), check=False)
        exp = read_json(os.path.join(d, "export.json"), {})
        if rc != 0 or not exp:   # exit 1 also when ORT's outputs differ from PyTorch eager: nothing to time
            return {"failed": f"ort_whole_graph.py export exit {rc}", "export": exp}
        exp["key"] = key
        write_json(os.path.join(d, "export.json"), exp)
    out = {"export": exp}
    rc, _ = run([sys.executable, tool, "cli", "--errseg", cli, "--model", models["errseg"], *common],
                env=timing_env(args.threads), check=False)
    out["cli"] = read_json(os.path.join(d, "cli.json"), {}) if rc == 0 else {"failed": f"exit {rc}"}
    rc, _ = run([sys.executable, tool, "time", "--warmup", str(args.warmup), "--repeats", str(args.repeats), *common],
                env=timing_env(args.threads), check=False)
    out["time"] = read_json(os.path.join(d, "time.json"), {}) if rc == 0 else {"failed": f"exit {rc}"}
    return out


# ----------------------------------------------------------------------------------------------
# step 7: the report

def fmt_ms(v):
    if v is None:
        return "—"
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}" if v >= 1 else f"{v:.3f}"


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "—"


def render(state, args):
    R = state
    info, threads = R["machine"], R["threads"]
    peak, peak_desc = fma_peak(info, threads)
    measured = R.get("ours_ops", {}).get("benchmarks", {}).get("peak/fma_avx2", {}).get("counters", {}).get("FLOP/s")
    if measured:
        nominal = f"{peak:.1f}" if peak else "?"
        peak = measured / 1e9
        peak_desc = (f"**{peak:.0f} GFLOP/s measured** on {threads} threads by `bench_ops` `peak/fma_avx2` (independent "
                     f"AVX2 FMA chains in registers, i.e. at the clock the cores really run); the nominal estimate "
                     f"{peak_desc.split(' = ')[0]} gives {nominal} GFLOP/s, so the cores run above that clock")
    ours_m = R.get("ours_models", {})
    om = {}
    for grp in ours_m.values():
        om.update(grp.get("benchmarks", {}))
    tm = R.get("torch_models", {}).get("models", {})
    orm = R.get("ort_models", {}).get("models", {})
    te = R.get("torch_errseg", {})
    tenv = torch_env_of(R)
    ob = tenv.get("openblas", {})
    L = []
    L.append("# errseg CPU performance")
    L.append("")
    L.append("Measured by `bench/run_cpu_bench.py` (ours: `bench/bench_ops.cpp`, `bench/bench_models.cpp`; "
             "PyTorch eager and ONNX Runtime on the same weights, shapes and thread count, in the same run). "
             "**All models carry random weights** (real-size architectures; no published weights are downloadable "
             "here): latency does not depend on the weight values, but ERR-Seg's CRM picks its K classes "
             "from them (K is fixed, so the work is the same).")
    L.append("")
    L.append("Reproduce (≈ " + ("quick mode" if R.get("quick") else "full mode") + f", took {R.get('elapsed_min', 0):.0f} min here):")
    L.append("")
    L.append("```sh")
    L.append("/usr/bin/python3 bench/run_cpu_bench.py" + (" --quick" if R.get("quick") else "") + f" --threads {threads}")
    L.append("```")
    L.append("")
    L.append("## Machine and software")
    L.append("")
    L.append(f"* CPU: {info.get('cpu_model')} (vendor {info.get('vendor')}, family {info.get('cpu_family')} model "
             f"{info.get('cpu_model_number')}), {info.get('logical_cpus')} logical CPUs"
             + (f" under {info.get('Hypervisor vendor', 'a hypervisor')}" if info.get("hypervisor") else "")
             + f"; L2 {info.get('L2 cache', '?')}, L3 {info.get('L3 cache', '?')}; {info.get('mem_total_gib', '?')} GiB RAM")
    L.append(f"* SIMD flags: {', '.join(info.get('flags', [])) or 'none'} (AVX-512: "
             f"{'yes' if 'avx512f' in info.get('flags', []) else 'no'})")
    L.append(f"* Threads: **{threads}** for every engine (errseg `set_num_threads`, `torch.set_num_threads` + "
             "OMP/OpenBLAS env, ORT `intra_op_num_threads`)")
    L.append(f"* Date: {R.get('date')}; load average (1/5/15 min) before: {R.get('load_before')}, "
             f"after: {R.get('load_after')}" + ("; **the machine was shared with other jobs during the run, "
                                                "so absolute times are inflated and noisy**" if R.get("noisy") else ""))
    if R.get("loads"):
        L.append("* 1-min load average at the start of each step: "
                 + ", ".join(f"{k} {v[0]}" for k, v in R["loads"].items() if v))
    if R.get("busy_before") or R.get("busy_after"):
        L.append(f"* Other busy processes at the start: {'; '.join(R.get('busy_before') or []) or 'none'}; at the end: "
                 f"{'; '.join(R.get('busy_after') or []) or 'none'} (ours, PyTorch and ORT run at nice 0)")
    if R.get("source_digest"):
        L.append(f"* Code measured: sha256 of `include/**` + `bench/*` sources = `{R['source_digest']}`")
    oc = R.get("ours_ops", {}).get("context", {})
    L.append(f"* errseg: {oc.get('compiler', '?').split(' (')[0] if oc else '?'} -O3, Eigen "
             f"{oc.get('eigen', '?')}, compiled for {oc.get('errseg_simd', '?')}, kernel path (run-time dispatch) "
             f"{oc.get('errseg_cpu_isa', '?')}; Google Benchmark {oc.get('library_version', 'Debian 1.7.1')}")
    L.append(f"* PyTorch {tenv.get('torch', '?')} (Debian build; BLAS_INFO={','.join(tenv.get('blas_info', [])) or '?'}, "
             f"GEMM through {ob.get('library', '?')}, OpenBLAS kernel **{ob.get('corename', '?')}** "
             f"({ob.get('config', '?')}); convolutions through oneDNN (mkldnn={tenv.get('mkldnn')}))")
    oenv = R.get("ort_models", {}).get("env", {})
    L.append(f"* ONNX Runtime {oenv.get('onnxruntime', '?')} (CPUExecutionProvider, ORT_ENABLE_ALL, models exported with "
             f"torch.onnx.export opset 17); open_clip {R.get('versions', {}).get('open_clip', '?')}, timm "
             f"{R.get('versions', {}).get('timm', '?')}, numpy {R.get('versions', {}).get('numpy', '?')}")
    L.append(f"* `OPENBLAS_CORETYPE` / `OPENBLAS_L2_SIZE` were removed from the environment of every timed process "
             f"(set here before: {R.get('openblas_env_before') or 'neither'}).")
    L.append(f"* Protocol: {R.get('warmup')} warm-up run(s), median of {R.get('repeats')} timed runs per model workload; "
             f"ops: Google Benchmark, min time {R.get('op_min_time')} s × {R.get('op_repeats')} repetitions (median), "
             "PyTorch ops timed the same way.")
    L.append("")

    if R.get("ort_whole_graph"):
        L.append(render_whole_graph(R))
        L.append("")

    # ---- models table ----
    L.append("## Whole models")
    L.append("")
    L.append("| workload | ours ms | PyTorch ms | ORT ms | PyTorch / ours | ORT / ours |")
    L.append("|---|---:|---:|---:|---:|---:|")

    rows = []  # (label, ours entry, torch entry, ort entry); entries: {"ms", "cpu_ms"}

    def ours_e(name):
        b = om.get(name, {})
        return {"ms": b.get("ms"), "cpu_ms": b.get("counters", {}).get("cpu_ms")} if b else {}

    rows.append(("CLIP ViT-B/16 image embedding @224 (pooled)", ours_e("clip_vit_b16/image_pooled@224"),
                 tm.get("vit_pooled224", {}), orm.get("vit_pooled224", {})))
    rows.append(("CLIP ConvNeXt-B trunk @640 (4 stage outputs = ERR-Seg dense stages)",
                 ours_e("clip_convnext/trunk_stages@640"), tm.get("convnext_trunk640", {}),
                 orm.get("convnext_trunk640", {})))
    rows.append(("CLIP ConvNeXt-B image embedding @320 (pooled)", ours_e("clip_convnext/image_pooled@320"),
                 tm.get("convnext_pooled320", {}), orm.get("convnext_pooled320", {})))
    rows.append(("CLIP ConvNeXt-B text tower, 150 ADE prompts, all 77 positions",
                 ours_e("clip_convnext/text_ade150_full77"), tm.get("convnext_text150_full77", {}),
                 orm.get("convnext_text150_full77", {})))
    rows.append(("CLIP ConvNeXt-B text tower, 150 ADE prompts — ours stops at the batch's last EOT (same result)",
                 ours_e("clip_convnext/text_ade150"), tm.get("convnext_text150_full77", {}),
                 orm.get("convnext_text150_full77", {})))
    for vocab, k in (("ade150", 32), ("ade847", 48)):
        t = te.get(f"{vocab}_K{k}", {})
        tmed, tcpu = t.get("median_ms", {}), t.get("median_cpu_ms", {})
        T = 150 if vocab == "ade150" else 847
        rows.append((f"ERR-Seg B end to end @640, {vocab.upper()} (T={T}, K={k}), class embeddings cached",
                     ours_e(f"errseg/e2e/{vocab}_K{k}"),
                     {"ms": tmed.get("e2e_cached_text"), "cpu_ms": tcpu.get("e2e_cached_text")},
                     R.get("ort_whole_graph", {}).get(f"{vocab}_K{k}", {}).get("time", {})))
        rows.append((f"ERR-Seg B vocabulary encoding, {vocab.upper()} (text tower, once per vocabulary)",
                     ours_e(f"errseg/text/{vocab}"), {"ms": tmed.get("text"), "cpu_ms": tcpu.get("text")}, {}))
    for label, o, t, x in rows:
        L.append(f"| {label} | {fmt_ms(o.get('ms'))} | {fmt_ms(t.get('ms'))} | {fmt_ms(x.get('ms'))} | "
                 f"{ratio(t.get('ms'), o.get('ms'))} | {ratio(x.get('ms'), o.get('ms'))} |")
    L.append("")
    L.append("Process CPU time per run (all threads), ms — less sensitive to other jobs on a shared machine than "
             "wall time; OpenMP (PyTorch) and ORT worker threads spin-wait, which counts as CPU time, our pool "
             "sleeps:")
    L.append("")
    L.append("| workload | ours CPU ms | PyTorch CPU ms | ORT CPU ms |")
    L.append("|---|---:|---:|---:|")
    for label, o, t, x in rows:
        L.append(f"| {label} | {fmt_ms(o.get('cpu_ms'))} | {fmt_ms(t.get('cpu_ms'))} | {fmt_ms(x.get('cpu_ms'))} |")
    L.append("")
    L.append("PyTorch ERR-Seg = `bench/pytorch/time_errseg.py` (upstream-equivalent eager code, text tower at the full "
             "77 tokens, as upstream); its `e2e_cached_text` column (preprocess + image + head + postprocess) is compared "
             "with our `ErrSegModel::segment` (same stages, class embeddings given). ORT, ERR-Seg end to end: the exported "
             "whole graph (next section; image → labels, class embeddings as an input).")
    L.append("")

    # ---- ERR-Seg stages ----
    L.append("### ERR-Seg B per stage (ms, median)")
    L.append("")
    L.append("| stage | ours ADE-150 | PyTorch ADE-150 | ours ADE-847 | PyTorch ADE-847 |")
    L.append("|---|---:|---:|---:|---:|")

    def stages_ours(name):
        c = om.get(name, {}).get("counters", {})
        g = lambda k: c.get("ms." + k)  # noqa: E731
        img = sum(v for k, v in c.items() if k.startswith("ms.clip.")) if c else None
        head = sum(v for k, v in c.items() if k.startswith("ms.head.")) if c else None
        return {"preprocess": g("preprocess"), "image": img, "head": head, "postprocess": g("postprocess"),
                "clip.trunk": g("clip.trunk"), "clip.hsm": g("clip.hsm"), "clip.project": g("clip.project"),
                **{k[3:]: v for k, v in c.items() if k.startswith("ms.head.")}}

    so = {v: stages_ours(f"errseg/e2e/{v}_K{k}") for v, k in (("ade150", 32), ("ade847", 48))}
    st = {v: te.get(f"{v}_K{k}", {}).get("median_ms", {}) for v, k in (("ade150", 32), ("ade847", 48))}
    keys = ["preprocess", "image", "clip.trunk", "clip.hsm", "clip.project", "head", "head.cost_map_crm",
            "head.guidance", "head.cost_embedding", "head.aggregator", "head.up_decoder", "postprocess"]
    for k in keys:
        label = k if k in ("preprocess", "image", "head", "postprocess") else "&nbsp;&nbsp;" + k
        L.append(f"| {label} | {fmt_ms(so['ade150'].get(k))} | {fmt_ms(st['ade150'].get(k))} | "
                 f"{fmt_ms(so['ade847'].get(k))} | {fmt_ms(st['ade847'].get(k))} |")
    L.append("")
    L.append("(PyTorch times its stages as preprocess / image / text / head / postprocess only.)")
    L.append("")

    # ---- memory ----
    L.append("### Peak memory, ERR-Seg B end to end")
    L.append("")
    L.append("| | ours peak RSS MiB | PyTorch peak RSS MiB | ours since model loaded | PyTorch since model loaded |")
    L.append("|---|---:|---:|---:|---:|")
    for v, k in (("ade150", 32), ("ade847", 48)):
        c = om.get(f"errseg/e2e/{v}_K{k}", {}).get("counters", {})
        t = te.get(f"{v}_K{k}", {})
        L.append(f"| {v.upper()} K={k} | {fmt_ms(c.get('peak_rss_MiB'))} | {fmt_ms(t.get('peak_rss_mb'))} | "
                 f"{fmt_ms(c.get('peak_rss_inference_MiB'))} | {fmt_ms(t.get('peak_rss_inference_mb'))} |")
    L.append("")
    L.append("Whole-process VmHWM including model loading (ours: the safetensors file is memory-mapped, its pages "
             "count once touched; PyTorch: `torch.load` of the .pth); “since model loaded”: VmHWM reset after "
             "loading (`/proc/self/clear_refs`), i.e. weights + activations of the runs. Ours runs the text tower "
             "once per vocabulary before the timed runs; PyTorch runs it in every run.")
    L.append("")

    # ---- ops ----
    ours_ops = R.get("ours_ops", {}).get("benchmarks", {})
    tops = R.get("torch_ops", {}).get("ops", {})
    cases = {c["name"]: c for c in read_json(os.path.join(args.results, "op_cases.json"), [])}
    L.append("## Ops at the model shapes")
    L.append("")
    L.append(f"FP32 FMA peak used for “% peak”: {peak_desc}.")
    L.append("")
    xops = R.get("ort_ops", {}).get("ops", {})
    L.append("| op / shape | ours ms | ours GFLOP/s | ours % peak | PyTorch ms | PyTorch GFLOP/s | PyTorch / ours "
             "| ORT GFLOP/s | ORT / ours |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")

    def gf(fl, ms):
        return fl / (ms * 1e6) if fl and ms else None

    for name, c in cases.items():
        o = ours_ops.get(name, {}).get("ms")
        t = tops.get(name, {}).get("ms")
        x = xops.get(name, {}).get("ms")
        if o is None and t is None:
            continue
        fl = c.get("flops") or 0
        og, tg, xg = gf(fl, o), gf(fl, t), gf(fl, x)
        pp = f"{100 * og / peak:.0f}%" if og and peak else "—"
        L.append(f"| `{name}` {_shape(c)} | {fmt_ms(o)} | {f'{og:.1f}' if og else '—'} | {pp} | {fmt_ms(t)} | "
                 f"{f'{tg:.1f}' if tg else '—'} | {ratio(t, o)} | {f'{xg:.1f}' if xg else '—'} | {ratio(x, o)} |")
    L.append("")
    L.append("PyTorch ops: `F.linear` (OpenBLAS sgemm), `F.conv2d` / `F.conv_transpose2d` (oneDNN), attention as "
             "upstream computes it under torch < 2.2 (`softmax(q·kᵀ·scale [+ causal mask]) @ v`), `F.layer_norm` on the "
             "permuted view (timm ConvNeXtBlock / LayerNorm2d), `F.group_norm`, `F.gelu`, `F.interpolate`. "
             "ORT: the op alone (`nn.Linear` / `nn.Conv2d` exported to a one-node ONNX graph: MLAS kernels), "
             "linear and conv2d only. A ratio above 1 means we are faster.")
    L.append("")
    prof = R.get("profile", {})
    if prof.get("top"):
        L.append("### Where our ERR-Seg time goes (perf, ADE-150 K=32, self time)")
        L.append("")
        L.append("`perf record -e cpu-clock -g` over one `bench_models` ERR-Seg run (model load, warm-up and timed run; "
                 "both threads):")
        L.append("")
        L.append("| % samples | symbol |")
        L.append("|---:|---|")
        for t in prof["top"]:
            L.append(f"| {t['pct']:.1f} | `{t['symbol']}`{' (kernel)' if t['kind'] == 'kernel' else ''} |")
        L.append("")
    slower = []
    for name, c in cases.items():
        o, t = ours_ops.get(name, {}).get("ms"), tops.get(name, {}).get("ms")
        if o and t and t / o < 0.9:
            slower.append((t / o, name, c, o, t))
    if slower:
        L.append("### Ops where PyTorch is faster (PyTorch / ours < 0.9)")
        L.append("")
        for r_, name, c, o, t in sorted(slower):
            fl = c.get("flops") or 0
            extra = (f": ours {fl / (o * 1e6):.1f} GFLOP/s vs PyTorch {fl / (t * 1e6):.1f} GFLOP/s" if fl else "")
            L.append(f"* `{name}` — {r_:.2f}× ({fmt_ms(o)} ms vs {fmt_ms(t)} ms){extra}")
        L.append("")
    if R.get("notes"):
        L.append("## Notes from this run")
        L.append("")
        for n in R["notes"]:
            L.append(f"* {n}")
        L.append("")
    return "\n".join(L) + "\n"


ANALYSIS_BEGIN, ANALYSIS_END = "<!-- analysis:begin -->", "<!-- analysis:end -->"
WHOLE_GRAPH_BEGIN, WHOLE_GRAPH_END = "<!-- whole-graph:begin -->", "<!-- whole-graph:end -->"


def torch_env_of(R):
    return R.get("torch_ops", {}).get("env") or R.get("torch_models", {}).get("env") or R.get("torch_env") or {}


def render_whole_graph(R):
    """The ERR-Seg end-to-end section: errseg vs ONNX Runtime on the exported whole graph vs PyTorch
    eager, with the machine it ran on (this section can be regenerated alone, --whole-graph)."""
    info, threads = R["machine"], R["threads"]
    om = {}
    for grp in R.get("ours_models", {}).values():
        om.update(grp.get("benchmarks", {}))
    te, wg = R.get("torch_errseg", {}), R.get("ort_whole_graph", {})
    tenv, ob = torch_env_of(R), torch_env_of(R).get("openblas", {})
    some = next((w for w in wg.values() if w.get("export", {}).get("onnxruntime")), {})
    exp0 = some.get("export", {})
    L = [WHOLE_GRAPH_BEGIN, "## ERR-Seg B end to end: errseg vs ONNX Runtime (whole graph) vs PyTorch eager", ""]
    L.append(f"Generated by `/usr/bin/python3 bench/run_cpu_bench.py{' --whole-graph' if R.get('whole_graph_only') else ''}"
             f"{' --quick' if R.get('quick') else ''} --threads {threads}` ({R.get('date')}, "
             f"{R.get('elapsed_min', 0):.0f} min{', this section alone' if R.get('whole_graph_only') else ''}). Image → label map @640 crop, class embeddings "
             "cached (computed once per vocabulary), random B-size weights (`bench/make_random_checkpoints.py`), "
             "the same checkpoint, image (400×300) and K in all three.")
    L.append("")
    L.append(f"* CPU: {info.get('cpu_model')}, {info.get('logical_cpus')} logical CPUs"
             + (f" under {info.get('Hypervisor vendor', 'a hypervisor')}" if info.get("hypervisor") else "")
             + f"; SIMD flags: {', '.join(info.get('flags', [])) or 'none'}")
    L.append(f"* Threads: **{threads}** for each engine (errseg `--threads`, `torch.set_num_threads` + OMP/OpenBLAS "
             f"env, ORT `intra_op_num_threads`, sequential executor); {R.get('warmup')} warm-up run(s), median of "
             f"{R.get('repeats')} timed runs")
    loads = ", ".join(f"{k.replace('models.', '')} {v[0]}" for k, v in R.get("loads", {}).items() if v)
    L.append(f"* Load average (1 min) before {(R.get('load_before') or [None])[0]}, at each step: {loads or '—'}, after "
             f"{(R.get('load_after') or [None])[0]}; other busy processes at the start: "
             f"{'; '.join(R.get('busy_before') or []) or 'none'}"
             + (" — **shared machine: absolute times are inflated; compare the CPU-time columns too**"
                if R.get("noisy") else ""))
    pthread = "openblas-pthread" in (ob.get("library") or "")
    L.append(f"* ONNX Runtime {exp0.get('onnxruntime', '?')} (CPUExecutionProvider, ORT_ENABLE_ALL; graph exported "
             f"by torch {exp0.get('torch', '?')}, opset {exp0.get('opset', '?')}); PyTorch {tenv.get('torch', '?')} "
             f"eager (`bench/pytorch/time_errseg.py --cache-text`, its `e2e_cached_text`), GEMMs through "
             f"{ob.get('library', '?')} (OpenBLAS kernel {ob.get('corename', '?')}"
             + ("; the libopenblas0-pthread build" if pthread else "; **not** libopenblas0-pthread") + ")")
    L.append(f"* `OPENBLAS_CORETYPE` / `OPENBLAS_L2_SIZE` removed from the timed commands only (set before: "
             f"{R.get('openblas_env_before') or 'neither'})")
    L.append("")
    L.append("| workload | errseg ms | ORT whole graph ms | PyTorch eager ms | ORT / errseg | PyTorch / errseg "
             "| errseg CPU ms | ORT CPU ms | PyTorch CPU ms |")
    L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    runs = []
    for vocab, k, T in (("ade150", 32, 150), ("ade847", 48, 847)):
        key = f"{vocab}_K{k}"
        if key not in wg and key not in te:
            continue
        o = om.get(f"errseg/e2e/{key}", {})
        o_ms, o_cpu = o.get("ms"), o.get("counters", {}).get("cpu_ms")
        x = wg.get(key, {}).get("time", {})
        t = te.get(key, {})
        t_ms, t_cpu = t.get("median_ms", {}).get("e2e_cached_text"), t.get("median_cpu_ms", {}).get("e2e_cached_text")
        L.append(f"| {vocab.upper()} (T={T}, K={k}) | {fmt_ms(o_ms)} | {fmt_ms(x.get('ms'))} | {fmt_ms(t_ms)} | "
                 f"{ratio(x.get('ms'), o_ms)} | {ratio(t_ms, o_ms)} | {fmt_ms(o_cpu)} | {fmt_ms(x.get('cpu_ms'))} | "
                 f"{fmt_ms(t_cpu)} |")
        samples = [("errseg", o.get("runs_ms") or []), ("ORT", x.get("runs_ms") or []),
                   ("PyTorch", [r.get("e2e_cached_text") for r in t.get("runs_ms", [])])]
        runs.append(f"{vocab.upper()}: " + "; ".join(f"{n} {', '.join(fmt_ms(v) for v in s) or '—'}" for n, s in samples))
    L.append("")
    L.append("Every timed run, ms — " + " · ".join(runs))
    L.append("")
    L.append("Correctness of what was timed (not timed; `bench/ort_whole_graph.py`): ORT's logits against PyTorch "
             "eager on the same inputs (CRM ties to the lower class index in both, as ONNX TopK), and "
             "`errseg segment --crm-ties lower-index` (its own text tower) against ORT. Error = max |Δ logit| over "
             "the K kept classes / max |logit| there; near ties = share of logit positions whose top-2 gap (median "
             "in brackets) is within twice the largest |Δ logit| — the random weights make the logits nearly equal "
             "across classes (gaps of the size of fp32 rounding), so a few % of the labels flip between engines "
             "that agree to rounding.")
    L.append("")
    L.append("| workload | graph | ORT vs eager: same K classes | max rel. error | labels equal | near ties "
             "| errseg vs ORT: same K classes | max rel. error | labels equal | near ties |")
    L.append("|---|---|---|---:|---:|---:|---|---:|---:|---:|")
    def cells(d):
        same = "yes" if d.get("selected_equal") else "**no**"
        err = f"{d['max_rel_err']:.1e}" if "max_rel_err" in d else "—"
        labels = f"{100 * d['label_agreement']:.3f} %" if "label_agreement" in d else "—"
        ties = f"{100 * d['near_tie_fraction']:.1f} % ({d['top2_gap_median']:.1e})" if "near_tie_fraction" in d else "—"
        return f"{same} | {err} | {labels} | {ties}"

    for key, w in wg.items():
        e, c = w.get("export") or {}, w.get("cli", {}).get("ours_vs_ort", {})
        chk = e.get("check_vs_eager", {})
        if w.get("failed") or not e:
            L.append(f"| {key} | **failed**: {w.get('failed', '?')} | {cells(chk)} | — | — | — | — |")
            continue
        L.append(f"| {key} | {e.get('onnx_mib', 0):.0f} MiB, exported in {e.get('export_s', 0):.0f} s | "
                 f"{cells(chk)} | {cells(c)} |")
    L.append("")
    L.append("How the graph is made: `torch.onnx.export` (opset 17) of `bench/pytorch/errseg_torch.py` from "
             "`preprocess` (uint8 H×W×3 → normalised, bilinear to 640×640) through the dense image tower, the head "
             "and `postprocess` (sigmoid, bilinear to the image size, argmax); inputs: the image and the T×1×E "
             "class embeddings; outputs: logits and labels (the timed runs fetch the labels). Static: image size, "
             "T and K are fixed at export, one graph per vocabulary. CRM's data-dependent selection stays inside "
             "the graph with the fixed K: per-class counts by comparing each position's top-3 class indices "
             "with every class index and summing (ONNX has no bincount; the same integers), the K classes by "
             "ONNX TopK, the selected cost maps and text embeddings by Gather, the −100 reconstruction by "
             "ScatterND.")
    L.append(WHOLE_GRAPH_END)
    return "\n".join(L)


def write_report(state, args):
    """Writes --out atomically: the whole report, or with --whole-graph only its section (replaced
    in place, or put before '## Whole models' the first time). Returns the text written."""
    try:
        with open(args.out, encoding="utf-8") as f:
            old = f.read()
    except OSError:
        old = ""
    if not args.whole_graph:
        text = keep_analysis(render(state, args), args.out)
    else:
        section = render_whole_graph(state)
        b, e = old.find(WHOLE_GRAPH_BEGIN), old.find(WHOLE_GRAPH_END)
        if 0 <= b < e:
            text = old[:b] + section + old[e + len(WHOLE_GRAPH_END):]
        else:
            head, sep, rest = old.partition("\n## Whole models")
            text = head + "\n" + section + "\n" + sep + rest if sep else old + "\n" + section + "\n"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(args.out + ".tmp", args.out)
    return text


def keep_analysis(text, out_path):
    """Carries a hand-written section (between the analysis markers) of the existing report over to
    the regenerated one, after the generated header; numbers in it may then be stale, so it says so."""
    try:
        with open(out_path, encoding="utf-8") as f:
            old = f.read()
    except OSError:
        return text
    b, e = old.find(ANALYSIS_BEGIN), old.find(ANALYSIS_END)
    if b < 0 or e < b:
        return text
    section = old[b:e + len(ANALYSIS_END)]
    head, sep, rest = text.partition("\n## Machine and software")
    return head + "\n" + section + "\n" + sep + rest


def _shape(c):
    p = c["params"]
    op = c["op"]
    if op == "linear":
        return f"[{p['M']}×{p['K']}]·[{p['K']}→{p['N']}]"
    if op in ("conv2d", "conv_transpose2d"):
        g = p.get("groups", 1)
        return (f"{p['N']}×{p['C']}×{p['H']}×{p['W']} → {p['O']}, k{p['k']} s{p['stride']}"
                + (f" p{p['pad']}" if p.get("pad") else "") + (f" g{g}" if g > 1 else ""))
    if op == "attention":
        return f"B{p['B']} H{p['H']} Lq{p['Lq']} Lk{p['Lk']} d{p['D']}" + (" causal" if p["causal"] else "")
    if op == "layer_norm":
        return f"{p['R']}×{p['C']}"
    if op in ("layer_norm_nhwc", "layer_norm2d", "group_norm"):
        return f"{p['N']}×{p['C']}×{p['H']}×{p['W']}" + (f" G{p['G']}" if "G" in p else "")
    if op == "gelu":
        return f"{p['n']:,}"
    if op == "resize_bilinear":
        return (f"{p['N']}×{p['C']}×{p['H']}×{p['W']} → {p['OH']}×{p['OW']}"
                + (" ac" if p["align_corners"] else ""))
    return ""


# ----------------------------------------------------------------------------------------------

def versions():
    out = {}
    code = ("import json\n"
            "from importlib.metadata import version\n"
            "out = {}\n"
            "for name, dist in (('numpy', 'numpy'), ('open_clip', 'open_clip_torch'), ('timm', 'timm'),\n"
            "                   ('onnxruntime', 'onnxruntime'), ('torch', 'torch')):\n"
            "    try:\n        out[name] = version(dist)\n    except Exception:\n"
            "        try:\n            out[name] = __import__(name).__version__\n"
            "        except Exception:\n            out[name] = None\n"
            "print(json.dumps(out))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    try:
        out = json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        pass
    return out


def busy_processes():
    """Other processes using CPU now: 'comm (nice N, P% CPU)'."""
    try:
        out = subprocess.run(["ps", "-eo", "pid=,ni=,pcpu=,comm=", "--sort=-pcpu"], capture_output=True,
                             text=True).stdout
    except OSError:
        return []
    me = os.getpid()
    res = []
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) < 4 or int(parts[0]) == me:
            continue
        if float(parts[2]) < 20:
            break
        res.append(f"{parts[3]} (nice {parts[1]}, {parts[2]}% CPU)")
    return res[:6]


def wait_quiet(limit_s, threshold):
    t0 = time.time()
    while True:
        la = loadavg()
        if la is None or la[0] < threshold:
            return la
        if time.time() - t0 > limit_s:
            log(f"load average {la} still >= {threshold} after {limit_s} s: running anyway")
            return la
        log(f"load average {la}: waiting for < {threshold} ...")
        time.sleep(30)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="1 timed run per workload, short op timing, no ADE-847, ours without the full-77 text run")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per model workload (default 3, quick 1)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats-847", type=int, default=None, help="timed runs of PyTorch ERR-Seg on ADE-847 (default --repeats)")
    ap.add_argument("--warmup-847", type=int, default=None, help="warm-up runs of PyTorch ERR-Seg on ADE-847 (default --warmup)")
    ap.add_argument("--op-min-time", type=float, default=None, help="seconds per op repetition (default 0.3, quick 0.05)")
    ap.add_argument("--op-repeats", type=int, default=None, help="repetitions per op (default 3, quick 1)")
    ap.add_argument("--ops-filter", default="", help="regex on op benchmark names")
    ap.add_argument("--build", default=os.path.join(REPO, "build-bench"))
    ap.add_argument("--cache", default=None, help="model files (default <build>/bench_cache)")
    ap.add_argument("--results", default=None, help="JSON results (default <build>/bench_results)")
    ap.add_argument("--out", default=os.path.join(REPO, "docs", "PERFORMANCE.md"))
    ap.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                    help="first wait up to this long for the 1-min load average to drop below --quiet-load")
    ap.add_argument("--quiet-load", type=float, default=1.5)
    ap.add_argument("--no-ort", action="store_true")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--no-ops", action="store_true")
    ap.add_argument("--no-models", action="store_true")
    ap.add_argument("--rebuild", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--no-build", action="store_true", help="use the bench binaries as they are")
    ap.add_argument("--no-profile", action="store_true", help="skip the perf profile of our ERR-Seg run")
    ap.add_argument("--render-only", action="store_true", help="re-render --out from the saved results")
    ap.add_argument("--whole-graph", action="store_true",
                    help="only ERR-Seg end to end: errseg vs ONNX Runtime on the exported whole graph vs PyTorch eager "
                         "(ADE-150 K 32, ADE-847 K 48); replaces only that section of --out")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    ap.add_argument("--worker-out", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    a.cache = a.cache or os.path.join(a.build, "bench_cache")
    a.results = a.results or os.path.join(a.build, "bench_results")
    if a.repeats is None:
        a.repeats = 1 if a.quick else 3
    if a.op_min_time is None:
        a.op_min_time = 0.05 if a.quick else 0.3
    if a.op_repeats is None:
        a.op_repeats = 1 if a.quick else 3
    a.repeats_847 = a.repeats if a.repeats_847 is None else a.repeats_847
    a.warmup_847 = a.warmup if a.warmup_847 is None else a.warmup_847
    if a.whole_graph:
        a.no_ops = a.no_profile = True
    return a


def main():
    args = parse_args()
    if args.worker:
        spec = read_json(args.spec)
        write_json(args.worker_out, WORKERS[args.worker](spec))
        return 0

    state_path = os.path.join(args.results, "state_whole_graph.json" if args.whole_graph else "state.json")
    if args.render_only:
        state = read_json(state_path)
        if not state:
            raise SystemExit(f"no results at {state_path}")
        print(write_report(state, args))
        return 0

    t_start = time.time()
    os.makedirs(args.results, exist_ok=True)
    info = machine_info()
    state = {"machine": info, "threads": args.threads, "quick": args.quick, "repeats": args.repeats,
             "warmup": args.warmup, "op_min_time": args.op_min_time, "op_repeats": args.op_repeats,
             "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
             "openblas_env_before": ", ".join(f"{k}={os.environ[k]}" for k in STRIP_ENV if k in os.environ),
             "versions": versions(), "notes": [], "loads": {}, "whole_graph_only": args.whole_graph}

    def save():
        write_json(state_path, state)

    def step_load(name):
        state["loads"][name] = loadavg()

    exes = ensure_build(args)
    state["source_digest"] = source_digest()
    models = prepare_models(args)
    state["models"] = models
    if args.wait_quiet:
        wait_quiet(args.wait_quiet, args.quiet_load)
    state["load_before"] = loadavg()
    state["busy_before"] = busy_processes()
    if args.whole_graph and not args.no_torch:   # which BLAS the PyTorch column runs on
        state["torch_env"] = run_worker("torch-env", {}, args, os.path.join(args.results, "torch_env.json")).get("env")
    save()

    # Engines run back to back per workload group (ours, PyTorch, ORT), so that they see the same
    # background load on a shared machine.
    def merge(dst_key, r, sub):
        d = state.setdefault(dst_key, {})
        d.setdefault(sub, {}).update(r.get(sub, {}))
        for k, v in r.items():
            if k != sub:
                d[k] = v

    # ---- ops ----
    if not args.no_ops:
        cases = dump_op_cases(args, exes[0])
        step_load("ops.peak")
        merge("ours_ops", run_ours_ops(args, exes[0], "^peak/", os.path.join(args.results, "ours_ops_peak.json")),
              "benchmarks")
        families = ["linear", "conv2d", "conv2d_dw", "conv_transpose2d", "attention",
                    "layer_norm|layer_norm_nhwc|layer_norm2d|group_norm", "gelu", "resize_bilinear"]
        user = re.compile(args.ops_filter or ".")
        for fam in families:
            names = [c["name"] for c in read_json(cases) if re.match(f"^({fam})/", c["name"]) and user.search(c["name"])]
            if not names:
                continue
            key = fam.split("|")[0]
            step_load(f"ops.{key}")
            flt = "^(" + "|".join(re.escape(n) for n in names) + ")(/|$)"
            r = run_ours_ops(args, exes[0], flt, os.path.join(args.results, f"ours_ops_{key}.json"))
            merge("ours_ops", r, "benchmarks")
            if not args.no_torch:
                onnx_dir = os.path.join(args.cache, "onnx_ops") if not args.no_ort else None
                t = run_worker("torch-ops", {"cases": cases, "threads": args.threads, "min_time": args.op_min_time,
                                             "repeats": args.op_repeats, "filter": flt, "onnx_dir": onnx_dir},
                               args, os.path.join(args.results, f"torch_ops_{key}.json"))
                merge("torch_ops", t, "ops")
                if onnx_dir and any(v.get("onnx") for v in t.get("ops", {}).values()):
                    o = run_worker("ort-ops", {"ops": t["ops"], "threads": args.threads, "min_time": args.op_min_time,
                                               "repeats": args.op_repeats},
                                   args, os.path.join(args.results, f"ort_ops_{key}.json"))
                    merge("ort_ops", o, "ops")
            save()
        step_load("ops.end")

    # ---- models ----
    if not args.no_models:
        spec = {"threads": args.threads, "warmup": args.warmup, "repeats": args.repeats,
                "models": models, "onnx_dir": args.cache}
        tower_workloads = ["vit_pooled224", "convnext_trunk640", "convnext_pooled320", "convnext_text150_full77"]
        exported = {}
        if not args.no_ort and not args.whole_graph:
            import numpy as np
            import open_clip
            tok = os.path.join(args.cache, "ade150_tokens.npy")
            np.save(tok, open_clip.tokenize(ade_prompts("ade150")).numpy())
            exported = run_worker("export", dict(spec, workloads=tower_workloads), args,
                                  os.path.join(args.results, "onnx_export.json"))
        text_flt = "^clip_convnext/text_ade150/" if args.quick else "^clip_convnext/text"
        groups = [  # (key, our benchmark filter, PyTorch/ORT tower workloads, ERR-Seg vocab run)
            ("vit", "^clip_vit", ["vit_pooled224"], None),
            ("convnext", "^clip_convnext/(trunk|image)", ["convnext_trunk640", "convnext_pooled320"], None),
            ("text", text_flt, ["convnext_text150_full77"], None),
            ("errseg150", "^errseg/(e2e|text)/ade150", [], ("ade150", 32)),
        ]
        if not args.quick:
            groups.append(("errseg847", "^errseg/(e2e|text)/ade847", [], ("ade847", 48)))
        if args.whole_graph:
            groups = [g for g in groups if g[3]]
        for key, flt, towers, errseg in groups:
            step_load(f"models.{key}")
            state.setdefault("ours_models", {})[key] = run_ours_models(args, exes[1], models, key, flt)
            save()
            if towers and not args.no_torch:
                t = run_worker("torch-models", dict(spec, workloads=towers), args,
                               os.path.join(args.results, f"torch_models_{key}.json"))
                merge("torch_models", t, "models")
                save()
            if towers and not args.no_ort:
                o = run_worker("ort", dict(spec, workloads=towers, exported=exported, tokens_npy=tok), args,
                               os.path.join(args.results, f"ort_models_{key}.json"))
                merge("ort_models", o, "models")
                for name, r in o.get("models", {}).items():
                    if "error" in r:
                        state["notes"].append(f"ORT {name}: skipped — {r['error']}")
                save()
            if errseg and not args.no_torch:
                vocab, k = errseg
                reps, warm = ((args.repeats_847, args.warmup_847) if vocab == "ade847" else (args.repeats, args.warmup))
                state.setdefault("torch_errseg", {})[f"{vocab}_K{k}"] = run_torch_errseg(args, models, vocab, k,
                                                                                         reps, warm)
                save()
            if errseg and not args.no_ort:
                vocab, k = errseg
                step_load(f"models.{key}.ort")
                state.setdefault("ort_whole_graph", {})[f"{vocab}_K{k}"] = run_ort_whole_graph(args, exes[2], models,
                                                                                               vocab, k)
                save()
        step_load("models.end")
        if not args.no_profile:
            state["profile"] = perf_profile(args, exes[1], models)
            save()

    state["load_after"] = loadavg()
    state["busy_after"] = busy_processes()
    la = [v for v in state["loads"].values() if v] + [state["load_before"] or [0], state["load_after"] or [0]]
    state["noisy"] = any(v[0] >= args.quiet_load for v in la)
    state["elapsed_min"] = (time.time() - t_start) / 60
    save()
    print(write_report(state, args))
    log(f"wrote {args.out}; results in {args.results}; {state['elapsed_min']:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
