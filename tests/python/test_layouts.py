"""Layout detection, name mapping and config derivation for each supported checkpoint family."""

import copy
import json
import math
import os
import unittest
import warnings

import numpy as np

import helpers
import synthetic
from helpers import TempDirTestCase, needs_torch, read_safetensors
from errseg_convert import ConvertError
from errseg_convert.converter import convert
from errseg_convert.layouts import LAYOUTS, apply_layout, detect_layout
from errseg_convert.safetensors_io import write_safetensors
from errseg_convert.tensor_ref import TensorRef

CLIP_DATA = os.path.join(helpers.REPO, "tests", "data", "clip")


class ShapeOnly(TensorRef):
    """A tensor with a shape and no data: layouts never read data."""

    def __init__(self, shape):
        self.shape = tuple(shape)
        self.dtype = "F32"

    def read(self):
        raise AssertionError("layout code must not read tensor data")


def shape_only(state_dict):
    return {name: ShapeOnly(np.shape(value)) for name, value in state_dict.items()}


def published_errseg(size):
    """Shape-only ERR-Seg B or L state dict (no config needed to convert these)."""
    dims = {"B": [128, 256, 512, 1024], "L": [192, 384, 768, 1536]}[size]
    embed, width, layers, head = {"B": (640, 640, 12, "linear"), "L": (768, 768, 16, "mlp")}[size]
    config = {"architecture": "errseg", "clip": {
        "embed_dim": embed,
        "vision": {"type": "convnext", "dims": dims, "depths": [3, 3, 27, 3], "head": head,
                   "image_size": 320},
        "text": {"context_length": 77, "vocab_size": 49408, "width": width, "heads": 1,
                 "layers": layers}},
        "head": {"corr_fpn_inter_dim": 256, "corr_fpn_fusion_dim": 128,
                 "guidance_fpn_inter_dim": 256, "guidance_fpn_fusion_dim": 128,
                 "image_guidance_dims": dims[::-1], "decoder_guidance_dims": dims[::-1][1:],
                 "guidance_proj_dims": [32, 16, 8], "text_guidance_dim": embed,
                 "text_guidance_proj_dim": 128, "aggregator_scale_ratio": [2, 2, 2, 2],
                 "aggregator_dim": 128, "decoder_dims": [64, 32, 16]}}
    layout = LAYOUTS["errseg"]
    return {layout.source_name(n): ShapeOnly(s) for n, s in layout.expected(config).items()}


class Detection(unittest.TestCase):

    def test_each_layout_is_detected(self):
        cases = {
            "openai-vit": synthetic.state_dict("openai-vit", synthetic.vit_config()),
            "openclip-convnext": synthetic.state_dict("openclip-convnext",
                                                      synthetic.convnext_config()),
            "errseg": synthetic.state_dict("errseg", synthetic.errseg_config()),
        }
        for name, sd in cases.items():
            with self.subTest(name=name):
                self.assertEqual(detect_layout(sd).name, name)

    def test_unknown_layout(self):
        with self.assertRaises(ConvertError) as ctx:
            detect_layout({"encoder.layer.0.weight": 0, "decoder.bias": 0})
        self.assertIn("unknown checkpoint layout", str(ctx.exception))
        self.assertIn("encoder.layer.0.weight", str(ctx.exception))


