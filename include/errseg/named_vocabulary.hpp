// A vocabulary with its identity: the class names, where they came from (a built-in list's
// name, a file, or an inline list) and the number of classes CRM keeps by default for it (the
// K of the published evaluation for the built-in benchmark vocabularies, eval/protocol.hpp).
//
//   Vocabulary v = load_vocabulary("pc59", builtin_text);   // v.top_k == 24
//   opt.top_k = v.top_k;                                      // 0: the model's K
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "eval/protocol.hpp"
#include "vocabulary.hpp"

namespace errseg {

struct Vocabulary {
    std::string name;                  // "ade150"; a file's path; "inline" for "a,b,c"
    std::vector<std::string> classes;  // class names, index = label value
    int64_t top_k = 0;                 // default K for this vocabulary; 0: the model's K
    bool builtin = false;
};

// Resolves a --classes argument (resolve_vocabulary) and attaches its name and default K.
inline Vocabulary load_vocabulary(const std::string& spec,
                                  const std::function<std::string(const std::string&)>& builtin,
                                  const VocabularyLimits& limits = {}) {
    Vocabulary v;
    v.classes = resolve_vocabulary(spec, builtin, limits);
    v.builtin = builtin && !builtin(spec).empty();
    std::error_code ec;  // is_regular_file, not an open: never blocks on a FIFO
    v.name = v.builtin || std::filesystem::is_regular_file(spec, ec) ? spec : "inline";
    if (v.builtin) v.top_k = eval::published_top_k(spec);
    return v;
}

// Where a run's K comes from, for the record: "option" (--top-k), "vocabulary" (the published
// K of a built-in vocabulary) or "model" (the model's configured K).
struct TopKChoice {
    int64_t requested = 0;  // 0: the model's K
    std::string source;
};

inline TopKChoice choose_top_k(const Vocabulary& v, int64_t option_k) {
    if (option_k > 0) return {option_k, "option"};
    if (v.top_k > 0) return {v.top_k, "vocabulary"};
    return {0, "model"};
}

// The K CRM really uses: upstream's topk needs K <= T, so the effective K is min(K, T).
inline int64_t effective_top_k(const TopKChoice& c, int64_t model_k, size_t num_classes) {
    const int64_t k = c.requested > 0 ? c.requested : model_k;
    return k < int64_t(num_classes) ? k : int64_t(num_classes);
}

}  // namespace errseg
