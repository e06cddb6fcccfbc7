"""training/train_demo.py's attribute loss (--attr-weight) and two-phase schedule (--tower-steps):
the per-pixel shape/appearance targets, the loss value of known probes, and that a short run
through both phases writes a checkpoint with exactly the published layout's tensors (the
training-only probes go to the resumable state, not into the checkpoint)."""

import math
import os
import subprocess
import sys
import unittest

import helpers
from helpers import TempDirTestCase, needs_torch

TRAINING = os.path.join(helpers.REPO, "training")
sys.path.insert(0, TRAINING)


@needs_torch
class AttributeLoss(unittest.TestCase):
    def setUp(self):
        import torch
        import scenes
        import train_demo
        self.torch, self.scenes, self.train = torch, scenes, train_demo

    def test_tables_name_each_class_shape_and_appearance(self):
        shape, look, n_shapes, n_looks = self.train.attribute_tables()
        vocab = self.scenes.VOCABULARY
        self.assertEqual((n_shapes, n_looks), (4, 5 + 6 + 3))
        self.assertEqual(int(shape[vocab.index("brick wall")]), 0)
        self.assertEqual(int(shape[vocab.index("red circle")]), 1)
        self.assertEqual(int(shape[vocab.index("striped star")]), 4)
        # appearances: the 5 backgrounds, then colours, then textures
        self.assertEqual(int(look[vocab.index("sky")]), 1)
        self.assertEqual(int(look[vocab.index("red circle")]), int(look[vocab.index("red star")]))
        self.assertEqual(int(look[vocab.index("dotted square")]), 5 + 6 + 1)

    def features_and_probes(self, labels, scale):
        """One-hot feature maps of each cell's (shape, appearance) and probes that read them off
        with logit margin `scale` (0: uniform predictions)."""
        torch = self.torch
        shape_of, look_of, n_shapes, n_looks = self.train.attribute_tables()
        feats, probes = {}, {}
        for key, stride in (("os16", 16), ("os32", 32)):
            ids = labels[:, stride // 2::stride, stride // 2::stride]
            shape_hot = torch.nn.functional.one_hot((shape_of[ids] - 1).clamp(min=0), n_shapes)
            look_hot = torch.nn.functional.one_hot(look_of[ids], n_looks)
            feats[key] = torch.cat([shape_hot, look_hot], -1).permute(0, 3, 1, 2).float()
            probes[key] = (torch.eye(n_shapes + n_looks) * scale, torch.zeros(n_shapes + n_looks))
        return feats, probes

    def test_loss_of_uniform_and_of_perfect_probes(self):
        torch = self.torch
        vocab = self.scenes.VOCABULARY
        labels = torch.full((1, 64, 64), vocab.index("grass"))
        labels[0, :32, :32] = vocab.index("red square")
        labels[0, 32:, 32:] = vocab.index("dotted triangle")
        feats, probes = self.features_and_probes(labels, 0.0)
        loss, accuracy = self.train.attribute_loss(feats, labels, probes)
        # uniform: ln 4 on the object cells' shape, ln 14 on every cell's appearance, averaged
        self.assertAlmostEqual(float(loss), (math.log(4) + math.log(14)) / 2, places=5)
        feats, probes = self.features_and_probes(labels, 30.0)
        loss, accuracy = self.train.attribute_loss(feats, labels, probes)
        self.assertLess(float(loss), 1e-6)
        self.assertEqual(accuracy, {"os16": 1.0, "os32": 1.0})

    def test_scene_without_objects_has_a_finite_loss(self):
        labels = self.torch.full((1, 64, 64), self.scenes.VOCABULARY.index("sand"))
        feats, probes = self.features_and_probes(labels, 0.0)
        loss, accuracy = self.train.attribute_loss(feats, labels, probes)
        self.assertAlmostEqual(float(loss), math.log(14) / 2, places=5)   # appearance only
        self.assertEqual(accuracy, {})


@needs_torch
class ShortRun(TempDirTestCase):
    def test_both_phases_write_the_published_layout_only(self):
        import torch
        out = os.path.join(self.tmp, "m.pth")
        subprocess.run([sys.executable, os.path.join(TRAINING, "train_demo.py"), "--out", out,
                        "--steps", "2", "--tower-steps", "1", "--warmup", "1", "--batch", "1",
                        "--attr-weight", "1", "--contrast-weight", "1", "--spread-weight", "1",
                        "--max-objects", "1"], check=True, capture_output=True)
        sys.path.insert(0, os.path.join(helpers.REPO, "weights_converter"))
        from errseg_convert.layouts.errseg import ERRSeg
        import json
        cfg = json.load(open(os.path.join(helpers.REPO, "data", "demo", "errseg_shapes.config.json")))
        layout = ERRSeg()
        expected = {layout.source_name(k): tuple(s) for k, s in layout.expected(cfg).items()}
        saved = torch.load(out)["model"]
        self.assertEqual({k: tuple(v.shape) for k, v in saved.items()}, expected)
        self.assertTrue(all(torch.isfinite(v).all() for v in saved.values()))
        state = torch.load(out + ".state")
        self.assertEqual(state["step"], 2)
        self.assertEqual(sorted(state["probes"]), sorted(["os8", "os16", "os32", "os16_dense"]))


if __name__ == "__main__":
    unittest.main()