class PublishedSizes(unittest.TestCase):
    """ERR-Seg B and L convert without --config; counts are those of the spec (§4)."""

    def test_errseg_b(self):
        result = apply_layout(LAYOUTS["errseg"], published_errseg("B"))
        self.assertEqual(len(result.tensors), 727)
        self.assertEqual(sum(math.prod(t.shape) for t in result.tensors.values()), 188853370)
        c = result.config
        self.assertEqual(c["input"]["crop_size"], 640)
        self.assertEqual(c["clip"]["text"]["heads"], 10)
        self.assertEqual(c["clip"]["vision"]["image_size"], 320)
        self.assertEqual(c["clip"]["act"], "gelu")
        self.assertEqual(c["head"]["aggregator_heads"], 4)
        self.assertEqual(c["head"]["sample_classes_num"], 32)
        self.assertEqual(c["head"]["decoder_dims"], [64, 32, 16])
        self.assertEqual(c["prompt_template"], "A photo of a {} in the scene")

    def test_errseg_l(self):
        result = apply_layout(LAYOUTS["errseg"], published_errseg("L"))
        self.assertEqual(len(result.tensors), 777)
        self.assertEqual(sum(math.prod(t.shape) for t in result.tensors.values()), 365745722)
        self.assertEqual(result.config["input"]["crop_size"], 768)
        self.assertEqual(result.config["clip"]["text"]["heads"], 12)
        self.assertEqual(result.config["clip"]["vision"]["head"], "mlp")

    def test_unpublished_size_needs_a_config(self):
        sd = shape_only(synthetic.state_dict("errseg", synthetic.errseg_config()))
        with self.assertRaises(ConvertError) as ctx:
            apply_layout(LAYOUTS["errseg"], sd)
        message = str(ctx.exception)
        for path in ("clip.text.heads", "clip.vision.image_size", "input.crop_size"):
            self.assertIn(path, message)
        self.assertIn("--config", message)

    @unittest.skipUnless(os.environ.get("ERRSEG_SLOW_TESTS"), "set ERRSEG_SLOW_TESTS=1 (builds full-size models)")
    def test_real_openclip_models_match_our_shapes(self):
        import open_clip
        for name, layout, tensors in (("convnext_base_w_320", "openclip-convnext", 493),
                                      ("convnext_large_d_320", "openclip-convnext", 543),
                                      ("ViT-B-16", "openai-vit", 302)):
            with self.subTest(name=name):
                model = open_clip.create_model(name, pretrained=None)
                sd = {k: ShapeOnly(v.shape) for k, v in model.state_dict().items()}
                result = apply_layout(detect_layout(sd), sd)
                self.assertEqual(detect_layout(sd).name, layout)
                self.assertEqual(len(result.tensors), tensors)


class Errors(unittest.TestCase):

    def setUp(self):
        self.config = synthetic.errseg_config()
        self.sd = shape_only(synthetic.state_dict("errseg", self.config))

    def assertFails(self, sd, needle, config=None):
        with self.assertRaises(ConvertError) as ctx:
            apply_layout(LAYOUTS["errseg"], sd, self.config if config is None else config)
        self.assertIn(needle, str(ctx.exception))

    def test_reference_converts(self):
        result = apply_layout(LAYOUTS["errseg"], self.sd, self.config)
        self.assertTrue(all(n.startswith(("clip.", "head.")) for n in result.tensors))

    def test_missing_tensor(self):
        del self.sd["sem_seg_head.decoder.aggregator_layers.1.class_fusion.sa.mlp.fc3.bias"]
        self.assertFails(self.sd, "missing for the errseg layout: "
                         "sem_seg_head.decoder.aggregator_layers.1.class_fusion.sa.mlp.fc3.bias")

    def test_missing_tensor_needed_for_derivation(self):
        del self.sd["sem_seg_head.decoder.low_img_fusion.weight"]
        self.assertFails(self.sd, "missing tensor 'sem_seg_head.decoder.low_img_fusion.weight'")

    def test_unexpected_tensors_are_listed(self):
        self.sd["sem_seg_head.decoder.extra.weight"] = ShapeOnly((2,))
        self.sd["pixel_mean"] = ShapeOnly((3,))
        self.assertFails(self.sd, "2 unexpected tensor(s) for the errseg layout: pixel_mean")
        del self.sd["pixel_mean"]
        self.assertFails(self.sd, "sem_seg_head.decoder.extra.weight")

    def test_shape_mismatch(self):
        self.sd["sem_seg_head.decoder.aggregator_layers.0.spatial_fusion.sa.mlp.fc3.weight"] = \
            ShapeOnly((16, 47))
        self.assertFails(self.sd, "has shape [16, 47], expected [16, 48]")

    def test_config_disagreeing_with_shapes(self):
        config = copy.deepcopy(self.config)
        config["clip"]["vision"]["depths"] = [1, 1, 3, 1]
        self.assertFails(self.sd, "--config says clip.vision.depths = [1, 1, 3, 1] but the "
                         "checkpoint's tensors give [1, 1, 2, 1]", config)
        config = copy.deepcopy(self.config)
        config["head"]["decoder_dims"] = [16, 8, 4]
        self.assertFails(self.sd, "head.decoder_dims", config)
        config = copy.deepcopy(self.config)
        config["architecture"] = "clip"
        self.assertFails(self.sd, "architecture", config)

    def test_invalid_config_values(self):
        for path, value, needle in (("clip.text.heads", 5, "does not divide"),
                                    ("head.aggregator_heads", 0, "must be an integer >= 1"),
                                    ("input.crop_size", 100, "multiple of 16"),
                                    ("prompt_template", "no placeholder", "'{}'"),
                                    ("input.pixel_std", [1, 0, 1], "positive")):
            with self.subTest(path=path):
                config = copy.deepcopy(self.config)
                node = config
                *parents, leaf = path.split(".")
                for p in parents:
                    node = node[p]
                node[leaf] = value
                self.assertFails(self.sd, needle, config)

    def test_user_config_keeps_extra_keys(self):
        config = copy.deepcopy(self.config)
        config["note"] = "kept"
        result = apply_layout(LAYOUTS["errseg"], self.sd, config)
        self.assertEqual(result.config["note"], "kept")


