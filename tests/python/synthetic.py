"""Small synthetic checkpoints in each supported layout, built from the layouts' expected shapes.

The shapes come from ``errseg_convert.layouts`` (already checked against the real OpenCLIP /
OpenAI / ERR-Seg model definitions); the values are random, so a conversion can be compared
element by element.
"""

import numpy as np

import helpers  # noqa: F401  (sets sys.path)
from errseg_convert.layouts import LAYOUTS

TEXT = {"context_length": 77, "vocab_size": 96, "width": 32, "heads": 4, "layers": 2}


def vit_config(embed=24, width=32, layers=2, patch=8, image=32):
    return {"architecture": "clip", "clip": {
        "embed_dim": embed,
        "vision": {"type": "vit", "width": width, "layers": layers, "heads": 4,
                   "patch_size": patch, "image_size": image},
        "text": dict(TEXT), "act": "quick_gelu"}}


def convnext_config(head="linear", embed=24):
    return {"architecture": "clip", "clip": {
        "embed_dim": embed,
        "vision": {"type": "convnext", "dims": [8, 16, 24, 32], "depths": [1, 1, 2, 1],
                   "head": head, "image_size": 64},
        "text": dict(TEXT), "act": "gelu"}}


def errseg_config():
    config = convnext_config("linear", embed=24)
    config["architecture"] = "errseg"
    config["head"] = {
        "corr_fpn_inter_dim": 16, "corr_fpn_fusion_dim": 16,
        "guidance_fpn_inter_dim": 16, "guidance_fpn_fusion_dim": 16,
        "image_guidance_dims": [32, 24, 16, 8], "decoder_guidance_dims": [24, 16, 8],
        "guidance_proj_dims": [8, 4, 4], "text_guidance_dim": 24, "text_guidance_proj_dim": 16,
        "aggregator_scale_ratio": [2, 2], "aggregator_dim": 16, "aggregator_heads": 4,
        "decoder_dims": [16, 8, 8], "sample_classes_num": 4}
    config["input"] = {"crop_size": 64, "pixel_mean": [123.675, 116.28, 103.53],
                       "pixel_std": [58.395, 57.12, 57.375]}
    config["prompt_template"] = "A photo of a {} in the scene"
    return config


def state_dict(layout_name, config, seed=0, dtype=np.float32):
    """Source-named numpy state dict for ``layout_name`` (e.g. 'errseg') matching ``config``."""
    layout = LAYOUTS[layout_name]
    rng = np.random.default_rng(seed)
    out = {}
    for ours, shape in layout.expected(config).items():
        out[layout.source_name(ours)] = rng.standard_normal(shape).astype(dtype)
    return out


def torch_state_dict(layout_name, config, seed=0, dtype=None):
    import torch
    sd = state_dict(layout_name, config, seed)
    tensors = {k: torch.from_numpy(np.array(v, order="C")) for k, v in sd.items()}
    if dtype is not None:
        tensors = {k: v.to(dtype) for k, v in tensors.items()}
    return tensors
