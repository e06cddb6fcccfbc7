// Class vocabularies: a built-in list name (ade150, ade847, pc59, pc459, voc20, voc20b, coco),
// a file (JSON array of names, or one name per line), or an inline "a,b,c" list.
#pragma once
#include <cctype>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/json.hpp"

namespace errseg {

struct VocabularyLimits {
    size_t max_classes = 4096;      // the decoder's memory grows with T; raise deliberately
    size_t max_name_bytes = 256;
};

namespace detail {
inline std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

inline bool valid_utf8(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        size_t extra = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : 99;
        if (extra == 99 || i + extra >= s.size() + (extra == 0 ? 1 : 0)) return false;
        for (size_t k = 1; k <= extra; ++k)
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
        i += extra + 1;
    }
    return true;
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
        ERRSEG_CHECK(detail::valid_utf8(n), "class ", i, " name is not valid UTF-8");
        ERRSEG_CHECK(seen.insert(detail::trim(n)).second, "duplicate class name '", detail::trim(n), "'");
    }
}

// Parses class names from text: a JSON array of strings, or one name per line.
inline std::vector<std::string> parse_class_list(const std::string& text, const std::string& origin) {
    std::string t = detail::trim(text);
    std::vector<std::string> names;
    if (!t.empty() && t[0] == '[') {
        json::Value v;
        try {
            v = json::Value::parse(t);
        } catch (const Error& e) {
            fail("class list ", origin, " is not valid JSON: ", e.what());
        }
        for (size_t i = 0; i < v.size(); ++i) {
            ERRSEG_CHECK(v[i].is_string(), "class list ", origin, ": entry ", i, " is not a string");
            names.push_back(v[i].as_string());
        }
    } else {
        std::istringstream is(text);
        std::string line;
        while (std::getline(is, line)) {
            line = detail::trim(line);
            if (!line.empty()) names.push_back(line);
        }
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
    } else if (std::ifstream f{spec, std::ios::binary}) {
        std::ostringstream ss;
        ss << f.rdbuf();
        names = parse_class_list(ss.str(), "'" + spec + "'");
    } else if (spec.find(',') == std::string::npos && detail::looks_like_builtin_name(spec)) {
        fail("unknown built-in vocabulary '", spec, "' (built-in: ade150, ade847, pc59, pc459, voc20, voc20b, coco)");
    } else if (spec.find(',') != std::string::npos || spec.find('/') == std::string::npos) {
        // Inline list; a lone word is a one-class vocabulary.
        std::string item;
        std::istringstream is(spec);
        while (std::getline(is, item, ',')) names.push_back(detail::trim(item));
    } else {
        fail("cannot read class list file '", spec, "'");
    }
    validate_vocabulary(names, limits);
    return names;
}

}  // namespace errseg
