"""The command line: the tiny ERR-Seg fixture end to end, options, exit codes and messages."""

import json
import os
import subprocess
import sys
import unittest

import numpy as np

import helpers  # noqa: F401  (sets sys.path)
import synthetic
from helpers import (CONVERT_PY, MERGES, REPO, TINY_CONFIG, TINY_PTH, TempDirTestCase,
                     needs_torch, read_safetensors, run_cli)


def ours(name):
    return name.replace("sem_seg_head.clip_model.", "clip.").replace("sem_seg_head.decoder.",
                                                                     "head.")


class TinyFixture(TempDirTestCase):

    def convert(self, *extra):
        out = self.path("tiny.safetensors")
        result = run_cli(TINY_PTH, out, "--config", TINY_CONFIG, *extra)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, "")
        return out, result

    def test_names_shapes_and_metadata(self):
        out, result = self.convert()
        self.assertIn("236 tensors", result.stdout)
        header, metadata, arrays, _ = read_safetensors(out)
        self.assertEqual(len(arrays), 236)
        self.assertTrue(all(e["dtype"] == "F32" for e in header.values()))
        self.assertEqual(header["clip.visual.trunk.stem.0.weight"]["shape"], [16, 3, 4, 4])
        self.assertEqual(header["clip.visual.modify_downsample.2.weight"]["shape"],
                         [128, 64, 2, 2])
        self.assertEqual(header["clip.logit_scale"]["shape"], [])
        self.assertEqual(header["head.aggregator_layers.0.spatial_fusion.sa.attention.q.weight"]
                         ["shape"], [32, 64])
        self.assertEqual(header["head.head.weight"]["shape"], [1, 8, 1, 1])
        self.assertEqual(set(metadata), {"errseg.format", "errseg.config", "errseg.bpe_merges",
                                         "errseg.source"})
        self.assertEqual(metadata["errseg.format"], "1")
        with open(MERGES, encoding="utf-8") as f:
            self.assertEqual(metadata["errseg.bpe_merges"], f.read())
        self.assertEqual(len(metadata["errseg.bpe_merges"].splitlines()), 48894)
        self.assertIn("errseg_tiny_seed0.pth", metadata["errseg.source"])
        self.assertIn("layout errseg", metadata["errseg.source"])
        config = json.loads(metadata["errseg.config"])
        with open(TINY_CONFIG) as f:
            given = json.load(f)
        self.assertEqual(config["clip"]["act"], "gelu")
        del config["clip"]["act"]
        self.assertEqual(config, given)

    @needs_torch
    def test_values_equal_the_checkpoint(self):
        import torch
        out, _ = self.convert()
        _, _, arrays, _ = read_safetensors(out)
        state = torch.load(TINY_PTH, map_location="cpu")["model"]
        self.assertEqual(sorted(arrays), sorted(ours(k) for k in state))
        for name, value in state.items():
            np.testing.assert_array_equal(arrays[ours(name)], value.numpy(), err_msg=name)

    @needs_torch
    def test_fp16(self):
        import torch
        out, _ = self.convert("--dtype", "fp16")
        header, _, arrays, _ = read_safetensors(out)
        self.assertTrue(all(e["dtype"] == "F16" for e in header.values()))
        state = torch.load(TINY_PTH, map_location="cpu")["model"]
        for name, value in state.items():
            np.testing.assert_array_equal(arrays[ours(name)], value.half().numpy(), err_msg=name)
        self.assertLess(os.path.getsize(out), 0.6 * os.path.getsize(TINY_PTH) + 600000)

    def test_converter_does_not_need_torch(self):
        out = self.path("tiny.safetensors")
        code = ("import sys; sys.modules['torch'] = None; "
                f"sys.argv = [{CONVERT_PY!r}, {TINY_PTH!r}, {out!r}, '--config', {TINY_CONFIG!r}]; "
                f"import runpy; runpy.run_path({CONVERT_PY!r}, run_name='__main__')")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue(os.path.exists(out))

    def test_merges_override(self):
        merges = self.path("merges.txt")
        with open(merges, "w") as f:
            f.write("a b\nab c\n")
        out, _ = self.convert("--merges", merges)
        _, metadata, _, _ = read_safetensors(out)
        self.assertEqual(metadata["errseg.bpe_merges"], "a b\nab c\n")


