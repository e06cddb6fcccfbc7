"""The OpenCLIP ConvNeXt image tower (timm trunk under ``visual.trunk``, head ``visual.head``)."""

from .. import model_config as mc
from ..errors import ConvertError


def derive(shapes, prefix="clip.visual."):
    """Vision config (all but ``image_size``) and the embed dim read off the shapes."""
    trunk = prefix + "trunk."
    stages = shapes.count(trunk + "stages.")
    if stages == 0:
        raise ConvertError("no ConvNeXt stages (visual.trunk.stages.*) in the checkpoint")
    dims = [shapes.get(trunk + "stem.0.weight", 4)[0]]
    for s in range(1, stages):
        dims.append(shapes.get(f"{trunk}stages.{s}.downsample.1.weight", 4)[0])
    depths = [shapes.count(f"{trunk}stages.{s}.blocks.") for s in range(stages)]
    if shapes.has(prefix + "head.proj.weight"):
        head = "linear"
        embed = shapes.get(prefix + "head.proj.weight", 2)[0]
    elif shapes.has(prefix + "head.mlp.fc2.weight"):
        head = "mlp"
        embed = shapes.get(prefix + "head.mlp.fc2.weight", 2)[0]
    else:
        raise ConvertError("no ConvNeXt image head: expected visual.head.proj.weight (linear) or "
                           "visual.head.mlp.fc1/fc2 (MLP)")
    return {"type": "convnext", "dims": dims, "depths": depths, "head": head}, embed


def validate(config, path="clip.vision"):
    dims = mc.check_int_list(config, f"{path}.dims")
    mc.check_int_list(config, f"{path}.depths", length=len(dims), minimum=0)
    mc.check_choice(config, f"{path}.head", ("linear", "mlp"))
    mc.check_int(config, f"{path}.image_size")


def expected(vision, embed_dim, prefix="clip.visual.", hsm=False):
    """Expected tensors; ``hsm`` adds ERR-Seg's stride-16 path ``modify_downsample.{0,2}``."""
    trunk = prefix + "trunk."
    dims = vision["dims"]
    out = {
        trunk + "stem.0.weight": (dims[0], 3, 4, 4), trunk + "stem.0.bias": (dims[0],),
        trunk + "stem.1.weight": (dims[0],), trunk + "stem.1.bias": (dims[0],),
    }
    for s, (d, depth) in enumerate(zip(dims, vision["depths"])):
        stage = f"{trunk}stages.{s}."
        if s > 0:
            p = dims[s - 1]
            out.update({
                stage + "downsample.0.weight": (p,), stage + "downsample.0.bias": (p,),
                stage + "downsample.1.weight": (d, p, 2, 2), stage + "downsample.1.bias": (d,),
            })
        for j in range(depth):
            block = f"{stage}blocks.{j}."
            out.update({
                block + "gamma": (d,),
                block + "conv_dw.weight": (d, 1, 7, 7), block + "conv_dw.bias": (d,),
                block + "norm.weight": (d,), block + "norm.bias": (d,),
                block + "mlp.fc1.weight": (4 * d, d), block + "mlp.fc1.bias": (4 * d,),
                block + "mlp.fc2.weight": (d, 4 * d), block + "mlp.fc2.bias": (d,),
            })
    last = dims[-1]
    out[trunk + "head.norm.weight"] = (last,)
    out[trunk + "head.norm.bias"] = (last,)
    if vision["head"] == "linear":
        out[prefix + "head.proj.weight"] = (embed_dim, last)
    else:
        # OpenCLIP's 'mlp' head: Linear(last -> 2*embed, bias) -> GELU -> Linear(-> embed, no bias).
        hidden = 2 * embed_dim
        out[prefix + "head.mlp.fc1.weight"] = (hidden, last)
        out[prefix + "head.mlp.fc1.bias"] = (hidden,)
        out[prefix + "head.mlp.fc2.weight"] = (embed_dim, hidden)
    if hsm:
        if len(dims) < 2:
            raise ConvertError("ERR-Seg needs a ConvNeXt with at least two stages")
        d2, d3 = dims[-2], dims[-1]
        out.update({
            prefix + "modify_downsample.0.weight": (d2,), prefix + "modify_downsample.0.bias": (d2,),
            prefix + "modify_downsample.2.weight": (d3, d2, 2, 2),
            prefix + "modify_downsample.2.bias": (d3,),
        })
    return out
