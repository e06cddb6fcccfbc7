#!/usr/bin/python3
"""Tiny random-weight CLIP models and their PyTorch reference outputs for the C++ parity tests.

Builds three models with open_clip (the same module classes, hence the same state-dict names and
the same forward code as the real checkpoints), randomises every parameter, and writes to
tests/data/clip/:

  clip_convnext_linear.bin      OpenCLIP ConvNeXt CLIP (timm trunk), linear image head   } torch.save'd
  clip_convnext_mlp.bin         the same with the MLP image head                         } state dicts
  clip_vit_openai.pt            OpenAI-layout ViT CLIP (QuickGELU) state dict, with the scalar
                                entries OpenAI archives carry (input_resolution, ...)
  clip_vit_openai_jit.pt        the same model as a float16 TorchScript archive (torch.jit.script),
                                the container OpenAI's published ViT-B-16.pt etc. use
  <stem>.config.json            our model config (schema: shared/fixtures/errseg_tiny.config.json)
  <stem>.<output>.npy           inputs and reference outputs (see the bottom of each build_*)

Weights are rounded to float16 and stored as float16 (keeps the files small, like OpenAI's
published weights); the references are computed in float32 from exactly those values, so the
conversion to float32 on load is exact.

Run:  /usr/bin/python3 tests/reference/gen_clip_models.py   (deterministic: fixed seeds)
"""
import copy
import json
import math
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

import open_clip
import timm

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "clip")

VOCAB = 512          # small vocabulary so the checkpoints stay small
CONTEXT = 77
SOT, EOT = VOCAB - 2, VOCAB - 1   # EOT must be the largest id (the text tower pools at argmax)

# ConvNeXt trunk of the tiny models (timm's convnext_tiny structure: conv_mlp=False, layer scale).
TINY_DEPTHS = (1, 1, 2, 1)
TINY_DIMS = (16, 24, 32, 48)


