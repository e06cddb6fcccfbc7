// Cached class embeddings (`errseg embed-text --classes` -> `errseg segment --class-embeddings`):
// a safetensors file holding one F32 tensor "class_embeddings" [T, E] and, as metadata, what it
// is valid for, so that a cache made for another vocabulary or by another model is refused
// instead of silently giving wrong label maps:
//
//   errseg.class_embeddings  "1" (format version)
//   errseg.vocabulary        the vocabulary's name ("ade150", a file path, "inline")
//   errseg.top_k             its default K ("0": the model's)
//   errseg.classes           the class names, a JSON array (compared name by name)
//   errseg.model_identity    text_tower_identity() of the model that computed them
//   errseg.model_file        that model's file name (for messages only)
//
// The model identity fingerprints everything the embeddings depend on: the bytes, dtypes and
// shapes of every text-side tensor (all of "clip." but "clip.visual."), the CLIP config without
// its vision part, the prompt template and the BPE merges. Another checkpoint, another storage
// dtype or another template changes it; the image tower and the head do not.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "../../core.hpp"
#include "../../core/regular_file.hpp"
#include "../../io/fingerprint.hpp"
#include "../../io/json.hpp"
#include "../../io/safetensors.hpp"
#include "../../io/weights.hpp"
#include "../../named_vocabulary.hpp"
#include "config.hpp"

namespace errseg::models {

inline std::string text_tower_identity(const Weights& w) {
    const ErrSegConfig cfg = ErrSegConfig::from_json(w.config());  // effective prompt template
    Fingerprint fp;
    fp.update(std::string("errseg text tower v1"));
    std::vector<const SafetensorsFile::Entry*> text;
    for (const SafetensorsFile::Entry& e : w.file().entries())
        if (e.name.rfind("clip.", 0) == 0 && e.name.rfind("clip.visual.", 0) != 0) text.push_back(&e);
    std::sort(text.begin(), text.end(), [](auto* a, auto* b) { return a->name < b->name; });
    for (const SafetensorsFile::Entry* e : text) {
        fp.update(e->name).update(std::string(dtype_name(e->dtype))).update(shape_str(e->shape));
        const Tensor t = w.file().get(e->name);
        fp.update(t.raw(), size_t(t.nbytes()));
    }
    if (const json::Value* clip = w.config().find("clip")) {
        json::Value text_config = json::Value::object();
        for (const auto& kv : clip->items())
            if (kv.first != "vision") text_config.set(kv.first, kv.second);
        fp.update(text_config.dump());
    }
    fp.update(cfg.prompt_template).update(w.metadata("errseg.bpe_merges"));
    return "v1:" + fp.hex();
}

struct ClassEmbeddings {
    Tensor embeddings;  // F32 [T, E], L2-normalised rows (ErrSegModel::encode_classes)
    std::string vocabulary;
    int64_t top_k = 0;
    std::vector<std::string> classes;
    std::string model_identity;
    std::string model_file;
};

namespace detail_class_embeddings {
constexpr const char* kTensor = "class_embeddings";

inline void check_finite(const Tensor& t, const std::vector<std::string>& classes, const std::string& path) {
    const float* p = t.data<float>();
    const int64_t rows = t.size(0), cols = t.size(1);
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < rows * cols; ++i)
        if (!std::isfinite(p[i])) {
            if (first < 0) first = i;
            ++bad;
        }
    if (bad == 0) return;
    const int64_t row = first / cols;
    fail("class embeddings file '", path, "' holds ", bad, " non-finite value", bad > 1 ? "s" : "",
         " (NaN/Inf; first in class ", row, row < int64_t(classes.size()) ? " '" + classes[size_t(row)] + "'" : "",
         "): the file is corrupt, re-create it with errseg embed-text --classes");
}
}  // namespace detail_class_embeddings

inline void write_class_embeddings(const std::string& path, const ClassEmbeddings& c) {
    ERRSEG_CHECK(c.embeddings.dim() == 2 && c.embeddings.size(0) == int64_t(c.classes.size()),
                 "write_class_embeddings: embeddings ", shape_str(c.embeddings.shape()), " do not match ",
                 c.classes.size(), " classes");
    const Tensor e = c.embeddings.to_f32().contiguous();
    detail_class_embeddings::check_finite(e, c.classes, path);
    json::Value names = json::Value::array();
    for (const std::string& n : c.classes) names.push_back(n);
    const std::map<std::string, std::string> meta = {
        {"errseg.class_embeddings", "1"},          {"errseg.vocabulary", c.vocabulary},
        {"errseg.top_k", std::to_string(c.top_k)}, {"errseg.classes", names.dump()},
        {"errseg.model_identity", c.model_identity}, {"errseg.model_file", c.model_file}};
    write_safetensors(path, {{detail_class_embeddings::kTensor, e}}, meta);
}

