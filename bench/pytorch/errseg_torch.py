#!/usr/bin/env python3
"""ERR-Seg inference in PyTorch, written from the spec (shared/docs/errseg-architecture.md §2),
for side-by-side benchmarks ("upstream PyTorch on the same CPU") and fidelity checks.

It computes what the released ERR-Seg code computes, op for op and in the same order, so that
it reproduces the upstream fixtures to float32 rounding:

* CLIP = an OpenCLIP ConvNeXt model assembled from the library classes upstream uses — timm's
  ``ConvNeXt`` trunk (+ its ``NormMlpClassifierHead``), the OpenCLIP linear/MLP image head,
  open_clip's ``TextTransformer`` and ``SimpleTokenizer`` — plus ERR-Seg's dense mode: guidance
  maps os4..os32, the HSM stride-16 path (``visual.modify_downsample`` + the stage-3 blocks at
  stride 16) and the per-pixel CLIP projection.
* The head (``sem_seg_head.decoder``): cost maps, CRM class selection, cost embedding, image /
  text guidance, the ESCF aggregator (spatial fusion with spatial-reduction attention, class
  fusion over the selected classes), the three up-decoders, the 1×1 head, −100 reconstruction.
* Post-processing: sigmoid, detectron2's ``sem_seg_postprocess`` crop + bilinear resize, argmax.

Deliberate difference from upstream: CRM keeps the selected classes in ascending index order
(upstream applies a random permutation at test time, which changes logits only by float
summation order, ≈1.5e-7 on the fixtures; ``decoder(..., shuffle=generator)`` re-enables it).
The K classes are picked with ``torch.topk`` as upstream, so ties in the class weights resolve
as upstream does on the same torch build (the vocab-12 fixture has such a tie); ``tie_break=
'index'`` gives the deterministic "lower class index first" rule recommended for engines.

Checkpoints: detectron2 layout ``{'model': state_dict}`` with ``sem_seg_head.clip_model.*`` and
``sem_seg_head.decoder.*`` keys (spec §4); configs: the JSON format of
``shared/fixtures/errseg_tiny.config.json`` (``released_config('B'|'L')`` gives the released
hyperparameters).

Needs torch (1.13+), timm (0.9+), open_clip, numpy, Pillow.  On the development machine run it
with ``/usr/bin/python3``.
"""

import copy
import json
import os
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from timm.layers import LayerNorm2d, Mlp
from timm.models.convnext import ConvNeXt
from open_clip.tokenizer import SimpleTokenizer
from open_clip.transformer import LayerNorm as OpenClipLayerNorm
from open_clip.transformer import TextTransformer

CLIP_PREFIX = "sem_seg_head.clip_model."
HEAD_PREFIX = "sem_seg_head.decoder."

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

# --------------------------------------------------------------------------------------------
# Configuration (JSON schema of shared/fixtures/errseg_tiny.config.json)

IMAGENET_MEAN = [123.675, 116.280, 103.530]
IMAGENET_STD = [58.395, 57.120, 57.375]
PROMPT_TEMPLATE = "A photo of a {} in the scene"


def released_config(variant):
    """The released ERR-Seg B / L hyperparameters (spec §1, §3), in the config-JSON format."""
    variant = variant.upper()
    if variant == "B":
        dims, embed, head = [128, 256, 512, 1024], 640, "linear"
        text = {"context_length": 77, "vocab_size": 49408, "width": 640, "heads": 10, "layers": 12}
        note = "ERR-Seg B: OpenCLIP convnext_base_w_320 (laion_aesthetic_s13b_b82k) + ERR-Seg head"
    elif variant == "L":
        dims, embed, head = [192, 384, 768, 1536], 768, "mlp"
        text = {"context_length": 77, "vocab_size": 49408, "width": 768, "heads": 12, "layers": 16}
        note = ("ERR-Seg L: OpenCLIP convnext_large_d_320 (laion2b_s29b_b131k_ft_soup) + ERR-Seg "
                "head (upstream eval.sh runs L at crop 768; this config uses the YAML's 640)")
    else:
        raise ValueError(f"unknown ERR-Seg variant {variant!r} (expected B or L)")
    return {
        "architecture": "errseg",
        "note": note,
        "clip": {
            "embed_dim": embed,
            "vision": {"type": "convnext", "dims": dims, "depths": [3, 3, 27, 3], "head": head,
                       "image_size": 320},
            "text": text,
            "act": "gelu",
        },
        "head": {
            "corr_fpn_inter_dim": 256, "corr_fpn_fusion_dim": 128,
            "guidance_fpn_inter_dim": 256, "guidance_fpn_fusion_dim": 128,
            "image_guidance_dims": list(reversed(dims)), "decoder_guidance_dims": list(reversed(dims[:3])),
            "guidance_proj_dims": [32, 16, 8], "text_guidance_dim": embed, "text_guidance_proj_dim": 128,
            "aggregator_scale_ratio": [2, 2, 2, 2], "aggregator_dim": 128, "aggregator_heads": 4,
            "decoder_dims": [64, 32, 16], "sample_classes_num": 32,
        },
        "input": {"crop_size": 640, "pixel_mean": list(IMAGENET_MEAN), "pixel_std": list(IMAGENET_STD)},
        "prompt_template": PROMPT_TEMPLATE,
    }


