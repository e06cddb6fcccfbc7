#!/usr/bin/python3
"""CLIP-level references for the ERR-Seg tiny fixture (tests/data/fixtures/errseg_tiny_seed0.pth).

The fixture's CLIP (`sem_seg_head.clip_model.*`: OpenCLIP ConvNeXt, linear head, full 49408-id
vocabulary) is loaded into a stock open_clip model, so the whole text path can be checked from
strings: open_clip's tokenizer + encode_text vs our tokenizer + ClipText (tests/test_clip_model.cpp).
The ERR-Seg-only HSM tensors (`visual.modify_downsample.*`) are not part of open_clip's model.

Writes tests/data/clip/errseg_tiny_clip.{tokens,text,image,embed,dense}.npy; the prompts are
listed in PROMPTS below and repeated in the C++ test.

Run:  /usr/bin/python3 tests/reference/gen_clip_errseg_tiny.py   (deterministic)
"""
import json
import os
import tempfile

import numpy as np
import torch

import open_clip

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "data", "fixtures")
OUT = os.path.join(HERE, "..", "data", "clip")
STEM = "errseg_tiny_clip"

PROMPTS = [
    "A photo of a wall in the scene",
    "A photo of a chest of drawers in the scene",
    "  Café   NAÏVE résumé — it's 3.5 o'clock!! ",
    "",
    " ".join(f"word{i}" for i in range(60)),  # longer than 77 tokens: truncated, EOT forced last
]

_timm_create = None


def main():
    import timm

    cfg = json.load(open(os.path.join(FIXTURES, "errseg_tiny.config.json")))["clip"]
    v, t = cfg["vision"], cfg["text"]
    global _timm_create
    _timm_create = timm.create_model

    def create(name, **kw):  # the tiny trunk: timm's convnext structure with the fixture's sizes
        if name == "convnext_base":
            kw = dict(kw, depths=tuple(v["depths"]), dims=tuple(v["dims"]))
        return _timm_create(name, **kw)

    timm.create_model = create
    d = tempfile.mkdtemp()
    with open(os.path.join(d, STEM + ".json"), "w") as f:
        json.dump({"embed_dim": cfg["embed_dim"],
                   "vision_cfg": {"timm_model_name": "convnext_base", "timm_model_pretrained": False,
                                  "timm_pool": "", "timm_proj": v["head"], "timm_drop": 0.0,
                                  "timm_drop_path": 0.1, "image_size": v["image_size"]},
                   "text_cfg": {k: t[k] for k in ("context_length", "vocab_size", "width", "heads", "layers")}}, f)
    open_clip.add_model_config(d)
    model = open_clip.create_model(STEM, pretrained=None).eval()

    sd = torch.load(os.path.join(FIXTURES, "errseg_tiny_seed0.pth"), map_location="cpu")["model"]
    prefix = "sem_seg_head.clip_model."
    clip_sd = {k[len(prefix):]: w for k, w in sd.items()
               if k.startswith(prefix) and ".modify_downsample." not in k}
    model.load_state_dict(clip_sd, strict=True)

    torch.manual_seed(0)
    with torch.no_grad():
        tokens = open_clip.tokenize(PROMPTS)
        np.save(os.path.join(OUT, f"{STEM}.tokens.npy"), tokens.numpy().astype(np.int64))
        np.save(os.path.join(OUT, f"{STEM}.text.npy"), model.encode_text(tokens).numpy())
        x = torch.randn(1, 3, 96, 64)
        np.save(os.path.join(OUT, f"{STEM}.image.npy"), x.numpy())
        np.save(os.path.join(OUT, f"{STEM}.embed.npy"), model.encode_image(x).numpy())
        trunk = model.visual.trunk
        y = trunk.stages(trunk.stem(x))
        n, c, h, w = y.shape
        dense = model.visual.head(trunk.forward_head(y.permute(0, 2, 3, 1).reshape(n * h * w, c, 1, 1)))
        np.save(os.path.join(OUT, f"{STEM}.dense.npy"), dense.reshape(n, h, w, -1).permute(0, 3, 1, 2).numpy())


if __name__ == "__main__":
    main()
