// Safetensors reading (memory-mapped, zero-copy) and writing.
//
// File layout: 8-byte little-endian header length N, N bytes of JSON header, then the data
// section. The header maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__" object of strings.
//
// The reader treats the file as hostile and validates everything before any tensor is
// handed out: sizes, the JSON, every entry's dtype / shape / offsets, overlaps between
// tensors. Gaps between tensors are allowed. A tensor whose bytes are not aligned to its
// element size in the map is copied to aligned heap memory instead of being viewed.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "../core/dtype.hpp"
#include "../core/error.hpp"
#include "../core/storage.hpp"
#include "../core/tensor.hpp"
#include "atomic_file.hpp"
#include "json.hpp"

namespace errseg {

class SafetensorsFile {
public:
    static constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;  // 100 MB

    struct Entry {
        std::string name;
        DType dtype = DType::F32;
        Shape shape;
        uint64_t begin = 0, end = 0;  // byte range within the data section
    };

    static SafetensorsFile open(const std::string& path) {
        SafetensorsFile f;
        f.path_ = path;
        f.map_ = std::make_shared<MappedFile>(path);
        f.parse_header();
        return f;
    }

    const std::string& path() const { return path_; }
    const std::map<std::string, std::string>& metadata() const { return metadata_; }

    // Tensor names in header order.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        out.reserve(entries_.size());
        for (const Entry& e : entries_) out.push_back(e.name);
        return out;
    }
    const std::vector<Entry>& entries() const { return entries_; }
    bool has(const std::string& name) const { return index_.count(name) != 0; }
    size_t size() const { return entries_.size(); }

    // Header description of one tensor; error if absent.
    const Entry& entry(const std::string& name) const {
        auto it = index_.find(name);
        if (it == index_.end()) fail("safetensors file '", path_, "' has no tensor '", name, "'");
        return entries_[it->second];
    }

    // The tensor in its stored dtype: a read-only view into the map when aligned, else a copy.
    Tensor get(const std::string& name) const {
        const Entry& e = entry(name);
        const size_t offset = size_t(data_start_ + e.begin);
        const size_t nbytes = size_t(e.end - e.begin);
        const uint8_t* base = map_->data();
        const bool aligned = base && (reinterpret_cast<uintptr_t>(base + offset) % dtype_size(e.dtype)) == 0;
        if (aligned || nbytes == 0) {
            if (nbytes == 0) return Tensor::zeros(e.shape, e.dtype);  // nothing to view
            return Tensor::view_of(map_, offset, e.shape, e.dtype);
        }
        Tensor t = Tensor::empty(e.shape, e.dtype);
        std::memcpy(t.storage()->data(), base + offset, nbytes);
        return t;
    }

    size_t file_bytes() const { return map_->bytes(); }
    // Sum of all tensors' byte sizes.
    uint64_t tensor_bytes() const {
        uint64_t total = 0;
        for (const Entry& e : entries_) total += e.end - e.begin;
        return total;
    }

private:
    [[noreturn]] void bad(const std::string& msg) const {
        fail("invalid safetensors file '", path_, "': ", msg);
    }

    void parse_header() {
        const uint64_t size = map_->bytes();
        if (size < 8) bad("file is " + std::to_string(size) + " bytes, shorter than the 8-byte header length");
        const uint8_t* p = map_->data();
        uint64_t header_len = 0;
        for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | p[i];
        if (header_len > kMaxHeaderBytes)
            bad("header length " + std::to_string(header_len) + " exceeds the 100 MB limit");
        if (header_len > size - 8)
            bad("header length " + std::to_string(header_len) + " extends beyond the end of the file (" +
                std::to_string(size) + " bytes)");
        data_start_ = 8 + header_len;
        const uint64_t data_size = size - data_start_;

        json::Value header;
        try {
            header = json::Value::parse(reinterpret_cast<const char*>(p + 8), size_t(header_len));
        } catch (const Error& e) {
            bad(std::string("header is not valid JSON (") + e.what() + ")");
        }
        if (!header.is_object()) bad("header is not a JSON object");

        for (const auto& kv : header.items()) {
            if (kv.first == "__metadata__") {
                if (!kv.second.is_object()) bad("__metadata__ is not a JSON object");
                for (const auto& m : kv.second.items()) {
                    if (!m.second.is_string())
                        bad("__metadata__ value of '" + m.first + "' is not a string");
                    metadata_[m.first] = m.second.as_string();
                }
                continue;
            }
            entries_.push_back(parse_entry(kv.first, kv.second, data_size));
            index_[kv.first] = entries_.size() - 1;  // JSON parser already refused duplicate keys
        }

        // No two tensors may share bytes (zero-size tensors occupy none).
        std::vector<const Entry*> order;
        for (const Entry& e : entries_)
            if (e.end > e.begin) order.push_back(&e);
        std::sort(order.begin(), order.end(),
                  [](const Entry* a, const Entry* b) { return a->begin < b->begin; });
        for (size_t i = 1; i < order.size(); ++i)
            if (order[i]->begin < order[i - 1]->end)
                bad("tensors '" + order[i - 1]->name + "' and '" + order[i]->name + "' overlap");
    }

