// A small, strict JSON value type (RFC 8259) for model configs and safetensors headers.
//
// * Objects keep insertion order (so dump() reproduces the order keys were written in).
// * parse() is strict: no comments, no trailing commas, no leading zeros, no control
//   characters inside strings, valid UTF-8 only, \uXXXX escapes with proper surrogate
//   pairs, duplicate object keys refused, nesting depth limited to kMaxDepth.
//   Errors are errseg::Error("JSON parse error at byte N: ...").
// * Numbers are doubles. A literal whose magnitude overflows a double (e.g. 1e400) is an
//   error; one that underflows (e.g. 1e-400) becomes 0 (or a subnormal), as in IEEE parsing.
// * dump() writes valid JSON: integral numbers up to 2^53 without a fraction, others with
//   the shortest representation that round-trips; strings escape '"', '\\' and control
//   characters and keep UTF-8 bytes unchanged. A string that is not valid UTF-8 (a file name
//   from a non-UTF-8 file system) has each ill-formed part replaced by U+FFFD, so the output
//   is always valid JSON. Non-finite numbers cannot be dumped.
#pragma once
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include "../core/error.hpp"
#include "../text/utf8.hpp"

namespace errseg {
namespace json {

class Value {
public:
    enum class Type : uint8_t { Null, Bool, Number, String, Array, Object };
    static constexpr int kMaxDepth = 256;

    // ---- construction ----
    Value() = default;
    Value(std::nullptr_t) {}
    Value(bool b) : type_(Type::Bool), bool_(b) {}
    Value(double d) : type_(Type::Number), num_(d) {}
    Value(int i) : type_(Type::Number), num_(double(i)) {}
    Value(int64_t i) : type_(Type::Number), num_(double(i)) {}
    // Any other integer type (unsigned, size_t, long long...), but not bool or char.
    template <class T, std::enable_if_t<std::is_integral<T>::value && !std::is_same<T, bool>::value &&
                                            !std::is_same<T, char>::value && !std::is_same<T, int>::value &&
                                            !std::is_same<T, int64_t>::value,
                                        int> = 0>
    Value(T i) : type_(Type::Number), num_(double(i)) {}
    Value(float f) : type_(Type::Number), num_(double(f)) {}
    Value(const char* s) : type_(Type::String), str_(s ? s : "") {}
    Value(std::string s) : type_(Type::String), str_(std::move(s)) {}

    static Value array() {
        Value v;
        v.type_ = Type::Array;
        return v;
    }
    static Value object() {
        Value v;
        v.type_ = Type::Object;
        return v;
    }

    // ---- type queries ----
    Type type() const { return type_; }
    bool is_null() const { return type_ == Type::Null; }
    bool is_bool() const { return type_ == Type::Bool; }
    bool is_number() const { return type_ == Type::Number; }
    bool is_string() const { return type_ == Type::String; }
    bool is_array() const { return type_ == Type::Array; }
    bool is_object() const { return type_ == Type::Object; }
    static const char* type_name(Type t) {
        switch (t) {
            case Type::Null: return "null";
            case Type::Bool: return "a boolean";
            case Type::Number: return "a number";
            case Type::String: return "a string";
            case Type::Array: return "an array";
            case Type::Object: return "an object";
        }
        return "?";
    }

    // ---- accessors (throw errseg::Error on a type mismatch) ----
    bool as_bool() const {
        expect(Type::Bool);
        return bool_;
    }
    double as_number() const {
        expect(Type::Number);
        return num_;
    }
    // The number as an integer; refuses fractions and values outside int64.
    int64_t as_int() const {
        expect(Type::Number);
        ERRSEG_CHECK(std::isfinite(num_) && std::floor(num_) == num_, "JSON number ", num_,
                     " is not an integer");
        // 2^63 is exactly representable; the valid range is [-2^63, 2^63).
        ERRSEG_CHECK(num_ >= -9223372036854775808.0 && num_ < 9223372036854775808.0, "JSON number ",
                     num_, " does not fit a 64-bit integer");
        return int64_t(num_);
    }
    const std::string& as_string() const {
        expect(Type::String);
        return str_;
    }
    const std::vector<Value>& as_array() const {
        expect(Type::Array);
        return arr_;
    }
    const std::vector<std::pair<std::string, Value>>& items() const {
        expect(Type::Object);
        return obj_;
    }