def load_config(path_or_dict):
    """Reads a config JSON (path or dict); fills the optional keys with upstream defaults."""
    if isinstance(path_or_dict, dict):
        cfg = copy.deepcopy(path_or_dict)
    else:
        with open(path_or_dict, encoding="utf-8") as f:
            cfg = json.load(f)
    if cfg.get("architecture", "errseg") != "errseg":
        raise ValueError(f"not an ERR-Seg config: architecture = {cfg.get('architecture')!r}")
    vision = cfg["clip"]["vision"]
    if vision.get("type", "convnext") != "convnext":
        raise ValueError("ERR-Seg needs a ConvNeXt CLIP image tower")
    cfg["clip"].setdefault("act", "gelu")
    cfg["head"].setdefault("aggregator_heads", 4)
    cfg["input"].setdefault("pixel_mean", list(IMAGENET_MEAN))
    cfg["input"].setdefault("pixel_std", list(IMAGENET_STD))
    cfg.setdefault("prompt_template", PROMPT_TEMPLATE)
    return cfg


# --------------------------------------------------------------------------------------------
# CLIP image tower in ERR-Seg's dense mode (spec §2.3–2.5)

class DenseConvNeXtVision(nn.Module):
    """OpenCLIP ``TimmModel`` (ConvNeXt trunk + linear/MLP head) with ERR-Seg's dense outputs.

    Submodule names follow the checkpoint: ``trunk.*`` (timm ConvNeXt), ``head.proj`` (linear)
    or ``head.mlp.{fc1,fc2}`` (MLP), ``modify_downsample.{0,2}`` (HSM stride-16 path).
    """

    def __init__(self, dims, depths, embed_dim, head_type="linear"):
        super().__init__()
        if len(dims) != 4 or len(depths) != 4:
            raise ValueError("ConvNeXt needs 4 stages")
        # timm defaults as in convnext_base/large: LayerNorm2d(eps 1e-6), layer scale, head after
        # the stages (head_norm_first=False), num_classes=0 → head = avg pool → LN2d → identity.
        self.trunk = ConvNeXt(depths=list(depths), dims=list(dims), num_classes=0)
        width = dims[-1]
        if head_type == "linear":
            self.head = nn.Sequential(OrderedDict([
                ("drop", nn.Dropout(0.0)),
                ("proj", nn.Linear(width, embed_dim, bias=False)),
            ]))
        elif head_type == "mlp":
            self.head = nn.Sequential(OrderedDict([
                ("mlp", Mlp(width, 2 * embed_dim, embed_dim, drop=(0.0, 0.0), bias=(True, False))),
            ]))
        else:
            raise ValueError(f"unknown CLIP image head {head_type!r}")
        # HSM: LN2d → zero pad 1 → 2×2 conv with stride 1 (d2 → d3), applied to the stage-2 output.
        self.modify_downsample = nn.Sequential(
            LayerNorm2d(dims[2]),
            nn.ZeroPad2d((1, 1, 1, 1)),
            nn.Conv2d(dims[2], dims[3], kernel_size=2, stride=1),
        )

    def project_dense(self, x):
        """Every pixel through the CLIP image head as a 1×1 image (spec §2.5)."""
        b, c, h, w = x.shape
        pixels = x.permute(0, 2, 3, 1).reshape(b * h * w, c).view(-1, c, 1, 1)
        pixels = self.trunk.head(pixels)          # avg pool (1×1) → LN2d → flatten
        pixels = self.head(pixels)                # linear or MLP → E
        e = pixels.shape[-1]
        return pixels.reshape(b, h, w, e).permute(0, 3, 1, 2)

    def forward(self, x):
        """x: normalised N×3×S×S → dict os4, os8, os16, os16_dense, os32, clip_vis_dense."""
        out = {}
        x = self.trunk.stem(x)
        for i in range(4):
            x = self.trunk.stages[i](x)
            out[f"os{2 ** (i + 2)}"] = x.contiguous().clone()   # guidance copies (clamped later)
            if i == 2:
                hsm = x.clone()
                size = hsm.shape[-2:]
                hsm = self.modify_downsample(hsm)
                hsm = F.interpolate(hsm, size=size, mode="bilinear", align_corners=False)
                hsm = self.trunk.stages[3].blocks(hsm)
                hsm = self.trunk.norm_pre(hsm)
                out["os16_dense"] = self.project_dense(hsm).contiguous()
        x = self.trunk.norm_pre(x)
        out["clip_vis_dense"] = self.project_dense(x).contiguous()
        return out


