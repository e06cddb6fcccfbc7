// Image input/output: decoding PNG, JPEG, BMP and PNM (PPM/PGM) with stb_image to 8-bit RGB, writing 8-bit PNGs via stb_image_write, and writing 16-bit
// grayscale PNGs (label maps with more than 256 classes) with a small built-in encoder.
//
// stb is compiled privately into each translation unit (see stb.hpp).
//
// Hostile input: dimensions are read from the header (stbi_info) and refused above
// kMaxImageSide per side or kMaxImagePixels in total BEFORE any pixel memory is allocated.
// JPEG Huffman tables are validated before stb sees them (stb 2.27 overflows its tables
// on a DHT segment declaring more than 256 codes).
#pragma once
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../core/cpu_instances.hpp"
#include "../core/error.hpp"
#include "../core/storage.hpp"
#include "../core/tensor.hpp"
#include "atomic_file.hpp"
#include "byte_order.hpp"
#include "checksum.hpp"
#include "exif.hpp"

#include "stb.hpp"

namespace errseg {

constexpr int kMaxImageSide = 32768;
constexpr int64_t kMaxImagePixels = int64_t(64) << 20;  // 64 Mpixel

// 8-bit RGB pixels, row-major, interleaved (HWC).
struct Image {
    int width = 0, height = 0;
    std::vector<uint8_t> rgb;
};

// Whether decoding turns JPEG/PNG images upright by their EXIF orientation (exif.hpp): Apply is
// what detectron2's read_image does (ERR-Seg's data path), Ignore what PIL's Image.open does
// (open_clip's CLIP preprocessing).
enum class ExifOrientation { Ignore, Apply };

namespace detail {

// max_pixels: a caller's stricter total (e.g. `errseg segment --max-pixels`); kMaxImagePixels
// and kMaxImageSide always apply.
inline void check_image_dims(int64_t w, int64_t h, const std::string& what, int64_t max_pixels = kMaxImagePixels) {
    ERRSEG_CHECK(w > 0 && h > 0, what, ": invalid image dimensions ", w, "x", h);
    ERRSEG_CHECK(w <= kMaxImageSide && h <= kMaxImageSide && w * h <= kMaxImagePixels, what,
                 ": image is ", w, "x", h, ", larger than the limit of ", kMaxImageSide,
                 " pixels per side and ", kMaxImagePixels / (1 << 20), " Mpixel");
    ERRSEG_CHECK(w * h <= max_pixels, what, ": image is ", w, "x", h, " (", w * h,
                 " pixels), larger than the limit of ", max_pixels, " pixels");
}

// Offset just past a JPEG's SOI marker, 0 when there is none. Like stb, any number of 0xFF
// fill bytes may precede the D8 ("FF FF D8" is a JPEG to stb too).
inline size_t jpeg_soi_end(const uint8_t* d, size_t n) {
    size_t i = 0;
    while (i < n && d[i] == 0xFF) ++i;
    return i >= 1 && i < n && d[i] == 0xD8 ? i + 1 : 0;
}

// The container format from the leading magic bytes ("" when not recognised). stb tries
// every decoder in turn and only reports the last one's complaint, so this lets errors
// say which format a broken file claimed to be.
inline const char* sniff_image_format(const uint8_t* d, size_t n) {
    auto starts = [&](const char* magic, size_t len) { return n >= len && std::memcmp(d, magic, len) == 0; };
    if (starts("\x89PNG\r\n\x1a\n", 8)) return "PNG";
    if (jpeg_soi_end(d, n)) return "JPEG";
    if (starts("BM", 2)) return "BMP";
    if (starts("GIF8", 4)) return "GIF";
    if (starts("8BPS", 4)) return "PSD";
    if (starts("#?RADIANCE", 10) || starts("#?RGBE", 6)) return "HDR";
    if (n >= 2 && d[0] == 'P' && d[1] >= '1' && d[1] <= '6') return "PNM";
    return "";
}

// Walks the JPEG marker segments (including those between progressive scans) and checks the
// tables stb_image 2.27 would trust: every Huffman table (DHT) declares at most 256 codes, as
// the JPEG standard requires, and every scan (SOS) decodes only with Huffman and quantization
// tables defined before it (stb uses an undefined table's uninitialised memory: out-of-bounds
// indexing for Huffman tables, pixels made of heap garbage for quantization tables; all found
// by fuzz_image). The file must also reach its end-of-image marker: stb decodes a truncated
// scan as if zeros followed (silently gray or smeared pixels), PIL (the upstream reader) refuses
// it ("image file is truncated"), and so do we. Returns nullptr when fine, else what is wrong.
// Bytes read past the end count as 0, as in stb.
inline const char* jpeg_table_problem(const uint8_t* d, size_t n) {
    auto byte = [&](size_t i) -> unsigned { return i < n ? d[i] : 0u; };
    bool defined[2][4] = {};  // Huffman tables [DC/AC][table id]
    bool quant_defined[4] = {};
    unsigned frame_ids[4] = {}, frame_tq[4] = {}, frame_components = 0;  // from the frame header
    bool progressive = false;
    size_t i = jpeg_soi_end(d, n);  // after SOI
    while (i + 1 < n) {
        if (d[i] != 0xFF) {  // entropy-coded data
            ++i;
            continue;
        }
        const unsigned m = d[i + 1];
        if (m == 0xFF) {  // fill byte
            ++i;
            continue;
        }
        if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) {  // stuffing, TEM, RSTn, SOI
            i += 2;
            continue;
        }
        if (m == 0xD9) return nullptr;  // EOI
        const size_t len = byte(i + 2) << 8 | byte(i + 3);
        if (m == 0xC2) progressive = true;
        if (m == 0xC0 || m == 0xC1 || m == 0xC2) {  // SOF: P, Y, X, Nf, then (C, H<<4|V, Tq)
            frame_components = std::min(byte(i + 9), 4u);
            for (unsigned c = 0; c < frame_components; ++c) {
                frame_ids[c] = byte(i + 10 + 3 * c);
                frame_tq[c] = byte(i + 12 + 3 * c);
            }
        }
        if (m == 0xDB) {  // DQT: (Pq<<4 | Tq, 64 entries of 1 or 2 bytes)...
            const size_t end = i + 2 + len;
            for (size_t p = i + 4; p < end;) {
                const unsigned pq = byte(p) >> 4, tq = byte(p) & 15;
                if (tq <= 3) quant_defined[tq] = true;  // stb refuses other ids itself
                p += 1 + (pq ? 128 : 64);
            }
        }
        if (m == 0xC4) {
            const size_t end = i + 2 + len;
            size_t p = i + 4;
            while (p < end) {  // tables: class/id byte, 16 counts, the symbols
                const unsigned tc = byte(p) >> 4, th = byte(p) & 15;
                unsigned total = 0;
                for (size_t k = 0; k < 16; ++k) total += byte(p + 1 + k);
                if (total > 256) return "invalid Huffman table";
                if (tc <= 1 && th <= 3) defined[tc][th] = true;  // stb refuses other ids itself
                p += 17 + total;
            }
        }
        if (m == 0xDA) {  // Ns, then (component, DC<<4 | AC) pairs, then Ss, Se, Ah<<4 | Al
            const unsigned ns = byte(i + 4);
            const unsigned ss = byte(i + 5 + 2 * ns), ah = byte(i + 7 + 2 * ns) >> 4;
            const bool uses_dc = !progressive || (ss == 0 && ah == 0);
            const bool uses_ac = !progressive || ss > 0;
            for (unsigned c = 0; c < ns; ++c) {
                const unsigned id = byte(i + 5 + 2 * c);
                const unsigned dc = byte(i + 6 + 2 * c) >> 4, ac = byte(i + 6 + 2 * c) & 15;
                if ((uses_dc && (dc > 3 || !defined[0][dc])) || (uses_ac && (ac > 3 || !defined[1][ac])))
                    return "scan uses an undefined Huffman table";
                for (unsigned f = 0; f < frame_components; ++f)
                    if (frame_ids[f] == id && (frame_tq[f] > 3 || !quant_defined[frame_tq[f]]))
                        return "scan uses an undefined quantization table";
            }
        }
        i += 2 + (len < 2 ? 2 : len);
    }
    return "truncated: the file ends before its end-of-image marker";
}

// BMP: stb 2.27 reads pixel rows without checking the file length (reads past the end give 0),
// so a 36-byte file declaring 1815 x 23813 at 1 bit per pixel decoded to 43 M black pixels after
// seconds of work (found by fuzz_image as a timeout). The uncompressed BMPs stb reads (BI_RGB,
// BI_BITFIELDS) must hold every row, 4-byte aligned, after the pixel offset. Headers stb cannot
// parse are left to it.
inline void check_bmp(const uint8_t* d, size_t n, const std::string& what) {
    if (n < 26) return;
    const uint32_t header = bytes::le32(d + 14);
    int64_t w = 0, h = 0;
    uint32_t bpp = 0;
    int32_t compression = 0;  // as stb reads it: a signed int
    if (header == 12) {  // OS/2 BITMAPCOREHEADER: 16-bit sizes
        w = bytes::le16(d + 18);
        h = bytes::le16(d + 20);
        bpp = bytes::le16(d + 24);
    } else if (header >= 40 && n >= 34) {
        w = int32_t(bytes::le32(d + 18));
        h = int32_t(bytes::le32(d + 22));
        bpp = bytes::le16(d + 28);
        compression = int32_t(bytes::le32(d + 30));
    } else {
        return;
    }
    // stb refuses RLE (1, 2) and compression >= 4 itself; anything else (even negative) it decodes
    // as uncompressed rows.
    if (compression == 1 || compression == 2 || compression >= 4 || w <= 0 || h == 0 || bpp == 0 || bpp > 32)
        return;
    const uint64_t row = (uint64_t(bpp) * uint64_t(w) + 31) / 32 * 4;
    const uint64_t start = std::max<uint64_t>(bytes::le32(d + 10), 14 + uint64_t(header));
    const uint64_t need = start + row * uint64_t(h < 0 ? -h : h);
    if (need > n)
        fail(what, ": truncated BMP image (", w, "x", h < 0 ? -h : h, " at ", bpp, " bits per pixel needs ", need,
             " bytes, the file has ", n, ")");
}

// Binary PNM (P5/P6) header check, with stb's grammar (whitespace and '#' comments between
// the numbers; one byte after the maximum value, then the pixels). stb 2.27 must not see:
// 16-bit files (maximum > 255: it converts them to RGB as if 8-bit and reads past its
// buffer), numbers longer than an int (signed overflow), or truncated pixel data (it returns
// uninitialised memory as pixels). Other 'P' files are left to stb (which refuses them).
inline void check_pnm(const uint8_t* d, size_t n, const std::string& what, int64_t max_pixels) {
    if (n < 2 || d[0] != 'P' || (d[1] != '5' && d[1] != '6')) return;
    const int64_t comp = d[1] == '6' ? 3 : 1;
    size_t i = 2;
    auto space = [](uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
    auto skip = [&] {
        for (;;) {
            while (i < n && space(d[i])) ++i;
            if (i >= n || d[i] != '#') return;
            while (i < n && d[i] != '\n' && d[i] != '\r') ++i;
        }
    };
    auto number = [&]() -> int64_t {
        int64_t v = 0;
        for (int digits = 0; i < n && d[i] >= '0' && d[i] <= '9'; ++i) {
            if (++digits > 9) fail(what, ": corrupt PNM image (number too long in its header)");
            v = v * 10 + (d[i] - '0');
        }
        return v;
    };
    skip();
    const int64_t w = number();
    skip();
    const int64_t h = number();
    skip();
    const int64_t maxval = number();
    check_image_dims(w, h, what, max_pixels);
    if (maxval > 255) fail(what, ": 16-bit PNM images are not supported (maximum value ", maxval, "; convert to 8-bit)");
    const uint64_t need = uint64_t(w * h * comp), have = i < n ? uint64_t(n - i - 1) : 0;
    if (have < need)
        fail(what, ": truncated PNM image (", w, "x", h, " needs ", need, " bytes of pixels, the file has ", have, ")");
}


// Bytes of a file shown in a message: printable ASCII as is, anything else as '?'.
inline std::string printable(const std::string& bytes) {
    std::string out = bytes;
    for (char& c : out)
        if (c < 0x20 || c > 0x7E) c = '?';
    return out;
}

// PNG chunk walk: every chunk up to IEND must fit in the file. stb 2.27 grows its IDAT buffer
// to each chunk's declared length before reading it, so a 200-byte file declaring a 1 GB IDAT
// made it allocate 2 GB (found by fuzz_image).
inline void check_png_chunks(const uint8_t* d, size_t n, const std::string& what) {
    size_t i = 8;  // after the signature
    while (i + 8 <= n) {
        const uint64_t len = bytes::be32(d + i);
        const std::string type(reinterpret_cast<const char*>(d + i + 4), 4);
        const uint64_t remain = uint64_t(n - i - 8);
        if (len + 4 > remain)  // data + CRC
            fail(what, ": truncated or corrupt PNG image (chunk '", printable(type), "' declares ", len,
                 " bytes, the file has ", remain < 4 ? 0 : remain - 4, " left)");
        if (type == "IEND") return;
        i += 12 + size_t(len);
    }
}

// Compiled once into the library where there is one (core/cpu_instances.hpp): stb's decoders are
// the bulk of a program's compile time otherwise.
ERRSEG_LIB_FN Image decode_image(const uint8_t* data, size_t n, const std::string& what,
                                 int64_t max_pixels = kMaxImagePixels, ExifOrientation exif = ExifOrientation::Ignore)
#if ERRSEG_LIB_DEFINES
{
    ERRSEG_CHECK(data != nullptr && n > 0, what, ": image data is empty");
    ERRSEG_CHECK(n <= size_t(INT_MAX), what, ": image data is too large (", n, " bytes)");
    const std::string format = sniff_image_format(data, n);
    // PNG: read the IHDR dimensions ourselves, so absurd sizes get a precise message (stb
    // refuses them too, but its reason is lost behind "unknown image type").
    if (format == "PNG" && n >= 24 && std::memcmp(data + 12, "IHDR", 4) == 0)
        check_image_dims(bytes::be32(data + 16), bytes::be32(data + 20), what, max_pixels);
    if (format == "PNG") check_png_chunks(data, n, what);
    if (format == "JPEG")
        if (const char* problem = jpeg_table_problem(data, n)) fail(what, ": corrupt JPEG image (", problem, ")");
    if (format == "PNM") check_pnm(data, n, what, max_pixels);
    const bool supported = format == "PNG" || format == "JPEG" || format == "BMP" || format == "PNM";
    if (!format.empty() && !supported)
        fail(what, ": ", format, " images are not supported (use PNG, JPEG, BMP or PNM)");
    int w = 0, h = 0, comp = 0;
    if (!stbi_info_from_memory(data, int(n), &w, &h, &comp)) {
        if (!format.empty()) fail(what, ": corrupt or unsupported ", format, " image (cannot read its header)");
        fail(what, ": not a readable image (unknown format; supported: PNG, JPEG, BMP, PNM)");
    }
    check_image_dims(w, h, what, max_pixels);  // before decoding allocates anything
    if (format == "BMP") check_bmp(data, n, what);

    int w2 = 0, h2 = 0, comp2 = 0;
    std::unique_ptr<stbi_uc, void (*)(void*)> px(stbi_load_from_memory(data, int(n), &w2, &h2, &comp2, 3),
                                                 stbi_image_free);
    if (!px) {
        const char* why = stbi_failure_reason();
        fail(what, ": corrupt or unsupported image (", why ? why : "decode failed", ")");
    }
    ERRSEG_CHECK(w2 == w && h2 == h, what, ": image header says ", w, "x", h, " but decoded ", w2, "x", h2);
    Image img;
    img.width = w;
    img.height = h;
    img.rgb.assign(px.get(), px.get() + size_t(w) * size_t(h) * 3);
    if (exif == ExifOrientation::Apply) {
        const auto [ow, oh] = apply_orientation(img.rgb, w, h, 3, exif_orientation(data, n));
        img.width = ow;
        img.height = oh;
    }
    return img;
}
#else
;
#endif

// Collects stb_image_write output in a byte vector.
inline void append_bytes(void* ctx, void* data, int size) {
    auto* out = static_cast<std::vector<uint8_t>*>(ctx);
    const auto* p = static_cast<const uint8_t*>(data);
    out->insert(out->end(), p, p + size);
}

inline void put_be32(std::vector<uint8_t>& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

inline void put_png_chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& body) {
    ERRSEG_CHECK(body.size() <= 0x7FFFFFFFu, "PNG chunk too large");
    put_be32(out, uint32_t(body.size()));
    const size_t start = out.size();
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), body.begin(), body.end());
    put_be32(out, crc32_update(0, out.data() + start, out.size() - start));
}

}  // namespace detail

