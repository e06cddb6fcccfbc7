// Output files: atomic writes through safe temporary files, stale-temp cleanup, an output set
// published as a unit with its record last, COCO RLE, palette label PNGs.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errseg/io/atomic_file.hpp"
#include "errseg/io/coco_rle.hpp"
#include "errseg/io/label_map.hpp"
#include "errseg/io/output_set.hpp"

using namespace errseg;
namespace fs = std::filesystem;

namespace {

std::string fresh_dir(const std::string& name) {
    const std::string d = std::string(ERRSEG_BUILD_DIR) + "/test_output_files/" + name;
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

std::string slurp(const std::string& p) {
    std::ifstream f(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

void put(const std::string& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

std::set<std::string> listing(const std::string& d) {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(d)) out.insert(e.path().filename().string());
    return out;
}

// A pid that is certainly not running: a child that has exited and been reaped.
long dead_pid() {
    const pid_t p = ::fork();
    if (p == 0) ::_exit(0);
    int status = 0;
    ::waitpid(p, &status, 0);
    return long(p);
}

}  // namespace

TEST_CASE("AtomicFileWriter: unpredictable exclusive temp names in the destination folder") {
    const std::string d = fresh_dir("temps");
    AtomicFileWriter a(d + "/x.bin"), b(d + "/x.bin");
    CHECK(a.temp_path() != b.temp_path());
    const std::string name = fs::path(a.temp_path()).filename().string();
    std::string host;
    long pid = 0;
    REQUIRE(parse_temp_name(name, host, pid));
    CHECK(pid == long(::getpid()));
    CHECK(name.rfind(".x.bin.errseg-tmp.", 0) == 0);
    CHECK(fs::path(a.temp_path()).parent_path() == fs::path(d));
    a.write("ab", 2);
    CHECK(a.bytes_written() == 2);
    a.commit();
    CHECK(slurp(d + "/x.bin") == "ab");
    // b is destroyed uncommitted: its temp file goes, nothing else is left.
}

TEST_CASE("AtomicFileWriter: a symlink at the final name is replaced, its target never written") {
    const std::string d = fresh_dir("symlink");
    put(d + "/victim", "precious");
    fs::create_symlink(d + "/victim", d + "/out.png");
    fs::create_symlink(d + "/would_be_created", d + "/dangling.png");
    write_file_atomic(d + "/out.png", "new", 3);
    write_file_atomic(d + "/dangling.png", "new", 3);
    CHECK(slurp(d + "/victim") == "precious");
    CHECK_FALSE(fs::exists(d + "/would_be_created"));
    CHECK_FALSE(fs::is_symlink(d + "/out.png"));
    CHECK(slurp(d + "/out.png") == "new");
    CHECK(listing(d) == std::set<std::string>{"victim", "out.png", "dangling.png"});
}

TEST_CASE("AtomicFileWriter: errors name the file; nothing is left behind") {
    const std::string d = fresh_dir("errors");
    CHECK_THROWS_WITH_AS(write_file_atomic(d + "/missing/x.bin", "a", 1), doctest::Contains((d + "/missing/x.bin").c_str()), Error);
    fs::create_directories(d + "/taken/sub");
    CHECK_THROWS_WITH_AS(write_file_atomic(d + "/taken", "a", 1), doctest::Contains("cannot rename"), Error);
    CHECK(listing(d) == std::set<std::string>{"taken"});
}

TEST_CASE("remove_stale_temps: dead writers of this host, old ones of other hosts") {
    const std::string d = fresh_dir("stale");
    const std::string me = detail::temp_host_tag();
    const std::string dead = ".a.png.errseg-tmp." + me + "." + std::to_string(dead_pid()) + ".0123456789ab";
    const std::string alive = ".b.png.errseg-tmp." + me + "." + std::to_string(::getppid()) + ".0123456789ab";
    const std::string mine = ".c.png.errseg-tmp." + me + "." + std::to_string(::getpid()) + ".0123456789ab";
    const std::string foreign_new = ".d.png.errseg-tmp.otherhost.1.0123456789ab";
    const std::string foreign_old = ".e.png.errseg-tmp.otherhost.1.0123456789ab";
    const std::string unrelated = ".f.png.tmp.1";
    for (const auto& n : {dead, alive, mine, foreign_new, foreign_old, unrelated}) put(d + "/" + n, "x");
    fs::last_write_time(d + "/" + foreign_old, fs::file_time_type::clock::now() - std::chrono::hours(48));
    const std::vector<std::string> removed = remove_stale_temps(d);
    CHECK(std::set<std::string>(removed.begin(), removed.end()) == std::set<std::string>{dead, foreign_old});
    CHECK(listing(d) == std::set<std::string>{alive, mine, foreign_new, unrelated});
    std::string host;
    long pid = 0;
    CHECK_FALSE(parse_temp_name("x.png.errseg-tmp.h.12.ab", host, pid));  // not hidden: not ours
    CHECK_FALSE(parse_temp_name(".x.png.errseg-tmp.h.12x.ab", host, pid));
    CHECK_FALSE(parse_temp_name(".x.png.errseg-tmp.h.12", host, pid));
}

TEST_CASE("OutputSet: publish replaces the set as a unit, record last, stale family files removed") {
    const std::string d = fresh_dir("set");
    const std::vector<std::string> family = {"_a.png", "_b.npy", "_c.json"};
    put(d + "/img_b.npy", "old logits");  // an earlier run's output this run does not write
    put(d + "/other_b.npy", "another image's");
    OutputSet set(d, "img");
    set.stage("_a.png", std::string("AAAA"));
    set.stage_with("_c.json", [](AtomicFileWriter& w) { w.write("[]", 2); });
    CHECK_FALSE(fs::exists(d + "/img_a.png"));  // staged files are invisible until published
    json::Value rec = json::Value::object();
    rec.set("image", "img.png");
    const json::Value written = set.publish(rec, family, ".json");
    CHECK(listing(d) == std::set<std::string>{"img_a.png", "img_c.json", "img.json", "other_b.npy"});
    const json::Value on_disk = json::parse(slurp(d + "/img.json"));
    CHECK(on_disk == written);
    REQUIRE(on_disk["outputs"].size() == 2);
    CHECK(on_disk["outputs"][0]["file"].as_string() == "img_a.png");
    CHECK(on_disk["outputs"][0]["bytes"].as_int() == 4);
    CHECK(on_disk["image"].as_string() == "img.png");

    CHECK_FALSE(OutputSet::read_complete_record(d, "img", ".json", {"_a.png", "_c.json"}).is_null());
    CHECK(OutputSet::read_complete_record(d, "img", ".json", {"_b.npy"}).is_null());  // not in the set
    CHECK(OutputSet::read_complete_record(d, "nope", ".json", {}).is_null());
    put(d + "/img_a.png", "AAA");  // size differs from the record
    CHECK(OutputSet::read_complete_record(d, "img", ".json", {}).is_null());
    put(d + "/img_a.png", "AAAA");
    fs::remove(d + "/img_c.json");
    CHECK(OutputSet::read_complete_record(d, "img", ".json", {}).is_null());
    put(d + "/img.json", "{\"outputs\": [{\"file\": \"../escape\", \"bytes\": 1}]}");
    CHECK(OutputSet::read_complete_record(d, "img", ".json", {}).is_null());
    put(d + "/img.json", "not json");
    CHECK(OutputSet::read_complete_record(d, "img", ".json", {}).is_null());
}

TEST_CASE("OutputSet: a failure before publishing keeps the old set; a directory at a name is refused first") {
    const std::string d = fresh_dir("set_fail");
    const std::vector<std::string> family = {"_a.png", "_b.npy"};
    {
        OutputSet set(d, "img");
        set.stage("_a.png", std::string("old"));
        set.publish(json::Value::object(), family, ".json");
    }
    {
        OutputSet set(d, "img");
        set.stage("_a.png", std::string("new"));
        // Destroyed unpublished (an encoding error, an exception): temps removed, old set intact.
    }
    CHECK(listing(d) == std::set<std::string>{"img_a.png", "img.json"});
    CHECK(slurp(d + "/img_a.png") == "old");
    fs::create_directories(d + "/img_b.npy/keep");
    OutputSet set(d, "img");
    set.stage("_a.png", std::string("new"));
    CHECK_THROWS_WITH_AS(set.publish(json::Value::object(), family, ".json"),
                         doctest::Contains("img_b.npy': a directory has that name"), Error);
    CHECK(slurp(d + "/img_a.png") == "old");
    CHECK_FALSE(OutputSet::read_complete_record(d, "img", ".json", {"_a.png"}).is_null());
}

TEST_CASE("COCO RLE: runs down columns, pycocotools' compressed string") {
    // 3 x 4 label map; class 1 at (row 1, col 2) only: column-major position 2 * 3 + 1 = 7.
    const int32_t l[12] = {0, 0, 0, 0,  //
                           0, 0, 1, 0,  //
                           0, 0, 0, 0};
    const auto runs = coco_rle_per_class(l, 3, 4);
    REQUIRE(runs.size() == 2);
    CHECK(runs.at(1) == std::vector<uint32_t>{7, 1, 4});
    CHECK(runs.at(0) == std::vector<uint32_t>{0, 7, 1, 4});  // starts with an empty 0-run
    CHECK(rle_counts_string(runs.at(1)) == "714");          // pycocotools.mask.encode gives b'714'
    // Multi-group values and a negative delta (40 - 100): pycocotools' frPyObjects gives '0T33TN'.
    CHECK(rle_counts_string({0, 100, 3, 40}) == "0T33TN");
    CHECK(rle_counts_string({}) == "");
    // Runs sum to h * w and alternate.
    const int32_t stripes[6] = {2, 2, 2, 5, 5, 5};  // 2 x 3: row 0 class 2, row 1 class 5
    const auto r2 = coco_rle_per_class(stripes, 2, 3);
    CHECK(r2.at(2) == std::vector<uint32_t>{0, 1, 1, 1, 1, 1, 1});
    CHECK(r2.at(5) == std::vector<uint32_t>{1, 1, 1, 1, 1, 1});
}

TEST_CASE("palette label PNG: indices kept, colours in PLTE") {
    const int w = 5, h = 3;
    std::vector<int32_t> l(size_t(w * h));
    for (size_t i = 0; i < l.size(); ++i) l[i] = int32_t(i % 4);
    const std::vector<std::array<uint8_t, 3>> colours = {{{10, 20, 30}}, {{40, 50, 60}}, {{70, 80, 90}}, {{1, 2, 3}}};
    const std::vector<uint8_t> png = encode_palette_label_png(l.data(), w, h, colours);
    CHECK(png[25] == 3);                                // IHDR colour type: palette
    CHECK(std::memcmp(png.data() + 37, "PLTE", 4) == 0);  // right after IHDR
    CHECK(bytes::be32(png.data() + 33) == 12);
    // stb decodes a palette PNG to its colours: each pixel must show its class's colour.
    int w2 = 0, h2 = 0, c2 = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(png.data(), int(png.size()), &w2, &h2, &c2, 3),
                                                 stbi_image_free);
    REQUIRE(px);
    REQUIRE((w2 == w && h2 == h));
    for (size_t i = 0; i < l.size(); ++i)
        for (int c = 0; c < 3; ++c) CHECK(px.get()[3 * i + size_t(c)] == colours[size_t(l[i])][size_t(c)]);
    CHECK_THROWS_WITH_AS(encode_palette_label_png(l.data(), w, h, std::vector<std::array<uint8_t, 3>>(257)),
                         doctest::Contains("1 to 256 classes, got 257"), Error);
    CHECK_THROWS_WITH_AS(encode_label_png(l.data(), w, h, 70000), doctest::Contains("at most 65536 classes"), Error);
}
