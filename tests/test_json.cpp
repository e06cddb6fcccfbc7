// JSON value: construction, strict parsing, error messages, dump round trips.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "error_of.hpp"
#include "errseg/io/json.hpp"

using errseg::Error;
using errseg::json::Value;

namespace {
// The message of the errseg::Error thrown by parsing `text` ("" if it parses).
std::string parse_error(const std::string& text) {
    try {
        Value::parse(text);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}
bool has(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }
}  // namespace

TEST_CASE("json: scalars parse to the right types and values") {
    CHECK(Value::parse("null").is_null());
    CHECK(Value::parse("true").as_bool() == true);
    CHECK(Value::parse(" false ").as_bool() == false);
    CHECK(Value::parse("0").as_number() == 0.0);
    CHECK(Value::parse("-12").as_int() == -12);
    CHECK(Value::parse("3.25").as_number() == 3.25);
    CHECK(Value::parse("-1.5e3").as_number() == -1500.0);
    CHECK(Value::parse("2E-2").as_number() == doctest::Approx(0.02).epsilon(1e-15));
    CHECK(Value::parse("9007199254740993").as_number() == 9007199254740992.0);  // nearest double
    CHECK(Value::parse("\"hi\"").as_string() == "hi");
}

TEST_CASE("json: objects keep insertion order; lookups and errors") {
    Value v = Value::parse(R"({"b": 1, "a": [1, 2, {"x": null}], "c": {"d": "e"}})");
    REQUIRE(v.is_object());
    CHECK(v.size() == 3);
    CHECK(v.items()[0].first == "b");
    CHECK(v.items()[1].first == "a");
    CHECK(v.items()[2].first == "c");
    CHECK(v["a"].size() == 3);
    CHECK(v["a"][1].as_int() == 2);
    CHECK(v["a"][2]["x"].is_null());
    CHECK(v["c"]["d"].as_string() == "e");
    CHECK(v.contains("b"));
    CHECK_FALSE(v.contains("z"));
    CHECK(v.find("z") == nullptr);
    CHECK_THROWS_WITH_AS(v["zz"], "missing key 'zz'", Error);
    CHECK_THROWS_AS(v["a"][3], Error);
    CHECK_THROWS_WITH_AS(v["b"].as_string(), "JSON value is a number, expected a string", Error);
    CHECK_THROWS_WITH_AS(Value::parse("1.5").as_int(), "JSON number 1.5 is not an integer", Error);
    CHECK_THROWS_AS(Value::parse("1e19").as_int(), Error);
    CHECK(v.int_or("b", 7) == 1);
    CHECK(v.int_or("nope", 7) == 7);
    CHECK(v.string_or("nope", "dflt") == "dflt");
}

TEST_CASE("json: building values and dump") {
    Value o = Value::object();
    o.set("name", "clip");
    o.set("dims", Value::array());
    o.set("n", 3);
    o.set("big", int64_t(1) << 40);
    o.set("half", 0.5);
    o.set("flag", true);
    o.set("none", nullptr);
    o.set("u", size_t(7));
    Value dims = Value::array();
    dims.push_back(96);
    dims.push_back(192);
    o.set("dims", dims);  // replaces in place
    CHECK(o.dump() ==
          R"({"name":"clip","dims":[96,192],"n":3,"big":1099511627776,"half":0.5,"flag":true,"none":null,"u":7})");
    CHECK(Value::parse(o.dump()) == o);
    CHECK(Value::parse(o.dump(2)) == o);
    CHECK(Value::object().dump(2) == "{}");
    Value small = Value::object();
    small.set("a", Value::array());
    small.set("b", 1);
    CHECK(small.dump(2) == "{\n  \"a\": [],\n  \"b\": 1\n}");
}

TEST_CASE("json: numbers round-trip exactly through dump") {
    for (double d : {0.1, 1.0 / 3.0, -2.5e-300, 1.7976931348623157e308, 123456789.125, -0.0, 4.9e-324}) {
        Value back = Value::parse(Value(d).dump());
        CHECK(back.as_number() == d);
    }
    CHECK(Value(1e20).dump() == "1e+20");
    CHECK_THROWS_AS(Value(std::nan("")).dump(), Error);
    CHECK_THROWS_AS(Value(HUGE_VAL).dump(), Error);
}

TEST_CASE("json: overflowing numbers are errors, underflow becomes zero") {
    CHECK(has(parse_error("1e400"), "out of the range of a double"));
    CHECK(has(parse_error("-1e400"), "out of the range of a double"));
    CHECK(has(parse_error("[1, 123456789012345678901234567890e300]"), "out of the range"));
    CHECK(Value::parse("1e-400").as_number() == 0.0);
    CHECK(std::signbit(Value::parse("-1e-400").as_number()));
    CHECK(Value::parse("0.000001e-330").as_number() == 0.0);
}

TEST_CASE("json: strings, escapes, unicode") {
    CHECK(Value::parse(R"("a\"b\\c\/d\b\f\n\r\t")").as_string() == "a\"b\\c/d\b\f\n\r\t");
    CHECK(Value::parse(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");
    // U+1F600 as a surrogate pair -> 4-byte UTF-8.
    CHECK(Value::parse(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");
    // Raw UTF-8 passes through unchanged, and dump keeps it.
    const std::string utf8 = "\"caf\xC3\xA9 \xE6\x97\xA5 \xF0\x9F\x98\x80\"";
    CHECK(Value::parse(utf8).dump() == utf8);
    // Control characters are escaped on dump and come back.
    std::string ctl = std::string("x\x01y\x1f\n", 5);
    CHECK(Value(ctl).dump() == "\"x\\u0001y\\u001f\\n\"");
    CHECK(Value::parse(Value(ctl).dump()).as_string() == ctl);
    CHECK(Value::parse(R"("\u0000")").as_string() == std::string(1, '\0'));
}

TEST_CASE("json: strict syntax errors carry a byte offset") {
    CHECK(parse_error("[1, 2,]") == "JSON parse error at byte 6: trailing comma in an array");
    CHECK(has(parse_error("{\"a\": 1,}"), "trailing comma in an object"));
    CHECK(has(parse_error(""), "unexpected end of input"));
    CHECK(has(parse_error("   "), "unexpected end of input"));
    CHECK(has(parse_error("[1 2]"), "expected ',' or ']'"));
    CHECK(has(parse_error("{\"a\" 1}"), "expected ':'"));
    CHECK(has(parse_error("{a: 1}"), "expected a string key"));
    CHECK(has(parse_error("01"), "leading zero"));
    CHECK(has(parse_error("1."), "expected a digit after '.'"));
    CHECK(has(parse_error(".5"), "unexpected character"));
    CHECK(has(parse_error("+1"), "unexpected character"));
    CHECK(has(parse_error("1e"), "exponent"));
    CHECK(has(parse_error("-"), "expected a digit"));
    CHECK(has(parse_error("NaN"), "unexpected character"));
    CHECK(has(parse_error("tru"), "invalid literal"));
    CHECK(has(parse_error("nulls"), "unexpected data after"));
    CHECK(has(parse_error("{} {}"), "unexpected data after"));
    CHECK(has(parse_error("[1] // comment"), "unexpected data after"));
    CHECK(has(parse_error("\"abc"), "unterminated string"));
    CHECK(has(parse_error("\"a\nb\""), "unescaped control character"));
    CHECK(parse_error("{\"k\": 1, \"k\": 2}") == "JSON parse error at byte 9: duplicate key 'k'");
}

TEST_CASE("json: bad escapes and surrogates are refused") {
    CHECK(has(parse_error(R"("\x41")"), "invalid escape '\\x'"));
    CHECK(has(parse_error(R"("\u12")"), "\\u escape"));
    CHECK(has(parse_error(R"("\u12g4")"), "invalid hex digit"));
    CHECK(has(parse_error(R"("\ud83d")"), "lone high surrogate"));
    CHECK(has(parse_error(R"("\ud83dx")"), "lone high surrogate"));
    CHECK(has(parse_error(R"("\ude00")"), "lone low surrogate"));
    CHECK(has(parse_error(R"("\ud83d\u0041")"), "not followed by a low surrogate"));
    CHECK(has(parse_error("\"\\"), "unterminated escape"));
}

TEST_CASE("json: invalid UTF-8 is refused") {
    CHECK(has(parse_error("\"\xFF\""), "invalid UTF-8"));
    CHECK(has(parse_error("\"\xC0\xAF\""), "invalid UTF-8"));           // overlong '/'
    CHECK(has(parse_error("\"\xED\xA0\x80\""), "invalid UTF-8"));       // encoded surrogate
    CHECK(has(parse_error("\"\xF4\x90\x80\x80\""), "invalid UTF-8"));   // > U+10FFFF
    CHECK(has(parse_error("\"\xE2\x82\""), "UTF-8"));                   // truncated
    CHECK(has(parse_error("\"\xE2\x28\xA1\""), "continuation"));
}

TEST_CASE("json: nesting depth is bounded (no stack overflow on depth bombs)") {
    std::string ok(Value::kMaxDepth, '[');
    ok += std::string(Value::kMaxDepth, ']');
    CHECK_NOTHROW(Value::parse(ok));
    std::string deep(Value::kMaxDepth + 1, '[');
    deep += std::string(Value::kMaxDepth + 1, ']');
    CHECK(has(parse_error(deep), "nesting deeper than 256 levels"));
    std::string bomb(1000000, '[');
    CHECK(has(parse_error(bomb), "nesting deeper"));
    std::string objs;
    for (int i = 0; i < 100000; ++i) objs += "{\"a\":";
    CHECK(has(parse_error(objs), "nesting deeper"));
}

TEST_CASE("json: dump always writes valid JSON, even for strings that are not UTF-8") {
    // A file name from a Latin-1 file system: the ill-formed byte becomes U+FFFD.
    Value obj = Value::object();
    obj.set("image", std::string("caf\xE9.png"));
    obj.set("key \xFF", 1);
    const std::string text = obj.dump();
    CHECK(text == "{\"image\":\"caf\xEF\xBF\xBD.png\",\"key \xEF\xBF\xBD\":1}");  // insertion order
    const Value back = Value::parse(text);  // the strict parser accepts it
    CHECK(back["image"].as_string() == "caf\xEF\xBF\xBD.png");
    // Each maximal ill-formed part is one U+FFFD (as Python's errors="replace"); valid text is kept.
    CHECK(Value(std::string("a\xC0\x80z")).dump() == "\"a\xEF\xBF\xBD\xEF\xBF\xBDz\"");
    CHECK(Value(std::string("\xE2\x82")).dump() == "\"\xEF\xBF\xBD\"");
    CHECK(Value(std::string("\xE2\x82\xAC")).dump() == "\"\xE2\x82\xAC\"");
}

TEST_CASE("json: typed lookups with a default name the key on a type error") {
    const Value v = Value::parse(R"({"crop_size": 1.5, "name": 3, "eps": "x"})");
    CHECK(has(error_of([&] { v.int_or("crop_size", 1); }), "'crop_size': JSON number 1.5 is not an integer"));
    CHECK(has(error_of([&] { v.string_or("name", ""); }), "'name': "));
    CHECK(has(error_of([&] { v.number_or("eps", 0); }), "'eps': "));
}