// Decodes an image file to RGB. Errors name the file and the problem. Images with more than
// max_pixels pixels are refused from their header, before any pixel memory is allocated.
inline Image load_image(const std::string& path, int64_t max_pixels = kMaxImagePixels,
                        ExifOrientation exif = ExifOrientation::Ignore) {
    std::shared_ptr<MappedFile> map;
    try {
        map = std::make_shared<MappedFile>(path);
    } catch (const Error& e) {
        fail("cannot read image file '", path, "': ", e.what());
    }
    return detail::decode_image(map->data(), map->bytes(), "image file '" + path + "'", max_pixels, exif);
}

inline Image load_image_from_memory(const uint8_t* data, size_t n, int64_t max_pixels = kMaxImagePixels,
                                    ExifOrientation exif = ExifOrientation::Ignore) {
    return detail::decode_image(data, n, "image in memory", max_pixels, exif);
}

// float32 [1, 3, H, W] with values 0..255 (the model's normalisation is done elsewhere).
inline Tensor image_to_tensor(const Image& img) {
    const int64_t h = img.height, w = img.width, hw = h * w;
    ERRSEG_CHECK(h > 0 && w > 0 && img.rgb.size() == size_t(hw) * 3, "image_to_tensor: image ", w, "x", h,
                 " has ", img.rgb.size(), " bytes, expected ", hw * 3);
    Tensor t = Tensor::empty({1, 3, h, w});
    float* d = t.data<float>();
    const uint8_t* s = img.rgb.data();
    for (int64_t i = 0; i < hw; ++i) {
        d[i] = float(s[3 * i]);
        d[hw + i] = float(s[3 * i + 1]);
        d[2 * hw + i] = float(s[3 * i + 2]);
    }
    return t;
}