    // Number of elements of an array or members of an object.
    size_t size() const {
        if (type_ == Type::Array) return arr_.size();
        if (type_ == Type::Object) return obj_.size();
        fail("JSON value is ", type_name(type_), ", expected an array or an object");
    }
    // Array element (any integer index type, so v[0] is not ambiguous with v["key"]).
    template <class I, std::enable_if_t<std::is_integral<I>::value && !std::is_same<I, bool>::value, int> = 0>
    const Value& operator[](I i) const {
        expect(Type::Array);
        ERRSEG_CHECK(!(i < I(0)) && uint64_t(i) < arr_.size(), "JSON array index ", int64_t(i),
                     " out of range (size ", arr_.size(), ")");
        return arr_[size_t(i)];
    }
    const Value& operator[](const std::string& key) const {
        const Value* v = find(key);
        if (!v) fail("missing key '", key, "'");
        return *v;
    }
    const Value& operator[](const char* key) const { return (*this)[std::string(key)]; }
    // nullptr when absent. Requires an object.
    const Value* find(const std::string& key) const {
        expect(Type::Object);
        for (const auto& kv : obj_)
            if (kv.first == key) return &kv.second;
        return nullptr;
    }
    bool contains(const std::string& key) const { return find(key) != nullptr; }

    // Typed lookups with a default for absent keys (type mismatches still throw).
    // Typed lookups with a default; a value of the wrong type fails naming the key.
    double number_or(const std::string& key, double def) const {
        return member_or(key, def, [](const Value& v) { return v.as_number(); });
    }
    int64_t int_or(const std::string& key, int64_t def) const {
        return member_or(key, def, [](const Value& v) { return v.as_int(); });
    }
    std::string string_or(const std::string& key, const std::string& def) const {
        return member_or(key, def, [](const Value& v) { return v.as_string(); });
    }
    bool bool_or(const std::string& key, bool def) const {
        const Value* v = find(key);
        return v ? v->as_bool() : def;
    }

    // ---- mutation ----
    void push_back(Value v) {
        expect(Type::Array);
        arr_.push_back(std::move(v));
    }
    // Adds a member, or replaces the value of an existing one (keeping its position).
    void set(const std::string& key, Value v) {
        expect(Type::Object);
        for (auto& kv : obj_)
            if (kv.first == key) {
                kv.second = std::move(v);
                return;
            }
        obj_.emplace_back(key, std::move(v));
    }

    bool operator==(const Value& o) const {
        if (type_ != o.type_) return false;
        switch (type_) {
            case Type::Null: return true;
            case Type::Bool: return bool_ == o.bool_;
            case Type::Number: return num_ == o.num_;
            case Type::String: return str_ == o.str_;
            case Type::Array: return arr_ == o.arr_;
            case Type::Object: return obj_ == o.obj_;
        }
        return false;
    }
    bool operator!=(const Value& o) const { return !(*this == o); }

    // ---- serialisation ----
    // indent < 0: compact one-line output; indent >= 0: pretty-printed with that many spaces.
    std::string dump(int indent = -1) const {
        std::string out;
        dump_to(out, indent, 0);
        return out;
    }

    static Value parse(const std::string& text) { return parse(text.data(), text.size()); }
    static Value parse(const char* data, size_t n) {
        Parser p{data, n, 0};
        p.skip_ws();
        Value v = p.parse_value(0);
        p.skip_ws();
        if (p.pos != p.n) p.error("unexpected data after the JSON value");
        return v;
    }

