#!/usr/bin/python3
"""Writes inputs and PyTorch reference outputs for the C++ op tests into tests/data/ops/.

Run with the Debian interpreter (it has torch): /usr/bin/python3 tests/reference/gen_ops.py
Each case writes `<case>.<name>.npy` files; the C++ tests (tests/test_ops_*.cpp) know the
op parameters of every case. Inputs are float32; references are computed in float64 from
those float32 inputs (so they are the exact op result rounded once), except where the op's
definition is float32 arithmetic itself (resize source positions, pooling, selection).
"""
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "ops")
torch.manual_seed(0)


def save(case, name, t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    if a.dtype == np.float64:
        a = a.astype(np.float32)
    np.save(os.path.join(OUT, f"{case}.{name}.npy"), np.ascontiguousarray(a))


def rnd(*shape, scale=1.0, offset=0.0):
    return (torch.randn(*shape) * scale + offset).float()


def d(t):  # float64 copy for the reference computation
    return t.double() if t is not None else None


# ---------------------------------------------------------------- gemm
def gen_gemm():
    cases = {
        "mm2d": ((2, 3, 7, 5), (5, 6), False),
        "mm_batched": ((2, 3, 7, 5), (2, 3, 5, 6), False),
        "mm_bcast": ((2, 1, 7, 5), (3, 5, 6), False),
        "mm_transb": ((4, 7, 5), (4, 6, 5), True),
        "mm_large": ((67, 96), (96, 81), False),
        "mm_batched_large": ((3, 70, 40), (3, 40, 90), False),
    }
    for case, (sa, sb, tb) in cases.items():
        a, b = rnd(*sa), rnd(*sb)
        save(case, "a", a)
        save(case, "b", b)
        bb = d(b).transpose(-1, -2) if tb else d(b)
        save(case, "out", torch.matmul(d(a), bb))
    for case, (sx, o, bias) in {"linear": ((2, 5, 13), 11, True), "linear_nobias": ((6, 19), 7, False)}.items():
        x, w = rnd(*sx), rnd(o, sx[-1])
        b = rnd(o) if bias else None
        save(case, "x", x)
        save(case, "w", w)
        if bias:
            save(case, "b", b)
        save(case, "out", F.linear(d(x), d(w), d(b)))


# ---------------------------------------------------------------- conv
def gen_conv():
    # name: x shape, weight shape, bias?, stride, padding, dilation, groups
    convs = {
        "conv_basic": ((2, 5, 7, 9), (6, 5, 3, 3), True, (1, 1), (1, 1), (1, 1), 1),
        "conv_s2": ((1, 4, 11, 10), (8, 4, 3, 3), False, (2, 2), (1, 1), (1, 1), 1),
        "conv_dil": ((1, 3, 9, 8), (4, 3, 3, 2), True, (1, 2), (2, 1), (2, 1), 1),
        "conv_groups": ((2, 6, 7, 5), (9, 2, 3, 3), True, (1, 1), (1, 1), (1, 1), 3),
        "conv_1x1": ((2, 12, 7, 5), (10, 12, 1, 1), True, (1, 1), (0, 0), (1, 1), 1),
        "conv_1x1_s2": ((1, 12, 7, 5), (10, 12, 1, 1), True, (2, 2), (0, 0), (1, 1), 1),
        "conv_stem": ((1, 3, 16, 12), (8, 3, 4, 4), True, (4, 4), (0, 0), (1, 1), 1),
        "conv_big": ((1, 16, 20, 20), (24, 16, 3, 3), True, (1, 1), (1, 1), (1, 1), 1),
        "conv_dw7": ((2, 10, 7, 5), (10, 1, 7, 7), True, (1, 1), (3, 3), (1, 1), 10),
        "conv_dw3_s2": ((1, 6, 9, 8), (6, 1, 3, 3), False, (2, 2), (1, 1), (1, 1), 6),
        "conv_dw_dil": ((1, 5, 10, 9), (5, 1, 3, 3), True, (1, 1), (2, 2), (2, 2), 5),
        "conv_dw3": ((1, 11, 9, 13), (11, 1, 3, 3), True, (1, 1), (1, 1), (1, 1), 11),
        "conv_dw7_big": ((1, 9, 17, 19), (9, 1, 7, 7), True, (1, 1), (3, 3), (1, 1), 9),
        "conv_dw5_nopad": ((2, 3, 12, 10), (3, 1, 5, 5), False, (1, 1), (0, 0), (1, 1), 3),
    }
    for case, (sx, sw, bias, stride, pad, dil, groups) in convs.items():
        x, w = rnd(*sx), rnd(*sw, scale=0.3)
        b = rnd(sw[0]) if bias else None
        save(case, "x", x)
        save(case, "w", w)
        if bias:
            save(case, "b", b)
        save(case, "out", F.conv2d(d(x), d(w), d(b), stride, pad, dil, groups))
    # name: x, weight [C, O/g, kh, kw], bias?, stride, padding, output_padding, groups
    convts = {
        "convt_k2s2": ((2, 6, 5, 4), (6, 4, 2, 2), True, (2, 2), (0, 0), (0, 0), 1),
        "convt_s2_pad_opad": ((1, 4, 5, 7), (4, 3, 3, 3), True, (2, 2), (1, 1), (1, 1), 1),
        "convt_groups": ((1, 6, 4, 5), (6, 2, 3, 3), False, (1, 1), (1, 1), (0, 0), 2),
        "convt_asym": ((1, 3, 4, 3), (3, 5, 3, 2), True, (3, 2), (1, 0), (2, 1), 1),
    }
    for case, (sx, sw, bias, stride, pad, opad, groups) in convts.items():
        x, w = rnd(*sx), rnd(*sw, scale=0.3)
        b = rnd(sw[1] * groups) if bias else None
        save(case, "x", x)
        save(case, "w", w)
        if bias:
            save(case, "b", b)
        save(case, "out", F.conv_transpose2d(d(x), d(w), d(b), stride, pad, opad, groups))


# ---------------------------------------------------------------- norms
def gen_norm():
    x = rnd(3, 7, 37, scale=2.0, offset=5.0)
    w, b = rnd(37), rnd(37)
    save("layer_norm", "x", x)
    save("layer_norm", "w", w)
    save("layer_norm", "b", b)
    save("layer_norm", "out", F.layer_norm(d(x), (37,), d(w), d(b), 1e-5))
    x = rnd(4, 24, scale=0.01, offset=-3.0)
    save("layer_norm_plain", "x", x)
    save("layer_norm_plain", "out", F.layer_norm(d(x), (24,), None, None, 1e-6))

    x = rnd(2, 13, 7, 5, scale=3.0, offset=1.0)
    w, b = rnd(13), rnd(13)
    save("layer_norm2d", "x", x)
    save("layer_norm2d", "w", w)
    save("layer_norm2d", "b", b)
    ref = F.layer_norm(d(x).permute(0, 2, 3, 1), (13,), d(w), d(b), 1e-6).permute(0, 3, 1, 2)
    save("layer_norm2d", "out", ref)

    x = rnd(2, 12, 7, 5, scale=2.0, offset=-1.0)
    w, b = rnd(12), rnd(12)
    save("group_norm", "x", x)
    save("group_norm", "w", w)
    save("group_norm", "b", b)
    save("group_norm", "out", F.group_norm(d(x), 4, d(w), d(b), 1e-5))
    x = rnd(2, 6, 10)
    save("group_norm_3d", "x", x)
    save("group_norm_3d", "out", F.group_norm(d(x), 2, None, None, 1e-5))

    x = rnd(5, 17)
    x[2] = 0.0  # zero row: eps keeps it zero
    save("l2_normalize", "x", x)
    save("l2_normalize", "out", F.normalize(d(x), dim=-1, eps=1e-12))


# ---------------------------------------------------------------- elementwise
def gen_elementwise():
    x = torch.cat([torch.linspace(-12, 12, 301), torch.tensor([-100.0, -30.0, 30.0, 100.0, 0.0]), rnd(93, scale=3.0)])
    x = x.float()
    save("unary", "x", x)
    save("unary", "gelu", F.gelu(d(x)))
    save("unary", "quick_gelu", d(x) * torch.sigmoid(1.702 * d(x)))
    save("unary", "relu", F.relu(x))
    save("unary", "relu6", F.relu6(x))
    save("unary", "sigmoid", torch.sigmoid(d(x)))
    save("unary", "clamp", torch.clamp(x, -2.5, 4.0))
    pairs = {
        "add": ((2, 3, 4, 5), (3, 1, 5), torch.add),
        "sub": ((4, 1), (3,), torch.sub),
        "mul": ((2, 3, 4, 5), (1, 3, 1, 1), torch.mul),
        "div": ((2, 3, 5), (5,), torch.div),
        "add_scalar_b": ((3, 4), (1,), torch.add),
    }
    for case, (sa, sb, fn) in pairs.items():
        a, b = rnd(*sa), rnd(*sb)
        if case == "div":
            b = b.abs() + 0.5
        save(case, "a", a)
        save(case, "b", b)
        save(case, "out", fn(d(a), d(b)))


# ---------------------------------------------------------------- softmax / attention
def gen_softmax_attention():
    x = rnd(3, 4, 50, scale=5.0)
    x[0, 0, :] += 80.0  # large values: needs the max subtraction
    save("softmax_last", "x", x)
    save("softmax_last", "out", torch.softmax(d(x), -1))
    x = rnd(2, 5, 3, 300, scale=3.0)
    save("softmax_mid", "x", x)
    save("softmax_mid", "out", torch.softmax(d(x), 1))

    q, k, v = rnd(2, 3, 9, 8), rnd(2, 3, 11, 8), rnd(2, 3, 11, 6)
    save("attn", "q", q)
    save("attn", "k", k)
    save("attn", "v", v)
    s = d(q) @ d(k).transpose(-1, -2) / np.sqrt(8)
    save("attn", "out", torch.softmax(s, -1) @ d(v))
    # custom scale
    s = d(q) @ d(k).transpose(-1, -2) * 0.3
    save("attn", "out_scale03", torch.softmax(s, -1) @ d(v))

    # causal, across the 64-query block boundary
    q, k, v = rnd(1, 2, 70, 16), rnd(1, 2, 70, 16), rnd(1, 2, 70, 16)
    save("attn_causal", "q", q)
    save("attn_causal", "k", k)
    save("attn_causal", "v", v)
    s = d(q) @ d(k).transpose(-1, -2) / 4.0
    mask = torch.triu(torch.ones(70, 70, dtype=torch.bool), 1)
    s = s.masked_fill(mask, float("-inf"))
    save("attn_causal", "out", torch.softmax(s, -1) @ d(v))

    # nn.MultiheadAttention, batch_first, with and without a causal mask
    E, H, L, B = 16, 4, 9, 2
    mha = torch.nn.MultiheadAttention(E, H, batch_first=True).double()
    with torch.no_grad():
        mha.in_proj_bias.copy_(torch.randn(3 * E))
        mha.out_proj.bias.copy_(torch.randn(E))
    x = rnd(B, L, E)
    save("mha", "x", x)
    save("mha", "in_w", mha.in_proj_weight)
    save("mha", "in_b", mha.in_proj_bias)
    save("mha", "out_w", mha.out_proj.weight)
    save("mha", "out_b", mha.out_proj.bias)
    # reference from the float32-rounded parameters actually stored
    mha32 = {n: torch.from_numpy(np.load(os.path.join(OUT, f"mha.{n}.npy"))).double()
             for n in ("in_w", "in_b", "out_w", "out_b")}
    with torch.no_grad():
        mha.in_proj_weight.copy_(mha32["in_w"])
        mha.in_proj_bias.copy_(mha32["in_b"])
        mha.out_proj.weight.copy_(mha32["out_w"])
        mha.out_proj.bias.copy_(mha32["out_b"])
        y, _ = mha(d(x), d(x), d(x), need_weights=False)
        save("mha", "out", y)
        mask = torch.full((L, L), float("-inf")).triu(1).double()
        y, _ = mha(d(x), d(x), d(x), need_weights=False, attn_mask=mask)
        save("mha", "out_causal", y)


# ---------------------------------------------------------------- resize / pool
def gen_resize_pool():
    # float32 on purpose: the source positions are float32 arithmetic in PyTorch.
    x = rnd(2, 3, 7, 5)
    save("resize", "x", x)
    for (h, w) in [(13, 11), (4, 3), (7, 5), (1, 1), (16, 2)]:
        for ac in (False, True):
            tag = f"{h}x{w}_{'ac' if ac else 'noac'}"
            save("resize", f"bilinear_{tag}", F.interpolate(x, size=(h, w), mode="bilinear", align_corners=ac))
            save("resize", f"bicubic_{tag}", F.interpolate(x, size=(h, w), mode="bicubic", align_corners=ac))
    x = rnd(1, 2, 41, 41)
    save("resize_hsm", "x", x)
    save("resize_hsm", "out", F.interpolate(x, size=(40, 40), mode="bilinear", align_corners=False))
    x = rnd(1, 2, 20, 20)
    save("resize_20", "x", x)
    save("resize_20", "out_noac", F.interpolate(x, size=(40, 40), mode="bilinear", align_corners=False))
    save("resize_20", "out_ac", F.interpolate(x, size=(40, 40), mode="bilinear", align_corners=True))
    x = rnd(1, 3, 23, 31)
    save("resize_bicubic_down", "x", x)
    save("resize_bicubic_down", "out", F.interpolate(x, size=(10, 9), mode="bicubic", align_corners=False))

    x = rnd(2, 3, 7, 9)
    save("avg_pool", "x", x)
    save("avg_pool", "k2s2", F.avg_pool2d(x, 2, 2))
    save("avg_pool", "k3s2", F.avg_pool2d(x, 3, 2))


# ---------------------------------------------------------------- shape ops / reductions
def gen_shape_reduce():
    x = rnd(2, 3, 4, 5)
    save("pad", "x", x)
    save("pad", "out", F.pad(x, (1, 2, 0, 3), value=0.5))
    save("pad", "crop", F.pad(x, (-1, 2, 1, -2)))
    a, b, c = rnd(2, 3, 4), rnd(2, 1, 4), rnd(2, 5, 4)
    save("concat", "a", a)
    save("concat", "b", b)
    save("concat", "c", c)
    save("concat", "out", torch.cat([a, b, c], 1))
    x = rnd(3, 6, 4)
    save("index_select", "x", x)
    save("index_select", "out", x.index_select(1, torch.tensor([5, 0, 2, 2])))

    # ties: rounded values so many entries are equal
    x = torch.round(rnd(4, 6, 10) * 1.5) / 2
    save("reduce", "x", x)
    save("reduce", "argmax_last", torch.argmax(x, -1))
    save("reduce", "argmax_mid", torch.argmax(x, 1))
    # Our rule: descending, ties -> lower index first (a stable sort of -x); torch.topk's
    # order among ties is unspecified, so only its values are used as a cross-check.
    v, _ = torch.topk(x, 4, dim=-1)
    i = np.argsort(-x.numpy(), axis=-1, kind="stable")[..., :4]
    assert np.array_equal(np.take_along_axis(x.numpy(), i, -1), v.numpy())
    save("reduce", "topk_values", v)
    save("reduce", "topk_indices", i.astype(np.int64))
    save("reduce", "sum_mid", d(x).sum(1))
    save("reduce", "mean_first", d(x).mean(0))


def main():
    os.makedirs(OUT, exist_ok=True)
    for f in os.listdir(OUT):
        if f.endswith(".npy"):
            os.remove(os.path.join(OUT, f))
    gen_gemm()
    gen_conv()
    gen_norm()
    gen_elementwise()
    gen_softmax_attention()
    gen_resize_pool()
    gen_shape_reduce()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files, {total / 1024:.0f} KiB, torch {torch.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
