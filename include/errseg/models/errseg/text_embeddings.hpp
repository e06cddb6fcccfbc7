// Class text embeddings for ERR-Seg (spec §2.6): one prompt per class name, encoded by the
// (fine-tuned) CLIP text tower and L2-normalised.
//
//   name   -> first synonym: the part before the first ", " ("bed, bunk" -> "bed"); other names
//             are used verbatim (no stripping: the tokenizer collapses whitespace itself)
//   prompt -> the model's template with "{}" replaced: "A photo of a {name} in the scene"
//   tokens -> CLIP BPE, [SOT] ... [EOT], zero padded to the context length (77)
//   embed  -> ClipText::encode, then divided by its L2 norm (no epsilon)     -> [T, E]
//
// The result depends only on the vocabulary (and the checkpoint), so TextEmbeddingCache keeps
// the embeddings of recently used vocabularies.
#pragma once
#include <cmath>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "../../core/cpu_instances.hpp"
#include "../../core.hpp"
#include "../../ops.hpp"
#include "../../text/tokenizer.hpp"
#include "../clip_text.hpp"

namespace errseg::models {

// "bed, bunk bed" -> "bed" (upstream uses only the first synonym at inference).
inline std::string first_synonym(const std::string& class_name) {
    const size_t p = class_name.find(", ");
    return p == std::string::npos ? class_name : class_name.substr(0, p);
}

// The prompt for one class: `prompt_template` with its first "{}" replaced by the first synonym.
inline std::string class_prompt(const std::string& prompt_template, const std::string& class_name) {
    const size_t p = prompt_template.find("{}");
    ERRSEG_CHECK(p != std::string::npos, "prompt template '", prompt_template, "' has no '{}' placeholder");
    return prompt_template.substr(0, p) + first_synonym(class_name) + prompt_template.substr(p + 2);
}

inline std::vector<std::string> class_prompts(const std::string& prompt_template,
                                              const std::vector<std::string>& class_names) {
    std::vector<std::string> prompts;
    prompts.reserve(class_names.size());
    for (const std::string& name : class_names) prompts.push_back(class_prompt(prompt_template, name));
    return prompts;
}

// Rows of x [T, E] divided by their L2 norm (plain division, as upstream; no epsilon).
inline Tensor l2_normalize_rows_exact(const Tensor& x) { return ops::normalize_rows(x); }

// Encodes class names to L2-normalised embeddings [T, E] (host); `batch` prompts per text-tower call.
// Classes with the same prompt (e.g. ADE-847's duplicated first synonyms) are encoded once, so
// their embeddings are bit-identical, as upstream's (which makes their cost maps tie exactly).
template <class B>
Tensor encode_class_names(const ClipTextOn<B>& text_tower, const text::ClipTokenizer& tokenizer,
                          const std::string& prompt_template,
                          const std::vector<std::string>& class_names, int64_t batch = 64){
    ERRSEG_CHECK(!class_names.empty(), "ERR-Seg: the vocabulary is empty");
    const std::vector<std::string> prompts = class_prompts(prompt_template, class_names);
    // Unique prompts in first-appearance order, and each class's row among them.
    std::vector<std::string> unique;
    std::vector<int64_t> row_of_class;
    std::map<std::string, int64_t> index;
    for (const std::string& p : prompts) {
        auto it = index.find(p);
        if (it == index.end()) {
            it = index.emplace(p, int64_t(unique.size())).first;
            unique.push_back(p);
        }
        row_of_class.push_back(it->second);
    }
    const int64_t U = int64_t(unique.size());
    const int64_t context = text_tower.config().context_length;
    Tensor encoded;
    for (int64_t b = 0; b < U; b += batch) {
        const int64_t e = std::min(U, b + batch);
        const std::vector<std::string> part(unique.begin() + b, unique.begin() + e);
        // The text tower computes only up to the last EOT of the batch (causal mask: same result).
        const Tensor embedded = B::download(text_tower.encode(tokenizer.tokenize_batch(part, int(context))));
        if (!encoded.defined()) encoded = Tensor::empty({U, embedded.size(1)});
        std::copy_n(embedded.data<float>(), embedded.numel(), encoded.data<float>() + b * embedded.size(1));
    }
    encoded = l2_normalize_rows_exact(encoded);
    if (U == int64_t(prompts.size())) return encoded;
    return ops::index_select(encoded, 0, row_of_class);
}
ERRSEG_CPU_INSTANCE(Tensor encode_class_names<CpuBackend>(const ClipTextOn<CpuBackend>&, const text::ClipTokenizer&,
                                                         const std::string&, const std::vector<std::string>&,
                                                         int64_t))

// Embeddings of the most recently used vocabularies (keyed by the exact list of names, in order).
// Thread-safe; holds at most `capacity` vocabularies.
class TextEmbeddingCache {
public:
    explicit TextEmbeddingCache(size_t capacity = 8) : capacity_(capacity) {}

    template <class Compute>
    Tensor get(const std::vector<std::string>& class_names, Compute&& compute) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            for (auto it = entries_.begin(); it != entries_.end(); ++it)
                if (it->first == class_names) {
                    entries_.splice(entries_.begin(), entries_, it);  // most recent first
                    return entries_.front().second;
                }
        }
        Tensor embeddings = compute(class_names);  // outside the lock: may take a while
        std::lock_guard<std::mutex> lock(mutex_);
        entries_.emplace_front(class_names, embeddings);
        while (entries_.size() > capacity_) entries_.pop_back();
        return embeddings;
    }

    void clear() {
        std::lock_guard<std::mutex> lock(mutex_);
        entries_.clear();
    }
    size_t size() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return entries_.size();
    }

private:
    size_t capacity_;
    mutable std::mutex mutex_;
    std::list<std::pair<std::vector<std::string>, Tensor>> entries_;
};

}  // namespace errseg::models
