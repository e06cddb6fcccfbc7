"""Checkpoint layouts: detection and lookup by name (the ``--arch`` choices)."""

from ..errors import ConvertError
from .base import DROP, Layout, LayoutResult, apply_layout
from .errseg import ERRSeg
from .openai_vit import OpenAIViT
from .openclip_convnext import OpenCLIPConvNeXt

__all__ = ["DROP", "LAYOUTS", "Layout", "LayoutResult", "apply_layout", "detect_layout",
           "get_layout"]

LAYOUTS = {layout.name: layout for layout in (OpenAIViT(), OpenCLIPConvNeXt(), ERRSeg())}


def get_layout(name):
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ConvertError(f"unknown --arch {name!r}; choose auto, {', '.join(LAYOUTS)}") from None


def detect_layout(names):
    """The one layout whose marker tensors are present in ``names``."""
    names = set(names)
    found = [layout for layout in LAYOUTS.values() if layout.matches(names)]
    if len(found) == 1:
        return found[0]
    if not found:
        sample = ", ".join(sorted(names)[:5])
        raise ConvertError("unknown checkpoint layout: none of the OpenAI CLIP ViT "
                           "(visual.conv1.weight), OpenCLIP ConvNeXt (visual.trunk.stem.0.weight) "
                           f"or ERR-Seg (sem_seg_head.*) tensors found; first tensors: {sample}")
    raise ConvertError("ambiguous checkpoint layout (matches " +
                       ", ".join(layout.name for layout in found) + "); pass --arch")