    Entry parse_entry(const std::string& name, const json::Value& v, uint64_t data_size) const {
        const std::string where = "tensor '" + name + "': ";
        if (!v.is_object()) bad(where + "entry is not a JSON object");
        for (const auto& kv : v.items())
            if (kv.first != "dtype" && kv.first != "shape" && kv.first != "data_offsets")
                bad(where + "unknown field '" + kv.first + "'");
        const json::Value* dt = v.find("dtype");
        const json::Value* sh = v.find("shape");
        const json::Value* off = v.find("data_offsets");
        if (!dt || !dt->is_string()) bad(where + "missing or non-string 'dtype'");
        if (!sh || !sh->is_array()) bad(where + "missing or non-array 'shape'");
        if (!off || !off->is_array()) bad(where + "missing or non-array 'data_offsets'");

        Entry e;
        e.name = name;
        const std::string& dname = dt->as_string();
        if (dname != "F32" && dname != "F16" && dname != "BF16" && dname != "I32" && dname != "I64" &&
            dname != "U8")
            bad(where + "unsupported dtype '" + dname + "' (supported: F32, F16, BF16, I32, I64, U8)");
        e.dtype = dtype_from_name(dname);

        // Shape: non-negative integers whose product cannot overflow (bounded by the data size).
        if (sh->size() > 16) bad(where + "shape has " + std::to_string(sh->size()) + " dimensions (max 16)");
        for (const json::Value& d : sh->as_array()) {
            if (!d.is_number() || !is_nonneg_int(d.as_number()))
                bad(where + "shape entries must be non-negative integers");
            e.shape.push_back(int64_t(d.as_number()));
        }
        uint64_t numel = 1;
        if (std::find(e.shape.begin(), e.shape.end(), 0) != e.shape.end()) {
            numel = 0;
        } else {
            for (int64_t d : e.shape) {
                const uint64_t dim = uint64_t(d);
                if (dim > data_size || numel > data_size / dim)  // product would exceed the file
                    bad(where + "shape " + shape_str(e.shape) + " is larger than the data section");
                numel *= dim;
            }
        }

        if (off->size() != 2) bad(where + "data_offsets must be [begin, end]");
        for (const json::Value& o : off->as_array())
            if (!o.is_number() || !is_nonneg_int(o.as_number()))
                bad(where + "data_offsets must be non-negative integers");
        e.begin = uint64_t((*off)[0].as_number());
        e.end = uint64_t((*off)[1].as_number());
        if (e.begin > e.end)
            bad(where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                "] have begin > end");
        if (e.end > data_size)
            bad(where + "data_offsets [" + std::to_string(e.begin) + ", " + std::to_string(e.end) +
                "] are out of range of the " + std::to_string(data_size) + "-byte data section");
        const uint64_t expected = numel * dtype_size(e.dtype);  // numel <= data_size: no overflow
        if (e.end - e.begin != expected)
            bad(where + "data_offsets cover " + std::to_string(e.end - e.begin) + " bytes but shape " +
                shape_str(e.shape) + " of " + dname + " needs " + std::to_string(expected));
        return e;
    }

    // Integral, >= 0 and exactly representable (below 2^53).
    static bool is_nonneg_int(double x) { return x >= 0 && x <= 9007199254740992.0 && x == double(uint64_t(x)); }

    std::string path_;
    std::shared_ptr<MappedFile> map_;
    uint64_t data_start_ = 0;
    std::map<std::string, std::string> metadata_;
    std::vector<Entry> entries_;
    std::unordered_map<std::string, size_t> index_;
};

