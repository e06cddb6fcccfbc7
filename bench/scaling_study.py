#!/usr/bin/env python3
"""Scaling study of `errseg segment`: how the time per image grows with the vocabulary size T,
CRM's kept classes K, images per batch and threads, and a fitted model of it.

    /usr/bin/python3 bench/scaling_study.py --errseg build/errseg \
        --model build-bench/bench_cache/errseg_b_random.safetensors [--image photo.png] \
        [--reps 2] [--threads 1,2] [--profile build-bench/bench/profile_errseg] [--work DIR] \
        [--doc docs/PERFORMANCE.md] [--quick] [--only-threads --reuse-embeddings] \
        [--render-only [--merge OTHER_WORK_DIR]]

Standard library only (no torch). It drives the real CLI:
  * `errseg embed-text --classes V` per vocabulary (voc20, ade150, ade847 and a generated
    2,000-name list): the vocabulary-encoding time against T (whole process: wall and CPU time);
    its output is the class-embeddings file every timed `segment` run reuses;
  * `errseg segment --class-embeddings ... --batch b --threads t [--top-k K] --manifest M` over n
    copies of one image. While it runs, the child's CPU time (/proc/PID/stat, all threads, and
    per thread from /proc/PID/task) is sampled every 20 ms and read off when each image's
    manifest line appears, so the per-image CPU time excludes model loading and the first (cold)
    batch: (CPU at the last line - CPU at the end of the first batch) / (images after the first
    batch). The per-stage split is `Result::timings_ms` (wall) of those warm images, from the
    manifest; per-stage CPU is interpolated at those stage boundaries (batch 1).
  * optionally `bench/profile_errseg` (--profile) per thread count: time per op kind.
Every point is repeated --reps times (the repetitions are interleaved: rep 1 of all points,
then rep 2, ...) and the median is reported; the 1-minute load average is recorded per run.

Then it fits, per stage, CPU time = c0 + cT * T + cK * K (+ cK2 * K^2 for the aggregator) by
least squares over the 2-thread batch-1 points, derives each stage's serial fraction (Amdahl)
from the thread-count speed-ups and from how its CPU time splits over the threads (the busiest
thread runs the serial parts; not inflated by other jobs), and projects 16/32/64 cores. Results
go to WORK/scaling.json; the markdown goes between the `<!-- scaling:begin -->` /
`<!-- scaling:end -->` markers of --doc (inside its hand-written analysis section, so a full
`run_cpu_bench.py` regeneration keeps it).

--quick: one repetition, fewer images and points (a smoke check; the test suite runs it on the
tiny fixture model). Every run checks what it measured (K per vocabulary, the selected class
count, T of the generated list, stages that sum to at most the total) and exits 1 on a failed
check.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLASSES_DIR = os.path.join(REPO, "data", "classes")
BEGIN, END = "<!-- scaling:begin -->", "<!-- scaling:end -->"
ANALYSIS_END = "<!-- analysis:end -->"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Stage groups of Result::timings_ms, in pipeline order.
STAGES = [
    ("image tower", ["preprocess", "clip.trunk", "clip.hsm", "clip.project"]),
    ("cost maps + CRM", ["head.cost_map_crm"]),
    ("guidance + cost embedding", ["head.guidance", "head.cost_embedding"]),
    ("aggregator", ["head.aggregator"]),
    ("up-decoder", ["head.up_decoder"]),
    ("postprocess", ["postprocess"]),
]
BATCHED = {"preprocess", "clip.trunk", "clip.hsm", "clip.project"}  # timed once per batch
BUILTIN_K = {"voc20": 16, "ade150": 32, "ade847": 48}  # the CLI's per-vocabulary defaults
SIZE_2000 = 2000
MODIFIERS = ["small", "large", "old", "new", "red", "blue", "green", "white", "black", "wooden",
             "metal", "plastic", "broken", "striped", "round", "folded", "wet", "painted"]


def first_synonym(name):
    return name.split(", ", 1)[0]


def make_vocabulary_2000(path):
    """ADE-847, then PC-459, COCO-171, PC-59, ADE-150, VOC-20 names whose first synonym is new, then
    '<modifier> <ADE-150 name>' until there are 2,000: deterministic, realistic prompt lengths."""
    names, seen = [], set()

    def add(name):
        name = name.strip()  # the CLI trims names and refuses duplicates ("bed " in PC-459)
        key = first_synonym(name).lower()
        if key not in seen and len(names) < SIZE_2000:
            seen.add(key)
            names.append(name)

    for vocab in ["ade847", "pc459", "coco", "pc59", "ade150", "voc20"]:
        with open(os.path.join(CLASSES_DIR, vocab + ".json"), encoding="utf-8") as f:
            for name in json.load(f):
                add(name)
    with open(os.path.join(CLASSES_DIR, "ade150.json"), encoding="utf-8") as f:
        base = [first_synonym(n) for n in json.load(f)]
    for modifier in MODIFIERS:
        for b in base:
            add(f"{modifier} {b}")
    assert len(names) == SIZE_2000, len(names)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(names, f)
    os.replace(path + ".tmp", path)
    return names


def loadavg():
    return round(os.getloadavg()[0], 2)


def proc_cpu_s(pid):
    """User + system CPU seconds of a live process, all its threads (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def thread_cpu_s(pid):
    """{thread id: CPU seconds} of a live process's threads."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            out[tid] = (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            pass
    return out


def run_sampled(cmd, manifest=None, log=None):
    """Runs cmd; returns wall s, CPU s (rusage of the child), and for each manifest line k (1-based)
    the (wall s since start, child CPU s) at which it appeared."""
    load = loadavg()
    t0 = time.perf_counter()
    with open(log or os.devnull, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
    marks, samples, lines, size = [], [], 0, -1
    while True:
        pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        cpu = proc_cpu_s(proc.pid)
        if cpu is not None:
            samples.append((time.perf_counter() - t0, cpu, thread_cpu_s(proc.pid) if manifest else {}))
        if manifest and os.path.exists(manifest) and os.path.getsize(manifest) != size:
            size = os.path.getsize(manifest)
            with open(manifest, encoding="utf-8") as f:
                n = sum(1 for line in f if line.endswith("\n"))
            while lines < n and cpu is not None:
                lines += 1
                marks.append((time.perf_counter() - t0, cpu))
        time.sleep(0.02)
    wall = time.perf_counter() - t0
    cpu_total = ru.ru_utime + ru.ru_stime
    if manifest and os.path.exists(manifest):  # lines that appeared after the last sample: at exit
        with open(manifest, encoding="utf-8") as f:
            n = sum(1 for line in f if line.endswith("\n"))
        marks += [(wall, cpu_total)] * (n - lines)
    samples.append((wall, cpu_total, samples[-1][2] if samples else {}))
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = open(log, encoding="utf-8", errors="replace").read()[-2000:] if log else ""
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}\n{tail}")
    return {"wall_s": wall, "cpu_s": cpu_total, "marks": marks, "samples": samples, "load_before": load,
            "load_after": loadavg(), "max_rss_mib": ru.ru_maxrss / 1024}


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


# ---------------------------------------------------------------- the plan


def plan(quick, threads=(1, 2), only_threads=False):
    """Points: encode (vocab, threads) and segment (vocab, K or None, threads, batch, images).
    Thread counts other than 2 run the batch-1 default-K points of voc20 / ade150 / ade847;
    only_threads: just those and their 2-thread partners (ade150, ade847)."""
    vocabs = ["voc20", "ade150", "ade847", "v2000"]
    if only_threads:
        return ([(v, 2) for v in ("ade150", "ade847")],
                [(v, None, t, 1, 3) for t in threads for v in ("ade150", "ade847")])
    if quick:
        enc = [(v, 2) for v in vocabs] + [("ade150", 1)]
        seg = [(v, None, 2, 1, 2) for v in vocabs]
        seg += [("ade847", 16, 2, 1, 2), ("ade150", None, 2, 2, 4)]
        seg += [("ade150", None, t, 1, 2) for t in threads if t != 2]
        return enc, seg
    enc = [(v, 2) for v in vocabs] + [("ade847", 1)]
    seg = [(v, None, 2, 1, 3) for v in vocabs]                             # T, default K
    seg += [("ade847", k, 2, 1, 3) for k in (16, 32, 64)] + [("v2000", 48, 2, 1, 3)]  # K at fixed T
    seg += [(v, None, t, 1, 3) for t in threads if t != 2 for v in ("voc20", "ade150", "ade847")]
    seg += [("ade150", None, 2, b, 8) for b in (2, 4)]                     # images per batch
    return enc, seg


def key_of(p):
    v, k, t, b, n = p
    return f"{v}/K{k or 'default'}/t{t}/b{b}/n{n}"


# ---------------------------------------------------------------- measuring


def measure(args):
    work = args.work
    os.makedirs(work, exist_ok=True)
    vocab_arg = {v: v for v in BUILTIN_K}
    vocab_arg["v2000"] = os.path.join(work, "vocab2000.json")
    make_vocabulary_2000(vocab_arg["v2000"])
    images = []
    for i in range(8):
        copy = os.path.join(work, f"img{i:02d}.png")  # copies: the CLI refuses one file given twice
        if os.path.lexists(copy):
            os.remove(copy)
        shutil.copyfile(args.image, copy)
        images.append(copy)
    emb = {v: os.path.join(work, f"emb_{v}.safetensors") for v in vocab_arg}
    enc_points, seg_points = plan(args.quick, args.threads, args.only_threads)
    state = {"started": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             "machine": machine(), "errseg": args.errseg, "model": args.model, "image": args.image,
             "reps": args.reps, "quick": args.quick, "commit": git_commit(), "encode": {}, "segment": {}}
    t_start = time.time()
    for rep in range(args.reps):
        for v, t in enc_points:
            out = emb[v] if t == 2 else os.path.join(work, f"emb_{v}_t{t}.safetensors")
            if args.reuse_embeddings and os.path.exists(out):
                continue
            cmd = [args.errseg, "embed-text", "--model", args.model, "--classes", vocab_arg[v], "--out", out,
                   "--threads", str(t)]
            r = run_sampled(cmd, log=os.path.join(work, "stderr.log"))
            r.pop("marks")
            r.pop("samples")
            state["encode"].setdefault(f"{v}/t{t}", {"vocab": v, "threads": t, "runs": []})["runs"].append(r)
            say(f"rep {rep + 1} encode {v} t{t}: {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU, load {r['load_before']}")
        for p in seg_points:
            v, k, t, b, n = p
            out_dir = os.path.join(work, "out")
            shutil.rmtree(out_dir, ignore_errors=True)
            manifest = os.path.join(work, "manifest.jsonl")
            if os.path.exists(manifest):
                os.remove(manifest)
            cmd = [args.errseg, "segment", "--model", args.model, "--classes", vocab_arg[v], "--class-embeddings",
                   emb[v], "--threads", str(t), "--batch", str(b), "--format", "labels", "--quiet",
                   "--manifest", manifest, "-o", out_dir] + (["--top-k", str(k)] if k else []) + images[:n]
            r = run_sampled(cmd, manifest, log=os.path.join(work, "stderr.log"))
            with open(manifest, encoding="utf-8") as f:
                records = [json.loads(line) for line in f]
            with open(os.path.join(out_dir, "img00.json"), encoding="utf-8") as f:
                first = json.load(f)
            r.update(per_image(r.pop("marks"), r.pop("samples"), records, b, n, t))
            r["top_k"] = first["top_k"]
            r["top_k_source"] = first["top_k_source"]
            r["selected"] = len(first["selected_classes"])
            r["num_classes"] = first["num_classes"]
            r["cpu_isa"] = first.get("cpu_isa")
            point = state["segment"].setdefault(key_of(p), {"vocab": v, "k_arg": k, "threads": t, "batch": b,
                                                            "images": n, "runs": []})
            point["runs"].append(r)
            say(f"rep {rep + 1} segment {key_of(p)}: {r['img_wall_ms']:.0f} ms/image wall, "
                f"{r['img_cpu_ms']:.0f} ms/image CPU, K {r['top_k']}, load {r['load_before']}")
    if args.profile:
        state["profile"] = profile_ops(args)
    state["minutes"] = round((time.time() - t_start) / 60, 1)
    state["load_end"] = loadavg()
    return state


def profile_ops(args):
    """`profile_errseg` (ade150, one timed forward after a warm-up) at each thread count, --reps
    times alternated: ms per op kind."""
    runs = {}
    for rep in range(args.reps):
        for t in args.threads:
            cmd = [args.profile, args.model, args.image, "--classes=ade150", "--runs=1", f"--threads={t}", "--top=1"]
            load = loadavg()
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} exited {out.returncode}\n{out.stderr[-2000:]}")
            ops, section = {}, False
            for line in out.stdout.splitlines():
                if line.startswith("per op:"):
                    section = True
                elif section and not line.strip():
                    break
                elif section:
                    parts = line.split()  # "22.8 ms   35.5%  linear"
                    ops[parts[3]] = float(parts[0])
            if not ops:
                raise RuntimeError(f"{' '.join(cmd)}: no 'per op:' table in its output")
            runs.setdefault(str(t), []).append({"ops": ops, "load": load})
            say(f"rep {rep + 1} profile_errseg t{t}: {sum(ops.values()):.0f} ms in ops, load {load}")
    return runs


def cpu_at(samples, t, tid=None):
    """The child's CPU seconds (or thread tid's) at wall time t, interpolated between the 20 ms
    samples."""
    def c(sample):
        return sample[1] if tid is None else sample[2].get(tid, 0.0)
    for a, b in zip(samples, samples[1:]):
        if a[0] <= t <= b[0]:
            return c(a) + (c(b) - c(a)) * (t - a[0]) / max(b[0] - a[0], 1e-9)
    return c(samples[0]) if t < samples[0][0] else c(samples[-1])


def thread_split(samples, t0, t1, threads):
    """Serial share of the work between wall times t0 and t1 from how it split over the threads:
    the busiest thread ran the serial parts and its share of the parallel ones, the next
    threads - 1 (the pool's workers) only parallel parts. CPU time counts only while a thread
    runs, so other jobs on the machine do not enter (unless they starve one thread so long that
    the other takes over its chunks). None for 1 thread."""
    if threads < 2:
        return None
    tids = {tid for s in samples for tid in s[2]}
    work = sorted((cpu_at(samples, t1, tid) - cpu_at(samples, t0, tid) for tid in tids), reverse=True)
    if len(work) < threads:
        return None
    workers = statistics.mean(work[1:threads])
    serial, parallel = max(0.0, work[0] - workers), threads * workers
    return {"serial_ms": 1000 * serial, "parallel_ms": 1000 * parallel}


def stage_cpu(mark_t, timings, samples, threads):
    """CPU ms per stage of one image, batch 1: the stages ran back to back (timings_ms order) and
    ended when its manifest line appeared (the output's encoding and write, a few ms, shift the
    boundaries); CPU at each boundary interpolated from the samples. Good to ~20 ms: read it for
    stages of several hundred ms."""
    stages = [(k, v) for k, v in timings.items() if k != "total"]
    t = mark_t - sum(v for _, v in stages) / 1000
    out = {}
    for name, ms in stages:
        out[name] = {"cpu": (cpu_at(samples, t + ms / 1000) - cpu_at(samples, t)) * 1000,
                     "split": thread_split(samples, t, t + ms / 1000, threads)}
        t += ms / 1000
    return out


def per_image(marks, samples, records, batch, n, threads):
    """Steady-state per-image figures of one segment run: everything after the first batch."""
    if len(marks) != n or len(records) != n:
        raise RuntimeError(f"expected {n} manifest lines, saw {len(marks)} / {len(records)}")
    warm = n - batch
    stages = {}
    for rec in records[batch:]:
        for name, ms in rec["timings_ms"].items():
            stages.setdefault(name, []).append(ms / batch if name in BATCHED else ms)
    stage_cpus, splits = {}, {}
    if batch == 1:
        for (t, _), rec in zip(marks[1:], records[1:]):
            for name, r in stage_cpu(t, rec["timings_ms"], samples, threads).items():
                stage_cpus.setdefault(name, []).append(r["cpu"])
                if r["split"]:  # summed over the warm images
                    acc = splits.setdefault(name, {"serial_ms": 0.0, "parallel_ms": 0.0})
                    for k in acc:
                        acc[k] += r["split"][k]
    whole = thread_split(samples, marks[batch - 1][0], marks[-1][0], threads)
    if whole:
        splits["total"] = whole
    return {
        "stages_cpu_ms": {name: statistics.median(v) for name, v in stage_cpus.items()},
        "thread_split_ms": splits,
        "img_wall_ms": (marks[-1][0] - marks[batch - 1][0]) * 1000 / warm,
        "img_cpu_ms": (marks[-1][1] - marks[batch - 1][1]) * 1000 / warm,
        "stages_ms": {name: statistics.median(v) for name, v in stages.items()},
    }


def say(msg):
    print(msg, file=sys.stderr, flush=True)


def machine():
    model, flags = "?", []
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name") and model == "?":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = [x for x in line.split(":", 1)[1].split()
                             if x in ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")]
    except OSError:
        pass
    return {"cpu": model, "logical_cpus": os.cpu_count(), "flags": flags}


def git_commit():
    try:
        return subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


# ---------------------------------------------------------------- analysis


def summarize(state):
    """Medians over repetitions, per point."""
    enc = {}
    for key, p in state["encode"].items():
        enc[key] = dict(p, wall_ms=1000 * median(r["wall_s"] for r in p["runs"]),
                        cpu_ms=1000 * median(r["cpu_s"] for r in p["runs"]),
                        load=[r["load_before"] for r in p["runs"]])
    seg = {}
    for key, p in state["segment"].items():
        runs = p["runs"]
        names = sorted({s for r in runs for s in r["stages_ms"]})
        seg[key] = dict(p, T=runs[0]["num_classes"], K=runs[0]["top_k"], k_source=runs[0]["top_k_source"],
                        wall_ms=median(r["img_wall_ms"] for r in runs), cpu_ms=median(r["img_cpu_ms"] for r in runs),
                        cpu_range=(min(r["img_cpu_ms"] for r in runs), max(r["img_cpu_ms"] for r in runs)),
                        stages={s: median(r["stages_ms"].get(s) for r in runs) for s in names},
                        load=[r["load_before"] for r in runs], rss=max(r["max_rss_mib"] for r in runs))
        seg[key]["groups"] = {g: sum(seg[key]["stages"].get(s, 0.0) for s in members) for g, members in STAGES}
        cpu = {s: median(r["stages_cpu_ms"].get(s) for r in runs) for s in names}
        seg[key]["groups_cpu"] = ({g: sum(cpu.get(s) or 0.0 for s in members) for g, members in STAGES}
                                  if any(cpu.values()) else {})
        # Serial share of each group's work from the per-thread CPU split, summed over runs.
        split = {}
        for g, members in STAGES + [("total", ["total"])]:
            parts = [r.get("thread_split_ms", {}).get(m) for r in runs for m in members]
            parts = [x for x in parts if x]
            if parts:
                ser, par = sum(x["serial_ms"] for x in parts), sum(x["parallel_ms"] for x in parts)
                split[g] = ser / max(ser + par, 1e-9)
        seg[key]["serial_split"] = split
    return enc, seg


def lstsq(rows, ys):
    """Least squares x for rows · x ≈ ys (normal equations, Gauss-Jordan with partial pivoting)."""
    m = len(rows[0])
    a = [[sum(r[i] * r[j] for r in rows) for j in range(m)] + [sum(r[i] * y for r, y in zip(rows, ys))]
         for i in range(m)]
    for c in range(m):
        piv = max(range(c, m), key=lambda i: abs(a[i][c]))
        if abs(a[piv][c]) < 1e-12:
            raise ValueError("singular fit (too few distinct points)")
        a[c], a[piv] = a[piv], a[c]
        for i in range(m):
            if i != c:
                f = a[i][c] / a[c][c]
                a[i] = [x - f * y for x, y in zip(a[i], a[c])]
    return [a[i][m] / a[i][i] for i in range(m)]


# The terms each stage group's CPU time is fitted with: the image tower never sees the
# vocabulary; the other stages get T and K and the data say which one matters (the head's logits
# tensor, for one, is [T, H/4, W/4] although only K classes are decoded); the aggregator's cost per
# kept class grows with K (see the doc), hence K².
MODEL_TERMS = {g: (["1"] if g == "image tower" else ["1", "T", "K"]) for g, _ in STAGES}
MODEL_TERMS["aggregator"] = ["1", "K", "K2"]
MODEL_TERMS.update({"CPU per image (process)": ["1", "T", "K", "K2"], "wall per image": ["1", "T", "K", "K2"]})


def fit_model(seg):
    """Least-squares fits over the 2-thread batch-1 points: per stage group its CPU ms (interpolated
    at the stage boundaries), the process CPU per image, and the wall time per image."""
    pts = [p for p in seg.values() if p["threads"] == 2 and p["batch"] == 1]
    fits = {}
    for name, terms in MODEL_TERMS.items():
        def y(p):
            if name == "wall per image":
                return p["wall_ms"]
            if name == "CPU per image (process)":
                return p["cpu_ms"]
            return p["groups_cpu"].get(name)
        use = [p for p in pts if y(p) is not None]
        rows = [[1.0 if t == "1" else float(p["K"]) ** 2 if t == "K2" else float(p[t]) for t in terms] for p in use]
        ys = [y(p) for p in use]
        if len(use) < len(terms):
            continue
        try:
            coef = lstsq(rows, ys)
        except ValueError:
            continue
        pred = [sum(c * x for c, x in zip(coef, r)) for r in rows]
        fits[name] = {"terms": terms, "coef": coef,
                      "max_resid_ms": max(abs(a - b) for a, b in zip(pred, ys)),
                      "max_resid_rel": max(abs(a - b) / max(b, 1e-9) for a, b in zip(pred, ys))}
    return fits


def fit_encode(enc, T_of):
    pts = [p for p in enc.values() if p["threads"] == 2]
    if len({T_of[p["vocab"]] for p in pts}) < 2:
        return None
    rows = [[1.0, float(T_of[p["vocab"]])] for p in pts]
    out = {}
    for what in ("wall_ms", "cpu_ms"):
        out[what] = lstsq(rows, [p[what] for p in pts])
    return out


def thread_scaling(seg):
    """Per vocabulary (batch 1, default K) and stage group: wall and CPU ms per thread count, the
    1 -> 2-thread speed-up, and Amdahl's serial fraction s two ways: from the speed-ups (least
    squares of t(n) / t(1) = s + (1 - s) / n over every thread count measured) and from the CPU /
    wall of the 2-thread run."""
    res = {}
    for vocab in sorted({p["vocab"] for p in seg.values()}):
        by_n = {p["threads"]: p for p in seg.values()
                if p["vocab"] == vocab and p["batch"] == 1 and p["k_arg"] is None}
        if 1 not in by_n or 2 not in by_n:
            continue
        p1, p2 = by_n[1], by_n[2]
        rows = {}
        for g, _ in STAGES + [("total", None)]:
            wall = {n: (p["stages"].get("total") if g == "total" else p["groups"][g]) for n, p in by_n.items()}
            if not all(wall.values()):
                continue
            a, b = wall[1], wall[2]
            xs = [(1 - 1 / n, wall[n] / a - 1 / n) for n in wall if n > 1]
            s = sum(x * y for x, y in xs) / sum(x * x for x, _ in xs)
            row = {"wall": wall, "t1": a, "t2": b, "speedup": a / b, "eff": a / b / 2, "serial": min(1.0, max(0.0, s))}
            c1, c2 = p1["groups_cpu"].get(g), p2["groups_cpu"].get(g)
            if g == "total":
                c1, c2 = p1["cpu_ms"], p2["cpu_ms"]
            if c1 and c2:
                # Parallelism q = CPU / wall at 2 threads: both threads ran a fraction q - 1 of the
                # time, one thread 2 - q; the serial share of the work is then (2 - q) / q.
                q = min(2.0, max(1.0, c2 / b))
                row.update(cpu1=c1, cpu2=c2, q1=c1 / a, q2=c2 / b, serial_q=(2 - q) / q)
            if g in p2["serial_split"]:
                row["serial_split"] = p2["serial_split"][g]
            rows[g] = row
        rows["cpu"] = {"t1": p1["cpu_ms"], "t2": p2["cpu_ms"], "ratio": p2["cpu_ms"] / p1["cpu_ms"],
                       "wall1": p1["wall_ms"], "wall2": p2["wall_ms"]}
        res[vocab] = {"T": p1["T"], "K": p1["K"], "rows": rows, "threads": sorted(by_n),
                      "load1": p1["load"], "load2": p2["load"]}
    return res


def amdahl(t1, serial, n):
    return t1 * (serial + (1 - serial) / n)


# ---------------------------------------------------------------- checks (--quick and always)


def check(enc, seg, model_k):
    problems = []
    for key, p in seg.items():
        want = BUILTIN_K.get(p["vocab"]) if p["k_arg"] is None else p["k_arg"]
        if want is None:
            want = model_k
        if want is not None and p["K"] != min(want, p["T"]):
            problems.append(f"{key}: K {p['K']}, expected {min(want, p['T'])}")
        for r in p["runs"]:
            if r["selected"] != r["top_k"]:
                problems.append(f"{key}: {r['selected']} classes selected, K {r['top_k']}")
            st = r["stages_ms"]
            # CPU ticks are 10 ms and a fast model's last lines may only be seen at exit: >= 0 here.
            if r["img_cpu_ms"] < 0 or r["img_wall_ms"] < 0 or not st.get("total", 0) > 0:
                problems.append(f"{key}: negative or missing time per image")
            parts = sum(v for s, v in st.items() if s != "total")
            # Each part is a median over the warm images, so allow rounding slack.
            if p["batch"] == 1 and parts > st["total"] * 1.05 + 1:
                problems.append(f"{key}: stages sum to {parts:.1f} ms > total {st['total']:.1f} ms")
        if p["vocab"] == "v2000" and p["T"] != SIZE_2000:
            problems.append(f"{key}: T {p['T']}, expected {SIZE_2000}")
    for key, p in enc.items():
        if not p["cpu_ms"] > 0:
            problems.append(f"encode {key}: no CPU time")
    return problems


def model_default_k(model):
    """sample_classes_num from the model file's config (safetensors metadata), else None."""
    try:
        with open(model, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        cfg = json.loads(header["__metadata__"]["errseg.config"])
        return int(cfg["head"]["sample_classes_num"])
    except (OSError, KeyError, ValueError, TypeError):
        return None


# ---------------------------------------------------------------- markdown


def fmt(x, nd=0):
    if x is None:
        return "—"
    return f"{x:,.{nd}f}"


def render(state):
    enc, seg = summarize(state)
    T_of = {p["vocab"]: p["T"] for p in seg.values()}
    fits = fit_model(seg)
    efit = fit_encode(enc, T_of)
    scal = thread_scaling(seg)
    m = state["machine"]
    L = [BEGIN, "#### Scaling tables (generated by `bench/scaling_study.py`)", ""]
    L.append(f"Generated by `bench/scaling_study.py`{' --quick' if state['quick'] else ''} "
             f"({state['started']}, {state['minutes']} min"
             + "".join(f"; merged with the runs of {m}" for m in state.get("merged", []))
             + f", code `{state['commit']}`): `errseg segment` / "
             f"`embed-text` on `{os.path.basename(state['model'])}`, the image `{os.path.basename(state['image'])}` "
             f"(@640 crop), CPU {m['cpu']} ({m['logical_cpus']} logical CPUs; {', '.join(m['flags'])}). "
             f"Each point: median of {state['reps']} repetitions (interleaved; more where runs were merged); "
             "per image = the images after "
             "the first batch of a run (model load and the cold first batch excluded), CPU = the process's "
             "user + system time over those images (all threads; CPU / wall = how many of our threads "
             "ran on average: below 1 at 1 thread means other jobs took the CPU), stage split = "
             "`Result::timings_ms` (wall) of the same images. Class embeddings cached (`embed-text` once per vocabulary). "
             "The machine was shared: read the CPU columns first; the load column is the 1-minute load "
             "average before each repetition.")
    if enc:
        L.append("")
        L.append("**Vocabulary encoding** (`errseg embed-text --classes V`, whole process incl. model load; "
                 "text tower in chunks of 64 prompts, each up to its longest prompt's EOT):")
        L.append("")
        L.append("| vocabulary | T | threads | wall ms | CPU ms | CPU ms / class | load |")
        L.append("|---|---:|---:|---:|---:|---:|---|")
        for p in sorted(enc.values(), key=lambda p: (p["threads"], T_of.get(p["vocab"], 0))):
            T = T_of.get(p["vocab"])
            L.append(f"| {p['vocab']} | {T or '?'} | {p['threads']} | {fmt(p['wall_ms'])} | {fmt(p['cpu_ms'])} | "
                     f"{fmt(p['cpu_ms'] / T, 1) if T else '—'} | {', '.join(str(x) for x in p['load'])} |")
    if efit:
        L.append("")
        L.append(f"Fit (2 threads): CPU ≈ {efit['cpu_ms'][0]:,.0f} ms + **{efit['cpu_ms'][1]:.2f} ms per class**; "
                 f"wall ≈ {efit['wall_ms'][0]:,.0f} ms + {efit['wall_ms'][1]:.2f} ms per class (the constant is "
                 "process start and model load).")
    heads = [g for g, _ in STAGES]
    rows = sorted((p for p in seg.values() if p["threads"] == 2 and p["batch"] == 1), key=lambda p: (p["T"], p["K"]))
    if rows:
        L.append("")
        L.append("**Segmentation per image vs T and K** (2 threads, batch 1; ms; stage columns are wall):")
        L.append("")
        L.append("| vocabulary | T | K | wall / image | CPU / image (range) | CPU / wall | " + " | ".join(heads)
                 + " | load |")
        L.append("|---|---:|---:|---:|---:|---:|" + "---:|" * len(heads) + "---|")
        for p in rows:
            ksrc = "" if p["k_arg"] is None else " (set)"
            L.append(f"| {p['vocab']} | {p['T']} | {p['K']}{ksrc} | {fmt(p['wall_ms'])} | {fmt(p['cpu_ms'])} "
                     f"({fmt(p['cpu_range'][0])}–{fmt(p['cpu_range'][1])}) | {p['cpu_ms'] / p['wall_ms']:.2f} | "
                     + " | ".join(fmt(p["groups"][g], 1 if p["groups"][g] < 100 else 0) for g in heads)
                     + f" | {', '.join(str(x) for x in p['load'])} |")
        L.append("")
        L.append("K without “(set)” is the CLI's default for the vocabulary (voc20 16, ade150 32, ade847 48; "
                 "a vocabulary file gets the model's K, here "
                 f"{next((p['K'] for p in rows if p['vocab'] == 'v2000' and p['k_arg'] is None), '?')}). "
                 "The 2,000 names: ADE-847, then the new first synonyms of PC-459, COCO-171, PC-59, ADE-150 "
                 "and VOC-20, then “<modifier> <ADE-150 name>” (generated by the script).")
    if fits:
        L.append("")
        L.append("**Fitted model** (least squares over the rows above, 2 threads, batch 1; CPU ms per image "
                 "unless said; a stage's CPU is the process CPU between its boundaries):")
        L.append("")
        L.append("| stage | constant | per class (T) | per kept class (K) | per K² | max residual |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for name, f in fits.items():
            c = dict(zip(f["terms"], f["coef"]))
            L.append(f"| {name} | {fmt(c.get('1'), 1)} | {fmt(c.get('T'), 3) if 'T' in c else '—'} | "
                     f"{fmt(c.get('K'), 2) if 'K' in c else '—'} | {fmt(c.get('K2'), 3) if 'K2' in c else '—'} | "
                     f"{fmt(f['max_resid_ms'], 1)} ms ({100 * f['max_resid_rel']:.0f} %) |")
    bat = sorted((p for p in seg.values() if p["threads"] == 2 and p["vocab"] == "ade150" and p["k_arg"] is None),
                 key=lambda p: p["batch"])
    if len(bat) > 1:
        base = bat[0]
        L.append("")
        L.append("**Images per batch** (ade150, 2 threads; per image; the image tower's batch time / b):")
        L.append("")
        L.append("| batch | images per run | wall / image | CPU / image | image tower / image | head + post / image | "
                 "images/s (wall) | CPU vs batch 1 | load |")
        L.append("|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for p in bat:
            tower = p["groups"]["image tower"]
            head = sum(p["groups"][g] for g in heads[1:])
            L.append(f"| {p['batch']} | {p['images']} | {fmt(p['wall_ms'])} | {fmt(p['cpu_ms'])} | {fmt(tower)} | "
                     f"{fmt(head)} | {1000 / p['wall_ms']:.3f} | {p['cpu_ms'] / base['cpu_ms']:.2f}× | "
                     f"{', '.join(str(x) for x in p['load'])} |")
    for vocab, s in sorted(scal.items(), key=lambda kv: kv[1]["T"]):
        L.append("")
        L.append(f"**Threads 1 → 2** ({vocab}, T {s['T']}, K {s['K']}; stage wall ms; serial fraction s "
                 "from Amdahl, speed-up = 1 / (s + (1 − s) / 2)):")
        L.append("")
        L.append("| stage | wall, 1 thread | wall, 2 threads | speed-up | efficiency | s from speed-up | "
                 "CPU, 1 thread | CPU, 2 threads | CPU / wall, 1 → 2 threads | s from CPU / wall | "
                 "s from thread split |")
        L.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for g, r in s["rows"].items():
            if g == "cpu":
                continue
            q = (f"{fmt(r['cpu1'])} | {fmt(r['cpu2'])} | {r['q1']:.2f} → {r['q2']:.2f} | {r['serial_q']:.2f}"
                 if "q2" in r else "— | — | — | —")
            split = f"{r['serial_split']:.2f}" if "serial_split" in r else "—"
            L.append(f"| {g} | {fmt(r['t1'])} | {fmt(r['t2'])} | {r['speedup']:.2f}× | {100 * r['eff']:.0f} % | "
                     f"{r['serial']:.2f} | {q} | {split} |")
        if len(s["threads"]) > 2:
            ns = s["threads"]
            L.append("")
            L.append("Wall ms by thread count (s from speed-up above: least squares over all of them):")
            L.append("")
            L.append("| stage | " + " | ".join(f"{n} thr." for n in ns) + " |")
            L.append("|---|" + "---:|" * len(ns))
            for g, r in s["rows"].items():
                if g != "cpu":
                    L.append(f"| {g} | " + " | ".join(fmt(r["wall"][n]) for n in ns) + " |")
        c = s["rows"]["cpu"]
        L.append("")
        L.append(f"Process CPU per image: {fmt(c['t1'])} ms at 1 thread, {fmt(c['t2'])} ms at 2 "
                 f"({c['ratio']:.2f}×: the extra is threading overhead and contention, our pool sleeps rather "
                 f"than spins); CPU / wall {c['t1'] / c['wall1']:.2f} at 1 thread, {c['t2'] / c['wall2']:.2f} at 2; "
                 f"load {s['load1']} / {s['load2']}.")
    proj = projection(scal)
    if proj:
        L.append("")
        L.append("**Projection to 16+ cores** (Amdahl per stage: each stage's 1-thread CPU time, i.e. its "
                 "work, times s + (1 − s) / n with its serial fraction s from the tables above; one image, "
                 "batch 1; ms per image on an otherwise idle machine):")
        L.append("")
        L.append("| vocabulary | s from | 1 thread (work) | 2 | 16 | 32 | 64 | limit (serial parts only) |")
        L.append("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in proj:
            L.append(f"| {r['vocab']} | {r['source']} | {fmt(r['t1'])} | {fmt(r[2])} | {fmt(r[16])} | "
                     f"{fmt(r[32])} | {fmt(r[64])} | {fmt(r['inf'])} |")
    L += render_profile(state)
    L.append(END)
    return "\n".join(L) + "\n"


# Op kinds whose inner loops are GEMM-like (FLOP-bound); the rest stream memory.
COMPUTE_OPS = {"linear", "conv2d", "attention_tokens", "attention", "matmul", "conv_transpose2d", "gated_mlp"}


def render_profile(state):
    prof = state.get("profile")
    if not prof or "1" not in prof:
        return []
    ns = sorted(prof, key=int)
    med = {n: {} for n in ns}
    for n in ns:
        kinds = {k for r in prof[n] for k in r["ops"]}
        med[n] = {k: median(r["ops"].get(k, 0.0) for r in prof[n]) for k in kinds}
    total1 = sum(med["1"].values())
    kinds = sorted(med["1"], key=lambda k: -med["1"][k])
    L = ["", f"**Per op kind** (`bench/profile_errseg`, ade150, one forward after a warm-up, wall ms summed "
         f"over the op's calls, median of {len(prof['1'])}; compute-bound = GEMM-like kernels: "
         f"{', '.join(sorted(COMPUTE_OPS))}):", ""]
    L.append("| op kind | class | share at 1 thread | " + " | ".join(f"{n} thr. ms" for n in ns) + " | speed-up 1 → "
             + ns[-1] + " |")
    L.append("|---|---|---:|" + "---:|" * len(ns) + "---:|")
    groups = {"compute-bound": [0.0] * len(ns), "memory-bound": [0.0] * len(ns)}
    for k in kinds:
        cls = "compute-bound" if k in COMPUTE_OPS else "memory-bound"
        vals = [med[n].get(k, 0.0) for n in ns]
        groups[cls] = [a + b for a, b in zip(groups[cls], vals)]
        if med["1"][k] < 0.005 * total1:
            continue
        speedup = f"{vals[0] / vals[-1]:.2f}×" if vals[-1] else "—"
        L.append(f"| {k} | {cls} | {100 * med['1'][k] / total1:.1f} % | " + " | ".join(fmt(v, int(v < 100)) for v in vals)
                 + f" | {speedup} |")
    for cls, vals in groups.items():
        L.append(f"| **all {cls}** | | {100 * vals[0] / total1:.1f} % | " + " | ".join(fmt(v, int(v < 100)) for v in vals)
                 + f" | {vals[0] / vals[-1]:.2f}× |")
    L.append("")
    L.append("Load average before each run: " + "; ".join(
        f"{n} thr. {', '.join(str(r['load']) for r in prof[n])}" for n in ns) + ".")
    return L


def projection(scal):
    """ms per image at 16 / 32 / 64 threads: each stage's 1-thread time (its CPU time, which other
    jobs do not inflate, where measured) scaled by Amdahl with its serial fraction from the
    speed-ups or from the thread split."""
    out = []
    for vocab, s in sorted(scal.items(), key=lambda kv: kv[1]["T"]):
        stages = {g: r for g, r in s["rows"].items() if g not in ("cpu", "total")}
        for source, key in (("speed-up", "serial"), ("thread split", "serial_split")):
            if not stages or not all(key in r for r in stages.values()):
                continue
            base = {g: x.get("cpu1") or x["t1"] for g, x in stages.items()}
            r = {"vocab": vocab, "source": source, "t1": sum(base.values()),
                 "inf": sum(base[g] * x[key] for g, x in stages.items())}
            for n in (2, 16, 32, 64):
                r[n] = sum(amdahl(base[g], x[key], n) for g, x in stages.items())
            out.append(r)
    return out


def merge_state(state, work):
    """Adds the runs of another study's WORK/scaling.json (same model and image) as more
    repetitions of the same points (or new points)."""
    with open(os.path.join(work, "scaling.json"), encoding="utf-8") as f:
        other = json.load(f)
    if (other["model"], other["image"]) != (state["model"], state["image"]):
        sys.exit(f"scaling_study: --merge {work}: another model or image")
    for part in ("encode", "segment"):
        for key, p in other[part].items():
            state[part].setdefault(key, dict(p, runs=[]))["runs"].extend(p["runs"])
    state.setdefault("merged", []).append(f"{other['started']}, {other['minutes']} min")


def write_doc(doc, section):
    with open(doc, encoding="utf-8") as f:
        old = f.read()
    b, e = old.find(BEGIN), old.find(END)
    if 0 <= b < e:
        text = old[:b] + section.rstrip("\n") + old[e + len(END):]
    else:
        a = old.find(ANALYSIS_END)
        if a < 0:
            raise RuntimeError(f"{doc} has neither the scaling markers nor '{ANALYSIS_END}'")
        text = old[:a] + section + old[a:]
    with open(doc + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(doc + ".tmp", doc)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--errseg", default=os.path.join(REPO, "build", "errseg"), help="the errseg CLI binary")
    ap.add_argument("--model", help="converted ERR-Seg model (.safetensors)")
    ap.add_argument("--image", default=os.path.join(REPO, "tests", "data", "fixtures", "sample_400x300.png"))
    ap.add_argument("--reps", type=int, default=2, help="repetitions per point (median reported)")
    ap.add_argument("--work", default="/tmp/errseg_scaling", help="scratch directory; scaling.json goes here")
    ap.add_argument("--doc", help="markdown file to update between the scaling markers (e.g. docs/PERFORMANCE.md)")
    ap.add_argument("--quick", action="store_true", help="1 repetition, fewer points: a smoke check")
    ap.add_argument("--only-threads", action="store_true",
                    help="only the thread-count points (ade150, ade847, batch 1) and their encodings")
    ap.add_argument("--reuse-embeddings", action="store_true",
                    help="skip encoding a vocabulary whose class-embeddings file is already in --work")
    ap.add_argument("--profile", help="bench/profile_errseg binary: adds per-op-kind thread scaling (ade150)")
    ap.add_argument("--threads", default="1,2", help="thread counts to compare, with 1 and 2 (a bigger "
                    "machine: 1,2,4,8,16); the other points run at 2")
    ap.add_argument("--render-only", action="store_true", help="re-render from WORK/scaling.json")
    ap.add_argument("--merge", action="append", metavar="DIR",
                    help="with --render-only: add another study's runs (DIR/scaling.json) as more repetitions")
    args = ap.parse_args()
    if args.quick:
        args.reps = 1
    try:
        args.threads = sorted({int(t) for t in args.threads.split(",")})
    except ValueError:
        sys.exit(f"scaling_study: --threads: expected comma-separated integers, got '{args.threads}'")
    if not {1, 2} <= set(args.threads) or args.threads[0] < 1:
        sys.exit("scaling_study: --threads must include 1 and 2 (and counts >= 1)")
    results = os.path.join(args.work, "scaling.json")
    if args.render_only:
        with open(results, encoding="utf-8") as f:
            state = json.load(f)
        for other in args.merge or []:
            merge_state(state, other)
    else:
        files = [("--errseg", args.errseg), ("--model", args.model), ("--image", args.image)]
        for what, path in files + ([("--profile", args.profile)] if args.profile else []):
            if not path or not os.path.isfile(path):
                sys.exit(f"scaling_study: {what}: no such file: {path}")
        try:
            state = measure(args)
        except (RuntimeError, OSError) as e:
            sys.exit(f"scaling_study: {e}")
        with open(results + ".tmp", "w", encoding="utf-8") as f:
            json.dump(state, f, indent=1)
        os.replace(results + ".tmp", results)
    enc, seg = summarize(state)
    problems = check(enc, seg, model_default_k(state["model"]))
    section = render(state)
    print(section)
    if args.doc:
        write_doc(args.doc, section)
    if problems:
        sys.exit("scaling_study: failed checks:\n  " + "\n  ".join(problems))


if __name__ == "__main__":
    main()