class ERRSegCLIP(nn.Module):
    """The fine-tuned OpenCLIP ConvNeXt model held by ERR-Seg: dense image tower + text tower."""

    def __init__(self, clip_cfg):
        super().__init__()
        vision, text = clip_cfg["vision"], clip_cfg["text"]
        embed = clip_cfg["embed_dim"]
        self.visual = DenseConvNeXtVision(vision["dims"], vision["depths"], embed, vision.get("head", "linear"))
        act = clip_cfg.get("act", "gelu")
        if act != "gelu":
            raise ValueError("OpenCLIP ConvNeXt text towers use exact GELU (clip.act = 'gelu')")
        self.text = TextTransformer(
            context_length=text["context_length"], vocab_size=text["vocab_size"], width=text["width"],
            heads=text["heads"], layers=text["layers"], output_dim=embed,
            act_layer=nn.GELU, norm_layer=OpenClipLayerNorm)
        self.logit_scale = nn.Parameter(torch.zeros(()))   # unused by ERR-Seg
        self.context_length = text["context_length"]

    @staticmethod
    def checkpoint_key(name):
        """Module parameter name → key after ``sem_seg_head.clip_model.``."""
        if name.startswith("visual.") or name == "logit_scale":
            return name
        if name.startswith("text."):
            return name[len("text."):]
        raise KeyError(name)

    def encode_image_dense(self, x):
        return self.visual(x)

    def encode_text(self, tokens):
        return self.text(tokens)


# --------------------------------------------------------------------------------------------
# Head: ESCF aggregator blocks (spec §2.7.2, §2.7.3)

class DepthwiseConvTokens(nn.Module):
    """Depthwise 7×7 conv applied to a token sequence viewed as an H×W map."""

    def __init__(self, dim):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, 1, 3, bias=True, groups=dim)

    def forward(self, x, h, w):
        b, n, c = x.shape
        x = x.transpose(1, 2).contiguous().view(b, c, h, w)
        x = self.dwconv(x)
        return x.flatten(2).transpose(1, 2).contiguous()


class SpatialGatedMlp(nn.Module):
    """fc3(ReLU6(fc1 x) ⊙ fc2 x) → depthwise 7×7 conv over the H×W grid."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(dim, hidden)
        self.fc3 = nn.Linear(hidden, dim)
        self.dwconv = DepthwiseConvTokens(dim)

    def forward(self, x, h, w):
        gate = F.relu6(self.fc1(x))
        x = gate * self.fc2(x)
        x = self.fc3(x)
        return self.dwconv(x, h, w)


class ClassGatedMlp(nn.Module):
    """ReLU6(fc3(ReLU6(fc1 x) ⊙ fc2 x)) — note the ReLU6 after fc3 and no depthwise conv."""

    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(dim, hidden)
        self.fc3 = nn.Linear(hidden, dim)

    def forward(self, x):
        gate = F.relu6(self.fc1(x))
        x = gate * self.fc2(x)
        return F.relu6(self.fc3(x))


def _split_heads(x, heads):
    b, n, c = x.shape
    return x.reshape(b, n, heads, c // heads).permute(0, 2, 1, 3)


def _softmax_attention(q, k, v, scale):
    """Explicit softmax attention in upstream's order: (q·kᵀ)·scale → softmax → ·v."""
    scores = (q @ k.transpose(-2, -1).contiguous()) * scale
    return scores.softmax(dim=-1) @ v


