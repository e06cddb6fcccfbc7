"""The ERR-Seg head (upstream ``sem_seg_head.decoder``; ours ``head.``).

Key names and shapes follow the spec, docs ``errseg-architecture.md`` §4.2. Heads and the number
of kept classes (K) cannot be read off shapes; everything else can.
"""

from .. import model_config as mc
from ..errors import ConvertError

UPSTREAM_DEFAULTS = {
    "aggregator_heads": 4,       # hard-coded upstream (head dim 32 for aggregator_dim 128)
    "sample_classes_num": 32,    # configs/*.yaml default; eval.sh overrides per dataset
}


def derive(shapes, clip_dims, prefix="head."):
    g = shapes.get
    agg_layers = shapes.count(prefix + "aggregator_layers.")
    dec_guidance = shapes.count(prefix + "img_guidance_projection_dec.")
    if agg_layers == 0:
        raise ConvertError("no ERR-Seg aggregator layers (sem_seg_head.decoder.aggregator_layers.*)")
    if dec_guidance != 3:
        raise ConvertError(f"ERR-Seg has 3 decoder guidance projections, the checkpoint has "
                           f"{dec_guidance}")
    dec = [g(f"{prefix}img_guidance_projection_dec.{k}.0.weight", 4) for k in range(3)]
    text = g(prefix + "text_guidance_projection.0.weight", 2)
    return {
        "corr_fpn_inter_dim": g(prefix + "corr_proj_convs.0.0.weight", 4)[0],
        "corr_fpn_fusion_dim": g(prefix + "low_corr_fusion.weight", 4)[0],
        "guidance_fpn_inter_dim": g(prefix + "img_guidance_projection_agg.0.0.weight", 4)[0],
        "guidance_fpn_fusion_dim": g(prefix + "low_img_fusion.weight", 4)[0],
        # Upstream lists the trunk's stage widths from os32 down; only the first two are used.
        "image_guidance_dims": list(reversed(clip_dims)),
        "decoder_guidance_dims": [w[1] for w in dec],
        "guidance_proj_dims": [w[0] for w in dec],
        "text_guidance_dim": text[1],
        "text_guidance_proj_dim": text[0],
        "aggregator_scale_ratio": [
            g(f"{prefix}aggregator_layers.{i}.spatial_fusion.sa.attention.sr_k.weight", 4)[2]
            for i in range(agg_layers)],
        "aggregator_dim": g(prefix + "aggregator_layers.0.spatial_fusion.sa.norm1.weight", 1)[0],
        "decoder_dims": [g(prefix + "up_decoder1.up_conv.weight", 4)[0],
                         g(prefix + "up_decoder2.up_conv.weight", 4)[1],
                         g(prefix + "up_decoder3.up_conv.weight", 4)[1]],
    }


def validate(config, path="head"):
    for key in ("corr_fpn_inter_dim", "corr_fpn_fusion_dim", "guidance_fpn_inter_dim",
                "guidance_fpn_fusion_dim", "text_guidance_dim", "text_guidance_proj_dim",
                "aggregator_dim", "sample_classes_num"):
        mc.check_int(config, f"{path}.{key}")
    mc.check_int_list(config, f"{path}.image_guidance_dims")
    mc.check_int_list(config, f"{path}.decoder_guidance_dims", length=3)
    mc.check_int_list(config, f"{path}.guidance_proj_dims", length=3)
    mc.check_int_list(config, f"{path}.decoder_dims", length=3)
    mc.check_int_list(config, f"{path}.aggregator_scale_ratio")
    mc.check_divides(config, f"{path}.aggregator_heads", f"{path}.aggregator_dim")
    head = mc.get_path(config, path)
    if head["corr_fpn_fusion_dim"] != head["aggregator_dim"]:
        raise ConvertError(f"config {path}.corr_fpn_fusion_dim ({head['corr_fpn_fusion_dim']}) "
                           f"must equal {path}.aggregator_dim ({head['aggregator_dim']})")
    dims = list(reversed(mc.get_path(config, "clip.vision.dims")))
    if head["image_guidance_dims"][:2] != dims[:2] or head["decoder_guidance_dims"] != dims[1:4]:
        raise ConvertError(f"config {path}.image_guidance_dims / decoder_guidance_dims do not "
                           f"match the image tower's stage widths {dims}")
    if head["text_guidance_dim"] != mc.get_path(config, "clip.embed_dim"):
        raise ConvertError(f"config {path}.text_guidance_dim must equal clip.embed_dim")


