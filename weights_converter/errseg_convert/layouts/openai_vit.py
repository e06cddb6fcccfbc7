"""OpenAI CLIP ViT checkpoints (``ViT-B-16.pt`` TorchScript archives or their state dicts).

Names stay as they are under ``clip.``. The TorchScript archives also hold ``attn_mask`` and
scalar ``input_resolution`` / ``context_length`` / ``vocab_size`` entries: dropped.
OpenCLIP-trained ViTs use the same names but plain GELU: pass ``--config`` with ``"act": "gelu"``.
"""

from . import clip_text, vit
from .. import model_config as mc
from ..errors import ConvertError
from .base import DROP, Layout

_DROPPED = {"input_resolution", "context_length", "vocab_size"}


class OpenAIViT(Layout):
    name = "openai-vit"
    required = ("clip.text.heads", "clip.vision.heads")

    def matches(self, names):
        return "visual.conv1.weight" in names and "visual.class_embedding" in names

    def rename(self, src):
        if src in _DROPPED or src == "attn_mask" or src.endswith(".attn_mask"):
            return DROP
        if src.startswith(("visual.", "transformer.")) or src in (
                "token_embedding.weight", "positional_embedding", "ln_final.weight",
                "ln_final.bias", "text_projection", "logit_scale"):
            return "clip." + src
        return None

    def source_name(self, ours):
        return ours[len("clip."):] if ours.startswith("clip.") else ours

    def derive(self, shapes):
        text, embed = clip_text.derive(shapes)
        vision, vision_embed = vit.derive(shapes)
        if vision_embed != embed:
            raise ConvertError(f"visual.proj gives embed dim {vision_embed} but text_projection "
                               f"gives {embed}")
        return {"architecture": "clip", "clip": {"embed_dim": embed, "vision": vision, "text": text}}

    def defaults(self, derived):
        clip = derived["clip"]
        return {"clip": {"act": "quick_gelu",
                         "vision": vit_heads(clip["vision"]["width"]),
                         "text": clip_text.default_heads(clip["text"]["width"])}}

    def validate(self, config):
        mc.check_choice(config, "architecture", ("clip",))
        mc.check_int(config, "clip.embed_dim")
        mc.check_choice(config, "clip.act", ("quick_gelu", "gelu"))
        vit.validate(config)
        clip_text.validate(config)

    def expected(self, config):
        clip = config["clip"]
        out = vit.expected(clip["vision"], clip["embed_dim"])
        out.update(clip_text.expected(clip["text"], clip["embed_dim"]))
        return out


def vit_heads(width):
    """OpenAI CLIP: vision heads = width / 64."""
    return {"heads": width // 64} if width % 64 == 0 else {}
