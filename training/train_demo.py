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
are the attempts to make shape words count; --attr-weight (linear probes, discarded after
training, that classify each feature cell's shape and colour/texture from the scene's ground
truth) and --tower-steps (a first phase that trains the two CLIP towers alone, about 3x faster
a step) try to give the image tower shape-aware features, as CLIP pre-training would;
--object-steps adds a stage 0 before them in which the image tower alone classifies one-object
crops (training/object_crops.py) by shape, colour/texture and background through linear heads
that are then discarded; --factor-weight makes linear probes read each training name's shape
and colour/texture words off its text embedding, so the words keep their own directions.
training/README.md reports what they did. The training log prints the mean text-embedding
cosine of names that share the adjective but not the shape ("same-adjective"; near 1 means the
shape word is ignored), the attribute probes' shape accuracy on the batch's object cells, and
with --probe-every the README's text-side shape probe on 40 fixed fresh scenes.

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
import object_crops  # noqa: E402



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


def model_input(images_u8, cfg, resize=True):
    """As at inference (spec §2.2): normalise, then bilinear resize to the crop size (unless
    resize=False: stage 0's crops hold an object at scene scale already)."""
    inp = cfg["input"]
    x = torch.from_numpy(images_u8).permute(0, 3, 1, 2).float()
    mean = torch.tensor(inp["pixel_mean"]).view(1, -1, 1, 1)
    std = torch.tensor(inp["pixel_std"]).view(1, -1, 1, 1)
    if not resize:
        return (x - mean) / std
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


def text_word_targets():
    """Row indices into scenes.TRAIN_NAMES of the object names, with each one's shape word (index
    into SHAPES) and colour/texture word (index into object_crops.APPEARANCES)."""
    rows = [i for i, n in enumerate(scenes.TRAIN_NAMES) if n not in scenes.BACKGROUNDS]
    words = [scenes.TRAIN_NAMES[i].split(" ") for i in rows]
    return (torch.tensor(rows), torch.tensor([scenes.SHAPES.index(s) for _, s in words]),
            torch.tensor([object_crops.APPEARANCES.index(a) for a, _ in words]))


def text_factor_probes(cfg):
    """Linear probes (weights and biases, zero at the start; training only) that read the shape
    word and the colour/texture word off a name's text embedding."""
    E = cfg["clip"]["embed_dim"]
    return [torch.zeros(n, E, requires_grad=True) if k % 2 == 0 else torch.zeros(n, requires_grad=True)
            for k, n in enumerate([len(scenes.SHAPES)] * 2 + [len(object_crops.APPEARANCES)] * 2)]


def text_factor_loss(text, probes):
    """Mean cross-entropy of the word probes on the training object names' text embeddings
    (`text`: one row per TRAIN_NAMES entry). Keeps each word's direction in the embedding, so
    that held-out combinations land where their words point instead of the text tower
    memorising the seen names."""
    rows, shape_words, look_words = text_word_targets()
    e = text[rows]
    w_shape, b_shape, w_look, b_look = probes
    return 0.5 * (F.cross_entropy(e @ w_shape.t() + b_shape, shape_words) +
                  F.cross_entropy(e @ w_look.t() + b_look, look_words))


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


def attribute_tables():
    """Per VOCABULARY id: its shape (0 background, 1.. SHAPES) and its appearance (the
    background's name, colour or texture: an index into BACKGROUNDS + COLOURS + TEXTURES);
    then the number of shape classes (objects only) and of appearances."""
    appearances = scenes.BACKGROUNDS + list(scenes.COLOURS) + scenes.TEXTURES
    shape, look = [], []
    for n in scenes.VOCABULARY:
        if n in scenes.BACKGROUNDS:
            shape.append(0)
            look.append(appearances.index(n))
        else:
            adjective, s = n.split(" ")
            shape.append(1 + scenes.SHAPES.index(s))
            look.append(appearances.index(adjective))
    return torch.tensor(shape), torch.tensor(look), len(scenes.SHAPES), len(appearances)


ATTRIBUTE_FEATURES = ("os8", "os16", "os32", "os16_dense")


