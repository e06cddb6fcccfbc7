"""The OpenAI CLIP ViT image tower (``visual.conv1``, ``visual.transformer.resblocks.*``)."""

import math

from .. import model_config as mc
from ..errors import ConvertError
from .clip_text import residual_block


def derive(shapes, prefix="clip.visual."):
    """Vision config (all but ``heads``) and the embed dim read off the shapes."""
    conv = shapes.get(prefix + "conv1.weight", 4)
    width, channels, patch, patch_w = conv
    if channels != 3 or patch != patch_w:
        raise ConvertError(f"visual.conv1.weight has shape {list(conv)}, expected "
                           "[width, 3, patch, patch]")
    tokens = shapes.get(prefix + "positional_embedding", 2)[0]
    grid = math.isqrt(max(tokens - 1, 0))
    if grid * grid + 1 != tokens:
        raise ConvertError(f"visual.positional_embedding has {tokens} rows, not 1 + a square "
                           "number of patches")
    embed = shapes.get(prefix + "proj", 2)[1]
    vision = {"type": "vit", "width": width,
              "layers": shapes.count(prefix + "transformer.resblocks."),
              "patch_size": patch, "image_size": grid * patch}
    return vision, embed


def validate(config, path="clip.vision"):
    for key in ("width", "layers", "patch_size", "image_size"):
        mc.check_int(config, f"{path}.{key}")
    mc.check_divides(config, f"{path}.heads", f"{path}.width")
    image, patch = mc.get_path(config, f"{path}.image_size"), mc.get_path(config, f"{path}.patch_size")
    if image % patch:
        raise ConvertError(f"config {path}.image_size = {image} is not a multiple of the patch "
                           f"size {patch}")


def expected(vision, embed_dim, prefix="clip.visual."):
    w, p = vision["width"], vision["patch_size"]
    grid = vision["image_size"] // p
    out = {
        prefix + "conv1.weight": (w, 3, p, p),
        prefix + "class_embedding": (w,),
        prefix + "positional_embedding": (grid * grid + 1, w),
        prefix + "ln_pre.weight": (w,), prefix + "ln_pre.bias": (w,),
        prefix + "ln_post.weight": (w,), prefix + "ln_post.bias": (w,),
        prefix + "proj": (w, embed_dim),
    }
    for i in range(vision["layers"]):
        out.update(residual_block(f"{prefix}transformer.resblocks.{i}.", w))
    return out