    // Appends s to out as a quoted JSON string (ill-formed UTF-8 replaced by U+FFFD).
    static void quote(std::string& out, const std::string& raw) {
        static const char* hex = "0123456789abcdef";
        const std::string s = text::to_valid_utf8(raw);
        out += '"';
        for (char ch : s) {
            const auto c = static_cast<unsigned char>(ch);
            switch (c) {
                case '"': out += "\\\""; break;
                case '\\': out += "\\\\"; break;
                case '\b': out += "\\b"; break;
                case '\f': out += "\\f"; break;
                case '\n': out += "\\n"; break;
                case '\r': out += "\\r"; break;
                case '\t': out += "\\t"; break;
                default:
                    if (c < 0x20) {
                        out += "\\u00";
                        out += hex[c >> 4];
                        out += hex[c & 15];
                    } else {
                        out += char(c);
                    }
            }
        }
        out += '"';
    }

private:
    template <class R, class Get>
    R member_or(const std::string& key, const R& def, Get get) const {
        const Value* v = find(key);
        if (!v) return def;
        try {
            return get(*v);
        } catch (const Error& e) {
            fail("'", key, "': ", e.what());
        }
    }

    void expect(Type t) const {
        if (type_ != t) fail("JSON value is ", type_name(type_), ", expected ", type_name(t));
    }

    static void format_number(std::string& out, double d) {
        ERRSEG_CHECK(std::isfinite(d), "cannot write non-finite number ", d, " as JSON");
        char buf[64];
        if (std::floor(d) == d && std::fabs(d) <= 9007199254740992.0) {  // exact integer
            auto r = std::to_chars(buf, buf + sizeof buf, int64_t(d));
            out.append(buf, r.ptr);  // (-0 prints as 0)
            return;
        }
        auto r = std::to_chars(buf, buf + sizeof buf, d);  // shortest round-trip form
        out.append(buf, r.ptr);
    }

    static void newline(std::string& out, int indent, int level) {
        if (indent < 0) return;
        out += '\n';
        out.append(size_t(indent) * size_t(level), ' ');
    }

    void dump_to(std::string& out, int indent, int level) const {
        switch (type_) {
            case Type::Null: out += "null"; return;
            case Type::Bool: out += bool_ ? "true" : "false"; return;
            case Type::Number: format_number(out, num_); return;
            case Type::String: quote(out, str_); return;
            case Type::Array:
                out += '[';
                for (size_t i = 0; i < arr_.size(); ++i) {
                    if (i) out += ',';
                    newline(out, indent, level + 1);
                    arr_[i].dump_to(out, indent, level + 1);
                }
                if (!arr_.empty()) newline(out, indent, level);
                out += ']';
                return;
            case Type::Object:
                out += '{';
                for (size_t i = 0; i < obj_.size(); ++i) {
                    if (i) out += ',';
                    newline(out, indent, level + 1);
                    quote(out, obj_[i].first);
                    out += indent < 0 ? ":" : ": ";
                    obj_[i].second.dump_to(out, indent, level + 1);
                }
                if (!obj_.empty()) newline(out, indent, level);
                out += '}';
                return;
        }
    }

    // Recursive-descent parser over a byte range; depth bounds the recursion.
    struct Parser {
        const char* s;
        size_t n;
        size_t pos;

        [[noreturn]] void error(const std::string& msg) const {
            fail("JSON parse error at byte ", pos, ": ", msg);
        }
        bool eof() const { return pos >= n; }
        unsigned char peek() const { return eof() ? 0 : (unsigned char)s[pos]; }
        void skip_ws() {
            while (pos < n && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) ++pos;
        }
        void expect_literal(const char* lit) {
            size_t len = std::strlen(lit);
            if (n - pos < len || std::memcmp(s + pos, lit, len) != 0) error("invalid literal");
            pos += len;
        }

        Value parse_value(int depth) {
            if (eof()) error("unexpected end of input, expected a value");
            switch (peek()) {
                case '{': return parse_object(depth + 1);
                case '[': return parse_array(depth + 1);
                case '"': return Value(parse_string());
                case 't': expect_literal("true"); return Value(true);
                case 'f': expect_literal("false"); return Value(false);
                case 'n': expect_literal("null"); return Value();
                default:
                    if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return Value(parse_number());
                    error(std::string("unexpected character '") + char(peek()) + "'");
            }
        }

