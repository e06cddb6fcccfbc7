// NumPy .npy files (format 1.0 written; 1.0-3.0 read): little-endian, C order.
// Supported dtypes: <f4 <f2 <i4 <i8 |u1 and |b1 (read as U8).
#pragma once
#include <cctype>
#include <cstdio>
#include <cstring>
#include <memory>
#include <limits>
#include <string>

#include "../core.hpp"
#include "atomic_file.hpp"

namespace errseg {

// NumPy's own reader refuses headers over 10000 bytes by default; a real header is ~100 bytes.
inline constexpr uint64_t kMaxNpyHeaderBytes = 65536;

namespace detail_npy {

inline const char* descr_of(DType t, const std::string& path) {
    switch (t) {
        case DType::F32: return "<f4";
        case DType::F16: return "<f2";
        case DType::I32: return "<i4";
        case DType::I64: return "<i8";
        case DType::U8: return "|u1";
        case DType::BF16: break;
    }
    fail("write_npy '", path, "': NumPy has no ", dtype_name(t), " dtype (convert to F32 first)");
}

// Value text after `'key':` in the header dict, or empty if absent.
inline std::string header_value(const std::string& h, const std::string& key) {
    size_t k = h.find("'" + key + "'");
    if (k == std::string::npos) k = h.find("\"" + key + "\"");
    if (k == std::string::npos) return {};
    size_t c = h.find(':', k + key.size() + 2);
    if (c == std::string::npos) return {};
    ++c;
    while (c < h.size() && std::isspace(static_cast<unsigned char>(h[c]))) ++c;
    if (c >= h.size()) return {};
    if (h[c] == '\'' || h[c] == '"') {
        size_t e = h.find(h[c], c + 1);
        return e == std::string::npos ? std::string() : h.substr(c, e - c + 1);
    }
    if (h[c] == '(') {
        size_t e = h.find(')', c);
        return e == std::string::npos ? std::string() : h.substr(c, e - c + 1);
    }
    size_t e = c;
    while (e < h.size() && (std::isalnum(static_cast<unsigned char>(h[e])) || h[e] == '_')) ++e;
    return h.substr(c, e - c);
}

}  // namespace detail_npy

// Reads a whole .npy file into a contiguous tensor.
inline Tensor read_npy(const std::string& path) {
    std::shared_ptr<MappedFile> map;
    try {
        map = std::make_shared<MappedFile>(path);
    } catch (const Error& e) {
        fail("read_npy: ", e.what());
    }
    const uint8_t* pre = map->data();
    const uint64_t file_size = map->bytes();
    if (file_size < 8 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
        fail("read_npy: '", path, "' is not a .npy file (bad magic)");
    const int major = pre[6];
    uint64_t hlen = 0;
    size_t prelen = 0;
    if (major == 1) {
        if (file_size < 10) fail("read_npy: '", path, "' is truncated in its header");
        hlen = uint64_t(pre[8]) | uint64_t(pre[9]) << 8;
        prelen = 10;
    } else if (major == 2 || major == 3) {
        if (file_size < 12) fail("read_npy: '", path, "' is truncated in its header");
        hlen = uint64_t(pre[8]) | uint64_t(pre[9]) << 8 | uint64_t(pre[10]) << 16 | uint64_t(pre[11]) << 24;
        prelen = 12;
    } else {
        fail("read_npy: '", path, "' has unsupported format version ", major, ".", int(pre[7]));
    }
    if (hlen > kMaxNpyHeaderBytes)
        fail("read_npy: '", path, "' has a ", hlen, "-byte header, more than the limit of ", kMaxNpyHeaderBytes,
             " bytes");
    if (prelen + hlen > file_size) fail("read_npy: '", path, "' is truncated in its header");
    const std::string h(reinterpret_cast<const char*>(pre + prelen), size_t(hlen));

    std::string descr = detail_npy::header_value(h, "descr");
    const std::string fortran = detail_npy::header_value(h, "fortran_order");
    const std::string shape_txt = detail_npy::header_value(h, "shape");
    if (descr.size() < 2 || fortran.empty() || shape_txt.empty())
        fail("read_npy: '", path, "' has a malformed header: ", h);
    descr = descr.substr(1, descr.size() - 2);
    if (fortran != "False")
        fail("read_npy: '", path, "' is in Fortran order; only C-order arrays are supported");
    if (!descr.empty() && descr[0] == '>' && descr.substr(1) != "u1" && descr.substr(1) != "b1")
        fail("read_npy: '", path, "' is big-endian (", descr, "); only little-endian is supported");
    DType dt;
    const std::string d = descr.size() > 1 && (descr[0] == '<' || descr[0] == '|' || descr[0] == '=')
                              ? descr.substr(1)
                              : descr;
    if (d == "f4") dt = DType::F32;
    else if (d == "f2") dt = DType::F16;
    else if (d == "i4") dt = DType::I32;
    else if (d == "i8") dt = DType::I64;
    else if (d == "u1" || d == "b1") dt = DType::U8;
    else fail("read_npy: '", path, "' has unsupported dtype '", descr, "' (supported: <f4 <f2 <i4 <i8 |u1 |b1)");

    // Shape: "(a, b, c)" with an optional trailing comma.
    Shape shape;
    uint64_t numel = 1;
    bool huge = false, empty = false;  // huge: more elements than the file could hold
    const uint64_t max_elems = file_size / dtype_size(dt) + 1;
    size_t i = 1;
    while (i < shape_txt.size()) {
        char c = shape_txt[i];
        if (std::isdigit(static_cast<unsigned char>(c))) {
            uint64_t v = 0;
            while (i < shape_txt.size() && std::isdigit(static_cast<unsigned char>(shape_txt[i]))) {
                v = v * 10 + uint64_t(shape_txt[i] - '0');
                if (v > uint64_t(std::numeric_limits<int64_t>::max() / 16))
                    fail("read_npy: '", path, "' has an absurd shape ", shape_txt);
                ++i;
            }
            shape.push_back(int64_t(v));
            if (v == 0)
                empty = true;
            else if (!huge && numel > max_elems / v)
                huge = true;
            else if (!huge)
                numel *= v;
        } else if (c == ',' || c == ' ' || c == ')' || c == 'L') {
            ++i;
        } else {
            fail("read_npy: '", path, "' has a malformed shape ", shape_txt);
        }
    }
    if (empty) numel = 0, huge = false;
    const uint64_t data_bytes = numel * dtype_size(dt);
    const uint64_t have = file_size - prelen - hlen;
    if (huge || data_bytes > have)
        fail("read_npy: '", path, "' is truncated: shape ", shape_txt, " of ", descr, " needs ",
             huge ? std::string("more") : std::to_string(data_bytes), " bytes, file has ", have);
    Tensor t = Tensor::empty(shape, dt);
    if (data_bytes > 0) std::memcpy(const_cast<void*>(t.raw()), pre + prelen + hlen, size_t(data_bytes));
    return t;
}

// Writes a tensor (any strides; BF16 is not representable) in NumPy format 1.0 into an open
// atomic writer (the caller commits it).
inline void write_npy(AtomicFileWriter& w, const Tensor& t_in) {
    const std::string& path = w.path();
    ERRSEG_CHECK(t_in.defined(), "write_npy '", path, "': undefined tensor");
    const char* descr = detail_npy::descr_of(t_in.dtype(), path);
    Tensor t = t_in.contiguous();
    std::string shape = "(";
    for (size_t i = 0; i < t.shape().size(); ++i) shape += std::to_string(t.shape()[i]) + ", ";
    if (t.shape().size() > 1) shape.resize(shape.size() - 2);
    else if (t.shape().size() == 1) shape.resize(shape.size() - 1);  // "(5,)"
    shape += ")";
    std::string h = std::string("{'descr': '") + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
    // Pad with spaces so the data starts on a 64-byte boundary, then end with '\n'.
    const size_t total = (10 + h.size() + 1 + 63) / 64 * 64;
    h.append(total - 10 - h.size() - 1, ' ');
    h += '\n';
    ERRSEG_CHECK(h.size() <= 65535, "write_npy '", path, "': header too long for format 1.0");
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, uint8_t(h.size() & 0xff),
                             uint8_t(h.size() >> 8)};
    w.write(pre, 10);
    w.write(h.data(), h.size());
    w.write(t.raw(), t.nbytes());
}

// Writes a tensor as a .npy file, atomically.
inline void write_npy(const std::string& path, const Tensor& t) {
    AtomicFileWriter w(path);
    write_npy(w, t);
    w.commit();
}

}  // namespace errseg
