// The published evaluation protocol (per-vocabulary K, dataset layouts), vocabularies with
// their identity, the content fingerprint, and class-embeddings files: round trip, and refusal
// of a file made for another vocabulary or another model, or holding NaN/Inf.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <unistd.h>

#include "error_of.hpp"
#include "errseg/errseg.hpp"

using namespace errseg;

namespace {
const std::string kModel = std::string(ERRSEG_BUILD_DIR) + "/test_models/errseg_tiny.safetensors";

std::string temp_path(const std::string& name) {
    const auto dir = std::filesystem::path(ERRSEG_BUILD_DIR) / "io_test_tmp";
    std::filesystem::create_directories(dir);
    return (dir / (name + "_" + std::to_string(::getpid()))).string();
}

// A stand-in for the CLI's compiled-in lists: two "built-in" vocabularies.
std::string builtin(const std::string& name) {
    if (name == "pc59") return R"(["aeroplane", "bag", "bed"])";
    if (name == "voc20b") return R"(["aeroplane", "bicycle", "bag"])";
    return "";
}

}  // namespace

TEST_CASE("published K per vocabulary (ERR-Seg eval.sh)") {
    CHECK(eval::published_top_k("ade150") == 32);
    CHECK(eval::published_top_k("ade847") == 48);
    CHECK(eval::published_top_k("pc59") == 24);
    CHECK(eval::published_top_k("pc459") == 48);
    CHECK(eval::published_top_k("voc20") == 16);
    CHECK(eval::published_top_k("voc20b") == 0);  // not in eval.sh: the model's K
    CHECK(eval::published_top_k("coco") == 0);
    CHECK(eval::published_top_k("my_list.json") == 0);
}

TEST_CASE("datasets: layout, ignore label, K, background merge") {
    const auto& ade847 = eval::find_dataset("ade847");
    CHECK(ade847.ignore_label == 65535);
    CHECK(ade847.top_k() == 48);
    CHECK(ade847.labels_dir == "ADE20K_2021_17_01/annotations_detectron2/validation");
    CHECK(eval::find_dataset("pc459").ignore_label == 459);
    CHECK(eval::find_dataset("voc20b").merge_predictions_from == 20);
    CHECK(eval::find_dataset("voc20").merge_predictions_from == -1);
    CHECK(eval::published_datasets().size() == 6);
    const std::string msg = error_of([] { eval::find_dataset("ade151"); });
    CHECK(msg.find("unknown dataset 'ade151'") != std::string::npos);
    CHECK(msg.find("pc459") != std::string::npos);
}

TEST_CASE("a vocabulary carries its name and default K; the K choice is recorded") {
    const Vocabulary pc59 = load_vocabulary("pc59", builtin);
    CHECK(pc59.builtin);
    CHECK(pc59.name == "pc59");
    CHECK(pc59.top_k == 24);
    CHECK(pc59.classes.size() == 3);

    const Vocabulary inline_list = load_vocabulary("cat,dog", builtin);
    CHECK_FALSE(inline_list.builtin);
    CHECK(inline_list.name == "inline");
    CHECK(inline_list.top_k == 0);

    const std::string file = temp_path("vocab.txt");
    std::ofstream(file) << "sky\ngrass\n";
    const Vocabulary from_file = load_vocabulary(file, builtin);
    CHECK(from_file.name == file);
    CHECK(from_file.classes == std::vector<std::string>{"sky", "grass"});
    std::remove(file.c_str());

    // --top-k overrides, then the vocabulary's K, then the model's; CRM uses min(K, T).
    CHECK(choose_top_k(pc59, 5).requested == 5);
    CHECK(choose_top_k(pc59, 5).source == "option");
    CHECK(choose_top_k(pc59, 0).requested == 24);
    CHECK(choose_top_k(pc59, 0).source == "vocabulary");
    CHECK(choose_top_k(inline_list, 0).source == "model");
    CHECK(effective_top_k(choose_top_k(inline_list, 0), 32, 2) == 2);
    CHECK(effective_top_k(choose_top_k(pc59, 0), 32, 59) == 24);
    CHECK(effective_top_k(choose_top_k(load_vocabulary("voc20b", builtin), 0), 32, 59) == 32);
}