// Encodes 8-bit pixels (channels 1 = gray, 2 = gray+alpha, 3 = RGB, 4 = RGBA; rows packed)
// as PNG bytes.
inline std::vector<uint8_t> encode_png(int w, int h, int channels, const uint8_t* data) {
    detail::check_image_dims(w, h, "encode_png");
    ERRSEG_CHECK(channels >= 1 && channels <= 4, "encode_png: channels must be 1..4, got ", channels);
    ERRSEG_CHECK(data != nullptr, "encode_png: no pixel data");
    std::vector<uint8_t> out;
    if (!stbi_write_png_to_func(detail::append_bytes, &out, w, h, channels, data, w * channels))
        fail("encode_png: PNG encoding failed for a ", w, "x", h, "x", channels, " image");
    return out;
}

// Writes an 8-bit PNG atomically (temporary file + rename).
inline void write_png(const std::string& path, int w, int h, int channels, const uint8_t* data) {
    std::vector<uint8_t> bytes = encode_png(w, h, channels, data);
    write_file_atomic(path, bytes.data(), bytes.size());
}

// Encodes 16-bit grayscale pixels (row-major, w*h values) as PNG bytes. stb cannot write
// 16-bit PNGs, so this is a minimal encoder: IHDR (bit depth 16, color type 0), one IDAT
// holding a zlib stream of uncompressed ("stored") deflate blocks, IEND.
inline std::vector<uint8_t> encode_png16(int w, int h, const uint16_t* data) {
    detail::check_image_dims(w, h, "encode_png16");
    ERRSEG_CHECK(data != nullptr, "encode_png16: no pixel data");
    // Raw scanlines: filter byte 0 ("None") then big-endian samples.
    const size_t row_bytes = 1 + size_t(w) * 2;
    std::vector<uint8_t> raw(row_bytes * size_t(h));
    for (int y = 0; y < h; ++y) {
        uint8_t* r = raw.data() + size_t(y) * row_bytes;
        r[0] = 0;
        const uint16_t* src = data + size_t(y) * size_t(w);
        for (int x = 0; x < w; ++x) {
            r[1 + 2 * x] = uint8_t(src[x] >> 8);
            r[2 + 2 * x] = uint8_t(src[x] & 0xFF);
        }
    }
    // zlib: header (deflate, 32K window, no preset dictionary, check bits), stored blocks of
    // at most 65535 bytes each (BFINAL on the last), Adler-32 of the raw data.
    std::vector<uint8_t> z;
    z.reserve(raw.size() + raw.size() / 65535 * 5 + 16);
    z.push_back(0x78);
    z.push_back(0x01);
    size_t pos = 0;
    do {
        const size_t len = std::min<size_t>(65535, raw.size() - pos);
        const bool last = pos + len == raw.size();
        z.push_back(last ? 1 : 0);  // BFINAL, BTYPE=00 (stored)
        z.push_back(uint8_t(len & 0xFF));
        z.push_back(uint8_t(len >> 8));
        z.push_back(uint8_t(~len & 0xFF));
        z.push_back(uint8_t((~len >> 8) & 0xFF));
        z.insert(z.end(), raw.begin() + std::ptrdiff_t(pos), raw.begin() + std::ptrdiff_t(pos + len));
        pos += len;
    } while (pos < raw.size());
    detail::put_be32(z, detail::adler32(raw.data(), raw.size()));

    std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    std::vector<uint8_t> ihdr;
    detail::put_be32(ihdr, uint32_t(w));
    detail::put_be32(ihdr, uint32_t(h));
    ihdr.insert(ihdr.end(), {16, 0, 0, 0, 0});  // bit depth, color type gray, deflate, filter, no interlace
    detail::put_png_chunk(png, "IHDR", ihdr);
    detail::put_png_chunk(png, "IDAT", z);
    detail::put_png_chunk(png, "IEND", {});
    return png;
}

// Writes a 16-bit grayscale PNG atomically.
inline void write_png16(const std::string& path, int w, int h, const uint16_t* data) {
    std::vector<uint8_t> bytes = encode_png16(w, h, data);
    write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace errseg