def attribute_probes(cfg, gen):
    """Linear per-pixel classifiers of shape and appearance on the image tower's stride-8/16/32
    trunk features and on the projected stride-16 features (training only, not in the
    checkpoint): a direct shape signal for the image tower, standing in for CLIP pre-training."""
    _, _, n_shapes, n_looks = attribute_tables()
    dims = cfg["clip"]["vision"]["dims"]
    widths = {"os8": dims[1], "os16": dims[2], "os32": dims[3], "os16_dense": cfg["clip"]["embed_dim"]}
    probes = {}
    for key in ATTRIBUTE_FEATURES:
        w = torch.randn(n_shapes + n_looks, widths[key], generator=gen) * widths[key] ** -0.5
        probes[key] = (w.requires_grad_(), torch.zeros(n_shapes + n_looks, requires_grad=True))
    return probes


def attribute_loss(f, labels, probes):
    """Mean per-pixel cross-entropy of the shape and appearance probes, each feature cell
    labelled by the pixel at its centre; also the shape accuracy (cheap progress signal)."""
    shape_of, look_of, n_shapes, _ = attribute_tables()
    loss, accuracy = 0.0, {}
    for key, (w, b) in probes.items():
        x = f[key]
        stride = labels.shape[-1] // x.shape[-1]
        ids = labels[:, stride // 2::stride, stride // 2::stride]
        logits = torch.einsum("bchw,kc->bkhw", x, w) + b.view(1, -1, 1, 1)
        # shape only on object cells: backgrounds are most cells and would drown the signal
        shape_target, look_target = shape_of[ids] - 1, look_of[ids]
        loss = loss + F.cross_entropy(logits[:, n_shapes:], look_target)
        objects = shape_target >= 0
        if objects.any():          # (all cells ignored would make the mean NaN)
            loss = loss + F.cross_entropy(logits[:, :n_shapes], shape_target, ignore_index=-1)
            accuracy[key] = float((logits[:, :n_shapes].argmax(1) == shape_target)[objects].float().mean())
    return loss / (2 * len(probes)), accuracy


def step_loss(model, params, batch_images, batch_labels, tokens, cfg, rng, probes=None, decode=True):
    """(segmentation loss, auxiliary cost-map loss, region contrastive loss, attribute loss,
    attribute-probe shape accuracy on objects) of one batch, each a mean over images.
    decode=False skips the ERR-Seg head (segmentation loss 0): the CLIP towers alone."""
    K = cfg["head"]["sample_classes_num"]
    f = model.image_features(model_input(batch_images, cfg))
    text = model.encode_text(tokens)                                       # N×E, unit length
    to_train = torch.full((len(scenes.VOCABULARY),), -1, dtype=torch.long)
    for i, n in enumerate(scenes.TRAIN_NAMES):
        to_train[scenes.VOCABULARY.index(n)] = i
    labels = torch.from_numpy(batch_labels)
    scale = params["sem_seg_head.clip_model.logit_scale"].exp().clamp(max=100)
    seg, aux, contrast = torch.zeros(()), 0.0, 0.0
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
        if not decode:
            continue
        idx = pick_classes(np.unique(batch_labels[b]), K, rng)
        logits = model.decode(fb, text[idx], c16[idx])                    # K×h×w
        up = F.interpolate(logits.unsqueeze(0), size=labels.shape[-2:], mode="bilinear",
                           align_corners=False)[0]
        vocab_ids = torch.tensor([scenes.VOCABULARY.index(scenes.TRAIN_NAMES[i]) for i in idx])
        target = (labels[b].unsqueeze(0) == vocab_ids.view(-1, 1, 1)).float()
        seg = seg + F.binary_cross_entropy_with_logits(up, target)
    n = batch_images.shape[0]
    attr, shape_acc = attribute_loss(f, labels, probes) if probes else (torch.zeros(()), {})
    return seg / n, aux / (2 * n), contrast / (2 * n), attr, shape_acc


def shape_probe(model, tok, cfg, count=40, seed=2000000):
    """training/README.md's probe: on `count` fresh scenes drawn like the eval set, each
    object's stride-16 projected features (pooled over its mask) are named by the nearest of
    the four text embeddings "<its adjective> <shape>". Returns the fraction of objects whose
    shape is right, under seen and under held-out names (chance 1/4)."""
    names = scenes.OBJECT_NAMES
    ids = torch.tensor([tok.encode(cfg["prompt_template"].format(n)) for n in names])
    seen = [n for n in names if n not in scenes.HELD_OUT]
    pool = seen + scenes.HELD_OUT * (len(seen) // len(scenes.HELD_OUT))
    right = {False: [], True: []}
    with torch.no_grad():
        text = model.encode_text(ids[:, :int(ids.argmax(-1).max()) + 1])
        for i in range(count):
            image, labels = scenes.make_scene(seed + i, names=pool)
            dense = model.image_features(model_input(image[None], cfg))["os16_dense"][0]
            present = np.array([v for v in np.unique(labels) if scenes.VOCABULARY[v] not in scenes.BACKGROUNDS])
            if len(present) == 0:
                continue
            pooled = F.normalize(region_features(dense, torch.from_numpy(labels), present), dim=-1)
            for feature, v in zip(pooled, present):
                name = scenes.VOCABULARY[v]
                adjective = name.split(" ")[0]
                options = [names.index(f"{adjective} {s}") for s in scenes.SHAPES]
                best = options[int((text[options] @ feature).argmax())]
                right[name in scenes.HELD_OUT].append(names[best] == name)
    return tuple(float(np.mean(right[h])) if right[h] else float("nan") for h in (False, True))


OBJECT_FEATURES = ("os16", "os32")


def object_heads(cfg, gen):
    """Linear classifiers of shape, appearance and background on the globally pooled stride-16
    and stride-32 trunk features of an object crop (stage 0 only, never in the checkpoint)."""
    dims = cfg["clip"]["vision"]["dims"]
    n_out = len(scenes.SHAPES) + len(object_crops.APPEARANCES) + len(scenes.BACKGROUNDS)
    heads = {}
    for key, width in zip(OBJECT_FEATURES, dims[2:]):
        heads[key] = (torch.randn(n_out, width, generator=gen).mul_(width ** -0.5).requires_grad_(),
                      torch.zeros(n_out, requires_grad=True))
    return heads


def object_logits(model, heads, images, cfg):
    """Per head: (shape, appearance, background) logits of a batch of crops, which the tower sees
    normalised as at inference but not resized."""
    f = model.image_features(model_input(images, cfg, resize=False))
    cuts = np.cumsum([len(scenes.SHAPES), len(object_crops.APPEARANCES)])
    return {key: (f[key].mean((2, 3)) @ w.t() + b).tensor_split(cuts.tolist(), dim=1)
            for key, (w, b) in heads.items()}


def object_accuracy(model, heads, cfg, size, count=256, seed=5000000):
    """Shape accuracy of each stage-0 head on `count` fixed fresh crops (chance 1/4)."""
    images, shapes, _, _ = object_crops.make_batch(range(seed, seed + count), size)
    with torch.no_grad():
        logits = object_logits(model, heads, images, cfg)
    return {k: float((v[0].argmax(1).numpy() == shapes).mean()) for k, v in logits.items()}


def object_stage(model, params, cfg, args):
    """Stage 0: the image tower alone learns to classify one-object crops by shape, appearance
    and background (cross-entropy through linear heads that are then discarded), so the later
    phases start from shape-aware features, as upstream starts from CLIP's."""
    visual = [v for k, v in params.items() if k.startswith("sem_seg_head.clip_model.visual.")]
    heads = object_heads(cfg, torch.Generator().manual_seed(args.seed + 2))
    head_tensors = [t for wb in heads.values() for t in wb]
    opt = torch.optim.AdamW(visual + head_tensors, lr=args.object_lr, weight_decay=0.01)
    warmup, steps = min(args.warmup, args.object_steps // 10 + 1), args.object_steps
    t0 = time.time()
    for step in range(steps):
        rng = np.random.default_rng([args.seed, 1 << 20, step])
        images, shapes, looks, backgrounds = object_crops.make_batch(
            rng.integers(0, 2 ** 62, args.object_batch), args.object_size)
        targets = [torch.from_numpy(t) for t in (shapes, looks, backgrounds)]
        logits = object_logits(model, heads, images, cfg)
        weights = (args.object_shape_weight, 1.0, 1.0)     # shape, appearance, background
        loss = sum(w * F.cross_entropy(l, t) for per_head in logits.values()
                   for l, t, w in zip(per_head, targets, weights))
        lr = args.object_lr * ((step + 1) / warmup if step < warmup else 1.0 if args.object_constant_lr else
                               0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup))))
        for g in opt.param_groups:
            g["lr"] = lr
        opt.zero_grad()
        loss.backward()
        if args.object_clip:
            torch.nn.utils.clip_grad_norm_(visual + head_tensors, args.object_clip)
        opt.step()
        if step % 50 == 0 or step == steps - 1:
            batch_acc = {k: float((v[0].argmax(1) == targets[0]).float().mean()) for k, v in logits.items()}
            line = f"object step {step} loss {loss.item():.3f} batch shape-acc " + \
                " ".join(f"{k} {v:.2f}" for k, v in batch_acc.items())
            if step % 200 == 0 or step == steps - 1:
                line += " fresh shape-acc " + " ".join(
                    f"{k} {v:.2f}" for k, v in object_accuracy(model, heads, cfg, args.object_size).items())
            print(line + f" lr {lr:.2e} {time.time() - t0:.0f}s", flush=True)


