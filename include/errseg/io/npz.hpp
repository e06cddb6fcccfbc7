// NumPy .npz archives (np.savez / np.savez_compressed): a ZIP file whose entries
// "<key>.npy" are .npy arrays. Members may be stored (method 0, read in place from the
// memory map) or deflated (method 8, inflated with stb_image's zlib decoder); other
// methods and encryption are refused. Every member's CRC-32 is checked.
//
// read_npz returns the numeric arrays (<f4 <f2 <i4 <i8 |u1 |b1, C or Fortran order) as
// contiguous tensors; unicode ('<U') and byte-string ('|S') arrays are not tensors and are
// left out — read them with read_npz_strings. The archive is treated as hostile: every
// offset and size is bounds-checked before use.
#pragma once
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../core/error.hpp"
#include "../core/storage.hpp"
#include "../core/tensor.hpp"
#include "../text/utf8.hpp"
#include "byte_order.hpp"
#include "checksum.hpp"
#include "npy.hpp"
#include "stb.hpp"

namespace errseg {
namespace detail_npz {

using bytes::le16;
using bytes::le32;
using bytes::le64;

[[noreturn]] inline void bad_zip(const std::string& path, const std::string& msg) {
    fail("invalid .npz file '", path, "': ", msg);
}
[[noreturn]] inline void bad_npy(const std::string& what, const std::string& msg) { fail(what, ": ", msg); }

// One archive member: where its bytes are inside the file and how they are stored.
struct ZipEntry {
    std::string name;
    uint16_t method = 0;  // 0 stored, 8 deflate
    uint32_t crc = 0;
    uint64_t offset = 0;  // of the member data within the file
    uint64_t csize = 0;   // bytes in the file
    uint64_t size = 0;    // bytes once decompressed
};

// Deflate cannot expand data by more than ~1032:1, so a larger claimed size is a lie
// (and would make us allocate absurd buffers).
constexpr uint64_t kMaxInflateRatio = 1100;
constexpr uint64_t kMaxMemberBytes = uint64_t(2047) << 20;  // stb's inflater takes int sizes

// Lists the members of a ZIP archive held in [d, d + n), validating the structure.
inline std::vector<ZipEntry> zip_entries(const uint8_t* d, uint64_t n, const std::string& path) {
    if (n < 22) bad_zip(path, "file is too short to be a ZIP archive");

    // End of central directory record: the last "PK\5\6" within the final 64 KiB + 22 bytes.
    uint64_t eocd = UINT64_MAX;
    const uint64_t lowest = n > 22 + 65535 ? n - 22 - 65535 : 0;
    for (uint64_t i = n - 22 + 1; i-- > lowest;)
        if (le32(d + i) == 0x06054b50u) {
            eocd = i;
            break;
        }
    if (eocd == UINT64_MAX) bad_zip(path, "no ZIP end-of-central-directory record (not a ZIP archive?)");
    uint64_t count = le16(d + eocd + 10);
    uint64_t cd_size = le32(d + eocd + 12);
    uint64_t cd_offset = le32(d + eocd + 16);
    if (le16(d + eocd + 4) != 0 || le16(d + eocd + 6) != 0) bad_zip(path, "multi-disk ZIP archives are not supported");

    // ZIP64: the real values live in the ZIP64 end-of-central-directory record.
    if (count == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_offset == 0xFFFFFFFFu) {
        if (eocd < 20 || le32(d + eocd - 20) != 0x07064b50u) bad_zip(path, "ZIP64 locator missing");
        const uint64_t z = le64(d + eocd - 20 + 8);
        if (z > n || n - z < 56 || le32(d + z) != 0x06064b50u) bad_zip(path, "ZIP64 end-of-central-directory record invalid");
        count = le64(d + z + 32);
        cd_size = le64(d + z + 40);
        cd_offset = le64(d + z + 48);
    }
    if (cd_offset > n || cd_size > n - cd_offset) bad_zip(path, "central directory lies outside the file");
    if (count > cd_size / 46) bad_zip(path, "central directory is too small for its " + std::to_string(count) + " entries");

    std::vector<ZipEntry> out;
    uint64_t p = cd_offset;
    const uint64_t cd_end = cd_offset + cd_size;
    for (uint64_t k = 0; k < count; ++k) {
        if (cd_end - p < 46 || le32(d + p) != 0x02014b50u) bad_zip(path, "corrupt central directory entry");
        const uint16_t flags = le16(d + p + 8), method = le16(d + p + 10);
        const uint32_t crc = le32(d + p + 16);
        uint64_t csize = le32(d + p + 20), usize = le32(d + p + 24);
        const uint16_t name_len = le16(d + p + 28), extra_len = le16(d + p + 30), comment_len = le16(d + p + 32);
        uint64_t local = le32(d + p + 42);
        if (cd_end - p - 46 < uint64_t(name_len) + extra_len + comment_len) bad_zip(path, "corrupt central directory entry");
        ZipEntry e;
        e.name.assign(reinterpret_cast<const char*>(d + p + 46), name_len);

        // ZIP64 extra field (id 1): 8-byte values for whichever fields were 0xFFFFFFFF.
        const uint8_t* x = d + p + 46 + name_len;
        for (uint64_t q = 0; q + 4 <= extra_len;) {
            const uint16_t id = le16(x + q), len = le16(x + q + 2);
            if (q + 4 + len > extra_len) bad_zip(path, "corrupt extra field of '" + e.name + "'");
            if (id == 1) {
                uint64_t r = q + 4;
                auto take = [&](uint64_t& field) {
                    if (field != 0xFFFFFFFFu) return;
                    if (r + 8 > q + 4 + len) bad_zip(path, "corrupt ZIP64 field of '" + e.name + "'");
                    field = le64(x + r);
                    r += 8;
                };
                take(usize);
                take(csize);
                take(local);
            }
            q += 4 + uint64_t(len);
        }
        if (flags & 1) bad_zip(path, "entry '" + e.name + "' is encrypted");
        if (method != 0 && method != 8)
            bad_zip(path, "entry '" + e.name + "' uses unsupported compression method " + std::to_string(method) +
                              " (only stored and deflate are supported)");
        if (method == 0 && csize != usize)
            bad_zip(path, "stored entry '" + e.name + "' has different compressed and uncompressed sizes");
        if (csize > n) bad_zip(path, "entry '" + e.name + "' is larger than the file");
        if (method == 8 && (usize > kMaxMemberBytes || usize > csize * kMaxInflateRatio + 1024))
            bad_zip(path, "deflated entry '" + e.name + "' claims an implausible size of " + std::to_string(usize) +
                              " bytes");

        // The local header repeats the name and may have a different extra field.
        if (local > n || n - local < 30 || le32(d + local) != 0x04034b50u)
            bad_zip(path, "local header of '" + e.name + "' is missing or corrupt");
        const uint64_t data = local + 30 + le16(d + local + 26) + le16(d + local + 28);
        if (data > n || csize > n - data) bad_zip(path, "data of '" + e.name + "' extends beyond the end of the file");
        e.method = method;
        e.crc = crc;
        e.offset = data;
        e.csize = csize;
        e.size = usize;
        if (method == 0 && detail::crc32_update(0, d + data, size_t(usize)) != crc)
            bad_zip(path, "CRC mismatch in entry '" + e.name + "' (corrupt file)");
        out.push_back(std::move(e));
        p += 46 + uint64_t(name_len) + extra_len + comment_len;
    }
    return out;
}

// The header of a .npy array held in memory.
struct NpyHeader {
    std::string descr;  // e.g. "<f4", "<U7"
    bool fortran = false;
    Shape shape;
    uint64_t data_offset = 0;  // from the start of the .npy bytes
};

// Parses the header dict, a Python literal like
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// strictly: exactly those three keys, a string, a boolean and a tuple of integers.
inline NpyHeader parse_npy_header(const uint8_t* d, uint64_t n, const std::string& what) {
    if (n < 10 || std::memcmp(d, "\x93NUMPY", 6) != 0) bad_npy(what, "not a .npy array (bad magic)");
    const int major = d[6];
    uint64_t hlen, pre;
    if (major == 1) {
        hlen = le16(d + 8);
        pre = 10;
    } else if (major == 2 || major == 3) {
        if (n < 12) bad_npy(what, "truncated .npy header");
        hlen = le32(d + 8);
        pre = 12;
    } else {
        bad_npy(what, "unsupported .npy format version " + std::to_string(major));
    }
    if (hlen > kMaxNpyHeaderBytes)
        bad_npy(what, "a " + std::to_string(hlen) + "-byte .npy header, more than the limit of " +
                          std::to_string(kMaxNpyHeaderBytes) + " bytes");
    if (hlen > n - pre) bad_npy(what, "truncated .npy header");
    const std::string h(reinterpret_cast<const char*>(d + pre), size_t(hlen));

    NpyHeader out;
    out.data_offset = pre + hlen;
    size_t i = 0;
    auto ws = [&] {
        while (i < h.size() && std::isspace(static_cast<unsigned char>(h[i]))) ++i;
    };
    auto expect = [&](char c) {
        ws();
        if (i >= h.size() || h[i] != c) bad_npy(what, std::string("malformed .npy header (expected '") + c + "'): " + h);
        ++i;
    };
    auto quoted = [&] {
        ws();
        if (i >= h.size() || (h[i] != '\'' && h[i] != '"')) bad_npy(what, "malformed .npy header: " + h);
        const char q = h[i++];
        const size_t e = h.find(q, i);
        if (e == std::string::npos) bad_npy(what, "malformed .npy header: " + h);
        std::string s = h.substr(i, e - i);
        i = e + 1;
        return s;
    };
    bool have_descr = false, have_fortran = false, have_shape = false;
    expect('{');
    for (;;) {
        ws();
        if (i < h.size() && h[i] == '}') break;
        const std::string key = quoted();
        expect(':');
        ws();
        if (key == "descr" && !have_descr) {
            out.descr = quoted();
            have_descr = true;
        } else if (key == "fortran_order" && !have_fortran) {
            if (h.compare(i, 4, "True") == 0) out.fortran = true, i += 4;
            else if (h.compare(i, 5, "False") == 0) out.fortran = false, i += 5;
            else bad_npy(what, "malformed fortran_order in .npy header: " + h);
            have_fortran = true;
        } else if (key == "shape" && !have_shape) {
            expect('(');
            for (;;) {
                ws();
                if (i < h.size() && h[i] == ')') break;
                if (i >= h.size() || !std::isdigit(static_cast<unsigned char>(h[i])))
                    bad_npy(what, "malformed shape in .npy header: " + h);
                uint64_t v = 0;
                while (i < h.size() && std::isdigit(static_cast<unsigned char>(h[i]))) {
                    v = v * 10 + uint64_t(h[i++] - '0');
                    if (v > (uint64_t(1) << 48)) bad_npy(what, "absurd dimension in .npy header: " + h);
                }
                out.shape.push_back(int64_t(v));
                ws();
                if (i < h.size() && h[i] == ',') ++i;
                else if (i >= h.size() || h[i] != ')') bad_npy(what, "malformed shape in .npy header: " + h);
            }
            ++i;  // ')'
            if (out.shape.size() > 16) bad_npy(what, "too many dimensions in .npy header");
            have_shape = true;
        } else {
            bad_npy(what, "unexpected or repeated key '" + key + "' in .npy header");
        }
        ws();
        if (i < h.size() && h[i] == ',') ++i;
        else if (i >= h.size() || h[i] != '}') bad_npy(what, "malformed .npy header: " + h);
    }
    if (!have_descr || !have_fortran || !have_shape) bad_npy(what, "incomplete .npy header: " + h);
    return out;
}

// Number of elements, or an error when the data (of `elem` bytes each) cannot fit `avail`.
inline uint64_t checked_numel(const Shape& shape, uint64_t elem, uint64_t avail, const std::string& what) {
    uint64_t numel = 1;
    if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
    for (int64_t s : shape) {
        if (uint64_t(s) > avail || numel > avail / uint64_t(s)) numel = UINT64_MAX;
        else numel *= uint64_t(s);
        if (numel == UINT64_MAX) break;
    }
    if (numel == UINT64_MAX || (elem && numel > avail / elem))
        fail(what, ": array of shape ", shape_str(shape), " needs more bytes than the entry holds");
    if (numel * elem != avail)
        fail(what, ": array of shape ", shape_str(shape), " needs ", numel * elem, " bytes, entry holds ", avail);
    return numel;
}

// A numeric .npy array held in memory -> contiguous tensor (copied).
inline Tensor npy_to_tensor(const uint8_t* d, uint64_t n, const NpyHeader& h, const std::string& what) {
    const std::string& t = h.descr;
    DType dt;
    if (t == "<f4") dt = DType::F32;
    else if (t == "<f2") dt = DType::F16;
    else if (t == "<i4") dt = DType::I32;
    else if (t == "<i8") dt = DType::I64;
    else if (t == "|u1" || t == "|b1" || t == "<u1" || t == "<b1") dt = DType::U8;
    else fail(what, ": unsupported dtype '", t, "' (supported: <f4 <f2 <i4 <i8 |u1 |b1)");
    checked_numel(h.shape, dtype_size(dt), n - h.data_offset, what);
    // Fortran order stores the transpose: read with the reversed shape, then permute back.
    Shape stored = h.shape;
    if (h.fortran) std::reverse(stored.begin(), stored.end());
    Tensor out = Tensor::empty(stored, dt);
    if (out.nbytes()) std::memcpy(out.storage()->data(), d + h.data_offset, out.nbytes());
    if (h.fortran && stored.size() > 1) {
        std::vector<int64_t> rev(stored.size());
        for (size_t k = 0; k < rev.size(); ++k) rev[k] = int64_t(rev.size() - 1 - k);
        out = out.permute(rev).clone();
    }
    return out;
}

inline bool is_string_descr(const std::string& t) {
    return t.size() >= 3 && (t[0] == '<' || t[0] == '|' || t[0] == '>') && (t[1] == 'U' || t[1] == 'S');
}

// A '<U' (UTF-32LE) or '|S' (bytes) array -> its elements in storage order, trailing NULs
// stripped as NumPy does; unicode is converted to UTF-8.
inline std::vector<std::string> npy_to_strings(const uint8_t* d, uint64_t n, const NpyHeader& h,
                                               const std::string& what) {
    const std::string& t = h.descr;
    if (!is_string_descr(t)) fail(what, ": dtype '", t, "' is not a string array ('<U..' or '|S..')");
    if (t[0] == '>' && t[1] == 'U') fail(what, ": big-endian unicode arrays are not supported");
    uint64_t chars = 0;
    for (size_t k = 2; k < t.size(); ++k) {
        if (!std::isdigit(static_cast<unsigned char>(t[k])) || chars > (1u << 24))
            fail(what, ": malformed string dtype '", t, "'");
        chars = chars * 10 + uint64_t(t[k] - '0');
    }
    const bool unicode = t[1] == 'U';
    const uint64_t item = chars * (unicode ? 4 : 1);
    const uint64_t numel = checked_numel(h.shape, item, n - h.data_offset, what);
    if (item == 0) return std::vector<std::string>(size_t(numel));  // '<U0': all empty
    std::vector<std::string> out;
    out.reserve(size_t(numel));
    const uint8_t* p = d + h.data_offset;
    for (uint64_t k = 0; k < numel; ++k, p += item) {
        std::string s;
        if (unicode) {
            uint64_t len = chars;
            while (len > 0 && le32(p + 4 * (len - 1)) == 0) --len;
            for (uint64_t c = 0; c < len; ++c) {
                const uint32_t cp = le32(p + 4 * c);
                if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                    fail(what, ": invalid code point ", cp, " in string ", k);
                text::append_utf8(s, char32_t(cp));
            }
        } else {
            uint64_t len = chars;
            while (len > 0 && p[len - 1] == 0) --len;
            s.assign(reinterpret_cast<const char*>(p), size_t(len));
        }
        out.push_back(std::move(s));
    }
    // Fortran-order string arrays: storage order is column-major; callers get row-major.
    if (h.fortran && h.shape.size() > 1) {
        std::vector<std::string> rowmajor(out.size());
        const Shape strides_c = contiguous_strides(h.shape);
        Shape rev = h.shape;
        std::reverse(rev.begin(), rev.end());
        const Shape strides_f = contiguous_strides(rev);  // of the reversed (stored) shape
        std::vector<int64_t> idx(h.shape.size(), 0);
        for (size_t k = 0; k < out.size(); ++k) {
            int64_t c = 0, f = 0;
            for (size_t a = 0; a < idx.size(); ++a) {
                c += idx[a] * strides_c[a];
                f += idx[a] * strides_f[idx.size() - 1 - a];
            }
            rowmajor[size_t(c)] = std::move(out[size_t(f)]);
            for (size_t a = idx.size(); a-- > 0;) {
                if (++idx[a] < h.shape[a]) break;
                idx[a] = 0;
            }
        }
        out = std::move(rowmajor);
    }
    return out;
}

// An opened archive with its member list.
struct NpzArchive {
    std::string path;
    std::shared_ptr<MappedFile> map;
    std::vector<ZipEntry> entries;

