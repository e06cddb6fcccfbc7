// Model weights: a safetensors model file seen as named float32 tensors, with scoping
// (w.scope("clip.visual.") then w.get("conv1.weight")), shape checks, the parsed model
// config from the "errseg.config" metadata, and bookkeeping of which tensors were read
// (so `errseg info` / validation can report tensors a model never used).
//
// Weights objects are cheap handles: copies and scopes share one opened file and one cache.
// F32 tensors are zero-copy read-only views into the memory map; F16/BF16 tensors are
// converted to float32 once and cached. Each float tensor is checked for NaN/Inf on its first
// read (get() fails naming the tensor). Thread-safe.
#pragma once
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/error.hpp"
#include "../core/finite.hpp"
#include "../core/tensor.hpp"
#include "json.hpp"
#include "safetensors.hpp"

namespace errseg {

class Weights {
public:
    Weights() = default;

    static Weights open(const std::string& path) {
        Weights w;
        w.shared_ = std::make_shared<Shared>(SafetensorsFile::open(path));
        return w;
    }

    // A view of the tensors whose names start with `prefix` (relative to this scope).
    Weights scope(const std::string& prefix) const {
        Weights w = *this;
        w.prefix_ = prefix_ + prefix;
        return w;
    }
    const std::string& prefix() const { return prefix_; }

    bool has(const std::string& name) const { return file().has(prefix_ + name); }

    // The tensor as float32 (F16/BF16 converted once and cached).
    Tensor get(const std::string& name) const {
        const std::string full = prefix_ + name;
        Shared& s = shared();
        if (!s.file.has(full)) fail("model file ", path(), " has no tensor '", full, "'");
        std::lock_guard<std::mutex> lock(s.mutex);
        s.used.insert(full);
        auto it = s.cache.find(full);
        if (it != s.cache.end()) return it->second;
        const SafetensorsFile::Entry& e = s.file.entry(full);
        Tensor t;
        switch (e.dtype) {
            case DType::F32: t = s.file.get(full); break;
            case DType::F16:
            case DType::BF16: t = s.file.get(full).to_f32(); break;
            default:
                fail("tensor '", full, "' in model file ", path(), " has dtype ", dtype_name(e.dtype),
                     ", expected a floating-point type (F32, F16 or BF16)");
        }
        // Every weight is scanned for NaN/Inf once, on its first read (a cheap pass over bytes
        // that are about to be used anyway): a corrupt file fails at load, naming the tensor,
        // instead of silently producing NaN logits.
        if (!s.finite_checked.count(full)) {
            check_finite(t, full);
            s.finite_checked.insert(full);
        }
        // A view into the map costs nothing to recreate; converted or (unaligned) copies are cached.
        if (!dynamic_cast<const MappedFile*>(t.storage().get())) s.cache[full] = t;
        return t;
    }

    // get() plus a shape check.
    Tensor get(const std::string& name, const Shape& expected) const {
        Tensor t = get(name);
        if (t.shape() != expected)
            fail("tensor '", prefix_ + name, "' has shape ", shape_str(t.shape()), ", expected ",
                 shape_str(expected), " (model file ", path(), ")");
        return t;
    }

    // The tensor in its stored dtype (e.g. I64 buffers), as a view when possible.
    Tensor get_raw(const std::string& name) const {
        const std::string full = prefix_ + name;
        Shared& s = shared();
        if (!s.file.has(full)) fail("model file ", path(), " has no tensor '", full, "'");
        {
            std::lock_guard<std::mutex> lock(s.mutex);
            s.used.insert(full);
        }
        return s.file.get(full);
    }

    // Stored shape / dtype without reading or converting the data (not counted as a use).
    const Shape& stored_shape(const std::string& name) const { return entry(name).shape; }
    DType stored_dtype(const std::string& name) const { return entry(name).dtype; }

    // Parsed "errseg.config" metadata (the model config JSON).
    const json::Value& config() const {
        Shared& s = shared();
        std::lock_guard<std::mutex> lock(s.mutex);
        if (!s.config_parsed) {
            auto it = s.file.metadata().find("errseg.config");
            if (it == s.file.metadata().end())
                fail("model file ", path(),
                     " has no 'errseg.config' metadata (was it produced by the errseg converter?)");
            json::Value v;
            try {
                v = json::Value::parse(it->second);
            } catch (const Error& e) {
                fail("model file ", path(), ": metadata 'errseg.config' is not valid JSON: ", e.what());
            }
            if (!v.is_object()) fail("model file ", path(), ": metadata 'errseg.config' is not a JSON object");
            s.config = std::move(v);
            s.config_parsed = true;
        }
        return s.config;
    }

    // A metadata string, "" when absent.
    std::string metadata(const std::string& key) const {
        const auto& m = file().metadata();
        auto it = m.find(key);
        return it == m.end() ? std::string() : it->second;
    }
    const std::map<std::string, std::string>& all_metadata() const { return file().metadata(); }

    const std::string& path() const { return file().path(); }

    // Tensor names within this scope (relative to it), in file order.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& e : file().entries())
            if (e.name.compare(0, prefix_.size(), prefix_) == 0) out.push_back(e.name.substr(prefix_.size()));
        return out;
    }
    size_t file_bytes() const { return file().file_bytes(); }
    // Total stored bytes of all tensors in the file.
    uint64_t tensor_bytes() const { return file().tensor_bytes(); }

    // Full names (whole file, not only this scope) of tensors never read through get/get_raw.
    std::vector<std::string> unused() const {
        Shared& s = shared();
        std::lock_guard<std::mutex> lock(s.mutex);
        std::vector<std::string> out;
        for (const auto& e : s.file.entries())
            if (!s.used.count(e.name)) out.push_back(e.name);
        return out;
    }
    // Forgets which tensors were read (e.g. before building a second model from one file).
    void reset_usage() const {
        Shared& s = shared();
        std::lock_guard<std::mutex> lock(s.mutex);
        s.used.clear();
    }

    const SafetensorsFile& file() const { return shared().file; }

private:
    struct Shared {
        explicit Shared(SafetensorsFile f) : file(std::move(f)) {}
        SafetensorsFile file;
        std::mutex mutex;
        std::unordered_map<std::string, Tensor> cache;  // converted F16/BF16 tensors
        std::set<std::string> used;
        std::set<std::string> finite_checked;  // tensors already scanned for NaN/Inf
        json::Value config;
        bool config_parsed = false;
    };

    void check_finite(const Tensor& t, const std::string& full) const {
        errseg::check_finite(t, "tensor '" + full + "' in model file " + path(), ": the model file is corrupt");
    }

    Shared& shared() const {
        ERRSEG_CHECK(shared_, "Weights: no model file opened");
        return *shared_;
    }
    const SafetensorsFile::Entry& entry(const std::string& name) const {
        const std::string full = prefix_ + name;
        if (!file().has(full)) fail("model file ", path(), " has no tensor '", full, "'");
        return file().entry(full);
    }

    std::shared_ptr<Shared> shared_;
    std::string prefix_;
};

}  // namespace errseg
