#!/usr/bin/python3
"""Trains the demo ERR-Seg model from scratch on procedural scenes (training/scenes.py).

    /usr/bin/python3 training/train_demo.py [--steps 800] [--out data/demo/errseg_shapes.pth]

The model is our PyTorch reference (tests/reference/errseg_reference.py) with its tensors made
trainable: the whole network — ConvNeXt image tower with the HSM path, CLIP text tower over the
real BPE tokenizer, and the ERR-Seg head — with the published tensor names and shapes for the
config data/demo/errseg_shapes.config.json (the converter's own layout lists them), so the
result is a `model_final.pth`-style checkpoint that weights_converter/convert.py converts.

Training follows upstream where it can: per image, the ground-truth classes plus negatives up
to K classes (CRM keeps all of them then), per-class sigmoid cross-entropy on the logits
bilinearly upsampled to the label size, AdamW. Upstream starts from a pre-trained CLIP whose
dense features already rank the classes for CRM; we start from scratch, so an auxiliary
per-pixel softmax loss over all training names on the two cosine cost maps (stride 16 and 32)
stands in for that pre-training.

The defaults are the recipe of the committed model. Its text tower gives "red circle" and "red
square" nearly one embedding; the options --contrast-weight (a region-level InfoNCE between each
present class's pooled image features and all training names), --spread-weight (each name's
text embedding must identify it among the training names), --text-lr-mult and --max-objects
are the attempts to make shape words count; training/README.md reports what they did. The
training log prints the mean text-embedding cosine of names that share the adjective but not
the shape ("same-adjective"): near 1 means the shape word is ignored.

Deterministic for a given seed and thread count (CPU). Writes the checkpoint every
--save-every steps (atomically) and a resumable state next to it (--state).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "reference"))
sys.path.insert(0, os.path.join(REPO, "weights_converter"))
sys.path.insert(0, HERE)

from errseg_reference import Model, Tokenizer  # noqa: E402
from errseg_convert.layouts.errseg import ERRSeg  # noqa: E402
import scenes  # noqa: E402


def initial_parameters(cfg, gen):
    """Every tensor of the published layout for `cfg`, freshly initialised, keyed by its
    checkpoint name."""
    layout = ERRSeg()
    params = {}
    for ours, shape in sorted(layout.expected(cfg).items()):
        name = layout.source_name(ours)
        leaf = name.rsplit(".", 1)[-1]
        t = torch.empty(shape)
        if leaf == "logit_scale":
            t.fill_(math.log(1 / 0.07))
        elif leaf == "gamma":                      # ConvNeXt layer scale
            t.fill_(0.5)
        elif leaf.endswith("bias"):
            t.zero_()
        elif len(shape) == 1:                      # LayerNorm / GroupNorm scales
            t.fill_(1.0)
        elif leaf == "positional_embedding":
            t.normal_(0, 0.01, generator=gen)
        elif name.endswith("token_embedding.weight"):
            t.normal_(0, 0.02, generator=gen)
        elif leaf == "text_projection":
            t.normal_(0, shape[0] ** -0.5, generator=gen)
        elif "up_conv" in name and len(shape) == 4 and shape[-1] == 2:   # ConvTranspose2d: in, out, k, k
            t.normal_(0, (2.0 / shape[0]) ** 0.5, generator=gen)
        else:                                      # Linear / Conv2d: out, in, ...
            fan_in = int(np.prod(shape[1:]))
            t.normal_(0, (2.0 / fan_in) ** 0.5 if len(shape) == 4 else fan_in ** -0.5, generator=gen)
        params[name] = t.requires_grad_()
    return params


def pick_classes(present, K, rng):
    """Training class list for one image: its classes plus negatives up to K, hard ones first
    (same shape in another appearance, same appearance on another shape), in random order.
    Names from scenes.TRAIN_NAMES only."""
    names = [scenes.VOCABULARY[i] for i in present]
    chosen = list(dict.fromkeys(names))[:K]
    hard = []
    for n in names:
        if n in scenes.BACKGROUNDS:
            continue
        adj, shape = n.split(" ")
        hard += [m for m in scenes.TRAIN_NAMES if m not in chosen and
                 m not in scenes.BACKGROUNDS and (m.split(" ")[1] == shape) != (m.split(" ")[0] == adj)]
    rng.shuffle(hard)
    for m in hard:
        if len(chosen) >= (K + len(names)) // 2 + 1:
            break
        if m not in chosen:
            chosen.append(m)
    rest = [m for m in scenes.TRAIN_NAMES if m not in chosen]
    rng.shuffle(rest)
    chosen += rest[:K - len(chosen)]
    rng.shuffle(chosen)
    return [scenes.TRAIN_NAMES.index(m) for m in chosen]


def model_input(images_u8, cfg):
    """As at inference (spec §2.2): normalise, then bilinear resize to the crop size."""
    inp = cfg["input"]
    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).float()
    mean = torch.tensor(inp["pixel_mean"]).view(1, -1, 1, 1)
    std = torch.tensor(inp["pixel_std"]).view(1, -1, 1, 1)
    S = inp["crop_size"]
    return F.interpolate((x - mean) / std, size=(S, S), mode="bilinear", align_corners=False)


def text_tokens(cfg, tok):
    """Token ids of the training prompts, cut after the longest one's end-of-text token: with
    the causal mask, positions after it cannot change the pooled (EOT) output."""
    t = torch.tensor([tok.encode(cfg["prompt_template"].format(n)) for n in scenes.TRAIN_NAMES])
    return t[:, :int(t.argmax(-1).max()) + 1]


def region_features(dense, label_map, present):
    """One feature per class present in the image: `dense` (C×h×w) averaged over the class's
    pixels, each feature cell weighted by the fraction of its pixels that the class covers.
    Every object counts once, however small, unlike in a per-pixel loss."""
    ids = torch.from_numpy(present).view(-1, 1, 1)
    cover = F.adaptive_avg_pool2d((label_map.unsqueeze(0) == ids).float(), dense.shape[-2:])
    pooled = torch.einsum("khw,chw->kc", cover, dense)
    return pooled / cover.sum((1, 2)).clamp(min=1e-6).unsqueeze(1)


def shape_word_cosines(text):
    """Mean cosine between training prompts that share the adjective but not the shape word, and
    between prompts that share the shape word but not the adjective: a cheap signal of whether
    the text tower tells shape words apart (near 1 = it does not)."""
    sims = text @ text.t()
    objects = [(i, n.split(" ")) for i, n in enumerate(scenes.TRAIN_NAMES) if n not in scenes.BACKGROUNDS]
    same_adj = [sims[i, j] for i, a in objects for j, b in objects if i < j and a[0] == b[0]]
    same_shape = [sims[i, j] for i, a in objects for j, b in objects if i < j and a[1] == b[1]]
    return float(torch.stack(same_adj).mean()), float(torch.stack(same_shape).mean())


def text_spread(text, temperature):
    """Each training name's text embedding must pick out that name among all training names
    (softmax over their cosines at `temperature`). Without it the text tower collapses "red
    circle" and "red square" onto one vector within the first few dozen steps (colour is what
    the untrained image tower can see), after which no loss term has a gradient that separates
    them again: the image side gets nothing to align shapes to, the text side no image features
    that differ."""
    return F.cross_entropy(text @ text.t() / temperature, torch.arange(len(text)))


def step_loss(model, params, batch_images, batch_labels, tokens, cfg, rng):
    """(segmentation loss, auxiliary cost-map loss, region contrastive loss) of one batch, each
    a mean over images."""
    K = cfg["head"]["sample_classes_num"]
    f = model.image_features(model_input(batch_images, cfg))
    text = model.encode_text(tokens)                                       # N×E, unit length
    to_train = torch.full((len(scenes.VOCABULARY),), -1, dtype=torch.long)
    for i, n in enumerate(scenes.TRAIN_NAMES):
        to_train[scenes.VOCABULARY.index(n)] = i
    labels = torch.from_numpy(batch_labels)
    scale = params["sem_seg_head.clip_model.logit_scale"].exp().clamp(max=100)
    seg, aux, contrast = 0.0, 0.0, 0.0
    for b in range(batch_images.shape[0]):
        fb = {k: v[b:b + 1] for k, v in f.items()}
        c16 = Model.cost(fb["os16_dense"][0], text)
        c32 = Model.cost(fb["clip_vis_dense"][0], text)
        for c in (c16, c32):
            stride = labels.shape[-1] // c.shape[-1]
            target = to_train[labels[b, stride // 2::stride, stride // 2::stride]]
            aux = aux + F.cross_entropy((c * scale).unsqueeze(0), target.unsqueeze(0))
        present = np.unique(batch_labels[b])
        for dense in (fb["os16_dense"][0], fb["clip_vis_dense"][0]):
            pooled = region_features(dense, labels[b], present)
            logits = scale * F.normalize(pooled, dim=-1) @ text.t()
            contrast = contrast + F.cross_entropy(logits, to_train[torch.from_numpy(present)])
        idx = pick_classes(np.unique(batch_labels[b]), K, rng)
        logits = model.decode(fb, text[idx], c16[idx])                    # K×h×w
        up = F.interpolate(logits.unsqueeze(0), size=labels.shape[-2:], mode="bilinear",
                           align_corners=False)[0]
        vocab_ids = torch.tensor([scenes.VOCABULARY.index(scenes.TRAIN_NAMES[i]) for i in idx])
        target = (labels[b].unsqueeze(0) == vocab_ids.view(-1, 1, 1)).float()
        seg = seg + F.binary_cross_entropy_with_logits(up, target)
    n = batch_images.shape[0]
    return seg / n, aux / (2 * n), contrast / (2 * n)


def is_text_tower(name):
    prefix = "sem_seg_head.clip_model."
    return name.startswith(prefix) and not name.startswith(prefix + "visual.") and \
        name != prefix + "logit_scale"


def save_atomic(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(REPO, "data", "demo", "errseg_shapes.config.json"))
    ap.add_argument("--out", default=os.path.join(REPO, "data", "demo", "errseg_shapes.pth"))
    ap.add_argument("--state", default=None, help="resumable training state (default: OUT.state)")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--aux-weight", type=float, default=0.3)
    ap.add_argument("--contrast-weight", type=float, default=0.0,
                    help="weight of the region contrastive loss (each present class's pooled "
                         "features against all training names' text embeddings)")
    ap.add_argument("--spread-weight", type=float, default=0.0,
                    help="weight of the text spread term: each name's text embedding must identify it among the training names")
    ap.add_argument("--spread-temperature", type=float, default=0.07,
                    help="temperature of the text spread term")
    ap.add_argument("--text-lr-mult", type=float, default=1.0, help="learning-rate factor of the text tower")
    ap.add_argument("--scene-size", type=int, default=320, help="training scenes are drawn at this size")
    ap.add_argument("--max-objects", type=int, default=4,
                    help="objects per training scene: 1 to this many (the eval set draws 1 to 4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--merges", default=os.path.join(REPO, "data", "clip_bpe_merges.txt"))
    args = ap.parse_args()
    state_path = args.state or args.out + ".state"

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = json.load(open(args.config))
    size = args.scene_size
    params = initial_parameters(cfg, torch.Generator().manual_seed(args.seed))
    model = Model({"model": params}, cfg)
    tokens = text_tokens(cfg, Tokenizer(args.merges))
    text_tower = [v for k, v in params.items() if is_text_tower(k)]
    rest = [v for k, v in params.items() if not is_text_tower(k)]
    opt = torch.optim.AdamW([{"params": text_tower, "lr_mult": args.text_lr_mult},
                             {"params": rest, "lr_mult": 1.0}], lr=args.lr, weight_decay=0.01)
    start = 0
    if os.path.exists(state_path):
        st = torch.load(state_path)
        with torch.no_grad():
            for k, v in st["model"].items():
                params[k].copy_(v)
        opt.load_state_dict(st["optimizer"])
        start = st["step"]
        print(f"resumed at step {start}", flush=True)

    def lr_at(s):
        if s < args.warmup:
            return args.lr * (s + 1) / args.warmup
        return args.lr * 0.5 * (1 + math.cos(math.pi * (s - args.warmup) / max(1, args.steps - args.warmup)))

    t0 = time.time()
    for step in range(start, args.steps):
        rng = np.random.default_rng([args.seed, step])         # data and class sampling per step
        seeds = rng.integers(0, 2 ** 62, args.batch)
        pairs = [scenes.make_scene(int(s), size, size, max_objects=args.max_objects) for s in seeds]
        images = np.stack([p[0] for p in pairs])
        labels = np.stack([p[1] for p in pairs])
        seg, aux, contrast = step_loss(model, params, images, labels, tokens, cfg, rng)
        loss = seg + args.aux_weight * aux + args.contrast_weight * contrast
        if args.spread_weight:
            loss = loss + args.spread_weight * text_spread(model.encode_text(tokens), args.spread_temperature)
        for g in opt.param_groups:
            g["lr"] = lr_at(step) * g["lr_mult"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params.values(), 1.0)
        opt.step()
        if step % 20 == 0 or step == args.steps - 1:
            with torch.no_grad():
                same_adj, same_shape = shape_word_cosines(model.encode_text(tokens))
            print(f"step {step} seg {seg.item():.4f} aux {aux.item():.4f} contrast {contrast.item():.4f} "
                  f"cos same-adjective {same_adj:.2f} same-shape {same_shape:.2f} "
                  f"lr {lr_at(step):.2e} {time.time() - t0:.0f}s", flush=True)
        if (step + 1) % args.save_every == 0 or step + 1 == args.steps:
            detached = {k: v.detach().clone() for k, v in params.items()}
            save_atomic({"model": detached}, args.out)
            save_atomic({"model": detached, "optimizer": opt.state_dict(), "step": step + 1}, state_path)


if __name__ == "__main__":
    main()