namespace detail {

// The safetensors layout of a tensor list: header bytes (length prefix + padded JSON) and
// each tensor's offset in the data section. Tensors are stored largest-element-first so
// every tensor is naturally aligned with no gaps (as the reference writer does); header
// keys keep the given order.
struct SafetensorsLayout {
    std::string header;             // 8-byte length + JSON padded to a multiple of 8
    std::vector<size_t> order;      // data-section order (indices into the tensor list)
    std::vector<uint64_t> begin;    // per tensor, offset in the data section
    uint64_t data_bytes = 0;
};

inline SafetensorsLayout safetensors_layout(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                            const std::map<std::string, std::string>& metadata) {
    SafetensorsLayout L;
    L.order.resize(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
        ERRSEG_CHECK(tensors[i].second.defined(), "write_safetensors: tensor '", tensors[i].first,
                     "' is undefined");
        ERRSEG_CHECK(tensors[i].first != "__metadata__" && !tensors[i].first.empty(),
                     "write_safetensors: invalid tensor name '", tensors[i].first, "'");
        L.order[i] = i;
    }
    std::stable_sort(L.order.begin(), L.order.end(), [&](size_t a, size_t b) {
        return dtype_size(tensors[a].second.dtype()) > dtype_size(tensors[b].second.dtype());
    });
    L.begin.resize(tensors.size());
    for (size_t i : L.order) {
        L.begin[i] = L.data_bytes;
        L.data_bytes += tensors[i].second.nbytes();
    }

    json::Value header = json::Value::object();
    if (!metadata.empty()) {
        json::Value meta = json::Value::object();
        for (const auto& kv : metadata) meta.set(kv.first, kv.second);
        header.set("__metadata__", std::move(meta));
    }
    std::unordered_map<std::string, int> seen;
    for (size_t i = 0; i < tensors.size(); ++i) {
        const Tensor& t = tensors[i].second;
        ERRSEG_CHECK(seen.emplace(tensors[i].first, 0).second, "write_safetensors: duplicate tensor name '",
                     tensors[i].first, "'");
        json::Value entry = json::Value::object();
        entry.set("dtype", dtype_name(t.dtype()));
        json::Value shape = json::Value::array();
        for (int64_t d : t.shape()) shape.push_back(d);
        entry.set("shape", std::move(shape));
        json::Value offs = json::Value::array();
        offs.push_back(L.begin[i]);
        offs.push_back(L.begin[i] + t.nbytes());
        entry.set("data_offsets", std::move(offs));
        header.set(tensors[i].first, std::move(entry));
    }
    std::string text = header.dump();
    while (text.size() % 8) text += ' ';  // keeps the data section 8-byte aligned
    L.header.assign(8, '\0');
    const uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) L.header[size_t(i)] = char(uint8_t(n >> (8 * i)));
    L.header += text;
    return L;
}

}  // namespace detail

// Serialises tensors (any dtype, any strides) into safetensors bytes in memory.
inline std::vector<uint8_t> safetensors_bytes(const std::vector<std::pair<std::string, Tensor>>& tensors,
                                              const std::map<std::string, std::string>& metadata) {
    const detail::SafetensorsLayout L = detail::safetensors_layout(tensors, metadata);
    std::vector<uint8_t> out(L.header.size() + L.data_bytes);
    std::memcpy(out.data(), L.header.data(), L.header.size());
    uint8_t* data = out.data() + L.header.size();
    for (size_t i = 0; i < tensors.size(); ++i) {
        if (tensors[i].second.nbytes() == 0) continue;
        Tensor c = tensors[i].second.contiguous();
        std::memcpy(data + L.begin[i], c.raw(), c.nbytes());
    }
    return out;
}

// Writes a safetensors file atomically (temporary file + fsync + rename), streaming the
// tensors so no second copy of the whole model is built in memory.
inline void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                              const std::map<std::string, std::string>& metadata) {
    const detail::SafetensorsLayout L = detail::safetensors_layout(tensors, metadata);
    AtomicFileWriter out(path);
    out.write(L.header.data(), L.header.size());
    for (size_t i : L.order) {
        if (tensors[i].second.nbytes() == 0) continue;
        Tensor c = tensors[i].second.contiguous();
        out.write(c.raw(), c.nbytes());
    }
    out.commit();
}

}  // namespace errseg