        Value parse_array(int depth) {
            if (depth > kMaxDepth) error("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
            ++pos;  // '['
            Value v = Value::array();
            skip_ws();
            if (peek() == ']') {
                ++pos;
                return v;
            }
            for (;;) {
                skip_ws();
                v.arr_.push_back(parse_value(depth));
                skip_ws();
                if (eof()) error("unexpected end of input inside an array");
                char c = s[pos++];
                if (c == ']') return v;
                if (c != ',') {
                    --pos;
                    error("expected ',' or ']' in an array");
                }
                skip_ws();
                if (peek() == ']') error("trailing comma in an array");
            }
        }

        Value parse_object(int depth) {
            if (depth > kMaxDepth) error("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
            ++pos;  // '{'
            Value v = Value::object();
            std::unordered_set<std::string> seen;
            skip_ws();
            if (peek() == '}') {
                ++pos;
                return v;
            }
            for (;;) {
                skip_ws();
                if (peek() != '"') error(eof() ? "unexpected end of input inside an object"
                                               : "expected a string key in an object");
                size_t key_pos = pos;
                std::string key = parse_string();
                if (!seen.insert(key).second) {
                    pos = key_pos;
                    error("duplicate key '" + key + "'");
                }
                skip_ws();
                if (peek() != ':') error("expected ':' after an object key");
                ++pos;
                skip_ws();
                Value member = parse_value(depth);
                v.obj_.emplace_back(std::move(key), std::move(member));
                skip_ws();
                if (eof()) error("unexpected end of input inside an object");
                char c = s[pos++];
                if (c == '}') return v;
                if (c != ',') {
                    --pos;
                    error("expected ',' or '}' in an object");
                }
                skip_ws();
                if (peek() == '}') error("trailing comma in an object");
            }
        }

        unsigned parse_hex4() {
            if (n - pos < 4) error("truncated \\u escape");
            unsigned v = 0;
            for (int i = 0; i < 4; ++i) {
                char c = s[pos + size_t(i)];
                v <<= 4;
                if (c >= '0' && c <= '9') v |= unsigned(c - '0');
                else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
                else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
                else error("invalid hex digit in \\u escape");
            }
            pos += 4;
            return v;
        }

        // Copies one well-formed UTF-8 sequence starting at pos (refusing overlong forms,
        // surrogates and code points above U+10FFFF).
        void copy_utf8(std::string& out) {
            unsigned char c = peek();
            size_t len;
            uint32_t cp, min;
            if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; min = 0x80; }
            else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; min = 0x800; }
            else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; min = 0x10000; }
            else error("invalid UTF-8 byte in a string");
            if (n - pos < len) error("truncated UTF-8 sequence in a string");
            for (size_t i = 1; i < len; ++i) {
                unsigned char d = (unsigned char)s[pos + i];
                if ((d & 0xC0) != 0x80) error("invalid UTF-8 continuation byte in a string");
                cp = (cp << 6) | (d & 0x3F);
            }
            if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                error("invalid UTF-8 sequence in a string");
            out.append(s + pos, len);
            pos += len;
        }

        std::string parse_string() {
            ++pos;  // opening quote
            std::string out;
            for (;;) {
                if (eof()) error("unterminated string");
                unsigned char c = peek();
                if (c == '"') {
                    ++pos;
                    return out;
                }
                if (c < 0x20) error("unescaped control character in a string");
                if (c >= 0x80) {
                    copy_utf8(out);
                    continue;
                }
                if (c != '\\') {
                    out += char(c);
                    ++pos;
                    continue;
                }
                ++pos;  // backslash
                if (eof()) error("unterminated escape sequence");
                char e = s[pos++];
                switch (e) {
                    case '"': out += '"'; break;
                    case '\\': out += '\\'; break;
                    case '/': out += '/'; break;
                    case 'b': out += '\b'; break;
                    case 'f': out += '\f'; break;
                    case 'n': out += '\n'; break;
                    case 'r': out += '\r'; break;
                    case 't': out += '\t'; break;
                    case 'u': {
                        size_t esc_pos = pos - 2;
                        uint32_t cp = parse_hex4();
                        if (cp >= 0xDC00 && cp <= 0xDFFF) {
                            pos = esc_pos;
                            error("lone low surrogate in \\u escape");
                        }
                        if (cp >= 0xD800 && cp <= 0xDBFF) {  // must be followed by a low surrogate
                            if (n - pos < 2 || s[pos] != '\\' || s[pos + 1] != 'u') {
                                pos = esc_pos;
                                error("lone high surrogate in \\u escape");
                            }
                            pos += 2;
                            uint32_t lo = parse_hex4();
                            if (lo < 0xDC00 || lo > 0xDFFF) {
                                pos = esc_pos;
                                error("high surrogate not followed by a low surrogate in \\u escape");
                            }
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        }
                        text::append_utf8(out, char32_t(cp));
                        break;
                    }
                    default:
                        pos -= 2;
                        error(std::string("invalid escape '\\") + e + "'");
                }
            }
        }