class Failures(TempDirTestCase):
    """Non-zero exit, one clear line on stderr, no traceback, and never a (partial) output."""

    def assertFails(self, args, needle, code=1, allowed=()):
        result = run_cli(*args)
        self.assertEqual(result.returncode, code, result.stderr)
        self.assertIn(needle, result.stderr)
        if code == 1:
            lines = result.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, result.stderr)
            self.assertTrue(lines[0].startswith("convert.py: error: "), lines[0])
        self.assertNotIn("Traceback", result.stderr)
        self.assertEqual(result.stdout, "")
        self.assertNoFilesExcept(list(allowed))
        return result

    def test_tiny_without_config(self):
        self.assertFails([TINY_PTH, self.path("o.safetensors")],
                         "cannot determine clip.text.heads, clip.vision.image_size, "
                         "input.crop_size from the checkpoint's tensors")

    def test_config_mismatch(self):
        with open(TINY_CONFIG) as f:
            config = json.load(f)
        config["clip"]["embed_dim"] = 64
        path = self.path("bad.json")
        with open(path, "w") as f:
            json.dump(config, f)
        self.assertFails([TINY_PTH, self.path("o.safetensors"), "--config", path],
                         "--config says clip.embed_dim = 64 but the checkpoint's tensors give 32",
                         allowed=["bad.json"])

    def test_bad_config_file(self):
        path = self.path("bad.json")
        with open(path, "w") as f:
            f.write("{not json")
        self.assertFails([TINY_PTH, self.path("o.safetensors"), "--config", path],
                         "not valid JSON", allowed=["bad.json"])

    def test_failure_keeps_an_existing_output(self):
        out = self.path("o.safetensors")
        with open(out, "wb") as f:
            f.write(b"old")
        self.assertFails([TINY_PTH, out], "--config", allowed=["o.safetensors"])
        with open(out, "rb") as f:
            self.assertEqual(f.read(), b"old")

    def test_missing_input_and_output_dir(self):
        self.assertFails([self.path("nope.pth"), self.path("o.safetensors")], "cannot read")
        self.assertFails([TINY_PTH, self.path("no/dir/o.safetensors"), "--config", TINY_CONFIG],
                         "cannot create the output file")

    def test_bad_merges(self):
        merges = self.path("m.txt")
        with open(merges, "w") as f:
            f.write("#version: 0.2\na b\n")
        self.assertFails([TINY_PTH, self.path("o.safetensors"), "--config", TINY_CONFIG,
                          "--merges", merges], "#version", allowed=["m.txt"])

    def test_usage_errors(self):
        self.assertFails([TINY_PTH], "usage:", code=2)
        self.assertFails([TINY_PTH, self.path("o.safetensors"), "--arch", "resnet"],
                         "invalid choice", code=2)
        self.assertFails([TINY_PTH, self.path("o.safetensors"), "--dtype", "bf16"],
                         "invalid choice", code=2)

    def test_same_input_and_output(self):
        self.assertFails([TINY_PTH, TINY_PTH, "--config", TINY_CONFIG], "must differ")

    def test_debug_shows_the_traceback(self):
        result = run_cli(TINY_PTH, self.path("o.safetensors"), "--debug")
        self.assertEqual(result.returncode, 1)
        self.assertIn("Traceback", result.stderr)
        self.assertIn("convert.py: error: cannot determine", result.stderr)

    @needs_torch
    def test_fp16_overflow(self):
        import torch
        config = synthetic.convnext_config()
        sd = synthetic.torch_state_dict("openclip-convnext", config)
        sd["logit_scale"] = torch.tensor(1e6)
        src = self.path("c.bin")
        torch.save(sd, src)
        cfg = self.path("c.json")
        with open(cfg, "w") as f:
            json.dump(config, f)
        self.assertFails([src, self.path("o.safetensors"), "--config", cfg, "--dtype", "fp16"],
                         "logit_scale: 1 value(s) overflow float16", allowed=["c.bin", "c.json"])


class ConvertTestModels(TempDirTestCase):

    def test_converts_then_is_idempotent(self):
        script = os.path.join(REPO, "tests", "convert_test_models.py")
        outdir = self.path("models")
        first = subprocess.run([sys.executable, script, outdir], capture_output=True, text=True)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertIn("converted: tests/data/fixtures/errseg_tiny_seed0.pth", first.stdout)
        self.assertTrue(os.path.exists(os.path.join(outdir, "errseg_tiny.safetensors")))
        produced = sorted(os.listdir(outdir))
        second = subprocess.run([sys.executable, script, outdir], capture_output=True, text=True)
        self.assertEqual(second.returncode, 0, second.stderr)
        self.assertNotIn("converted:", second.stdout)
        self.assertIn("up to date: errseg_tiny.safetensors", second.stdout)
        self.assertEqual(sorted(os.listdir(outdir)), produced)


if __name__ == "__main__":
    unittest.main()
