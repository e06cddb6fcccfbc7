#!/usr/bin/env python3
"""Runs bench/pytorch/errseg_torch.py on the upstream ERR-Seg fixtures and prints the agreement.

    /usr/bin/python3 bench/pytorch/check_fixtures.py [--fixtures DIR] [--threads N] [--strict]

For each fixture npz (shared/fixtures/README.md): max abs / max rel error of the logits of the
selected classes, whether the −100 rows match, `selected` equality, label agreement (% of
pixels) and, where the npz has them, max abs error of the probabilities.  With --strict the exit
status is 1 unless every fixture meets the fixture README's bar (selected equal, logits within
1e-4 relative or 1e-5 absolute, ≥ 99.9 % labels, probabilities within 1e-4).
"""

import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

FIXTURES = [
    # (npz, image)
    ("seed0_sample400_vocab12.npz", "sample_400x300.png"),
    ("seed0_sample257_ade150.npz", "sample_257x385.png"),
]


def default_fixture_dir():
    repo = os.path.dirname(os.path.dirname(HERE))
    for cand in (os.path.join(os.path.dirname(repo), "shared", "fixtures"),
                 os.path.join(repo, "tests", "data", "fixtures")):
        if os.path.isfile(os.path.join(cand, "errseg_tiny_seed0.pth")):
            return cand
    return os.path.join(os.path.dirname(repo), "shared", "fixtures")


def compare(model, npz_path, image_path):
    import torch
    from errseg_torch import read_image

    ref = np.load(npz_path)
    classes = [str(c) for c in ref["classes"]]
    image = read_image(image_path)
    with torch.inference_mode():
        out = model.segment(image, classes)
    logits = out["logits"].numpy()
    selected = out["selected"].numpy()
    labels = out["labels"].numpy()

    ref_logits, ref_sel, ref_labels = ref["logits"], ref["selected"], ref["labels"]
    res = {"name": os.path.basename(npz_path), "T": len(classes), "K": int(len(ref_sel))}
    res["selected_equal"] = bool(np.array_equal(np.sort(selected), np.sort(ref_sel)))
    res["selected"] = selected.tolist()
    res["ref_selected"] = ref_sel.tolist()
    both = np.intersect1d(selected, ref_sel)
    a, b = logits[both].astype(np.float64), ref_logits[both].astype(np.float64)
    diff = np.abs(a - b)
    res["logits_max_abs"] = float(diff.max())
    res["logits_max_rel"] = float((diff / np.maximum(np.abs(b), 1e-30)).max())
    # relative to the scale of the selected logits (robust to values near zero)
    res["logits_max_abs_over_max"] = float(diff.max() / np.abs(b).max())
    res["logits_ref_absmax"] = float(np.abs(b).max())
    # rows CRM dropped must be exactly -100 on both sides
    dropped = np.setdiff1d(np.arange(len(classes)), np.union1d(selected, ref_sel))
    res["dropped_rows_equal"] = bool(np.array_equal(logits[dropped], ref_logits[dropped]))
    res["labels_agreement_pct"] = float((labels == ref_labels).mean() * 100.0)
    res["labels_differing_pixels"] = int((labels != ref_labels).sum())
    if "probs" in ref.files:
        res["probs_max_abs"] = float(np.abs(out["probs"].numpy().astype(np.float64) - ref["probs"]).max())
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=default_fixture_dir(), help="folder with the fixture files")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--strict", action="store_true", help="exit 1 unless the README's bar is met")
    args = ap.parse_args()

    import torch
    from errseg_torch import ERRSeg

    torch.set_num_threads(args.threads)
    d = args.fixtures
    model = ERRSeg.from_files(os.path.join(d, "errseg_tiny_seed0.pth"), os.path.join(d, "errseg_tiny.config.json"))

    ok = True
    for npz, img in FIXTURES:
        r = compare(model, os.path.join(d, npz), os.path.join(d, img))
        print(f"== {r['name']}  (T={r['T']}, K={r['K']})")
        print(f"   selected equal      : {r['selected_equal']}  ours {r['selected']}  upstream {r['ref_selected']}")
        print(f"   logits max abs      : {r['logits_max_abs']:.3e}   (|ref| max {r['logits_ref_absmax']:.3f};"
              f" abs/max {r['logits_max_abs_over_max']:.3e})")
        print(f"   logits max rel      : {r['logits_max_rel']:.3e}")
        print(f"   dropped rows = -100 : {r['dropped_rows_equal']}")
        print(f"   label agreement     : {r['labels_agreement_pct']:.4f} %  ({r['labels_differing_pixels']} pixels differ)")
        if "probs_max_abs" in r:
            print(f"   probs max abs       : {r['probs_max_abs']:.3e}")
        good = (r["selected_equal"] and r["dropped_rows_equal"] and r["labels_agreement_pct"] >= 99.9
                and (r["logits_max_rel"] <= 1e-4 or r["logits_max_abs"] <= 1e-5)
                and r.get("probs_max_abs", 0.0) <= 1e-4)
        ok = ok and good
    print("PASS" if ok else "FAIL")
    return 0 if (ok or not args.strict) else 1


if __name__ == "__main__":
    sys.exit(main())
