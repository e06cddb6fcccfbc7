"""bench/scaling_study.py's arithmetic on synthetic measurements (the ctest scaling_study_quick
runs the whole study on the tiny model)."""

import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import scaling_study as study  # noqa: E402


def samples_of(rates, until, step=0.02):
    """Samples (t, process CPU, {tid: CPU}) of threads busy at constant rates (CPU s per s)."""
    out, t = [], 0.0
    while t <= until + 1e-9:
        per = {tid: r * t for tid, r in rates.items()}
        out.append((t, sum(per.values()), per))
        t += step
    return out


class Fits(unittest.TestCase):

    def test_lstsq_recovers_exact_coefficients(self):
        points = [(20, 16), (150, 32), (847, 48), (2000, 32), (847, 64)]
        rows = [[1.0, t, k, k * k] for t, k in points]
        ys = [300 + 0.02 * t + 60 * k + 0.7 * k * k for t, k in points]
        for got, want in zip(study.lstsq(rows, ys), [300, 0.02, 60, 0.7]):
            self.assertAlmostEqual(got, want, places=6)

    def test_lstsq_refuses_a_singular_design(self):
        with self.assertRaises(ValueError):
            study.lstsq([[1.0, 2.0], [1.0, 2.0]], [1.0, 2.0])

    def test_amdahl(self):
        self.assertAlmostEqual(study.amdahl(100.0, 0.1, 10), 19.0)
        self.assertAlmostEqual(study.amdahl(100.0, 0.0, 4), 25.0)


class Sampling(unittest.TestCase):

    def test_cpu_at_interpolates(self):
        s = [(0.0, 0.0, {}), (1.0, 2.0, {}), (2.0, 2.0, {})]
        self.assertAlmostEqual(study.cpu_at(s, 0.25), 0.5)
        self.assertAlmostEqual(study.cpu_at(s, 1.5), 2.0)
        self.assertAlmostEqual(study.cpu_at(s, 5.0), 2.0)

    def test_thread_split(self):
        # Main thread busy all the time, the worker 60 % of it: serial = 0.4 s per s, parallel
        # = 2 x 0.6: share 0.4 / 1.6 = 0.25.
        s = samples_of({"100": 1.0, "101": 0.6, "102": 0.01}, until=4.0)
        split = study.thread_split(s, 1.0, 3.0, threads=2)
        self.assertAlmostEqual(split["serial_ms"], 800.0, delta=1e-6)
        self.assertAlmostEqual(split["parallel_ms"], 2400.0, delta=1e-6)
        self.assertIsNone(study.thread_split(s, 1.0, 3.0, threads=1))

    def test_per_image_excludes_the_first_batch(self):
        # 4 images, batch 2: lines 1-2 at t = 5 s (CPU 6 s), lines 3-4 at t = 9 s (CPU 13 s).
        marks = [(5.0, 6.0), (5.0, 6.0), (9.0, 13.0), (9.0, 13.0)]
        rec = {"timings_ms": {"clip.trunk": 3000.0, "head.aggregator": 500.0, "total": 3600.0}}
        r = study.per_image(marks, samples_of({"1": 1.0}, 10.0), [rec] * 4, batch=2, n=4, threads=2)
        self.assertAlmostEqual(r["img_wall_ms"], 2000.0)
        self.assertAlmostEqual(r["img_cpu_ms"], 3500.0)
        self.assertAlmostEqual(r["stages_ms"]["clip.trunk"], 1500.0)  # the batch's time / 2
        self.assertAlmostEqual(r["stages_ms"]["head.aggregator"], 500.0)
        with self.assertRaises(RuntimeError):
            study.per_image(marks[:3], [], [rec] * 4, batch=2, n=4, threads=2)

    def test_stage_cpu_follows_the_timings(self):
        # One thread at 1 CPU s per s, then stages of 1 s and 0.5 s ending at t = 3 s.
        s = samples_of({"1": 1.0}, until=4.0)
        out = study.stage_cpu(3.0, {"a": 1000.0, "b": 500.0, "total": 1500.0}, s, threads=1)
        self.assertAlmostEqual(out["a"]["cpu"], 1000.0, delta=1e-6)
        self.assertAlmostEqual(out["b"]["cpu"], 500.0, delta=1e-6)


class Vocabulary(unittest.TestCase):

    def test_2000_names_deterministic_and_distinct(self):
        with tempfile.TemporaryDirectory() as d:
            a = study.make_vocabulary_2000(os.path.join(d, "a.json"))
            b = study.make_vocabulary_2000(os.path.join(d, "b.json"))
        self.assertEqual(a, b)
        self.assertEqual(len(a), 2000)
        firsts = [study.first_synonym(n).lower() for n in a]
        self.assertEqual(len(set(firsts)), 2000)
        self.assertTrue(all(n == n.strip() and n for n in a))


if __name__ == "__main__":
    unittest.main()
