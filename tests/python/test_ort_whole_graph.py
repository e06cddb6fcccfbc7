"""bench/ort_whole_graph.py on the tiny fixture model: the exported whole ERR-Seg graph, run by ONNX
Runtime, must match PyTorch eager (and `errseg segment`, where the build has it), so the benchmark's
ORT column cannot silently measure a wrong graph. Skips without torch, open_clip, timm or
onnxruntime."""

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import unittest

import numpy as np

from helpers import FIXTURES, REPO, TINY_CONFIG, TINY_PTH

sys.path.insert(0, os.path.join(REPO, "bench"))

MISSING = [m for m in ("torch", "open_clip", "timm", "onnxruntime") if importlib.util.find_spec(m) is None]
IMAGE = os.path.join(FIXTURES, "sample_400x300.png")
BUILD = os.environ.get("ERRSEG_BUILD_DIR", os.path.join(REPO, "build"))
CLI = os.path.join(BUILD, "errseg")
TINY_MODEL = os.path.join(BUILD, "test_models", "errseg_tiny.safetensors")


@unittest.skipIf(MISSING, f"missing: {', '.join(MISSING)} (scripts/install_deps.sh)")
class OrtWholeGraphTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        import ort_whole_graph
        cls.owg = ort_whole_graph
        cls.dir = tempfile.mkdtemp(prefix="errseg_ort_whole_graph_")
        ort_whole_graph.main(["export", "--checkpoint", TINY_PTH, "--config", TINY_CONFIG, "--image", IMAGE,
                              "--classes", "ade150", "--dir", cls.dir, "--threads", "2"])
        with open(os.path.join(cls.dir, "export.json"), encoding="utf-8") as f:
            cls.export = json.load(f)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_graph_matches_pytorch_eager(self):
        check = self.export["check_vs_eager"]
        self.assertEqual((self.export["T"], self.export["K"]), (150, 8))
        self.assertTrue(check["selected_equal"], check)
        self.assertEqual(check["K"], 8)
        self.assertLess(check["max_rel_err"], 1e-4)
        self.assertGreaterEqual(check["label_agreement"], 0.999)
        out = np.load(os.path.join(self.dir, "outputs.npz"))
        self.assertEqual(out["logits"].shape, (150, 80, 80))   # crop 320 / 4
        self.assertEqual(out["labels"].shape, (300, 400))
        self.assertEqual(int((out["logits"] > -100).any(axis=(1, 2)).sum()), 8)

    def test_compare_detects_a_wrong_graph(self):
        out = np.load(os.path.join(self.dir, "outputs.npz"))
        logits, labels = out["logits"].copy(), out["labels"]
        kept = np.flatnonzero((logits > -100).any(axis=(1, 2)))
        logits[kept[0]] += 0.01 * np.abs(logits[kept]).max()
        self.assertAlmostEqual(self.owg.compare(logits, labels, out["logits"], labels)["max_rel_err"], 0.01, 5)
        logits[kept[0]] = -100
        logits[[i for i in range(150) if i not in kept][0]] = 0
        self.assertFalse(self.owg.compare(logits, labels, out["logits"], labels)["selected_equal"])

    @unittest.skipUnless(os.path.exists(CLI) and os.path.exists(TINY_MODEL),
                         f"needs {CLI} and {TINY_MODEL} (build the errseg target and run convert_test_models)")
    def test_errseg_segment_matches_the_graph(self):
        self.owg.main(["cli", "--dir", self.dir, "--errseg", CLI, "--model", TINY_MODEL, "--threads", "2"])
        with open(os.path.join(self.dir, "cli.json"), encoding="utf-8") as f:
            r = json.load(f)["ours_vs_ort"]
        self.assertTrue(r["selected_equal"], r)
        self.assertLess(r["max_rel_err"], 1e-4)
        self.assertGreaterEqual(r["label_agreement"], 0.999)


if __name__ == "__main__":
    unittest.main()