def expected(head, prefix="head."):
    ci, cf = head["corr_fpn_inter_dim"], head["corr_fpn_fusion_dim"]
    gi, gf = head["guidance_fpn_inter_dim"], head["guidance_fpn_fusion_dim"]
    ig, dg, gp = head["image_guidance_dims"], head["decoder_guidance_dims"], head["guidance_proj_dims"]
    td, tp = head["text_guidance_dim"], head["text_guidance_proj_dim"]
    c, dd = head["aggregator_dim"], head["decoder_dims"]
    out = {}

    def conv(name, o, i, k, bias=True):
        out[prefix + name + ".weight"] = (o, i, k, k)
        if bias:
            out[prefix + name + ".bias"] = (o,)

    def linear(name, o, i):
        out[prefix + name + ".weight"] = (o, i)
        out[prefix + name + ".bias"] = (o,)

    def norm(name, n):
        out[prefix + name + ".weight"] = (n,)
        out[prefix + name + ".bias"] = (n,)

    conv("corr_proj_convs.0.0", ci, 1, 7)
    conv("corr_proj_convs.1.0", ci, 1, 7)
    conv("low_corr_fusion", cf, ci, 1)
    conv("img_guidance_projection_agg.0.0", gi, ig[0], 3)
    conv("img_guidance_projection_agg.1.0", gi, ig[1], 3)
    conv("low_img_fusion", gf, gi, 1)
    for k in range(3):
        conv(f"img_guidance_projection_dec.{k}.0", gp[k], dg[k], 3)
    linear("text_guidance_projection.0", tp, td)
    for i, r in enumerate(head["aggregator_scale_ratio"]):
        sa = f"aggregator_layers.{i}.spatial_fusion.sa."
        norm(sa + "norm1", c)
        norm(sa + "norm2", c)
        linear(sa + "attention.q", c, c + gf)
        linear(sa + "attention.k", c, c + gf)
        linear(sa + "attention.v", c, c)
        linear(sa + "attention.proj", c, c)
        conv(sa + "attention.sr_k", c + gf, c + gf, r)
        norm(sa + "attention.norm_k", c + gf)
        conv(sa + "attention.sr_v", c, c, r)
        norm(sa + "attention.norm_v", c)
        linear(sa + "mlp.fc1", 3 * c, c)
        linear(sa + "mlp.fc2", 3 * c, c)
        linear(sa + "mlp.fc3", c, 3 * c)
        out[prefix + sa + "mlp.dwconv.dwconv.weight"] = (c, 1, 7, 7)
        out[prefix + sa + "mlp.dwconv.dwconv.bias"] = (c,)
        ca = f"aggregator_layers.{i}.class_fusion.sa."
        norm(ca + "norm1", c)
        norm(ca + "norm2", c)
        linear(ca + "attention.q", c, c + tp)
        linear(ca + "attention.k", c, c + tp)
        linear(ca + "attention.v", c, c)
        linear(ca + "attention.proj", c, c)
        linear(ca + "mlp.fc1", 3 * c, c)
        linear(ca + "mlp.fc2", 3 * c, c)
        linear(ca + "mlp.fc3", c, 3 * c)
    conv("up_decoder1.up_conv", dd[0], c, 1)
    # ConvTranspose2d weights are [in, out, k, k].
    out[prefix + "up_decoder2.up_conv.weight"] = (dd[0], dd[1], 2, 2)
    out[prefix + "up_decoder2.up_conv.bias"] = (dd[1],)
    out[prefix + "up_decoder3.up_conv.weight"] = (dd[1], dd[2], 2, 2)
    out[prefix + "up_decoder3.up_conv.bias"] = (dd[2],)
    for k in range(3):
        up = f"up_decoder{k + 1}.textual_fusion."
        conv(up + "0", dd[k], dd[k] + gp[k], 3, bias=False)
        norm(up + "1", dd[k])
        conv(up + "3", dd[k], dd[k], 3, bias=False)
        norm(up + "4", dd[k])
    conv("head", 1, dd[2], 1)
    return out