TEST_CASE("fingerprint: independent of how the bytes are split, sensitive to every byte") {
    std::vector<uint8_t> data(1000);
    for (size_t i = 0; i < data.size(); ++i) data[i] = uint8_t(i * 7 + 3);
    const uint64_t whole = Fingerprint().update(data.data(), data.size()).digest();
    for (size_t split : {1, 31, 32, 33, 500, 999}) {
        Fingerprint f;
        f.update(data.data(), split).update(data.data() + split, data.size() - split);
        CHECK(f.digest() == whole);
    }
    for (size_t i : {0, 31, 32, 500, 999}) {  // in full blocks and in the tail
        std::vector<uint8_t> d = data;
        d[i] ^= 1;
        CHECK(Fingerprint().update(d.data(), d.size()).digest() != whole);
    }
    CHECK(Fingerprint().update(data.data(), 999).digest() != whole);
    CHECK(Fingerprint().update(std::string("ab")).update(std::string("c")).digest() !=
          Fingerprint().update(std::string("a")).update(std::string("bc")).digest());
    CHECK(Fingerprint().hex().size() == 16);
}

TEST_CASE("text-tower identity: changes with a text weight, not with an image weight") {
    if (!std::ifstream(kModel).good()) FAIL("missing ", kModel, " (run tests/convert_test_models.py)");
    const std::string base = models::text_tower_identity(Weights::open(kModel));
    CHECK(base.rfind("v1:", 0) == 0);
    CHECK(models::text_tower_identity(Weights::open(kModel)) == base);  // deterministic

    // Copies of the model with one bit flipped in a text / image tensor.
    std::ifstream in(kModel, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    const SafetensorsFile file = SafetensorsFile::open(kModel);
    const uint64_t header = 8 + uint64_t(uint8_t(bytes[0])) + (uint64_t(uint8_t(bytes[1])) << 8) +
                            (uint64_t(uint8_t(bytes[2])) << 16);
    const auto flipped = [&](const std::string& tensor, const std::string& name) {
        std::string b = bytes;
        b[size_t(header + file.entry(tensor).begin)] ^= 1;
        const std::string path = temp_path(name);
        std::ofstream(path, std::ios::binary) << b;
        return path;
    };
    const std::string text_changed = flipped("clip.ln_final.weight", "text_changed.safetensors");
    const std::string image_changed = flipped("clip.visual.trunk.stem.0.weight", "image_changed.safetensors");
    CHECK(models::text_tower_identity(Weights::open(text_changed)) != base);
    CHECK(models::text_tower_identity(Weights::open(image_changed)) == base);
    std::remove(text_changed.c_str());
    std::remove(image_changed.c_str());
}

TEST_CASE("class-embeddings file: round trip and refusals") {
    models::ClassEmbeddings c;
    c.embeddings = Tensor::empty({3, 4});
    for (int64_t i = 0; i < 12; ++i) c.embeddings.data<float>()[i] = float(i) * 0.25f - 1.0f;
    c.vocabulary = "pc59";
    c.top_k = 24;
    c.classes = {"aeroplane", "bag", "bed"};
    c.model_identity = "v1:0123456789abcdef";
    c.model_file = "m.safetensors";
    const std::string path = temp_path("emb.safetensors");
    models::write_class_embeddings(path, c);

    const models::ClassEmbeddings r = models::read_class_embeddings(path);
    CHECK(r.vocabulary == "pc59");
    CHECK(r.top_k == 24);
    CHECK(r.classes == c.classes);
    CHECK(r.model_identity == c.model_identity);
    CHECK(r.model_file == "m.safetensors");
    REQUIRE(r.embeddings.shape() == Shape{3, 4});
    for (int64_t i = 0; i < 12; ++i) CHECK(r.embeddings.data<float>()[i] == c.embeddings.data<float>()[i]);

    const Vocabulary pc59 = load_vocabulary("pc59", builtin);
    const Tensor ok = models::load_class_embeddings_for(path, pc59, c.model_identity, 4);
    CHECK(ok.size(0) == 3);

    // Another vocabulary with the same size but other names, another size, another model, another width.
    const Vocabulary voc20b = load_vocabulary("voc20b", builtin);
    CHECK(error_of([&] { models::load_class_embeddings_for(path, voc20b, c.model_identity, 4); })
              .find("differs from --classes 'voc20b' (3 classes) at class 1 ('bag' in the file, 'bicycle' given)") !=
          std::string::npos);
    const Vocabulary two = load_vocabulary("aeroplane,bag", builtin);
    CHECK(error_of([&] { models::load_class_embeddings_for(path, two, c.model_identity, 4); })
              .find("was made for vocabulary 'pc59' (3 classes), not for --classes 'inline' (2 classes)") !=
          std::string::npos);
    CHECK(error_of([&] { models::load_class_embeddings_for(path, pc59, "v1:ffffffffffffffff", 4); })
              .find("was made by another model (m.safetensors, text tower v1:0123456789abcdef)") != std::string::npos);
    CHECK(error_of([&] { models::load_class_embeddings_for(path, pc59, c.model_identity, 8); })
              .find("has width 4") != std::string::npos);

    // NaN / Inf: refused when written and when read.
    models::ClassEmbeddings bad = c;
    bad.embeddings = c.embeddings.clone();
    bad.embeddings.data<float>()[9] = std::numeric_limits<float>::infinity();
    CHECK(error_of([&] { models::write_class_embeddings(temp_path("bad.safetensors"), bad); })
              .find("holds 1 non-finite value (NaN/Inf; first in class 2 'bed')") != std::string::npos);
    const std::string nan_path = temp_path("nan.safetensors");
    bad.embeddings.data<float>()[9] = std::nanf("");
    write_safetensors(nan_path, {{"class_embeddings", bad.embeddings}},
                      SafetensorsFile::open(path).metadata());  // bypasses the writer's check
    CHECK(error_of([&] { models::read_class_embeddings(nan_path); }).find("non-finite") != std::string::npos);

    // Not a class-embeddings file: a bare .npy, a model file, garbage.
    const std::string npy = temp_path("bare.npy");
    write_npy(npy, c.embeddings);
    CHECK(error_of([&] { models::read_class_embeddings(npy); }).find("is a bare .npy array") != std::string::npos);
    if (std::ifstream(kModel).good())
        CHECK(error_of([&] { models::read_class_embeddings(kModel); })
                  .find("is not an errseg class-embeddings file") != std::string::npos);
    const std::string junk = temp_path("junk.bin");
    std::ofstream(junk) << "not a file of embeddings";
    CHECK(error_of([&] { models::read_class_embeddings(junk); }).find("is not readable as a class-embeddings file") !=
          std::string::npos);
    for (const std::string& p : {path, nan_path, npy, junk}) std::remove(p.c_str());
}

TEST_CASE("class embeddings computed by the model round-trip bit-exactly") {
    if (!std::ifstream(kModel).good()) FAIL("missing ", kModel, " (run tests/convert_test_models.py)");
    const Weights w = Weights::open(kModel);
    const auto model = models::ErrSegModel::from_weights(w);
    const Vocabulary v = load_vocabulary("pc59", builtin);
    const models::ClassEmbeddings c = models::compute_class_embeddings(model, w, v);
    CHECK(c.vocabulary == "pc59");
    CHECK(c.top_k == 24);
    CHECK(c.model_file == "errseg_tiny.safetensors");
    const std::string path = temp_path("model_emb.safetensors");
    models::write_class_embeddings(path, c);
    const Tensor back = models::load_class_embeddings_for(path, v, models::text_tower_identity(w), model.config().embed_dim);
    REQUIRE(back.shape() == c.embeddings.shape());
    CHECK(std::memcmp(back.raw(), c.embeddings.contiguous().raw(), back.nbytes()) == 0);
    std::remove(path.c_str());
}
