// errseg segment's input list (directories, @lists), --shard and the output-name checks
// (examples/errseg/segment_inputs.hpp).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "../examples/errseg/segment_inputs.hpp"

using namespace errseg;
using namespace errseg::cli;
namespace fs = std::filesystem;

namespace {

std::string fresh_dir(const std::string& name) {
    const std::string d = std::string(ERRSEG_BUILD_DIR) + "/test_segment_inputs/" + name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

void put(const std::string& p, const std::string& text = "x") { std::ofstream(p, std::ios::binary) << text; }

const std::vector<std::string> kSuffixes = {"_labels.png", "_overlay.png", "_sem_seg.json", ".json"};

}  // namespace

TEST_CASE("expand_inputs: directories sorted and flat, @lists, plain paths kept") {
    const std::string d = fresh_dir("expand");
    fs::create_directories(d + "/imgs/sub");
    for (const char* n : {"b.png", "a.JPG", "c.jpeg", "notes.txt", ".hidden.png", "sub/deep.png", "z.bmp"})
        put(d + "/imgs/" + n);
    fs::create_directories(d + "/imgs/dir.png");  // a directory with an image extension is not an image
    const std::vector<std::string> want_dir = {d + "/imgs/a.JPG", d + "/imgs/b.png", d + "/imgs/c.jpeg", d + "/imgs/z.bmp"};
    CHECK(expand_inputs({d + "/imgs"}) == want_dir);
    CHECK(expand_inputs({d + "/imgs/"}) == want_dir);
    put(d + "/list.txt", "# comment\n" + d + "/imgs/b.png\r\n\n" + d + "/imgs\nmissing.png\n");
    std::vector<std::string> want = {"first.png", d + "/imgs/b.png"};
    want.insert(want.end(), want_dir.begin(), want_dir.end());
    want.push_back("missing.png");  // reported later, as that image's error
    want.push_back(d + "/x.png");
    CHECK(expand_inputs({"first.png", "@" + d + "/list.txt", d + "/x.png"}) == want);
    CHECK_THROWS_WITH_AS(expand_inputs({"@" + d + "/nope.txt"}), doctest::Contains("cannot read list file"), Error);
    CHECK_THROWS_WITH_AS(expand_inputs({"@" + d + "/imgs"}), doctest::Contains("is not a regular file"), Error);
}

TEST_CASE("--shard: parsing, and a split by name that covers each image exactly once") {
    CHECK(parse_shard("0/1").count == 1);
    const Shard s = parse_shard("2/5");
    CHECK((s.index == 2 && s.count == 5));
    for (const char* bad : {"5/5", "1", "/3", "1/", "-1/3", "a/3", "1/0", "1/3/4", "99999999999/3"})
        CHECK_THROWS_WITH_AS(parse_shard(bad), doctest::Contains("--shard must be I/N"), Error);
    // FNV-1a 64 reference values (the published test vectors).
    CHECK(fnv1a64("") == 0xcbf29ce484222325ull);
    CHECK(fnv1a64("a") == 0xaf63dc4c8601ec8cull);
    CHECK(fnv1a64("foobar") == 0x85944171f73967e8ull);
    // 1000 names over 7 shards: each in exactly one, none empty, by name only.
    std::vector<int> sizes(7, 0);
    for (int i = 0; i < 1000; ++i) {
        const std::string name = "ADE_val_" + std::to_string(i);
        int hits = 0;
        for (uint64_t k = 0; k < 7; ++k) hits += in_shard(name, Shard{k, 7});
        CHECK(hits == 1);
        for (uint64_t k = 0; k < 7; ++k)
            if (in_shard(name, Shard{k, 7})) ++sizes[k];
        CHECK(in_shard(output_name("/mnt/a/" + name + ".jpg"), Shard{fnv1a64(name) % 7, 7}));
    }
    for (int n : sizes) CHECK(n > 80);  // 1000 / 7 = 143 on average
}

TEST_CASE("check_output_names: collisions and inputs refused before writing") {
    const std::string d = fresh_dir("names");
    fs::create_directories(d + "/a");
    fs::create_directories(d + "/b");
    fs::create_directories(d + "/out");
    for (const char* n : {"a/x.png", "b/x.png", "a/x.jpg", "a/y.png", "a/y_sem_seg.png"}) put(d + "/" + n);
    const std::string out = d + "/out";
    CHECK_NOTHROW(check_output_names({d + "/a/x.png", d + "/a/y.png"}, kSuffixes, out, {}));
    CHECK_THROWS_WITH_AS(check_output_names({d + "/a/x.png", d + "/b/x.png"}, kSuffixes, out, {}),
                         doctest::Contains("would both write 'x_labels.png'"), Error);
    CHECK_THROWS_WITH_AS(check_output_names({d + "/a/x.png", d + "/a/x.jpg"}, kSuffixes, out, {}),
                         doctest::Contains("would both write 'x_labels.png'"), Error);
    CHECK_THROWS_WITH_AS(check_output_names({d + "/a/y.png", d + "/a/y_sem_seg.png"}, kSuffixes, out, {}),
                         doctest::Contains("would both write 'y_sem_seg.json'"), Error);
    CHECK_THROWS_WITH_AS(check_output_names({d + "/a/x.png", d + "/a/./x.png"}, kSuffixes, out, {}),
                         doctest::Contains("are the same image given twice"), Error);
    CHECK_THROWS_WITH_AS(check_output_names({d + "/gone.png", d + "/gone.png"}, kSuffixes, out, {}),
                         doctest::Contains("is given twice"), Error);
    fs::create_symlink(d + "/a/x.png", d + "/link.png");
    CHECK_THROWS_WITH_AS(check_output_names({d + "/a/x.png", d + "/link.png"}, kSuffixes, out, {}),
                         doctest::Contains("are the same image given twice"), Error);

    // An output name in OUTDIR that is an input: the image itself, a hard link, a protected file.
    put(out + "/y.png");
    put(out + "/y_labels.png");
    CHECK_THROWS_WITH_AS(check_output_names({out + "/y.png", out + "/y_labels.png"}, kSuffixes, out, {}),
                         doctest::Contains(("the output '" + out + "/y_labels.png' would replace the input file").c_str()), Error);
    fs::remove(out + "/y_labels.png");
    put(d + "/model.safetensors");
    fs::create_hard_link(d + "/model.safetensors", out + "/y_overlay.png");
    CHECK_THROWS_WITH_AS(check_output_names({out + "/y.png"}, kSuffixes, out, {d + "/model.safetensors"}),
                         doctest::Contains(("would replace the input file '" + d + "/model.safetensors'").c_str()), Error);
    fs::remove(out + "/y_overlay.png");
    // A symlink at an output name to an input is fine: the link is replaced, not its target.
    fs::create_symlink(d + "/model.safetensors", out + "/y_overlay.png");
    CHECK_NOTHROW(check_output_names({out + "/y.png"}, kSuffixes, out, {d + "/model.safetensors"}));
    // The manifest must not be an input.
    CHECK_THROWS_WITH_AS(check_output_names({out + "/y.png"}, kSuffixes, out, {}, {out + "/y.png"}),
                         doctest::Contains("is the input file"), Error);
}
