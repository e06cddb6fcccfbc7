"""Published model sizes: the values that tensor shapes cannot give, for known checkpoints."""

# OpenCLIP ConvNeXt CLIP models used by ERR-Seg (spec §1 and §3.3). Matched on everything the
# shapes give; supply the image size (and, for ERR-Seg, the network input size).
CONVNEXT_CLIP = [
    {
        "name": "convnext_base_w_320 (ERR-Seg B)",
        "clip": {"embed_dim": 640,
                 "vision": {"dims": [128, 256, 512, 1024], "depths": [3, 3, 27, 3], "head": "linear"},
                 "text": {"width": 640, "layers": 12}},
        "image_size": 320,
        "errseg_crop_size": 640,
    },
    {
        "name": "convnext_large_d_320 (ERR-Seg L)",
        "clip": {"embed_dim": 768,
                 "vision": {"dims": [192, 384, 768, 1536], "depths": [3, 3, 27, 3], "head": "mlp"},
                 "text": {"width": 768, "layers": 16}},
        "image_size": 320,
        # eval.sh runs ERR-Seg L at 768x768 (spec §1, §8 Q1).
        "errseg_crop_size": 768,
    },
]


def _matches(pattern, values):
    if isinstance(pattern, dict):
        return isinstance(values, dict) and all(
            _matches(v, values.get(k)) for k, v in pattern.items())
    return pattern == values


def find_convnext_clip(derived_clip):
    """The published ConvNeXt CLIP entry whose shapes equal ``derived_clip``, else None."""
    for entry in CONVNEXT_CLIP:
        if _matches(entry["clip"], derived_clip):
            return entry
    return None