class SpatialReductionAttention(nn.Module):
    """Guided attention over positions; keys/values from a stride-``sr`` reduced grid."""

    def __init__(self, dim, heads, sr_ratio):
        super().__init__()
        self.dim, self.heads, self.sr_ratio = dim, heads, sr_ratio
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(2 * dim, dim)
        self.k = nn.Linear(2 * dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)
        if sr_ratio > 1:
            self.sr_k = nn.Conv2d(2 * dim, 2 * dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm_k = nn.LayerNorm(2 * dim)
            self.sr_v = nn.Conv2d(dim, dim, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm_v = nn.LayerNorm(dim)

    def forward(self, x, guidance, h, w):
        b, n, c = x.shape
        xg = torch.cat([x, guidance], dim=-1)             # features first, guidance second
        q = _split_heads(self.q(xg), self.heads)
        if self.sr_ratio > 1:
            kin = xg.permute(0, 2, 1).reshape(b, 2 * c, h, w)
            kin = self.sr_k(kin).reshape(b, 2 * c, -1).permute(0, 2, 1)
            k = _split_heads(self.k(self.norm_k(kin)), self.heads)
            vin = x.permute(0, 2, 1).reshape(b, c, h, w)
            vin = self.sr_v(vin).reshape(b, c, -1).permute(0, 2, 1)
            v = _split_heads(self.v(self.norm_v(vin)), self.heads)
        else:
            k = _split_heads(self.k(xg), self.heads)
            v = _split_heads(self.v(x), self.heads)
        out = _softmax_attention(q, k, v, self.scale)
        out = out.transpose(1, 2).reshape(b, n, c).contiguous()
        return self.proj(out)


class ClassAttention(nn.Module):
    """Guided attention across the K class tokens of one (pooled) position."""

    def __init__(self, dim, heads):
        super().__init__()
        self.dim, self.heads = dim, heads
        self.scale = (dim // heads) ** -0.5
        self.q = nn.Linear(2 * dim, dim)
        self.k = nn.Linear(2 * dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, guidance):
        b, n, c = x.shape
        xg = torch.cat([x, guidance], dim=-1)
        q = _split_heads(self.q(xg), self.heads)
        k = _split_heads(self.k(xg), self.heads)
        v = _split_heads(self.v(x), self.heads)
        out = _softmax_attention(q, k, v, self.scale)
        out = out.transpose(1, 2).reshape(b, n, c).contiguous()
        return self.proj(out)


class SpatialFusionBlock(nn.Module):
    """Pre-norm block: x += attn(LN x, guidance); x += mlp(LN x). Input/output N×C×H×W."""

    def __init__(self, dim, heads, sr_ratio, mlp_ratio=3):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SpatialReductionAttention(dim, heads, sr_ratio)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = SpatialGatedMlp(dim, mlp_ratio * dim)

    def forward(self, x, guidance):
        b, c, h, w = x.shape
        x = x.flatten(2).transpose(1, 2)                  # N×(H·W)×C, row-major positions
        guidance = guidance.flatten(2).transpose(1, 2)
        x = x + self.attention(self.norm1(x), guidance, h, w)
        x = x + self.mlp(self.norm2(x), h, w)
        return x.reshape(b, h, w, c).permute(0, 3, 1, 2)


class ClassFusionBlock(nn.Module):
    """Pre-norm block over class sequences: x += attn(LN x, text guidance); x += mlp(LN x)."""

    def __init__(self, dim, heads, mlp_ratio=3):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = ClassAttention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = ClassGatedMlp(dim, mlp_ratio * dim)

    def forward(self, x, guidance):
        x = x + self.attention(self.norm1(x), guidance)
        return x + self.mlp(self.norm2(x))


class SpatialFusion(nn.Module):
    def __init__(self, dim, heads, sr_ratio):
        super().__init__()
        self.sa = SpatialFusionBlock(dim, heads, sr_ratio)

    def forward(self, x, image_guidance):
        """x: K×C×H×W (one map per selected class); image_guidance: 1×C×H×W."""
        k = x.shape[0]
        guidance = image_guidance.repeat(k, 1, 1, 1)     # upstream materialises K copies
        return self.sa(x, guidance)


class ClassFusion(nn.Module):
    def __init__(self, dim, heads, pooling=(2, 2)):
        super().__init__()
        self.sa = ClassFusionBlock(dim, heads)
        self.pool = nn.AvgPool2d(pooling)

    def forward(self, x, text_guidance):
        """x: K×C×H×W; text_guidance: 1×K×C. Attention runs across K at each pooled position."""
        k, c, h, w = x.shape
        residual = x
        pooled = self.pool(x)
        hp, wp = pooled.shape[-2:]
        seq = pooled.reshape(1, k, c, hp, wp).permute(0, 3, 4, 1, 2).reshape(hp * wp, k, c)
        guidance = text_guidance.unsqueeze(1).expand(-1, hp * wp, -1, -1).reshape(hp * wp, k, c)
        seq = self.sa(seq, guidance)
        pooled = seq.reshape(1, hp, wp, k, c).permute(0, 3, 4, 1, 2).reshape(k, c, hp, wp)
        up = F.interpolate(pooled, size=(h, w), mode="bilinear", align_corners=True)
        return residual + up


class AggregatorLayer(nn.Module):
    def __init__(self, dim, heads, sr_ratio):
        super().__init__()
        self.spatial_fusion = SpatialFusion(dim, heads, sr_ratio)
        self.class_fusion = ClassFusion(dim, heads)

    def forward(self, x, image_guidance, text_guidance):
        x = self.spatial_fusion(x, image_guidance)
        return self.class_fusion(x, text_guidance)


class UpDecoder(nn.Module):
    """(1×1 conv | 2×2 stride-2 transposed conv) → concat guidance → 2×(3×3 conv, GN, ReLU)."""

    def __init__(self, in_dim, out_dim, guidance_dim, upsample):
        super().__init__()
        if upsample:
            self.up_conv = nn.ConvTranspose2d(in_dim, out_dim, kernel_size=2, stride=2)
        else:
            self.up_conv = nn.Conv2d(in_dim, out_dim, kernel_size=1, stride=1, padding=0)
        groups = out_dim // 8
        self.textual_fusion = nn.Sequential(
            nn.Conv2d(out_dim + guidance_dim, out_dim, kernel_size=3, padding=1, bias=False),
            nn.GroupNorm(groups, out_dim),
            nn.ReLU(),
            nn.Conv2d(out_dim, out_dim, kernel_size=3, padding=1, bias=False),
            nn.GroupNorm(groups, out_dim),
            nn.ReLU(),
        )

    def forward(self, x, guidance):
        k = x.shape[0] // guidance.shape[0]
        x = self.up_conv(x)
        x = torch.cat([x, guidance.repeat(k, 1, 1, 1)], dim=1)
        return self.textual_fusion(x)


def _conv_relu6(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1), nn.ReLU6())


# --------------------------------------------------------------------------------------------
# Head (spec §2.7)

class ERRSegHead(nn.Module):
    """``sem_seg_head.decoder``: cost maps → CRM → cost embedding → ESCF → up-decoders → logits."""

    def __init__(self, h):
        super().__init__()
        prompt_channel = 1
        inter, fusion = h["corr_fpn_inter_dim"], h["corr_fpn_fusion_dim"]
        self.corr_proj_convs = nn.ModuleList([
            nn.Sequential(nn.Conv2d(prompt_channel, inter, kernel_size=7, stride=1, padding=3))
            for _ in range(2)])
        self.low_corr_fusion = nn.Conv2d(inter, fusion, kernel_size=1, stride=1)
        g_inter, g_fusion = h["guidance_fpn_inter_dim"], h["guidance_fpn_fusion_dim"]
        self.img_guidance_projection_agg = nn.ModuleList([
            _conv_relu6(d, g_inter) for d in h["image_guidance_dims"][:2]])
        self.low_img_fusion = nn.Conv2d(g_inter, g_fusion, kernel_size=1, stride=1)
        self.img_guidance_projection_dec = nn.ModuleList([
            _conv_relu6(d, p) for d, p in zip(h["decoder_guidance_dims"], h["guidance_proj_dims"])])
        self.text_guidance_projection = nn.Sequential(
            nn.Linear(h["text_guidance_dim"], h["text_guidance_proj_dim"]), nn.GELU())
        dim, heads = h["aggregator_dim"], h.get("aggregator_heads", 4)
        self.aggregator_layers = nn.ModuleList([
            AggregatorLayer(dim, heads, sr) for sr in h["aggregator_scale_ratio"]])
        dd, gp = h["decoder_dims"], h["guidance_proj_dims"]
        self.up_decoder1 = UpDecoder(dim, dd[0], gp[0], upsample=False)
        self.up_decoder2 = UpDecoder(dd[0], dd[1], gp[1], upsample=True)
        self.up_decoder3 = UpDecoder(dd[1], dd[2], gp[2], upsample=True)
        self.head = nn.Conv2d(dd[-1], 1, kernel_size=1)
        self.sample_classes_num = h["sample_classes_num"]

    # H1
    @staticmethod
    def cost_map(img_feats, text_feats):
        """img 1×E×H×W, text 1×T×P×E → cosine similarities 1×P×T×H×W."""
        img_feats = F.normalize(img_feats, dim=1)
        text_feats = F.normalize(text_feats, dim=-1)
        return torch.einsum("bchw, btpc -> bpthw", img_feats, text_feats)

    # H3, spec §2.7.1
    @staticmethod
    def select_classes(cost, k, tie_break="topk"):
        """CRM on the 1×P×T×H×W stride-16 cost map → the K selected class indices, ascending."""
        m = cost.mean(dim=1)[0]                            # T×H×W
        t = m.shape[0]
        top = 3 if t > 3 else t
        _, ranks = torch.topk(m, k=top, dim=0)             # top×H×W, rank 0 = most similar
        weights = torch.zeros(t, dtype=torch.float32, device=m.device)
        for i, factor in enumerate([1, 0.1, 0.01][:top]):
            if torch.onnx.is_in_onnx_export():
                # ONNX has no bincount: compare with every class index and sum (the same integers)
                counts = (ranks[i].flatten().unsqueeze(1) == torch.arange(t, device=m.device)).sum(0)
            else:
                counts = torch.bincount(ranks[i].flatten(), minlength=t)
            counts = counts.to(torch.float32)
            weights += counts * factor                    # float32 products, added in rank order
        k = min(k, t)
        if tie_break == "topk":
            _, chosen = torch.topk(weights, k=k)
        elif tie_break == "index":
            # larger weight first, ties → lower class index (stable sort keeps index order)
            _, order = torch.sort(weights, descending=True, stable=True)
            chosen = order[:k]
        else:
            raise ValueError(f"unknown tie_break {tie_break!r}")
        return chosen.sort().values, weights

    def forward(self, feats, text, tie_break="topk", return_aux=False, shuffle=None):
        """feats: the dense image-tower dict (its os4..os32 guidance maps are clamped to ±16 in
        place, as upstream does); text: T×P×E normalised embeddings.

        Returns logits 1×T×H4×W4 (−100 for classes CRM dropped) and the selected indices
        (ascending). ``shuffle``: a torch.Generator → process the selected classes in a random
        order as upstream does at test time (changes logits only at rounding level).
        """
        text = text.unsqueeze(0)                                       # 1×T×P×E
        costs = [self.cost_map(feats["os16_dense"], text), self.cost_map(feats["clip_vis_dense"], text)]
        t = costs[0].shape[2]

        guid = [feats["os32"], feats["os16"], feats["os8"], feats["os4"]]   # head order: os32 first
        for g in guid:
            g.clamp_(-16, 16)                                          # H2, in place, before use

        selected, weights = self.select_classes(costs[0], self.sample_classes_num, tie_break)
        if shuffle is not None:
            selected = selected[torch.randperm(selected.numel(), generator=shuffle).to(selected.device)]
        k = selected.numel()
        s16 = costs[0][0][:, selected]                                 # P×K×H×W (H4)
        s32 = costs[1][0][:, selected]

        # H5 cost embedding, each class separately (P is the input channel)
        a16 = self.corr_proj_convs[0](s16.permute(1, 0, 2, 3))         # K×inter×H16×W16
        a32 = self.corr_proj_convs[1](s32.permute(1, 0, 2, 3))
        a32 = F.interpolate(a32, size=a16.shape[-2:], mode="bilinear", align_corners=False)
        x = self.low_corr_fusion((a16 + a32) / 2.0)                    # K×C×H16×W16

        # H6 decoder guidance (os16, os8, os4)
        dec_guid = [proj(g) for proj, g in zip(self.img_guidance_projection_dec, guid[1:])]
        # H7 aggregation guidance (os32, os16)
        p32, p16 = [proj(g) for proj, g in zip(self.img_guidance_projection_agg, guid[:2])]
        p32 = F.interpolate(p32, size=p16.shape[-2:], mode="bilinear", align_corners=False)
        img_guidance = self.low_img_fusion((p32 + p16) / 2.0)          # 1×C×H16×W16

        # H8 text guidance
        ts = text[0][selected].unsqueeze(0)                            # 1×K×P×E
        ts = ts.mean(dim=-2)
        ts = ts / ts.norm(dim=-1, keepdim=True)
        text_guidance = self.text_guidance_projection(ts)              # 1×K×C

        # H9 aggregator
        for layer in self.aggregator_layers:
            x = layer(x, img_guidance, text_guidance)

        # H10–H13 up-decoders and head
        x = self.up_decoder1(x, dec_guid[0])
        x = self.up_decoder2(x, dec_guid[1])
        x = self.up_decoder3(x, dec_guid[2])
        logit = self.head(x).reshape(1, k, x.shape[-2], x.shape[-1])

        # H14 reconstruction
        out = torch.ones((1, t, logit.shape[-2], logit.shape[-1]), dtype=torch.float32, device=logit.device) * (-100)
        out[0, selected] = logit[0].float()
        selected = selected.sort().values
        if return_aux:
            return out, selected, {"crm_weights": weights}
        return out, selected


# --------------------------------------------------------------------------------------------
# The whole model

class ERRSeg(nn.Module):
    """ERR-Seg inference: ``segment(image_uint8_hwc, class_names)`` or the stages separately."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = load_config(cfg)
        self.clip = ERRSegCLIP(self.cfg["clip"])
        self.decoder = ERRSegHead(self.cfg["head"])
        inp = self.cfg["input"]
        self.crop_size = int(inp["crop_size"])
        self.register_buffer("pixel_mean", torch.tensor(inp["pixel_mean"], dtype=torch.float32).view(-1, 1, 1), False)
        self.register_buffer("pixel_std", torch.tensor(inp["pixel_std"], dtype=torch.float32).view(-1, 1, 1), False)
        self.prompt_template = self.cfg["prompt_template"]
        self.tokenizer = SimpleTokenizer(context_length=self.cfg["clip"]["text"]["context_length"])

    # ---- checkpoint -------------------------------------------------------------------------
    def checkpoint_key(self, name):
        """Parameter name of this module → key in the detectron2 checkpoint."""
        if name.startswith("clip."):
            return CLIP_PREFIX + ERRSegCLIP.checkpoint_key(name[len("clip."):])
        if name.startswith("decoder."):
            return HEAD_PREFIX + name[len("decoder."):]
        raise KeyError(name)

    def checkpoint_shapes(self):
        """OrderedDict checkpoint key → shape, for every tensor the checkpoint must hold."""
        return OrderedDict((self.checkpoint_key(n), tuple(p.shape)) for n, p in self.named_parameters())

    def load_checkpoint(self, path_or_state, strict=True):
        """Loads a detectron2 ``{'model': state_dict}`` file (or a state dict) without keeping a
        second copy: parameters are re-pointed to the loaded tensors."""
        state = path_or_state
        if isinstance(state, str):
            state = torch.load(state, map_location="cpu")
        if "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        wanted = {self.checkpoint_key(n): (n, p) for n, p in self.named_parameters()}
        missing = sorted(set(wanted) - set(state))
        unexpected = sorted(k for k in state if k not in wanted)
        if strict and (missing or unexpected):
            raise KeyError(f"checkpoint mismatch: missing {missing[:10]} ({len(missing)}), "
                           f"unexpected {unexpected[:10]} ({len(unexpected)})")
        for key, (name, param) in wanted.items():
            if key not in state:
                continue
            tensor = state[key]
            if tuple(tensor.shape) != tuple(param.shape):
                raise ValueError(f"{key}: checkpoint shape {tuple(tensor.shape)} != model {tuple(param.shape)}")
            param.data = tensor.detach().to(torch.float32)
        return self

    @classmethod
    def from_files(cls, checkpoint, config):
        model = cls(config)
        model.load_checkpoint(checkpoint)
        return model.eval()

    # ---- stages -----------------------------------------------------------------------------
    def preprocess(self, image):
        """uint8 H×W×3 RGB (numpy or tensor) → normalised 1×3×S×S float32 (spec §2.2)."""
        if isinstance(image, torch.Tensor):
            image = image.numpy()
        # contiguous C×H×W, as detectron2's loader hands it to the model
        img = torch.as_tensor(np.ascontiguousarray(np.asarray(image).transpose(2, 0, 1))).to(self.pixel_mean.device)
        return self.preprocess_chw(img)

    def preprocess_chw(self, img):
        """uint8 3×H×W tensor → normalised 1×3×S×S float32; traceable (the ONNX whole graph starts here)."""
        x = (img.to(torch.float32) - self.pixel_mean) / self.pixel_std   # = uint8 − float promotion
        x = x.unsqueeze(0)
        return F.interpolate(x, size=(self.crop_size, self.crop_size), mode="bilinear", align_corners=False)

    def prompts(self, class_names):
        """First synonym of each name in the prompt template (spec §2.6 step 1)."""
        out = []
        for name in class_names:
            if ", " in name:
                name = name.split(", ")[0]
            out.append(self.prompt_template.format(name))
        return out

    def tokenize(self, class_names):
        return self.tokenizer(self.prompts(class_names))

    def encode_text(self, class_names):
        """T class names → T×1×E L2-normalised text embeddings (all prompts in one batch)."""
        tokens = self.tokenize(class_names).to(self.pixel_mean.device)
        emb = self.clip.encode_text(tokens)
        emb = emb / emb.norm(dim=-1, keepdim=True)
        return emb.unsqueeze(1)

    def encode_image(self, x):
        return self.clip.encode_image_dense(x)

    def decode(self, feats, text, tie_break="topk"):
        return self.decoder(feats, text, tie_break=tie_break)

    @staticmethod
    def postprocess(logits, input_size, output_size):
        """sigmoid → crop to the model-input size → bilinear to the original size → argmax."""
        probs = logits.sigmoid()[0]
        probs = probs[:, : input_size[0], : input_size[1]].expand(1, -1, -1, -1)
        probs = F.interpolate(probs, size=tuple(output_size), mode="bilinear", align_corners=False)[0]
        return probs, probs.argmax(dim=0)

    def segment(self, image, class_names=None, text=None, output_size=None, tie_break="topk"):
        """Full pipeline. ``image``: uint8 H×W×3 (after any data-loader resize); ``output_size``:
        the original (height, width), default the image size. Returns a dict."""
        h, w = image.shape[0], image.shape[1]
        if text is None:
            text = self.encode_text(class_names)
        x = self.preprocess(image)
        feats = self.encode_image(x)
        logits, selected = self.decode(feats, text, tie_break)
        probs, labels = self.postprocess(logits, (h, w), output_size or (h, w))
        return {"logits": logits[0], "selected": selected, "probs": probs, "labels": labels}


# --------------------------------------------------------------------------------------------
# Inputs

def read_image(path):
    """RGB uint8 H×W×3 with EXIF orientation applied (detectron2 ``read_image``)."""
    from PIL import Image, ImageOps
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        return np.asarray(im.convert("RGB")).copy()


def resize_shortest_edge(image, short=800, max_size=1333):
    """detectron2's test-time ResizeShortestEdge(800, 1333): PIL bilinear on uint8 (spec §2.1)."""
    from PIL import Image
    h, w = image.shape[:2]
    scale = short / min(h, w)
    nh, nw = (short, scale * w) if h < w else (scale * h, short)
    if max(nh, nw) > max_size:
        s = max_size / max(nh, nw)
        nh, nw = nh * s, nw * s
    nh, nw = int(nh + 0.5), int(nw + 0.5)
    return np.asarray(Image.fromarray(image).resize((nw, nh), Image.BILINEAR))


def class_list(spec):
    """'ade150' | 'ade847' | ... (data/classes/*.json) | a JSON / one-per-line file | 'a,b,c'."""
    for folder in (os.path.join(REPO, "data", "classes"),
                   os.path.join(os.path.dirname(REPO), "shared", "data", "classes")):
        path = os.path.join(folder, spec + ".json")
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                return json.load(f)
    if os.path.isfile(spec):
        with open(spec, encoding="utf-8") as f:
            text = f.read()
        try:
            names = json.loads(text)
            if isinstance(names, list):
                return [str(n) for n in names]
        except json.JSONDecodeError:
            pass
        return [line.strip() for line in text.splitlines() if line.strip()]
    if "," in spec:
        return [n.strip() for n in spec.split(",") if n.strip()]
    raise FileNotFoundError(f"unknown vocabulary {spec!r}")
