"""training/train_demo.py's attribute loss (--attr-weight), object stage (--object-steps) and
two-phase schedule (--tower-steps): the per-pixel shape/appearance targets, the loss value of
known probes, the object crops' labels, that stage 0 trains the image tower only, and that a short
run through all stages writes a checkpoint with exactly the published layout's tensors (the
training-only probes and heads never go into the checkpoint)."""

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
                        "--max-objects", "1", "--object-steps", "1", "--object-batch", "2",
                        "--object-size", "64", "--factor-weight", "1"], check=True, capture_output=True)
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
        self.assertEqual([tuple(t.shape) for t in state["word_probes"]], [(4, 32), (4,), (9, 32), (9,)])
        self.assertTrue(any(t.abs().sum() > 0 for t in state["word_probes"]))      # they trained


@needs_torch
class TextFactorLoss(unittest.TestCase):
    def test_word_targets_and_the_loss_of_uniform_and_of_perfect_probes(self):
        import torch
        import scenes
        import train_demo
        rows, shape_words, look_words = train_demo.text_word_targets()
        self.assertEqual(len(rows), len(scenes.TRAIN_NAMES) - len(scenes.BACKGROUNDS))
        red_square = rows.tolist().index(scenes.TRAIN_NAMES.index("red square"))
        self.assertEqual((int(shape_words[red_square]), int(look_words[red_square])), (1, 0))
        cfg = {"clip": {"embed_dim": 32}}
        text = torch.zeros(len(scenes.TRAIN_NAMES), 32)
        text[rows, shape_words] = 1.0                      # dims 0-3: shape word, 4-12: colour/texture
        text[rows, 4 + look_words] = 1.0
        probes = train_demo.text_factor_probes(cfg)
        loss = train_demo.text_factor_loss(text, probes)
        self.assertAlmostEqual(float(loss), (math.log(4) + math.log(9)) / 2, places=5)
        with torch.no_grad():
            probes[0][:, :4] = torch.eye(4) * 30
            probes[2][:, 4:13] = torch.eye(9) * 30
        self.assertLess(float(train_demo.text_factor_loss(text, probes)), 1e-6)


class ObjectCrops(unittest.TestCase):
    def test_crops_are_seeded_and_use_training_names_only(self):
        import numpy as np
        import object_crops
        import scenes
        a, b = object_crops.make_object_crop(7, 64), object_crops.make_object_crop(7, 64)
        self.assertTrue(np.array_equal(a[0], b[0]))
        self.assertEqual(a[1:], b[1:])
        self.assertEqual(a[0].shape, (64, 64, 3))
        images, shapes, looks, backgrounds = object_crops.make_batch(range(300), 48)
        names = {f"{object_crops.APPEARANCES[l]} {scenes.SHAPES[s]}" for s, l in zip(shapes, looks)}
        self.assertFalse(names & set(scenes.HELD_OUT))
        self.assertTrue(names <= set(scenes.TRAIN_NAMES))
        self.assertGreater(len(names), 20)                    # most of the 27 seen object names
        self.assertEqual(set(backgrounds.tolist()), set(range(len(scenes.BACKGROUNDS))))

    def test_solid_crop_shows_its_colour(self):
        import numpy as np
        import object_crops
        import scenes
        for seed in range(40):
            image, _, look, _ = object_crops.make_object_crop(seed, 64)
            colour = object_crops.APPEARANCES[look]
            if colour in scenes.COLOURS:
                # the object covers a good part of the crop: some pixels are near its colour
                near = np.abs(image.astype(int) - scenes.COLOURS[colour]).max(-1) < 45
                self.assertGreater(near.mean(), 0.05, (seed, colour))


@needs_torch
class ObjectStage(TempDirTestCase):
    def test_stage0_trains_the_image_tower_only_and_is_not_rerun_on_resume(self):
        import json
        import torch
        import train_demo
        out = os.path.join(self.tmp, "m.pth")
        cmd = [sys.executable, os.path.join(TRAINING, "train_demo.py"), "--out", out, "--steps", "0",
               "--object-steps", "2", "--object-batch", "2", "--object-size", "64"]
        log = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        self.assertIn("object step 1 ", log)
        with open(os.path.join(helpers.REPO, "data", "demo", "errseg_shapes.config.json")) as f:
            cfg = json.load(f)
        initial = train_demo.initial_parameters(cfg, torch.Generator().manual_seed(0))
        state = torch.load(out + ".state")
        self.assertEqual(state["step"], 0)
        self.assertEqual(sorted(state["model"]), sorted(initial))          # no stage-0 heads
        for name, value in state["model"].items():         # text tower and head untouched
            if not name.startswith("sem_seg_head.clip_model.visual."):
                self.assertTrue(torch.equal(value, initial[name].detach()), name)
        self.assertTrue(any(not torch.equal(v, initial[k].detach()) for k, v in state["model"].items()
                            if k.startswith("sem_seg_head.clip_model.visual.trunk.stem")))
        log = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        self.assertNotIn("object step", log)                              # resumed: stage 0 done


if __name__ == "__main__":
    unittest.main()
