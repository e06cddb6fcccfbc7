"""Hostile cases for what `errseg segment` writes (issue classes 3-5): colliding output names,
outputs that would replace inputs, symlinks planted at output names, stale outputs of an earlier
run, temporary files of dead writers. Used by run_hostile.py (build_cases)."""
import json
import os
import re
import shutil
import socket
import subprocess


def host_tag():
    """The host part of errseg's temporary file names (io/atomic_file.hpp)."""
    return re.sub("[^A-Za-z0-9-]", "", socket.gethostname())[:32] or "host"


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def build_output_cases(case, tiny, sample, files):
    """`case` is run_hostile.case; `files` the folder for generated inputs."""
    def seg(*images, extra=()):
        return ["segment", "--model", tiny, "--classes", "voc20", "--quiet", *extra, *images]

    def copy(rel, src=sample):
        path = os.path.join(files, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        shutil.copyfile(src, path)
        return path

    cases = []
    add = cases.append

    # ---- class 3: output names that collide, outputs that would replace inputs ----
    add(case("collide_same_name_two_folders", seg(copy("c1/x.png"), copy("c2/x.png")), "would both write 'x_labels.png'"))
    add(case("collide_png_and_jpg", seg(copy("c3/a.png"), copy("c3/a.jpg")), "would both write 'a_labels.png'"))
    add(case("collide_same_file_twice", seg(sample, sample), "are the same image given twice"))
    link = os.path.join(files, "c4_link.png")
    if not os.path.lexists(link):
        os.symlink(sample, link)
    add(case("collide_same_file_via_symlink", seg(sample, link), "are the same image given twice"))
    add(case("collide_record_with_rle_output", seg(copy("c5/x.png"), copy("c5/x_sem_seg.png")),
             "would both write 'x_sem_seg.json'"))
    add(case("collide_directory_twice", seg(os.path.dirname(copy("c6/x.png")), os.path.join(files, "c6/")),
             "are the same image given twice"))

    def inputs_in_out(out):  # y.png and y_labels.png, both inputs, in the output folder
        shutil.copyfile(sample, os.path.join(out, "y.png"))
        shutil.copyfile(sample, os.path.join(out, "y_labels.png"))
    add(case("output_would_replace_input_image", seg("@OUT@/y.png", "@OUT@/y_labels.png"),
             "y_labels.png' would replace the input file", setup=inputs_in_out))
    add(case("output_folder_is_input_folder", seg("@OUT@"), "would replace the input file", setup=inputs_in_out))
    model_copy = copy("model_copy.safetensors", tiny)

    def hardlink_model(out):  # an output name that is a hard link to the model file
        os.link(model_copy, os.path.join(out, "sample_400x300_overlay.png"))
    add(case("output_is_hardlink_to_model",
             ["segment", "--model", model_copy, "--classes", "voc20", "--quiet", sample],
             "would replace the input file '" + model_copy + "'", setup=hardlink_model))
    add(case("manifest_is_an_input", seg(sample, extra=["--manifest", sample]), "is the input file"))

    # ---- class 4: symlinks at output names are replaced, never written through ----
    victim = os.path.join(files, "victim.txt")
    created = os.path.join(files, "created_through_link.txt")

    def plant_links(out):
        with open(victim, "w") as f:
            f.write("precious")
        if os.path.exists(created):
            os.remove(created)
        os.symlink(victim, os.path.join(out, "sample_400x300_labels.png"))
        os.symlink(created, os.path.join(out, "sample_400x300.json"))

    def links_replaced(out):
        labels = os.path.join(out, "sample_400x300_labels.png")
        return (open(victim).read() == "precious" and not os.path.exists(created)
                and not os.path.islink(labels) and open(labels, "rb").read(4) == b"\x89PNG")
    add(case("symlink_at_output_names_replaced", seg(sample), "", rc=0, setup=plant_links, extra_check=links_replaced))

    # ---- class 5: a re-run replaces the set; stale temps of dead writers go ----
    tag = host_tag()
    dead = f".sample_400x300_labels.png.errseg-tmp.{tag}.{dead_pid()}.0123456789ab"
    alive = f".sample_400x300_overlay.png.errseg-tmp.{tag}.{os.getpid()}.0123456789ab"

    def old_run(out):
        for name, body in [("sample_400x300_logits.npy", b"old"), ("sample_400x300_sem_seg.json", b"[]"),
                           ("sample_400x300_palette.png", b"old"), (dead, b"partial"), (alive, b"in progress")]:
            with open(os.path.join(out, name), "wb") as f:
                f.write(body)
        with open(os.path.join(out, "sample_400x300.json"), "w") as f:
            json.dump({"outputs": [{"file": "sample_400x300_logits.npy", "bytes": 3}]}, f)

    def replaced_as_unit(out):
        names = set(os.listdir(out))
        rec = json.load(open(os.path.join(out, "sample_400x300.json")))
        listed = [o["file"] for o in rec["outputs"]]
        return (names == {"sample_400x300.json", "sample_400x300_labels.png", "sample_400x300_overlay.png", alive}
                and listed == ["sample_400x300_labels.png", "sample_400x300_overlay.png"])
    add(case("rerun_replaces_output_set", seg(sample), "", rc=0, setup=old_run, extra_check=replaced_as_unit))
    return cases