def is_text_tower(name):
    prefix = "sem_seg_head.clip_model."
    return name.startswith(prefix) and not name.startswith(prefix + "visual.") and \
        name != prefix + "logit_scale"


def save_atomic(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def save_state(params, opt, step, probes, word_probes, path):
    """The resumable training state: parameters, optimiser, next step, attribute and word probes."""
    save_atomic({"model": {k: v.detach().clone() for k, v in params.items()}, "optimizer": opt.state_dict(),
                 "step": step, "probes": {k: [t.detach().clone() for t in wb] for k, wb in probes.items()},
                 "word_probes": [t.detach().clone() for t in word_probes]}, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(REPO, "data", "demo", "errseg_shapes.config.json"))
    ap.add_argument("--out", default=os.path.join(REPO, "data", "demo", "errseg_shapes.pth"))
    ap.add_argument("--state", default=None, help="resumable training state (default: OUT.state)")
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=100, help="warm-up steps (of each phase, see --tower-steps)")
    ap.add_argument("--aux-weight", type=float, default=0.3)
    ap.add_argument("--contrast-weight", type=float, default=0.0,
                    help="weight of the region contrastive loss (each present class's pooled "
                         "features against all training names' text embeddings)")
    ap.add_argument("--spread-weight", type=float, default=0.0,
                    help="weight of the text spread term: each name's text embedding must identify it among the training names")
    ap.add_argument("--spread-temperature", type=float, default=0.07,
                    help="temperature of the text spread term")
    ap.add_argument("--factor-weight", type=float, default=0.0,
                    help="weight of the text factorisation term: linear probes (not saved) read each "
                         "training object name's shape word and colour/texture word off its text embedding")
    ap.add_argument("--attr-weight", type=float, default=0.0,
                    help="weight of the attribute loss: linear probes (not saved) classify each "
                         "feature cell's shape and colour/texture on the stride-8/16/32 trunk features "
                         "and the projected stride-16 features")
    ap.add_argument("--tower-steps", type=int, default=0,
                    help="the first this many steps train the CLIP towers only (no ERR-Seg head: "
                         "about 3x faster a step), with the auxiliary, contrastive, spread and "
                         "attribute terms")
    ap.add_argument("--probe-every", type=int, default=0,
                    help="every this many steps, print the shape probe's accuracy (seen / held-out names)")
    ap.add_argument("--text-lr-mult", type=float, default=1.0, help="learning-rate factor of the text tower")
    ap.add_argument("--scene-size", type=int, default=320, help="training scenes are drawn at this size")
    ap.add_argument("--max-objects", type=int, default=4,
                    help="objects per training scene: 1 to this many (the eval set draws 1 to 4)")
    ap.add_argument("--object-steps", type=int, default=0,
                    help="stage 0: this many steps of the image tower alone classifying one-object "
                         "crops (training/object_crops.py) by shape, colour/texture and background")
    ap.add_argument("--object-batch", type=int, default=64, help="crops per stage-0 step")
    ap.add_argument("--object-size", type=int, default=96, help="stage-0 crop size in pixels")
    ap.add_argument("--object-lr", type=float, default=2e-3, help="stage-0 peak learning rate")
    ap.add_argument("--object-clip", type=float, default=1.0,
                    help="stage-0 gradient-norm clipping (0: none)")
    ap.add_argument("--object-constant-lr", action="store_true",
                    help="stage 0 keeps its peak learning rate after the warm-up (no cosine decay)")
    ap.add_argument("--object-shape-weight", type=float, default=1.0,
                    help="stage-0 weight of the shape loss (appearance and background: 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--save-every", type=int, default=100)
    ap.add_argument("--merges", default=os.path.join(REPO, "data", "clip_bpe_merges.txt"))
    args = ap.parse_args()
    state_path = args.state or args.out + ".state"
    for path in (args.out, state_path):                    # (torch.save does not create folders)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = json.load(open(args.config))
    size = args.scene_size
    params = initial_parameters(cfg, torch.Generator().manual_seed(args.seed))
    model = Model({"model": params}, cfg)
    tokenizer = Tokenizer(args.merges)
    tokens = text_tokens(cfg, tokenizer)
    text_tower = [v for k, v in params.items() if is_text_tower(k)]
    rest = [v for k, v in params.items() if not is_text_tower(k)]
    probes = attribute_probes(cfg, torch.Generator().manual_seed(args.seed + 1)) if args.attr_weight else {}
    rest += [t for wb in probes.values() for t in wb]
    word_probes = text_factor_probes(cfg) if args.factor_weight else []
    rest += word_probes
    opt = torch.optim.AdamW([{"params": text_tower, "lr_mult": args.text_lr_mult},
                             {"params": rest, "lr_mult": 1.0}], lr=args.lr, weight_decay=0.01)
    start = 0
    if os.path.exists(state_path):
        st = torch.load(state_path)
        with torch.no_grad():
            for k, v in st["model"].items():
                params[k].copy_(v)
            for k, wb in probes.items():
                for t, saved in zip(wb, st["probes"][k]):
                    t.copy_(saved)
            for t, saved in zip(word_probes, st.get("word_probes", [])):
                t.copy_(saved)
        opt.load_state_dict(st["optimizer"])
        start = st["step"]
        print(f"resumed at step {start}", flush=True)
    elif args.object_steps:
        object_stage(model, params, cfg, args)
        save_state(params, opt, 0, probes, word_probes, state_path)     # a resumed run skips stage 0

    def lr_at(s):
        """Warm-up then cosine decay; the tower phase and the full-model phase have one each
        (the head starts from scratch when the second begins)."""
        begin, end = (0, args.tower_steps) if s < args.tower_steps else (args.tower_steps, args.steps)
        s -= begin
        if s < args.warmup:
            return args.lr * (s + 1) / args.warmup
        return args.lr * 0.5 * (1 + math.cos(math.pi * (s - args.warmup) / max(1, end - begin - args.warmup)))

    t0 = time.time()
    for step in range(start, args.steps):
        rng = np.random.default_rng([args.seed, step])         # data and class sampling per step
        seeds = rng.integers(0, 2 ** 62, args.batch)
        pairs = [scenes.make_scene(int(s), size, size, max_objects=args.max_objects) for s in seeds]
        images = np.stack([p[0] for p in pairs])
        labels = np.stack([p[1] for p in pairs])
        seg, aux, contrast, attr, shape_acc = step_loss(model, params, images, labels, tokens, cfg, rng, probes,
                                                        decode=step >= args.tower_steps)
        loss = seg + args.aux_weight * aux + args.contrast_weight * contrast + args.attr_weight * attr
        if args.spread_weight or args.factor_weight:
            text = model.encode_text(tokens)
            if args.spread_weight:
                loss = loss + args.spread_weight * text_spread(text, args.spread_temperature)
            if args.factor_weight:
                loss = loss + args.factor_weight * text_factor_loss(text, word_probes)
        for g in opt.param_groups:
            g["lr"] = lr_at(step) * g["lr_mult"]
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(params.values()) + [t for wb in probes.values() for t in wb] + word_probes, 1.0)
        opt.step()
        if step % 20 == 0 or step == args.steps - 1:
            with torch.no_grad():
                same_adj, same_shape = shape_word_cosines(model.encode_text(tokens))
            print(f"step {step} seg {seg.item():.4f} aux {aux.item():.4f} contrast {contrast.item():.4f} "
                  f"attr {attr.item():.4f} shape-acc {' '.join(f'{v:.2f}' for v in shape_acc.values())} cos same-adjective {same_adj:.2f} same-shape {same_shape:.2f} "
                  f"lr {lr_at(step):.2e} {time.time() - t0:.0f}s", flush=True)
        if args.probe_every and ((step + 1) % args.probe_every == 0 or step + 1 == args.steps):
            print(f"step {step + 1} probe shape accuracy seen %.2f held-out %.2f" % shape_probe(model, tokenizer, cfg),
                  flush=True)
        if (step + 1) % args.save_every == 0 or step + 1 == args.steps:
            save_atomic({"model": {k: v.detach().clone() for k, v in params.items()}}, args.out)
            save_state(params, opt, step + 1, probes, word_probes, state_path)


if __name__ == "__main__":
    main()