// What `errseg embed-text --classes` writes: `model`'s embeddings of `vocab` (ErrSegModelOn<B>,
// made from `weights`) with the vocabulary's and the model's identity.
template <class Model>
ClassEmbeddings compute_class_embeddings(const Model& model, const Weights& weights, const Vocabulary& vocab) {
    ClassEmbeddings c;
    c.embeddings = model.encode_classes(vocab.classes);
    c.vocabulary = vocab.name;
    c.top_k = vocab.top_k;
    c.classes = vocab.classes;
    c.model_identity = text_tower_identity(weights);
    c.model_file = std::filesystem::path(weights.path()).filename().string();
    return c;
}

// Reads and validates a class-embeddings file (format, shape against its own class list, NaN/Inf).
inline ClassEmbeddings read_class_embeddings(const std::string& path) {
    {
        const RegularFile f(path);  // never blocks on a FIFO; names what a non-file is
        char magic[6] = {};
        if (::read(f.fd(), magic, sizeof(magic)) == ssize_t(sizeof(magic)) && std::memcmp(magic, "\x93NUMPY", 6) == 0)
            fail("class embeddings file '", path, "' is a bare .npy array, which does not say which vocabulary ",
                 "and model it was made for: re-create it with errseg embed-text --model M --classes VOCAB ",
                 "--out NAME.safetensors");
    }
    SafetensorsFile file;
    try {
        file = SafetensorsFile::open(path);
    } catch (const Error& e) {
        fail("class embeddings file '", path, "' is not readable as a class-embeddings file: ", e.what());
    }
    const auto& meta = file.metadata();
    const auto get = [&](const char* key) {
        auto it = meta.find(key);
        if (it == meta.end())
            fail("'", path, "' is not an errseg class-embeddings file (no '", key,
                 "' metadata; make one with errseg embed-text --classes)");
        return it->second;
    };
    ERRSEG_CHECK(get("errseg.class_embeddings") == "1", "class embeddings file '", path, "' has format version '",
                 get("errseg.class_embeddings"), "', this errseg reads version 1");
    ClassEmbeddings c;
    c.vocabulary = get("errseg.vocabulary");
    c.model_identity = get("errseg.model_identity");
    c.model_file = get("errseg.model_file");
    try {
        c.top_k = std::stoll(get("errseg.top_k"));
        const json::Value names = json::Value::parse(get("errseg.classes"));
        ERRSEG_CHECK(names.is_array(), "not an array");
        for (size_t i = 0; i < names.size(); ++i) c.classes.push_back(names[i].as_string());
    } catch (const std::exception& e) {
        fail("class embeddings file '", path, "' has malformed metadata (errseg.top_k / errseg.classes): ", e.what());
    }
    ERRSEG_CHECK(file.has(detail_class_embeddings::kTensor), "class embeddings file '", path, "' has no tensor '",
                 detail_class_embeddings::kTensor, "'");
    const Tensor t = file.get(detail_class_embeddings::kTensor);
    ERRSEG_CHECK(t.dtype() == DType::F32 && t.dim() == 2 && t.size(0) == int64_t(c.classes.size()) && t.size(1) > 0,
                 "class embeddings file '", path, "' holds a ", dtype_name(t.dtype()), " tensor of shape ",
                 shape_str(t.shape()), ", expected F32 [", c.classes.size(), ", E] for its ", c.classes.size(),
                 " classes");
    c.embeddings = t.contiguous().clone();
    detail_class_embeddings::check_finite(c.embeddings, c.classes, path);
    return c;
}

// The embeddings of `path` if they were made for exactly `vocab`'s classes by a model with
// `model_identity` and width `embed_dim`; otherwise an error naming the mismatch.
inline Tensor load_class_embeddings_for(const std::string& path, const Vocabulary& vocab,
                                        const std::string& model_identity, int64_t embed_dim) {
    const ClassEmbeddings c = read_class_embeddings(path);
    const auto described = [](const std::string& name, size_t n) {
        return "'" + name + "' (" + std::to_string(n) + " classes)";
    };
    ERRSEG_CHECK(c.classes.size() == vocab.classes.size(), "class embeddings file '", path,
                 "' was made for vocabulary ", described(c.vocabulary, c.classes.size()), ", not for --classes ",
                 described(vocab.name, vocab.classes.size()));
    for (size_t i = 0; i < c.classes.size(); ++i)
        ERRSEG_CHECK(c.classes[i] == vocab.classes[i], "class embeddings file '", path, "' was made for vocabulary ",
                     described(c.vocabulary, c.classes.size()), ", which differs from --classes ",
                     described(vocab.name, vocab.classes.size()), " at class ", i, " ('", c.classes[i],
                     "' in the file, '", vocab.classes[i], "' given)");
    ERRSEG_CHECK(c.model_identity == model_identity, "class embeddings file '", path,
                 "' was made by another model (", c.model_file, ", text tower ", c.model_identity,
                 ") than this one (text tower ", model_identity, "): re-create it with errseg embed-text --classes");
    ERRSEG_CHECK(c.embeddings.size(1) == embed_dim, "class embeddings file '", path, "' has width ",
                 c.embeddings.size(1), ", the model's embeddings have ", embed_dim);
    return c.embeddings;
}

}  // namespace errseg::models