class OpenAIShapes(unittest.TestCase):

    def test_heads_and_image_size_from_shapes(self):
        config = synthetic.vit_config(embed=32, width=64, layers=1, patch=4, image=16)
        config["clip"]["text"]["width"] = 128
        sd = shape_only(synthetic.state_dict("openai-vit", config))
        sd["input_resolution"] = ShapeOnly(())
        sd["transformer.resblocks.0.attn_mask"] = ShapeOnly((77, 77))
        result = apply_layout(LAYOUTS["openai-vit"], sd)
        clip = result.config["clip"]
        self.assertEqual(clip["vision"], {"type": "vit", "width": 64, "layers": 1,
                                          "patch_size": 4, "image_size": 16, "heads": 1})
        self.assertEqual(clip["text"]["heads"], 2)
        self.assertEqual(clip["act"], "quick_gelu")
        self.assertEqual(sorted(result.dropped),
                         ["input_resolution", "transformer.resblocks.0.attn_mask"])
        self.assertIn("clip.visual.class_embedding", result.tensors)


@needs_torch
class ConvertEachLayout(TempDirTestCase):
    """torch.save'd synthetic checkpoints in each layout convert with exact values."""

    def check(self, sd_np, source, config_path=None, expect_layout=None, rename=None, **kwargs):
        out = self.path("out.safetensors")
        summary = convert(source, out, config_path=config_path, **kwargs)
        if expect_layout:
            self.assertEqual(summary["layout"], expect_layout)
        header, metadata, arrays, _ = read_safetensors(out)
        self.assertEqual(metadata["errseg.format"], "1")
        self.assertEqual(len(arrays), len(sd_np))
        for src, value in sd_np.items():
            ours = "clip." + src if rename is None else rename(src)
            self.assertIn(ours, arrays)
            np.testing.assert_array_equal(arrays[ours], value.astype(np.float32), err_msg=src)
        return summary, json.loads(metadata["errseg.config"])

    def save_torch(self, sd_np, name, wrap=None, dtype=None):
        import torch
        tensors = {k: torch.from_numpy(np.array(v, order="C")) for k, v in sd_np.items()}
        if dtype is not None:
            tensors = {k: v.to(dtype) for k, v in tensors.items()}
        path = self.path(name)
        torch.save(tensors if wrap is None else {wrap: tensors}, path)
        return path

    def save_config(self, config):
        path = self.path("config.json")
        with open(path, "w") as f:
            json.dump(config, f)
        return path

    def test_openai_vit_state_dict_fp16(self):
        config = synthetic.vit_config()
        sd = synthetic.state_dict("openai-vit", config, dtype=np.float16)
        path = self.save_torch(sd, "vit.pt")
        summary, cfg = self.check(sd, path, self.save_config(config), "openai-vit")
        self.assertEqual(cfg["clip"]["vision"]["image_size"], 32)

    def test_openclip_convnext_linear_and_mlp(self):
        for head in ("linear", "mlp"):
            with self.subTest(head=head):
                config = synthetic.convnext_config(head)
                sd = synthetic.state_dict("openclip-convnext", config)
                path = self.save_torch(sd, f"convnext_{head}.bin")
                _, cfg = self.check(sd, path, self.save_config(config), "openclip-convnext")
                self.assertEqual(cfg["clip"]["vision"]["head"], head)
                self.assertEqual(cfg["clip"]["act"], "gelu")

    def test_openclip_safetensors_input(self):
        config = synthetic.convnext_config("mlp")
        sd = synthetic.state_dict("openclip-convnext", config)
        path = self.path("open_clip_model.safetensors")
        write_safetensors(path, {k: ("F32", v.shape, (lambda v=v: v)) for k, v in sd.items()}, {})
        summary, _ = self.check(sd, path, self.save_config(config), "openclip-convnext")
        self.assertIn("safetensors", summary["source"])

    def test_errseg_detectron2_checkpoint_bf16(self):
        import torch
        config = synthetic.errseg_config()
        sd = synthetic.state_dict("errseg", config)
        path = self.save_torch(sd, "model_final.pth", wrap="model", dtype=torch.bfloat16)
        bf16 = {k: torch.from_numpy(v).bfloat16().float().numpy() for k, v in sd.items()}

        def rename(src):
            return src.replace("sem_seg_head.clip_model.", "clip.").replace(
                "sem_seg_head.decoder.", "head.")

        _, cfg = self.check(bf16, path, self.save_config(config), "errseg", rename=rename)
        self.assertEqual(cfg["head"], config["head"])

    def test_forced_wrong_arch(self):
        config = synthetic.convnext_config()
        path = self.save_torch(synthetic.state_dict("openclip-convnext", config), "c.bin")
        with self.assertRaises(ConvertError) as ctx:
            convert(path, self.path("out.safetensors"), arch="openai-vit",
                    config_path=self.save_config(config))
        self.assertIn("lacks the tensors that mark the openai-vit layout (it looks like openclip-convnext)", str(ctx.exception))
        self.assertFalse(os.path.exists(self.path("out.safetensors")))

    def test_integer_weights_are_refused(self):
        config = synthetic.convnext_config()
        sd = synthetic.state_dict("openclip-convnext", config)
        sd["logit_scale"] = np.array(3, dtype=np.int64)
        path = self.save_torch(sd, "c.bin")
        with self.assertRaises(ConvertError) as ctx:
            convert(path, self.path("out.safetensors"), config_path=self.save_config(config))
        self.assertIn("logit_scale has dtype I64", str(ctx.exception))

    def test_openai_torchscript_archive(self):
        import torch
        from collections import OrderedDict
        nn = torch.nn

        class QuickGELU(nn.Module):
            def forward(self, x):
                return x * torch.sigmoid(1.702 * x)

        class ResidualAttentionBlock(nn.Module):
            def __init__(self, width, heads, mask=None):
                super().__init__()
                self.attn = nn.MultiheadAttention(width, heads)
                self.ln_1 = nn.LayerNorm(width)
                self.mlp = nn.Sequential(OrderedDict([("c_fc", nn.Linear(width, 4 * width)),
                                                      ("gelu", QuickGELU()),
                                                      ("c_proj", nn.Linear(4 * width, width))]))
                self.ln_2 = nn.LayerNorm(width)
                if mask is not None:
                    self.register_buffer("attn_mask", mask)   # saved, like a TorchScript attr
                else:
                    self.attn_mask = None

            def forward(self, x):
                y = self.ln_1(x)
                x = x + self.attn(y, y, y, need_weights=False, attn_mask=self.attn_mask)[0]
                return x + self.mlp(self.ln_2(x))

        class Transformer(nn.Module):
            def __init__(self, width, layers, heads, mask=None):
                super().__init__()
                self.resblocks = nn.Sequential(
                    *[ResidualAttentionBlock(width, heads, mask) for _ in range(layers)])

            def forward(self, x):
                return self.resblocks(x)

        class VisionTransformer(nn.Module):
            def __init__(self, image, patch, width, layers, heads, embed):
                super().__init__()
                self.conv1 = nn.Conv2d(3, width, patch, patch, bias=False)
                self.class_embedding = nn.Parameter(torch.randn(width))
                self.positional_embedding = nn.Parameter(torch.randn((image // patch) ** 2 + 1,
                                                                     width))
                self.ln_pre = nn.LayerNorm(width)
                self.transformer = Transformer(width, layers, heads)
                self.ln_post = nn.LayerNorm(width)
                self.proj = nn.Parameter(torch.randn(width, embed))

            def forward(self, x):
                x = self.conv1(x).flatten(2).permute(0, 2, 1)
                cls = self.class_embedding.expand(x.shape[0], 1, -1)
                x = self.ln_pre(torch.cat([cls, x], 1) + self.positional_embedding)
                x = self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2)
                return self.ln_post(x[:, 0]) @ self.proj

        class CLIP(nn.Module):
            def __init__(self):
                super().__init__()
                ctx, width, embed = 77, 64, 24
                self.visual = VisionTransformer(32, 8, 64, 2, 1, embed)
                mask = torch.full((ctx, ctx), float("-inf")).triu(1)
                self.transformer = Transformer(width, 2, 1, mask)
                self.token_embedding = nn.Embedding(100, width)
                self.positional_embedding = nn.Parameter(torch.randn(ctx, width))
                self.ln_final = nn.LayerNorm(width)
                self.text_projection = nn.Parameter(torch.randn(width, embed))
                self.logit_scale = nn.Parameter(torch.tensor(4.6))
                for name, value in (("input_resolution", 32), ("context_length", ctx),
                                    ("vocab_size", 100)):
                    self.register_buffer(name, torch.tensor(value))

            def forward(self, image, text):
                x = self.token_embedding(text) + self.positional_embedding
                x = self.ln_final(self.transformer(x.permute(1, 0, 2)).permute(1, 0, 2))
                t = x[torch.arange(x.shape[0]), text.argmax(-1)] @ self.text_projection
                return self.logit_scale.exp() * self.visual(image) @ t.t()

        torch.manual_seed(0)
        model = CLIP().eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # tracer warnings about constants
            traced = torch.jit.trace(model, (torch.randn(1, 3, 32, 32),
                                             torch.randint(0, 100, (2, 77))))
        traced = traced.half()           # OpenAI's archives hold float16 weights
        path = self.path("ViT-tiny.pt")
        traced.save(path)
        sd = {k: v.numpy() for k, v in traced.state_dict().items()}
        dropped = {"input_resolution", "context_length", "vocab_size",
                   "transformer.resblocks.0.attn_mask", "transformer.resblocks.1.attn_mask"}
        self.assertTrue(dropped <= set(sd))
        sd = {k: v for k, v in sd.items() if k not in dropped}
        self.assertEqual(sd["visual.proj"].dtype, np.float16)
        summary, cfg = self.check(sd, path, None, "openai-vit")
        self.assertEqual(sorted(summary["dropped"]), sorted(dropped))
        self.assertIn("torchscript", summary["source"])
        self.assertEqual(cfg["clip"]["vision"], {"type": "vit", "width": 64, "layers": 2,
                                                 "patch_size": 8, "image_size": 32, "heads": 1})
        self.assertEqual(cfg["clip"]["text"], {"context_length": 77, "vocab_size": 100,
                                               "width": 64, "layers": 2, "heads": 1})


class CommittedClipModels(TempDirTestCase):
    """The tests/data/clip checkpoints (built with OpenCLIP) convert with their configs."""

    def test_committed_models(self):
        stems = sorted({f.split(".")[0] for f in os.listdir(CLIP_DATA)
                        if f.endswith((".pt", ".bin", ".safetensors"))}) \
            if os.path.isdir(CLIP_DATA) else []
        if not stems:
            self.skipTest("no tests/data/clip checkpoints")
        for stem in stems:
            with self.subTest(stem=stem):
                source = next(os.path.join(CLIP_DATA, stem + ext)
                              for ext in (".pt", ".bin", ".safetensors")
                              if os.path.exists(os.path.join(CLIP_DATA, stem + ext)))
                config = os.path.join(CLIP_DATA, stem + ".config.json")
                summary = convert(source, self.path(stem + ".safetensors"),
                                  config_path=config if os.path.exists(config) else None)
                self.assertIn(summary["layout"], ("openai-vit", "openclip-convnext"))


if __name__ == "__main__":
    unittest.main()
