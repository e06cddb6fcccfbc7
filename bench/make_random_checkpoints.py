#!/usr/bin/env python3
"""Writes a RANDOM-weight ERR-Seg checkpoint in the released detectron2 layout, for benchmarks.

    /usr/bin/python3 bench/make_random_checkpoints.py --variant B|L|tiny --out X.pth [--seed S]
        [--verify [IMAGE]] [--threads N]

* ``X.pth``: ``torch.save({'model': state_dict})`` with exactly the keys, shapes, dtype (float32)
  and key order of the released ``model_final.pth`` (spec §4: B 727 tensors / 188,853,370
  parameters, L 777 / 365,745,722; ``tiny`` = the architecture of
  ``shared/fixtures/errseg_tiny_seed0.pth``).
* ``X.config.json``: the matching config (format of ``errseg_tiny.config.json``) with the released
  hyperparameters (K = 32, crop 640; L too — upstream's eval.sh would run L at 768).

Weights are random but well scaled, so activations stay finite and non-trivial through the 27-block
stage: linear / conv weights N(0, 0.02²), biases N(0, 0.01²), LayerNorm / GroupNorm weights
U(0.9, 1.1) and biases N(0, 0.02²), ConvNeXt layer scales U(0.1, 0.5), token embedding
N(0, 0.02²), positional embedding N(0, 0.01²), text projection N(0, 1/width), logit_scale ln 100.
As in the released model, ``visual.modify_downsample.{0,2}`` are copies of
``visual.trunk.stages.3.downsample.{0,1}``.  Memory: one copy of the weights (B ≈ 0.8 GB,
L ≈ 1.5 GB); the tensors are written straight from the model's parameters.

``--verify [IMAGE]`` runs the PyTorch model (bench/pytorch/errseg_torch.py) once at the config's
crop size on IMAGE (default: the fixtures' sample) with the first 40 ADE-150 classes and checks
that every output is finite. Do not commit the generated files.
"""

import argparse
import json
import math
import os
import sys
import time
from collections import OrderedDict

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "pytorch"))

# shared/fixtures/errseg_tiny.config.json (the fixture checkpoint's architecture)
TINY_CONFIG = {
    "architecture": "errseg",
    "note": "Same architecture as released ERR-Seg B (ConvNeXt CLIP with linear head), small widths. "
            "Heads cannot be inferred from tensor shapes, so they are listed here.",
    "clip": {
        "embed_dim": 32,
        "vision": {"type": "convnext", "dims": [16, 32, 64, 128], "depths": [1, 1, 2, 1], "head": "linear",
                   "image_size": 320},
        "text": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 4, "layers": 2},
        "act": "gelu",
    },
    "head": {
        "corr_fpn_inter_dim": 32, "corr_fpn_fusion_dim": 32,
        "guidance_fpn_inter_dim": 32, "guidance_fpn_fusion_dim": 32,
        "image_guidance_dims": [128, 64, 32, 16], "decoder_guidance_dims": [64, 32, 16],
        "guidance_proj_dims": [8, 8, 8], "text_guidance_dim": 32, "text_guidance_proj_dim": 32,
        "aggregator_scale_ratio": [2, 2], "aggregator_dim": 32, "aggregator_heads": 4,
        "decoder_dims": [16, 16, 8], "sample_classes_num": 8,
    },
    "input": {"crop_size": 320, "pixel_mean": [123.675, 116.280, 103.530], "pixel_std": [58.395, 57.120, 57.375]},
    "prompt_template": "A photo of a {} in the scene",
}

EXPECTED = {"B": (727, 188_853_370), "L": (777, 365_745_722), "tiny": (236, None)}

NORM_MARKERS = (".norm.", ".norm1.", ".norm2.", ".norm_k.", ".norm_v.", ".ln_1.", ".ln_2.", "ln_final.",
                "stem.1.", "downsample.0.", "modify_downsample.0.", "textual_fusion.1.", "textual_fusion.4.")


def config_for(variant):
    from errseg_torch import released_config
    if variant == "tiny":
        return json.loads(json.dumps(TINY_CONFIG))
    return released_config(variant)


def upstream_order(model):
    """Checkpoint keys in the order of the upstream module's state_dict (spec §4; detectron2
    ERRSeg → sem_seg_head → clip_model (own params, visual, transformer, token_embedding,
    ln_final) → decoder)."""
    keys = [model.checkpoint_key(n) for n, _ in model.named_parameters()]
    clip = [k for k in keys if k.startswith("sem_seg_head.clip_model.")]
    head = [k for k in keys if k.startswith("sem_seg_head.decoder.")]
    rel = {k: k[len("sem_seg_head.clip_model."):] for k in clip}

    def group(k):
        r = rel[k]
        if r in ("positional_embedding", "text_projection", "logit_scale"):
            return ("positional_embedding", "text_projection", "logit_scale").index(r)
        for i, prefix in enumerate(("visual.", "transformer.", "token_embedding.", "ln_final.")):
            if r.startswith(prefix):
                return 3 + i
        raise KeyError(k)

    clip = sorted(clip, key=lambda k: (group(k), keys.index(k)))   # stable within a group
    return clip + head


