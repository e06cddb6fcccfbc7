"""OpenCLIP ConvNeXt CLIP checkpoints (``open_clip_pytorch_model.bin`` / ``.safetensors``).

Names stay as they are under ``clip.``. Image size is not in the shapes: known for the published
``convnext_base_w_320`` / ``convnext_large_d_320`` (320), else taken from ``--config``.
"""

from . import clip_text, convnext, published
from .. import model_config as mc
from ..errors import ConvertError
from .base import DROP, Layout


class OpenCLIPConvNeXt(Layout):
    name = "openclip-convnext"
    required = ("clip.text.heads", "clip.vision.image_size")

    def matches(self, names):
        return "visual.trunk.stem.0.weight" in names

    def rename(self, src):
        if src == "attn_mask":
            return DROP
        if src.startswith(("visual.trunk.", "visual.head.", "transformer.")) or src in (
                "token_embedding.weight", "positional_embedding", "ln_final.weight",
                "ln_final.bias", "text_projection", "logit_scale"):
            return "clip." + src
        return None

    def source_name(self, ours):
        return ours[len("clip."):] if ours.startswith("clip.") else ours

    def derive(self, shapes):
        return {"architecture": "clip", "clip": derive_clip(shapes)}

    def defaults(self, derived):
        return {"clip": clip_defaults(derived["clip"])}

    def validate(self, config):
        mc.check_choice(config, "architecture", ("clip",))
        validate_clip(config)

    def expected(self, config):
        return expected_clip(config["clip"])


def derive_clip(shapes, prefix="clip."):
    text, embed = clip_text.derive(shapes, prefix)
    vision, vision_embed = convnext.derive(shapes, prefix + "visual.")
    if vision_embed != embed:
        raise ConvertError(f"the image head gives embed dim {vision_embed} but text_projection "
                           f"gives {embed}")
    return {"embed_dim": embed, "vision": vision, "text": text}


def clip_defaults(derived_clip):
    defaults = {"act": "gelu", "text": clip_text.default_heads(derived_clip["text"]["width"])}
    known = published.find_convnext_clip(derived_clip)
    if known is not None:
        defaults["vision"] = {"image_size": known["image_size"]}
    return defaults


def validate_clip(config):
    mc.check_int(config, "clip.embed_dim")
    mc.check_choice(config, "clip.act", ("gelu", "quick_gelu"))
    convnext.validate(config)
    clip_text.validate(config)


def expected_clip(clip, prefix="clip.", hsm=False):
    out = convnext.expected(clip["vision"], clip["embed_dim"], prefix + "visual.", hsm=hsm)
    out.update(clip_text.expected(clip["text"], clip["embed_dim"], prefix))
    return out
