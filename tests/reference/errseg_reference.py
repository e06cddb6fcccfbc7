#!/usr/bin/env python3
"""A small, independent PyTorch re-implementation of ERR-Seg inference, written from the spec
(shared/docs/errseg-architecture.md §2), for module-level checks of the C++ engine.

    /usr/bin/python3 tests/reference/errseg_reference.py CHECKPOINT.pth CONFIG.json IMAGE \
        --classes "wall,floor,..." | --classes-json FILE  [--fixture NPZ] [--dump DIR]

* --fixture: compares the result with an upstream fixture npz (selected, logits, labels, probs).
* --dump DIR: writes intermediates as .npy (input, os4..os32, os16_dense, clip_vis_dense, text,
  cost16, selected, head stages, logits, labels) so the C++ side can be checked stage by stage.

Needs torch, numpy, PIL, regex (the CLIP tokenizer below is a minimal one: enough for plain
class names; it does not run ftfy).
"""

import argparse
import gzip
import html
import json
import os
import sys

import numpy as np
import regex
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


# ---------------------------------------------------------------------------------------------
# CLIP BPE tokenizer (spec §2.6 step 2), minimal.
class Tokenizer:
    SOT, EOT = 49406, 49407

    def __init__(self, merges_path):
        with open(merges_path, encoding="utf-8") as f:
            merges = [tuple(line.split()) for line in f.read().split("\n") if line.strip()]
        bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
            list(range(ord("®"), ord("ÿ") + 1))
        cs = bs[:]
        n = 0
        for b in range(256):
            if b not in bs:
                bs.append(b)
                cs.append(256 + n)
                n += 1
        self.byte_encoder = dict(zip(bs, [chr(c) for c in cs]))
        vocab = list(self.byte_encoder.values())
        vocab = vocab + [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in merges]
        vocab += ["<start_of_text>", "<end_of_text>"]
        self.encoder = {v: i for i, v in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.pat = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
                                 regex.IGNORECASE)

    def bpe(self, token):
        word = tuple(token[:-1]) + (token[-1] + "</w>",)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            first, second = best
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    out.append(first + second)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = tuple(out)
        return word

    def encode(self, text, context=77):
        text = html.unescape(html.unescape(text)).strip()
        text = " ".join(text.split()).lower()
        ids = []
        for tok in regex.findall(self.pat, text):
            tok = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
            ids += [self.encoder[t] for t in self.bpe(tok)]
        ids = [self.SOT] + ids + [self.EOT]
        if len(ids) > context:
            ids = ids[:context]
            ids[-1] = self.EOT
        return ids + [0] * (context - len(ids))


# ---------------------------------------------------------------------------------------------
def ln(x, w, b, eps):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps)


def ln2d(x, w, b, eps):
    return ln(x.permute(0, 2, 3, 1), w, b, eps).permute(0, 3, 1, 2)