def save_npy(stem, name, t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    np.save(os.path.join(OUT, f"{stem}.{name}.npy"), np.ascontiguousarray(a))


def register_configs(cfgs):
    """Registers open_clip model configs (name -> dict) through open_clip's public add_model_config."""
    d = tempfile.mkdtemp()
    for name, cfg in cfgs.items():
        with open(os.path.join(d, name + ".json"), "w") as f:
            json.dump(cfg, f)
    open_clip.add_model_config(d)


_timm_create = timm.create_model


def _create_tiny_convnext(name, **kwargs):
    """open_clip's TimmModel calls timm.create_model(name, ...); give the tiny trunk its sizes."""
    if name == "convnext_tiny":
        kwargs = dict(kwargs, depths=TINY_DEPTHS, dims=TINY_DIMS)
    return _timm_create(name, **kwargs)


timm.create_model = _create_tiny_convnext


@torch.no_grad()
def randomise(model, gen):
    """Non-trivial values for every parameter: norms 1 + 0.1 N, biases 0.1 N, layer scales
    0.5 + 0.3 N, weights N / sqrt(fan_in); then rounded to float16 precision."""
    for name, p in model.named_parameters():
        if name.endswith("logit_scale"):
            p.fill_(math.log(1 / 0.07))
            p.copy_(p.half().float())
            continue
        n = torch.randn(p.shape, generator=gen)
        leaf = name.split(".")[-1]
        is_norm = any(s in name for s in ("ln_", "norm", "stem.1", "downsample.0")) and p.dim() == 1
        if is_norm and leaf == "weight":
            v = 1 + 0.1 * n
        elif leaf == "bias" or leaf.endswith("_bias") or is_norm:
            v = 0.1 * n
        elif leaf == "gamma":
            v = 0.5 + 0.3 * n
        elif leaf in ("class_embedding", "positional_embedding") or "embedding" in name:
            v = 0.5 * n
        elif p.dim() == 2 and leaf in ("text_projection", "proj"):
            v = n / math.sqrt(p.shape[0])    # used as x @ W: fan-in is dim 0
        else:
            fan_in = p[0].numel() if p.dim() > 1 else p.numel()
            v = n / math.sqrt(fan_in)
        p.copy_(v.half().float())


def half_state_dict(model, extra=None):
    sd = {k: (v.half() if v.is_floating_point() else v) for k, v in model.state_dict().items()}
    if extra:
        sd.update(extra)
    return sd


def tokens_batch(gen, lengths):
    """[B, 77] int64: SOT, random ids, EOT, zero padding (like the tokenizer output)."""
    rows = []
    for n in lengths:
        ids = torch.randint(1, SOT, (n,), generator=gen)
        row = torch.zeros(CONTEXT, dtype=torch.int64)
        seq = torch.cat([torch.tensor([SOT]), ids, torch.tensor([EOT])])[:CONTEXT]
        seq[-1] = EOT
        row[: len(seq)] = seq
        rows.append(row)
    return torch.stack(rows)


def text_config_json(text_cfg):
    return {k: text_cfg[k] for k in ("context_length", "vocab_size", "width", "heads", "layers")}


# ----------------------------------------------------------------------------------------------
def build_convnext(stem, head, seed):
    embed = 32
    text_cfg = {"context_length": CONTEXT, "vocab_size": VOCAB, "width": 32, "heads": 4, "layers": 2}
    register_configs({stem: {
        "embed_dim": embed,
        "vision_cfg": {"timm_model_name": "convnext_tiny", "timm_model_pretrained": False,
                       "timm_pool": "", "timm_proj": head, "timm_drop": 0.0, "timm_drop_path": 0.1,
                       "image_size": 64},
        "text_cfg": text_cfg,
    }})
    model = open_clip.create_model(stem, pretrained=None).eval()
    gen = torch.Generator().manual_seed(seed)
    randomise(model, gen)
    torch.save(half_state_dict(model), os.path.join(OUT, stem + ".bin"))
    with open(os.path.join(OUT, stem + ".config.json"), "w") as f:
        json.dump({"architecture": "clip", "clip": {
            "embed_dim": embed,
            "vision": {"type": "convnext", "dims": list(TINY_DIMS), "depths": list(TINY_DEPTHS),
                       "head": head, "image_size": 64},
            "text": text_config_json(text_cfg),
            "act": "gelu"}}, f, indent=1)

    visual = model.visual
    trunk = visual.trunk
    with torch.no_grad():
        # Non-square input whose sides are not multiples of 32 (floors at every downsample).
        x = torch.randn(1, 3, 100, 84, generator=gen)
        save_npy(stem, "image", x)
        y = trunk.stem(x)
        save_npy(stem, "stem", y)
        for s in range(4):
            y = trunk.stages[s](y)
            save_npy(stem, f"stage{s}", y)
        # Dense projection: every pixel of the stride-32 map pushed through the head as a 1x1 image.
        n, c, h, w = y.shape
        pix = y.permute(0, 2, 3, 1).reshape(n * h * w, c, 1, 1)
        dense = visual.head(trunk.forward_head(pix))
        dense = dense.reshape(n, h, w, -1).permute(0, 3, 1, 2)
        save_npy(stem, "dense", dense)
        save_npy(stem, "embed", model.encode_image(x))
        x64 = torch.randn(2, 3, 64, 64, generator=gen)
        save_npy(stem, "image64", x64)
        save_npy(stem, "embed64", model.encode_image(x64))

        tokens = tokens_batch(gen, [3, 10, 0, 40])
        save_npy(stem, "tokens", tokens)
        save_npy(stem, "text", model.encode_text(tokens))
        full = tokens_batch(gen, [80])          # truncated to 77: EOT at the last position
        save_npy(stem, "tokens_full", full)
        save_npy(stem, "text_full", model.encode_text(full))
        save_npy(stem, "logit_scale", model.logit_scale.detach().reshape(1))


# ----------------------------------------------------------------------------------------------
def build_vit(stem, seed):
    embed = 32
    text_cfg = {"context_length": CONTEXT, "vocab_size": VOCAB, "width": 32, "heads": 4, "layers": 2}
    vision = {"image_size": 32, "layers": 2, "width": 32, "patch_size": 8, "head_width": 8}
    cfg = {"embed_dim": embed, "quick_gelu": True, "vision_cfg": vision, "text_cfg": text_cfg}
    big = dict(cfg, vision_cfg=dict(vision, image_size=48))
    register_configs({stem: cfg, stem + "_48": big})
    model = open_clip.create_model(stem, pretrained=None).eval()
    gen = torch.Generator().manual_seed(seed)
    randomise(model, gen)
    # OpenAI's archives also hold these scalars in their state dict; converters must drop them.
    extra = {"input_resolution": torch.tensor(32), "context_length": torch.tensor(CONTEXT),
             "vocab_size": torch.tensor(VOCAB)}
    torch.save(half_state_dict(model, extra), os.path.join(OUT, stem + ".pt"))
    # The same weights as a TorchScript archive in float16, the form OpenAI publishes.
    scripted = copy.deepcopy(model).half()
    torch.jit.script(scripted).save(os.path.join(OUT, stem + "_jit.pt"))
    for name in (stem, stem + "_jit"):
        with open(os.path.join(OUT, name + ".config.json"), "w") as f:
            json.dump({"architecture": "clip", "clip": {
                "embed_dim": embed,
                "vision": {"type": "vit", "width": 32, "layers": 2, "heads": 4, "patch_size": 8,
                           "image_size": 32},
                "text": text_config_json(text_cfg),
                "act": "quick_gelu"}}, f, indent=1)

    def run_visual(m, x):
        """Pooled embedding, final block tokens and every block's output (batch first)."""
        outs = []
        hooks = [b.register_forward_hook(lambda mod, i, o: outs.append(o))
                 for b in m.visual.transformer.resblocks]
        pooled = m.encode_image(x)
        for h in hooks:
            h.remove()
        # open_clip 2.x runs the transformer sequence-first (L, N, D); make them (N, L, D)
        outs = [o.permute(1, 0, 2) if o.shape[0] != x.shape[0] else o for o in outs]
        return pooled, outs

    with torch.no_grad():
        x = torch.randn(2, 3, 32, 32, generator=gen)
        save_npy(stem, "image", x)
        pooled, blocks = run_visual(model, x)
        save_npy(stem, "embed", pooled)
        save_npy(stem, "tokens", blocks[-1][:, 1:])       # dense patch tokens [N, g*g, width]
        save_npy(stem, "block0", blocks[0])              # all tokens incl. class, block 0 output

        # Other input size: open_clip's resize_pos_embed (bicubic, antialias) on the state dict.
        model48 = open_clip.create_model(stem + "_48", pretrained=None).eval()
        sd = {k: v.clone() for k, v in model.state_dict().items()}
        open_clip.model.resize_pos_embed(sd, model48)
        model48.load_state_dict(sd)
        save_npy(stem, "pos48", model48.visual.positional_embedding)
        x48 = torch.randn(1, 3, 48, 48, generator=gen)
        save_npy(stem, "image48", x48)
        pooled48, blocks48 = run_visual(model48, x48)
        save_npy(stem, "embed48", pooled48)
        save_npy(stem, "tokens48", blocks48[-1][:, 1:])

        tokens = tokens_batch(gen, [5, 20, 1])
        save_npy(stem, "tokens_text", tokens)
        save_npy(stem, "text", model.encode_text(tokens))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    build_convnext("clip_convnext_linear", "linear", seed=1)
    build_convnext("clip_convnext_mlp", "mlp", seed=2)
    build_vit("clip_vit_openai", seed=3)
    for f in sorted(os.listdir(OUT)):
        print(f"{os.path.getsize(os.path.join(OUT, f)):8d}  {f}")