    explicit NpzArchive(const std::string& p) : path(p) {
        try {
            map = std::make_shared<MappedFile>(p);
        } catch (const Error& e) {
            fail("cannot read .npz file '", p, "': ", e.what());
        }
        entries = zip_entries(map->data(), map->bytes(), p);
    }
    // "<key>.npy" -> key; other members are refused.
    static std::string key_of(const ZipEntry& e, const std::string& path) {
        const std::string suffix = ".npy";
        if (e.name.size() <= suffix.size() ||
            e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) != 0)
            fail("invalid .npz file '", path, "': member '", e.name, "' is not a .npy array");
        return e.name.substr(0, e.name.size() - suffix.size());
    }
    // A member's bytes: in place for stored members, inflated (and CRC-checked) otherwise.
    struct Blob {
        const uint8_t* data = nullptr;
        uint64_t size = 0;
        std::vector<uint8_t> owned;
    };
    Blob load(const ZipEntry& e) const {
        Blob b;
        const uint8_t* src = map->data() + e.offset;
        if (e.method == 0) {
            b.data = src;
            b.size = e.size;
            return b;
        }
        b.owned.resize(size_t(std::max<uint64_t>(e.size, 1)));
        ERRSEG_CHECK(e.csize <= kMaxMemberBytes, "invalid .npz file '", path, "': entry '", e.name, "' is too large");
        // stb's inflater (v2.27) refuses a stream whose last code sits in the final bytes of
        // its input buffer (it wants 16 bits of look-ahead), so decode from a copy followed
        // by zero padding; bytes after the final deflate block are never used.
        std::vector<uint8_t> in(size_t(e.csize) + 16, 0);
        if (e.csize) std::memcpy(in.data(), src, size_t(e.csize));
        const int got = stbi_zlib_decode_noheader_buffer(reinterpret_cast<char*>(b.owned.data()), int(e.size),
                                                         reinterpret_cast<const char*>(in.data()), int(in.size()));
        if (got < 0 || uint64_t(got) != e.size)
            fail("invalid .npz file '", path, "': cannot inflate entry '", e.name, "' (corrupt deflate data)");
        if (detail::crc32_update(0, b.owned.data(), size_t(e.size)) != e.crc)
            fail("invalid .npz file '", path, "': CRC mismatch in entry '", e.name, "' (corrupt file)");
        b.data = b.owned.data();
        b.size = e.size;
        return b;
    }
    std::string what(const std::string& key) const { return "array '" + key + "' in .npz file '" + path + "'"; }
};

}  // namespace detail_npz