class Model:
    def __init__(self, ckpt, cfg):
        """ckpt: a checkpoint path, or a state dict (training/train_demo.py passes its parameters,
        which stay the same tensor objects, so gradients reach them)."""
        sd = ckpt if isinstance(ckpt, dict) else torch.load(ckpt, map_location="cpu")
        sd = sd.get("model", sd)
        self.c = {k[len("sem_seg_head.clip_model."):]: v.float() for k, v in sd.items()
                  if k.startswith("sem_seg_head.clip_model.")}
        self.h = {k[len("sem_seg_head.decoder."):]: v.float() for k, v in sd.items()
                  if k.startswith("sem_seg_head.decoder.")}
        self.cfg = cfg

    # ---- CLIP image tower, dense (spec §2.3–2.5) ----
    def block(self, p, x):
        c = self.c
        y = F.conv2d(x, c[p + "conv_dw.weight"], c[p + "conv_dw.bias"], padding=3, groups=x.shape[1])
        y = ln(y.permute(0, 2, 3, 1), c[p + "norm.weight"], c[p + "norm.bias"], 1e-6)
        y = F.linear(F.gelu(F.linear(y, c[p + "mlp.fc1.weight"], c[p + "mlp.fc1.bias"])),
                     c[p + "mlp.fc2.weight"], c[p + "mlp.fc2.bias"])
        y = y.permute(0, 3, 1, 2) * c[p + "gamma"].view(1, -1, 1, 1)
        return x + y

    def blocks(self, s, x):
        depth = self.cfg["clip"]["vision"]["depths"][s]
        for j in range(depth):
            x = self.block(f"visual.trunk.stages.{s}.blocks.{j}.", x)
        return x

    def project(self, x):
        c = self.c
        y = ln(x.permute(0, 2, 3, 1), c["visual.trunk.head.norm.weight"], c["visual.trunk.head.norm.bias"], 1e-6)
        if "visual.head.proj.weight" in c:
            y = F.linear(y, c["visual.head.proj.weight"])
        else:
            y = F.linear(F.gelu(F.linear(y, c["visual.head.mlp.fc1.weight"], c["visual.head.mlp.fc1.bias"])),
                         c["visual.head.mlp.fc2.weight"])
        return y.permute(0, 3, 1, 2)

    def image_features(self, x):
        c = self.c
        x = F.conv2d(x, c["visual.trunk.stem.0.weight"], c["visual.trunk.stem.0.bias"], stride=4)
        x = ln2d(x, c["visual.trunk.stem.1.weight"], c["visual.trunk.stem.1.bias"], 1e-6)
        out = {}
        for s in range(4):
            if s > 0:
                p = f"visual.trunk.stages.{s}.downsample."
                x = ln2d(x, c[p + "0.weight"], c[p + "0.bias"], 1e-6)
                x = F.conv2d(x, c[p + "1.weight"], c[p + "1.bias"], stride=2)
            x = self.blocks(s, x)
            out[f"os{2 ** (s + 2)}"] = x.clone()
            if s == 2:  # HSM
                y = ln2d(x, c["visual.modify_downsample.0.weight"], c["visual.modify_downsample.0.bias"], 1e-6)
                y = F.pad(y, (1, 1, 1, 1))
                y = F.conv2d(y, c["visual.modify_downsample.2.weight"], c["visual.modify_downsample.2.bias"])
                y = F.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)
                out["os16_dense"] = self.project(self.blocks(3, y))
        out["clip_vis_dense"] = self.project(x)
        return out

    # ---- CLIP text tower (spec §2.6 step 3) ----
    def encode_text(self, tokens):
        c = self.c
        t = self.cfg["clip"]["text"]
        w, heads, L = t["width"], t["heads"], tokens.shape[1]
        x = c["token_embedding.weight"][tokens] + c["positional_embedding"][:L]
        mask = torch.full((L, L), float("-inf")).triu(1)
        for i in range(t["layers"]):
            p = f"transformer.resblocks.{i}."
            y = ln(x, c[p + "ln_1.weight"], c[p + "ln_1.bias"], 1e-5)
            qkv = F.linear(y, c[p + "attn.in_proj_weight"], c[p + "attn.in_proj_bias"])
            q, k, v = qkv.split(w, dim=-1)
            B = x.shape[0]
            q, k, v = [z.reshape(B, L, heads, w // heads).transpose(1, 2) for z in (q, k, v)]
            a = (q @ k.transpose(-1, -2)) * (w // heads) ** -0.5 + mask
            y = (a.softmax(-1) @ v).transpose(1, 2).reshape(B, L, w)
            x = x + F.linear(y, c[p + "attn.out_proj.weight"], c[p + "attn.out_proj.bias"])
            y = ln(x, c[p + "ln_2.weight"], c[p + "ln_2.bias"], 1e-5)
            y = F.linear(F.gelu(F.linear(y, c[p + "mlp.c_fc.weight"], c[p + "mlp.c_fc.bias"])),
                         c[p + "mlp.c_proj.weight"], c[p + "mlp.c_proj.bias"])
            x = x + y
        x = ln(x, c["ln_final.weight"], c["ln_final.bias"], 1e-5)
        x = x[torch.arange(x.shape[0]), tokens.argmax(-1)] @ c["text_projection"]
        return x / x.norm(dim=-1, keepdim=True)

    # ---- head (spec §2.7) ----
    tie_rule = "torch-cpu"

    @classmethod
    def crm(cls, cost, K):
        """Spec §2.7.1. Ties: torch.topk on CPU (as the fixtures) or larger-then-lower-index."""
        T = cost.shape[0]
        r = 3 if T > 3 else T
        flat = cost.reshape(T, -1)
        if cls.tie_rule == "torch-cpu":
            order = torch.topk(flat, k=r, dim=0).indices.T
        else:
            order = torch.sort(-flat.T, dim=1, stable=True).indices[:, :r]
        w = torch.zeros(T, dtype=torch.float32)
        for i, f in enumerate([1.0, 0.1, 0.01][:r]):
            counts = torch.bincount(order[:, i], minlength=T).float()
            w += counts * f
        if cls.tie_rule == "torch-cpu":
            sel = sorted(torch.topk(w, k=min(K, T)).indices.tolist())
        else:
            sel = sorted(sorted(range(T), key=lambda t: (-w[t].item(), t))[:min(K, T)])
        return sel, w

    def spatial(self, p, x, g, heads, sr):
        h = self.h
        B, C, H, W = x.shape
        t = x.flatten(2).transpose(1, 2)
        gt = g.flatten(2).transpose(1, 2).expand(B, -1, -1)
        xn = ln(t, h[p + "norm1.weight"], h[p + "norm1.bias"], 1e-5)
        a = torch.cat([xn, gt], -1)
        q = F.linear(a, h[p + "attention.q.weight"], h[p + "attention.q.bias"])
        if sr > 1:
            am = a.transpose(1, 2).reshape(B, 2 * C, H, W)
            ks = F.conv2d(am, h[p + "attention.sr_k.weight"], h[p + "attention.sr_k.bias"], stride=sr)
            ks = ln(ks.flatten(2).transpose(1, 2), h[p + "attention.norm_k.weight"], h[p + "attention.norm_k.bias"], 1e-5)
            k = F.linear(ks, h[p + "attention.k.weight"], h[p + "attention.k.bias"])
            vm = xn.transpose(1, 2).reshape(B, C, H, W)
            vs = F.conv2d(vm, h[p + "attention.sr_v.weight"], h[p + "attention.sr_v.bias"], stride=sr)
            vs = ln(vs.flatten(2).transpose(1, 2), h[p + "attention.norm_v.weight"], h[p + "attention.norm_v.bias"], 1e-5)
            v = F.linear(vs, h[p + "attention.v.weight"], h[p + "attention.v.bias"])
        else:
            k = F.linear(a, h[p + "attention.k.weight"], h[p + "attention.k.bias"])
            v = F.linear(xn, h[p + "attention.v.weight"], h[p + "attention.v.bias"])
        d = C // heads
        q, k, v = [z.reshape(B, -1, heads, d).transpose(1, 2) for z in (q, k, v)]
        o = ((q @ k.transpose(-1, -2)) * d ** -0.5).softmax(-1) @ v
        o = o.transpose(1, 2).reshape(B, H * W, C)
        t = t + F.linear(o, h[p + "attention.proj.weight"], h[p + "attention.proj.bias"])
        y = ln(t, h[p + "norm2.weight"], h[p + "norm2.bias"], 1e-5)
        u = F.relu6(F.linear(y, h[p + "mlp.fc1.weight"], h[p + "mlp.fc1.bias"])) * \
            F.linear(y, h[p + "mlp.fc2.weight"], h[p + "mlp.fc2.bias"])
        u = F.linear(u, h[p + "mlp.fc3.weight"], h[p + "mlp.fc3.bias"])
        u = F.conv2d(u.transpose(1, 2).reshape(B, C, H, W), h[p + "mlp.dwconv.dwconv.weight"],
                     h[p + "mlp.dwconv.dwconv.bias"], padding=3, groups=C)
        t = t + u.flatten(2).transpose(1, 2)
        return t.transpose(1, 2).reshape(B, C, H, W)

    def class_fusion(self, p, x, tg, heads):
        h = self.h
        K, C, H, W = x.shape
        xp = F.avg_pool2d(x, 2)
        hp, wp = xp.shape[-2:]
        z = xp.permute(2, 3, 0, 1).reshape(hp * wp, K, C)
        zn = ln(z, h[p + "norm1.weight"], h[p + "norm1.bias"], 1e-5)
        a = torch.cat([zn, tg.unsqueeze(0).expand(hp * wp, -1, -1)], -1)
        q = F.linear(a, h[p + "attention.q.weight"], h[p + "attention.q.bias"])
        k = F.linear(a, h[p + "attention.k.weight"], h[p + "attention.k.bias"])
        v = F.linear(zn, h[p + "attention.v.weight"], h[p + "attention.v.bias"])
        d = C // heads
        q, k, v = [t.reshape(hp * wp, K, heads, d).transpose(1, 2) for t in (q, k, v)]
        o = ((q @ k.transpose(-1, -2)) * d ** -0.5).softmax(-1) @ v
        o = o.transpose(1, 2).reshape(hp * wp, K, C)
        z = z + F.linear(o, h[p + "attention.proj.weight"], h[p + "attention.proj.bias"])
        y = ln(z, h[p + "norm2.weight"], h[p + "norm2.bias"], 1e-5)
        u = F.relu6(F.linear(y, h[p + "mlp.fc1.weight"], h[p + "mlp.fc1.bias"])) * \
            F.linear(y, h[p + "mlp.fc2.weight"], h[p + "mlp.fc2.bias"])
        z = z + F.relu6(F.linear(u, h[p + "mlp.fc3.weight"], h[p + "mlp.fc3.bias"]))
        z = z.reshape(hp, wp, K, C).permute(2, 3, 0, 1)
        return x + F.interpolate(z, size=(H, W), mode="bilinear", align_corners=True)

    def up_decoder(self, p, x, g, up):
        h = self.h
        if up:
            x = F.conv_transpose2d(x, h[p + "up_conv.weight"], h[p + "up_conv.bias"], stride=2)
        else:
            x = F.conv2d(x, h[p + "up_conv.weight"], h[p + "up_conv.bias"])
        x = torch.cat([x, g.expand(x.shape[0], -1, -1, -1)], 1)
        C = h[p + "textual_fusion.1.weight"].shape[0]
        x = F.conv2d(x, h[p + "textual_fusion.0.weight"], padding=1)
        x = F.relu(F.group_norm(x, C // 8, h[p + "textual_fusion.1.weight"], h[p + "textual_fusion.1.bias"], 1e-5))
        x = F.conv2d(x, h[p + "textual_fusion.3.weight"], padding=1)
        return F.relu(F.group_norm(x, C // 8, h[p + "textual_fusion.4.weight"], h[p + "textual_fusion.4.bias"], 1e-5))

    def head(self, f, text, K, order=None, dump=None):
        dump = dump if dump is not None else {}
        c16 = self.cost(f["os16_dense"][0], text)
        sel, w = self.crm(c16, K)
        dump["cost16"], dump["crm_weights"] = c16, w
        dump["selected"] = torch.tensor(sel)
        idx = sel if order is None else order
        x = self.decode(f, text[idx], c16[idx], dump)
        T = c16.shape[0]
        logits = torch.full((T,) + x.shape[-2:], -100.0)
        logits[idx] = x
        return logits, sel

    @staticmethod
    def cost(feat, e):
        """Cosine cost volume (spec §2.7 H1): one image's features C×H×W against T embeddings."""
        return torch.einsum("chw,tc->thw", F.normalize(feat, dim=0), F.normalize(e, dim=-1))

    def decode(self, f, text, c16, dump=None):
        """The head after CRM (H2–H14) for one image (batch entry 0 of f) and its K selected
        classes: text K×E, c16 their K×H×W stride-16 costs. Returns the K×h×w logits."""
        h, hc = self.h, self.cfg["head"]
        dump = dump if dump is not None else {}
        cost = lambda feat, e: self.cost(feat[0], e)
        H, W = c16.shape[-2:]
        s16 = c16.unsqueeze(1)
        s32 = cost(f["clip_vis_dense"], text).unsqueeze(1)
        g = {k: f[k].clamp(-16, 16) for k in ("os4", "os8", "os16", "os32")}
        a16 = F.conv2d(s16, h["corr_proj_convs.0.0.weight"], h["corr_proj_convs.0.0.bias"], padding=3)
        a32 = F.conv2d(s32, h["corr_proj_convs.1.0.weight"], h["corr_proj_convs.1.0.bias"], padding=3)
        a = (a16 + F.interpolate(a32, size=(H, W), mode="bilinear", align_corners=False)) / 2.0
        x = F.conv2d(a, h["low_corr_fusion.weight"], h["low_corr_fusion.bias"])
        dump["cost_embedding"] = x
        dec = [F.relu6(F.conv2d(g[k], h[f"img_guidance_projection_dec.{i}.0.weight"],
                                h[f"img_guidance_projection_dec.{i}.0.bias"], padding=1))
               for i, k in enumerate(("os16", "os8", "os4"))]
        p32, p16 = [F.relu6(F.conv2d(g[k], h[f"img_guidance_projection_agg.{i}.0.weight"],
                                     h[f"img_guidance_projection_agg.{i}.0.bias"], padding=1))
                    for i, k in enumerate(("os32", "os16"))]
        gs = (F.interpolate(p32, size=p16.shape[-2:], mode="bilinear", align_corners=False) + p16) / 2.0
        gs = F.conv2d(gs, h["low_img_fusion.weight"], h["low_img_fusion.bias"])
        te = text / text.norm(dim=-1, keepdim=True)
        tg = F.gelu(F.linear(te, h["text_guidance_projection.0.weight"], h["text_guidance_projection.0.bias"]))
        dump["guidance_aggregation"], dump["text_guidance"] = gs, tg
        for i in range(len(dec)):
            dump[f"guidance_decoder{i}"] = dec[i]
        heads = hc.get("aggregator_heads", 4)
        for i, sr in enumerate(hc["aggregator_scale_ratio"]):
            x = self.spatial(f"aggregator_layers.{i}.spatial_fusion.sa.", x, gs, heads, sr)
            dump[f"layer{i}_spatial"] = x
            x = self.class_fusion(f"aggregator_layers.{i}.class_fusion.sa.", x, tg, heads)
            dump[f"layer{i}_class"] = x
        x = self.up_decoder("up_decoder1.", x, dec[0], False)
        x = self.up_decoder("up_decoder2.", x, dec[1], True)
        x = self.up_decoder("up_decoder3.", x, dec[2], True)
        return F.conv2d(x, h["head.weight"], h["head.bias"])[:, 0]

    def segment(self, image_u8, text, K, dump=None):
        inp = self.cfg["input"]
        x = torch.from_numpy(image_u8).permute(2, 0, 1).float()
        mean = torch.tensor(inp["pixel_mean"]).view(-1, 1, 1)
        std = torch.tensor(inp["pixel_std"]).view(-1, 1, 1)
        x = ((x - mean) / std).unsqueeze(0)
        S = inp["crop_size"]
        x = F.interpolate(x, size=(S, S), mode="bilinear", align_corners=False)
        f = self.image_features(x)
        if dump is not None:
            dump["input"] = x
            dump.update(f)
        logits, sel = self.head(f, text, K, dump=dump)
        probs = F.interpolate(logits.sigmoid().unsqueeze(0), size=image_u8.shape[:2], mode="bilinear",
                              align_corners=False)[0]
        return logits, sel, probs, probs.argmax(0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("config")
    ap.add_argument("image")
    ap.add_argument("--classes")
    ap.add_argument("--classes-json")
    ap.add_argument("--fixture")
    ap.add_argument("--dump")
    ap.add_argument("--tie-rule", choices=["torch-cpu", "lower-index"], default="torch-cpu")
    ap.add_argument("--merges", default=os.path.join(REPO, "data", "clip_bpe_merges.txt"))
    args = ap.parse_args()
    torch.set_grad_enabled(False)

    cfg = json.load(open(args.config))
    names = args.classes.split(",") if args.classes else json.load(open(args.classes_json))
    Model.tie_rule = args.tie_rule
    model = Model(args.checkpoint, cfg)
    tok = Tokenizer(args.merges)
    template = cfg.get("prompt_template", "A photo of a {} in the scene")
    prompts = [template.format(n.split(", ")[0]) for n in names]
    tokens = torch.tensor([tok.encode(p) for p in prompts])
    text = model.encode_text(tokens)
    image = np.array(Image.open(args.image).convert("RGB"))
    dump = {} if args.dump else None
    logits, sel, probs, labels = model.segment(image, text, cfg["head"]["sample_classes_num"], dump)
    print("selected", sel)

    if args.dump:
        os.makedirs(args.dump, exist_ok=True)
        dump.update(text=text, tokens=tokens, logits=logits, probs=probs, labels=labels.int())
        for k, v in dump.items():
            np.save(os.path.join(args.dump, k + ".npy"), v.numpy() if torch.is_tensor(v) else np.asarray(v))

    if args.fixture:
        ref = np.load(args.fixture)
        print("selected identical:", list(ref["selected"]) == sel)
        s = ref["selected"]
        d = np.abs(logits.numpy()[s] - ref["logits"][s])
        print("logits max abs err %.3g, max rel %.3g" % (d.max(), (d / np.abs(ref["logits"][s])).max()))
        print("labels agreement %.4f%%" % (100.0 * (labels.numpy() == ref["labels"]).mean()))
        if "probs" in ref.files:
            print("probs max abs err %.3g" % np.abs(probs.numpy() - ref["probs"]).max())


if __name__ == "__main__":
    main()
