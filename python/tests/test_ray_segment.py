"""errseg.ray_segment on a local Ray (2 CPUs) over a few dozen images: every image written once,
byte-identical to the CLI, failures reported; a re-run after an interruption redoes exactly the
missing images."""
import json
import os
import subprocess

import pytest

from conftest import IMAGES, random_images

ray = pytest.importorskip("ray")
import errseg.ray_segment as rs  # noqa: E402

COUNT = 34


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def manifest(out):
    with open(os.path.join(out, rs.MANIFEST), encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_ray_run_matches_cli_and_resumes(local_ray, cli, model_path, tmp_path):
    folder = tmp_path / "in"
    good = random_images(folder, COUNT)
    for image in IMAGES:  # two larger photos-sized images too
        good.append(str(folder / os.path.basename(image)))
        with open(image, "rb") as src, open(good[-1], "wb") as dst:
            dst.write(src.read())
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    images = rs.list_images(str(folder))
    assert len(images) == len(good) + 1

    cli_out = tmp_path / "cli"
    rc = subprocess.run([cli, "segment", "--model", model_path, "--classes", "ade150", "--quiet", "-o", cli_out,
                         *images], capture_output=True).returncode
    assert rc == 1  # the broken image

    out = str(tmp_path / "ray")
    summary = rs.segment_images(str(folder), model_path, "ade150", out, actors=2, batch=2)
    assert summary == {"total": len(images), "skipped": 0, "written": len(good), "failed": 1}

    def check_outputs():
        entries = manifest(out)
        assert sorted(e["image"] for e in entries) == sorted(images)  # each image exactly once
        for e in entries:
            if e["image"].endswith("broken.png"):
                assert "broken_labels.png" not in os.listdir(out) and e["error"] and not e["labels"]
                continue
            assert not e["error"] and e["labels"] == rs.labels_path(out, e["image"])
            name = os.path.basename(e["labels"])
            with open(e["labels"], "rb") as ours, open(cli_out / name, "rb") as theirs:
                assert ours.read() == theirs.read(), name
            assert abs(sum(c["pixel_fraction"] for c in e["classes_present"]) - 1) < 1e-9
        written = [n for n in os.listdir(out) if n.endswith("_labels.png")]
        assert len(written) == len(good) and not [n for n in os.listdir(out) if "tmp" in n]
        assert not os.path.exists(os.path.join(out, rs.PARTS))  # merged into the manifest

    check_outputs()
    mtimes = {p: os.stat(rs.labels_path(out, p)).st_mtime_ns for p in good}

    # Simulated interruption: three label PNGs lost, two images' manifest lines lost (their PNGs
    # were written), the manifest's last line cut in half, and one image recorded only in the
    # part file of an actor that was killed before the run ended (done: not redone).
    lost_png = good[3:6]
    for p in lost_png:
        os.remove(rs.labels_path(out, p))
    entries = manifest(out)
    lost_line = [e["image"] for e in entries if e["image"] in good[10:12]]
    kept = [e for e in entries if e["image"] not in lost_line]
    last = json.dumps(kept[-1])
    cut = kept[-1]["image"]
    in_part = [e for e in kept[:-1] if e["image"] == good[20]]
    os.makedirs(os.path.join(out, rs.PARTS))
    with open(os.path.join(out, rs.PARTS, "killed-actor.jsonl"), "w", encoding="utf-8") as f:
        f.write(json.dumps(in_part[0]) + "\n" + '{"image": "cut sh')
    with open(os.path.join(out, rs.MANIFEST), "w", encoding="utf-8") as f:
        f.writelines(json.dumps(e) + "\n" for e in kept[:-1] if e["image"] != good[20])
        f.write(last[: len(last) // 2])
    redo = set(lost_png) | set(lost_line) | ({cut} if not cut.endswith("broken.png") else set())

    summary = rs.segment_images(str(folder), model_path, "ade150", out, actors=2)
    assert good[20] not in redo and summary["written"] == len(redo) and summary["failed"] == 1
    assert summary["skipped"] == len(good) - len(redo)
    check_outputs()
    for p in good:
        changed = os.stat(rs.labels_path(out, p)).st_mtime_ns != mtimes[p]
        assert changed == (p in redo and p not in lost_png) or p in lost_png, p

    # Nothing missing: nothing done (the broken image is tried again and fails again).
    assert rs.segment_images(str(folder), model_path, "ade150", out, actors=2)["written"] == 0


def test_duplicate_output_names_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(errseg_error()):
        rs.segment_images([str(tmp_path / "a" / "x.png"), str(tmp_path / "b" / "x.png")], "m", "cat", str(tmp_path))


def errseg_error():
    import errseg
    return errseg.Error