// All numeric arrays of an .npz archive by key (string arrays are left out).
inline std::map<std::string, Tensor> read_npz(const std::string& path) {
    detail_npz::NpzArchive ar(path);
    std::map<std::string, Tensor> out;
    for (const auto& e : ar.entries) {
        const std::string key = detail_npz::NpzArchive::key_of(e, path);
        const std::string what = ar.what(key);
        const auto blob = ar.load(e);
        const auto h = detail_npz::parse_npy_header(blob.data, blob.size, what);
        if (detail_npz::is_string_descr(h.descr)) continue;
        if (!out.emplace(key, detail_npz::npy_to_tensor(blob.data, blob.size, h, what)).second)
            fail("invalid .npz file '", path, "': duplicate array '", key, "'");
    }
    return out;
}

// Keys of all arrays in the archive (numeric and string), in archive order.
inline std::vector<std::string> npz_keys(const std::string& path) {
    detail_npz::NpzArchive ar(path);
    std::vector<std::string> keys;
    for (const auto& e : ar.entries) keys.push_back(detail_npz::NpzArchive::key_of(e, path));
    return keys;
}

// The elements (row-major, flattened; a 0-d array gives one) of a unicode ('<U..', stored
// as UTF-32LE) or byte-string ('|S..') array, as UTF-8 strings.
inline std::vector<std::string> read_npz_strings(const std::string& path, const std::string& key) {
    detail_npz::NpzArchive ar(path);
    for (const auto& e : ar.entries) {
        if (detail_npz::NpzArchive::key_of(e, path) != key) continue;
        const std::string what = ar.what(key);
        const auto blob = ar.load(e);
        const auto h = detail_npz::parse_npy_header(blob.data, blob.size, what);
        return detail_npz::npy_to_strings(blob.data, blob.size, h, what);
    }
    fail(".npz file '", path, "' has no array '", key, "'");
}

}  // namespace errseg
