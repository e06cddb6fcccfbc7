// Class vocabularies (--classes), resolved in this order:
//  1. a built-in list name (ade150, ade847, pc59, pc459, voc20, voc20b, coco);
//  2. a file: a JSON array of strings (a file whose text starts with '[', '{' or '"', or named
//     *.json, must be one), else one name per line; a UTF-8 byte-order mark is skipped; the
//     file must be a regular file of at most kMaxClassListBytes;
//  3. an inline JSON array when the value starts with '[': '["a, b", "c"]' is two classes;
//  4. an inline comma-separated list "a,b,c" (a lone word is one class; names cannot contain
//     commas: use the JSON form for those).
#pragma once
#include <cctype>
#include <cerrno>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/regular_file.hpp"
#include "io/json.hpp"
#include "text/utf8.hpp"

#if !defined(_WIN32)
#include <sys/stat.h>
#endif

namespace errseg {

// 65536 names of 256 bytes, with room for JSON quoting.
inline constexpr uint64_t kMaxClassListBytes = uint64_t(32) << 20;

struct VocabularyLimits {
    size_t max_classes = 4096;      // the decoder's memory grows with T; raise deliberately
    size_t max_name_bytes = 256;
};

namespace detail {
inline std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// "ade150", "pc459", "voc20b": the shape of a built-in vocabulary name.
inline bool looks_like_builtin_name(const std::string& s) {
    size_t i = 0;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    size_t digits = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    return digits > 0 && i > digits && i == s.size();
}
}  // namespace detail

// Checks a parsed vocabulary: non-empty, bounded, valid UTF-8, no empty or duplicate names.
inline void validate_vocabulary(const std::vector<std::string>& names, const VocabularyLimits& limits = {}) {
    ERRSEG_CHECK(!names.empty(), "the vocabulary is empty: give at least one class name");
    ERRSEG_CHECK(names.size() <= limits.max_classes, "the vocabulary has ", names.size(),
                 " classes, more than the limit of ", limits.max_classes, " (raise it with --max-classes)");
    std::set<std::string> seen;
    for (size_t i = 0; i < names.size(); ++i) {
        const std::string& n = names[i];
        ERRSEG_CHECK(!detail::trim(n).empty(), "class ", i, " has an empty name");
        ERRSEG_CHECK(n.size() <= limits.max_name_bytes, "class ", i, " name is ", n.size(),
                     " bytes long (limit ", limits.max_name_bytes, ")");
        ERRSEG_CHECK(text::is_valid_utf8(n), "class ", i, " name is not valid UTF-8");
        ERRSEG_CHECK(seen.insert(detail::trim(n)).second, "duplicate class name '", detail::trim(n), "'");
    }
}

namespace detail {
// A JSON array of strings, or an error naming what the JSON is instead.
inline std::vector<std::string> parse_json_class_list(const std::string& text, const std::string& origin) {
    json::Value v;
    try {
        v = json::Value::parse(text);
    } catch (const Error& e) {
        fail("class list ", origin, " is not valid JSON: ", e.what());
    }
    ERRSEG_CHECK(v.is_array(), "class list ", origin, " is a JSON ", v.is_object() ? "object" : v.is_string() ? "string" : "value",
                 ", expected a JSON array of strings (or one name per line)");
    std::vector<std::string> names;
    for (size_t i = 0; i < v.size(); ++i) {
        ERRSEG_CHECK(v[i].is_string(), "class list ", origin, ": entry ", i, " is not a string");
        names.push_back(v[i].as_string());
    }
    return names;
}

inline bool ends_with_json(const std::string& path) {
    std::string ext = path.size() >= 5 ? path.substr(path.size() - 5) : std::string();
    for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
    return ext == ".json";
}

// Whether something (a file, a directory, a dangling or looping link) is at `path`.
inline bool path_exists(const std::string& path) {
#if defined(_WIN32)
    return is_regular_file(path);
#else
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
#endif
}
}  // namespace detail

// Parses class names from text: a JSON array of strings (text starting with '[', '{' or '"',
// or json_only), or one name per line. A leading UTF-8 byte-order mark is skipped.
inline std::vector<std::string> parse_class_list(const std::string& text, const std::string& origin,
                                                 bool json_only = false) {
    const std::string body = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? text.substr(3) : text;
    const std::string t = detail::trim(body);
    if (json_only || (!t.empty() && (t[0] == '[' || t[0] == '{' || t[0] == '"')))
        return detail::parse_json_class_list(t, origin);
    std::vector<std::string> names;
    std::istringstream is(body);
    std::string line;
    while (std::getline(is, line)) {
        line = detail::trim(line);
        if (!line.empty()) names.push_back(line);
    }
    return names;
}

// Resolves a --classes argument. `builtin(name)` returns the JSON text of a built-in list or "".
inline std::vector<std::string> resolve_vocabulary(
    const std::string& spec, const std::function<std::string(const std::string&)>& builtin,
    const VocabularyLimits& limits = {}) {
    ERRSEG_CHECK(!detail::trim(spec).empty(), "the vocabulary is empty: give a built-in name, a file or \"a,b,c\"");
    std::vector<std::string> names;
    std::string text = builtin ? builtin(spec) : std::string();
    if (!text.empty()) {
        names = parse_class_list(text, "'" + spec + "'");
    } else if (detail::path_exists(spec)) {
        std::string content;
        try {
            content = read_file_capped(spec, kMaxClassListBytes, "class list");
        } catch (const Error& e) {
            fail("cannot read class list file: ", e.what());
        }
        names = parse_class_list(content, "'" + spec + "'", detail::ends_with_json(spec));
    } else if (detail::trim(spec)[0] == '[') {
        names = detail::parse_json_class_list(detail::trim(spec), "given inline");
    } else if (spec.find(',') == std::string::npos && detail::looks_like_builtin_name(spec)) {
        fail("unknown built-in vocabulary '", spec, "' (built-in: ade150, ade847, pc59, pc459, voc20, voc20b, coco)");
    } else if (spec.find(',') != std::string::npos || spec.find('/') == std::string::npos) {
        // Inline list; a lone word is a one-class vocabulary.
        std::string item;
        std::istringstream is(spec);
        while (std::getline(is, item, ',')) names.push_back(detail::trim(item));
    } else {
        fail("cannot read class list file '", spec, "': ", detail::open_error_text(ENOENT));
    }
    validate_vocabulary(names, limits);
    return names;
}

}  // namespace errseg
