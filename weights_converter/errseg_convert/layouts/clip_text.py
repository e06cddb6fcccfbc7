"""The CLIP text tower (OpenAI / OpenCLIP naming; identical in both)."""

from .. import model_config as mc


def residual_block(prefix, width):
    """Tensors of one pre-norm transformer block (``<prefix>ln_1.weight`` ...), MLP ratio 4."""
    w = width
    return {
        prefix + "ln_1.weight": (w,), prefix + "ln_1.bias": (w,),
        prefix + "attn.in_proj_weight": (3 * w, w), prefix + "attn.in_proj_bias": (3 * w,),
        prefix + "attn.out_proj.weight": (w, w), prefix + "attn.out_proj.bias": (w,),
        prefix + "ln_2.weight": (w,), prefix + "ln_2.bias": (w,),
        prefix + "mlp.c_fc.weight": (4 * w, w), prefix + "mlp.c_fc.bias": (4 * w,),
        prefix + "mlp.c_proj.weight": (w, 4 * w), prefix + "mlp.c_proj.bias": (w,),
    }


def derive(shapes, prefix="clip."):
    """Text config (all but ``heads``) and the embed dim read off the shapes."""
    vocab, width = shapes.get(prefix + "token_embedding.weight", 2)
    context = shapes.get(prefix + "positional_embedding", 2)[0]
    embed = shapes.get(prefix + "text_projection", 2)[1]
    layers = shapes.count(prefix + "transformer.resblocks.")
    text = {"context_length": context, "vocab_size": vocab, "width": width, "layers": layers}
    return text, embed


def default_heads(width):
    """OpenAI and OpenCLIP use 64-wide attention heads: heads = width / 64."""
    return {"heads": width // 64} if width % 64 == 0 else {}


def validate(config, path="clip.text"):
    for key in ("context_length", "vocab_size", "width", "layers"):
        mc.check_int(config, f"{path}.{key}")
    mc.check_divides(config, f"{path}.heads", f"{path}.width")


def expected(text, embed_dim, prefix="clip."):
    w = text["width"]
    out = {
        prefix + "token_embedding.weight": (text["vocab_size"], w),
        prefix + "positional_embedding": (text["context_length"], w),
        prefix + "ln_final.weight": (w,), prefix + "ln_final.bias": (w,),
        prefix + "text_projection": (w, embed_dim),
        prefix + "logit_scale": (),
    }
    for i in range(text["layers"]):
        out.update(residual_block(f"{prefix}transformer.resblocks.{i}.", w))
    return out