def init_parameter(key, p, gen, text_width):
    """Random, well-scaled values for one tensor (in place)."""
    import torch
    name = key.split("sem_seg_head.clip_model.")[-1].split("sem_seg_head.decoder.")[-1]
    if name == "logit_scale":
        p.data.fill_(math.log(100.0))
    elif name.endswith(".gamma"):
        p.data.uniform_(0.1, 0.5, generator=gen)
    elif name == "token_embedding.weight":
        p.data.normal_(0.0, 0.02, generator=gen)
    elif name == "positional_embedding":
        p.data.normal_(0.0, 0.01, generator=gen)
    elif name == "text_projection":
        p.data.normal_(0.0, text_width ** -0.5, generator=gen)
    elif any(m in "." + name for m in NORM_MARKERS) and p.dim() == 1:
        if name.endswith("weight"):
            p.data.uniform_(0.9, 1.1, generator=gen)
        else:
            p.data.normal_(0.0, 0.02, generator=gen)
    elif p.dim() == 1 or name.endswith("bias"):
        p.data.normal_(0.0, 0.01, generator=gen)
    else:
        p.data.normal_(0.0, 0.02, generator=gen)
    assert p.dtype == torch.float32


def verify(model, image_path, threads):
    import torch
    from errseg_torch import class_list, read_image
    torch.set_num_threads(threads)
    classes = class_list("ade150")[:40]
    image = read_image(image_path)
    t0 = time.perf_counter()
    with torch.inference_mode():
        text = model.encode_text(classes)
        feats = model.encode_image(model.preprocess(image))
        stats = {k: (float(v.abs().max()), bool(torch.isfinite(v).all())) for k, v in feats.items()}
        logits, selected = model.decode(feats, text)
        probs, labels = model.postprocess(logits, image.shape[:2], image.shape[:2])
    sel = logits[0, selected]
    finite = (all(ok for _, ok in stats.values()) and bool(torch.isfinite(text).all())
              and bool(torch.isfinite(logits).all()) and bool(torch.isfinite(probs).all()))
    print(f"verify: crop {model.crop_size}, T={len(classes)}, K={selected.numel()}, "
          f"{time.perf_counter() - t0:.1f} s")
    for k, (amax, ok) in stats.items():
        print(f"  {k:15s} shape {tuple(feats[k].shape)}  |max| {amax:.3g}  finite {ok}")
    print(f"  selected logits: min {float(sel.min()):.4g} max {float(sel.max()):.4g} std {float(sel.std()):.4g}; "
          f"labels present {len(set(labels.flatten().tolist()))}")
    print(f"  all outputs finite: {finite}")
    return finite


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--variant", required=True, choices=["B", "L", "tiny", "b", "l"])
    ap.add_argument("--out", required=True, help="checkpoint path (X.pth); the config goes to X.config.json")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verify", nargs="?", const="", default=None, metavar="IMAGE",
                    help="run the PyTorch model once on IMAGE and check the outputs are finite")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    variant = args.variant if args.variant == "tiny" else args.variant.upper()

    import torch
    from errseg_torch import ERRSeg

    torch.set_num_threads(args.threads)
    cfg = config_for(variant)
    t0 = time.perf_counter()
    with torch.no_grad():
        model = ERRSeg(cfg).eval()
        params = {model.checkpoint_key(n): p for n, p in model.named_parameters()}
        gen = torch.Generator().manual_seed(args.seed)
        width = cfg["clip"]["text"]["width"]
        for key in upstream_order(model):
            init_parameter(key, params[key], gen, width)
        v = "sem_seg_head.clip_model.visual."
        for dst, src in (("modify_downsample.0", "trunk.stages.3.downsample.0"),
                         ("modify_downsample.2", "trunk.stages.3.downsample.1")):
            for suffix in ("weight", "bias"):
                params[f"{v}{dst}.{suffix}"].data.copy_(params[f"{v}{src}.{suffix}"].data)
        state = OrderedDict((k, params[k].data) for k in upstream_order(model))

    n_tensors, n_params = len(state), sum(t.numel() for t in state.values())
    want_tensors, want_params = EXPECTED[variant]
    if n_tensors != want_tensors or (want_params is not None and n_params != want_params):
        raise SystemExit(f"layout check failed: {n_tensors} tensors / {n_params} parameters, "
                         f"expected {want_tensors} / {want_params}")

    out = args.out
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    torch.save({"model": state}, out)
    cfg_path = (out[:-4] if out.endswith(".pth") else out) + ".config.json"
    cfg_out = dict(cfg)
    cfg_out["note"] = (cfg.get("note", "").rstrip(".") + f". RANDOM weights (bench/make_random_checkpoints.py, seed "
                       f"{args.seed}) — for benchmarks only.").strip()
    with open(cfg_path, "w", encoding="utf-8") as f:
        json.dump(cfg_out, f, indent=2)
        f.write("\n")
    print(f"wrote {out} ({os.path.getsize(out) / 2**20:.0f} MiB, {n_tensors} tensors, {n_params:,} parameters) "
          f"and {cfg_path} in {time.perf_counter() - t0:.1f} s")

    if args.verify is not None:
        image = args.verify or os.path.join(os.path.dirname(os.path.dirname(HERE)), "shared", "fixtures",
                                            "sample_400x300.png")
        del state
        if not verify(model, image, args.threads):
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