        double parse_number() {
            const size_t start = pos;
            auto digit = [&] { return !eof() && peek() >= '0' && peek() <= '9'; };
            if (peek() == '-') ++pos;
            if (!digit()) error("invalid number: expected a digit");
            if (peek() == '0') {
                ++pos;
                if (digit()) error("invalid number: leading zero");
            } else {
                while (digit()) ++pos;
            }
            if (peek() == '.') {
                ++pos;
                if (!digit()) error("invalid number: expected a digit after '.'");
                while (digit()) ++pos;
            }
            if (peek() == 'e' || peek() == 'E') {
                ++pos;
                if (peek() == '+' || peek() == '-') ++pos;
                if (!digit()) error("invalid number: expected a digit in the exponent");
                while (digit()) ++pos;
            }
            double v = 0;
            auto r = std::from_chars(s + start, s + pos, v);
            if (r.ec == std::errc::result_out_of_range) {
                if (decimal_magnitude(start, pos) >= 0) {
                    pos = start;
                    error("number " + std::string(s + start, std::min<size_t>(n - start, 40)) +
                          " is out of the range of a double");
                }
                // Underflow: round to a zero of the right sign, as IEEE parsing does.
                v = s[start] == '-' ? -0.0 : 0.0;
            } else if (r.ec != std::errc() || r.ptr != s + pos) {
                pos = start;
                error("invalid number");
            }
            return v;
        }

        // Rough decimal exponent of the already-validated literal [b, e): >= 0 means the
        // value is at least 1 in magnitude (so out-of-range means overflow).
        int64_t decimal_magnitude(size_t b, size_t e) const {
            size_t i = b;
            if (s[i] == '-') ++i;
            int64_t mag = 0;
            bool found = false;
            int64_t int_digits = 0;
            for (; i < e && s[i] >= '0' && s[i] <= '9'; ++i) {
                if (s[i] != '0' || found) {
                    found = true;
                    ++int_digits;
                }
            }
            if (found) {
                mag = int_digits - 1;
            }
            if (i < e && s[i] == '.') {
                ++i;
                int64_t zeros = 0;
                for (; i < e && s[i] >= '0' && s[i] <= '9'; ++i) {
                    if (!found) {
                        if (s[i] == '0') ++zeros;
                        else {
                            found = true;
                            mag = -zeros - 1;
                        }
                    }
                }
            }
            if (i < e && (s[i] == 'e' || s[i] == 'E')) {
                ++i;
                bool neg = false;
                if (s[i] == '+' || s[i] == '-') neg = s[i++] == '-';
                int64_t ex = 0;
                for (; i < e; ++i) ex = std::min<int64_t>(ex * 10 + (s[i] - '0'), int64_t(1) << 40);
                mag += neg ? -ex : ex;
            }
            return mag;
        }
    };

    Type type_ = Type::Null;
    bool bool_ = false;
    double num_ = 0;
    std::string str_;
    std::vector<Value> arr_;
    std::vector<std::pair<std::string, Value>> obj_;
};

inline Value parse(const std::string& text) { return Value::parse(text); }

}  // namespace json
}  // namespace errseg
