"""ERR-Seg detectron2 checkpoints (``model_final.pth``: ``{'model': state_dict}``).

``sem_seg_head.clip_model.*`` -> ``clip.*`` (OpenCLIP ConvNeXt + the HSM path
``visual.modify_downsample``), ``sem_seg_head.decoder.*`` -> ``head.*``.
"""

from . import errseg_head, published
from .. import model_config as mc
from ..errors import ConvertError
from .base import DROP, Layout
from .openclip_convnext import clip_defaults, derive_clip, expected_clip, validate_clip

CLIP_PREFIX = "sem_seg_head.clip_model."
HEAD_PREFIX = "sem_seg_head.decoder."

UPSTREAM_INPUT = {
    "pixel_mean": [123.675, 116.280, 103.530],   # ImageNet statistics, 0-255 RGB (spec §2.2)
    "pixel_std": [58.395, 57.120, 57.375],
}
PROMPT_TEMPLATE = "A photo of a {} in the scene"


class ERRSeg(Layout):
    name = "errseg"
    required = ("clip.text.heads", "clip.vision.image_size", "input.crop_size")

    def matches(self, names):
        return any(n.startswith((CLIP_PREFIX, HEAD_PREFIX)) for n in names)

    def rename(self, src):
        if src == CLIP_PREFIX + "attn_mask":
            return DROP
        if src.startswith(CLIP_PREFIX):
            return "clip." + src[len(CLIP_PREFIX):]
        if src.startswith(HEAD_PREFIX):
            return "head." + src[len(HEAD_PREFIX):]
        return None

    def source_name(self, ours):
        if ours.startswith("clip."):
            return CLIP_PREFIX + ours[len("clip."):]
        if ours.startswith("head."):
            return HEAD_PREFIX + ours[len("head."):]
        return ours

    def derive(self, shapes):
        clip = derive_clip(shapes)
        if clip["vision"]["type"] != "convnext":
            raise ConvertError("ERR-Seg expects a ConvNeXt image tower")
        head = errseg_head.derive(shapes, clip["vision"]["dims"])
        return {"architecture": "errseg", "clip": clip, "head": head}

    def defaults(self, derived):
        defaults = {"clip": clip_defaults(derived["clip"]),
                    "head": dict(errseg_head.UPSTREAM_DEFAULTS),
                    "input": dict(UPSTREAM_INPUT),
                    "prompt_template": PROMPT_TEMPLATE}
        known = published.find_convnext_clip(derived["clip"])
        if known is not None:
            defaults["input"]["crop_size"] = known["errseg_crop_size"]
        return defaults

    def validate(self, config):
        mc.check_choice(config, "architecture", ("errseg",))
        validate_clip(config)
        errseg_head.validate(config)
        crop = mc.check_int(config, "input.crop_size")
        if crop % 16:
            raise ConvertError(f"config input.crop_size = {crop} must be a multiple of 16")
        for key in ("pixel_mean", "pixel_std"):
            value = mc.get_path(config, f"input.{key}")
            if not (isinstance(value, list) and len(value) == 3 and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
                raise ConvertError(f"config input.{key} must be a list of 3 numbers")
        if not all(v > 0 for v in config["input"]["pixel_std"]):
            raise ConvertError("config input.pixel_std must be positive")
        template = config.get("prompt_template")
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ConvertError("config prompt_template must be a string with exactly one '{}'")

    def expected(self, config):
        out = expected_clip(config["clip"], hsm=True)
        out.update(errseg_head.expected(config["head"]))
        return out
