// Vocabulary parsing: built-in names, files, inline lists, and the errors for bad ones.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "errseg/vocabulary.hpp"

using namespace errseg;

namespace {
std::string fake_builtin(const std::string& name) {
    if (name == "tiny3") return R"(["wall", "bed ", "windowpane, window"])";
    return {};
}
std::string temp_file(const std::string& name, const std::string& content) {
    std::string path = std::string(ERRSEG_BUILD_DIR) + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
}
}  // namespace

TEST_CASE("built-in, inline and file vocabularies") {
    auto v = resolve_vocabulary("tiny3", fake_builtin);
    REQUIRE(v.size() == 3);
    CHECK(v[2] == "windowpane, window");
    auto inl = resolve_vocabulary(" cat, traffic cone ,dog", fake_builtin);
    REQUIRE(inl.size() == 3);
    CHECK(inl[1] == "traffic cone");
    CHECK(resolve_vocabulary("cat", fake_builtin) == std::vector<std::string>{"cat"});
    auto lines = resolve_vocabulary(temp_file("vocab_lines.txt", "sky\n\n  tree \r\nroad\n"), fake_builtin);
    CHECK(lines == std::vector<std::string>{"sky", "tree", "road"});
    auto js = resolve_vocabulary(temp_file("vocab.json", "[\"a b\", \"c\"]"), fake_builtin);
    CHECK(js == std::vector<std::string>{"a b", "c"});
}

TEST_CASE("bad vocabularies are refused with a clear message") {
    CHECK_THROWS_WITH_AS(resolve_vocabulary("", fake_builtin), doctest::Contains("empty"), Error);
    CHECK_THROWS_WITH_AS(resolve_vocabulary("ade151", fake_builtin), doctest::Contains("unknown built-in vocabulary 'ade151'"), Error);
    CHECK_THROWS_WITH_AS(resolve_vocabulary("cat,,dog", fake_builtin), doctest::Contains("class 1 has an empty name"), Error);
    CHECK_THROWS_WITH_AS(resolve_vocabulary("cat,dog,cat", fake_builtin), doctest::Contains("duplicate class name 'cat'"), Error);
    CHECK_THROWS_WITH_AS(resolve_vocabulary("/nonexistent/dir/classes.txt", fake_builtin), doctest::Contains("cannot read class list file"), Error);
    CHECK_THROWS_WITH_AS(resolve_vocabulary(temp_file("empty.txt", "\n\n"), fake_builtin), doctest::Contains("empty"), Error);
    CHECK_THROWS_WITH_AS(resolve_vocabulary(temp_file("bad.json", "[\"a\", 3]"), fake_builtin), doctest::Contains("entry 1 is not a string"), Error);
    CHECK_THROWS_WITH_AS(resolve_vocabulary(std::string("caf\xff,b"), fake_builtin), doctest::Contains("not valid UTF-8"), Error);
    std::string many;
    for (int i = 0; i < 5000; ++i) many += (i ? "," : "") + std::string("c") + std::to_string(i);
    CHECK_THROWS_WITH_AS(resolve_vocabulary(many, fake_builtin), doctest::Contains("more than the limit"), Error);
    VocabularyLimits big;
    big.max_classes = 10000;
    CHECK(resolve_vocabulary(many, fake_builtin, big).size() == 5000);
    CHECK_THROWS_WITH_AS(resolve_vocabulary(std::string(300, 'x') + ",y", fake_builtin), doctest::Contains("bytes long"), Error);
}

TEST_CASE("class list files: a UTF-8 byte-order mark is skipped, JSON must be an array of strings") {
    CHECK(resolve_vocabulary(temp_file("bom.txt", "\xEF\xBB\xBFsky\ntree\n"), fake_builtin) ==
          std::vector<std::string>{"sky", "tree"});
    CHECK(resolve_vocabulary(temp_file("bom.json", "\xEF\xBB\xBF[\"sky\", \"tree\"]"), fake_builtin) ==
          std::vector<std::string>{"sky", "tree"});
    // JSON that is not an array is refused, not taken as one class named after the JSON text.
    const std::string obj = temp_file("obj.txt", "{\"classes\": [\"a\"]}\n");
    CHECK_THROWS_WITH_AS(resolve_vocabulary(obj, fake_builtin),
                         doctest::Contains(("class list '" + obj + "' is a JSON object, expected a JSON array of strings").c_str()), Error);
    CHECK_THROWS_WITH_AS(resolve_vocabulary(temp_file("str.txt", "\"cat\"\n"), fake_builtin),
                         doctest::Contains("is a JSON string, expected a JSON array"), Error);
    // A *.json file is JSON whatever it starts with.
    CHECK_THROWS_WITH_AS(resolve_vocabulary(temp_file("lines.json", "cat\ndog\n"), fake_builtin),
                         doctest::Contains("is not valid JSON"), Error);
    CHECK_THROWS_WITH_AS(resolve_vocabulary(temp_file("num.json", "42"), fake_builtin),
                         doctest::Contains("is a JSON value, expected a JSON array"), Error);
}

TEST_CASE("inline vocabularies: a value starting with '[' is a JSON array, else a comma-separated list") {
    CHECK(resolve_vocabulary(R"(["a, b", "c"])", fake_builtin) == std::vector<std::string>{"a, b", "c"});
    CHECK(resolve_vocabulary(R"(  ["traffic cone"] )", fake_builtin) == std::vector<std::string>{"traffic cone"});
    CHECK_THROWS_WITH_AS(resolve_vocabulary(R"(["a", "b")", fake_builtin), doctest::Contains("class list given inline is not valid JSON"), Error);
    CHECK_THROWS_WITH_AS(resolve_vocabulary(R"([1, "b"])", fake_builtin), doctest::Contains("entry 0 is not a string"), Error);
    CHECK(resolve_vocabulary("a,b", fake_builtin) == std::vector<std::string>{"a", "b"});
}

TEST_CASE("class names must be well-formed UTF-8 (overlongs and surrogates too)") {
    CHECK_THROWS_WITH_AS(validate_vocabulary({"ok", "\xC0\xAF"}), doctest::Contains("class 1 name is not valid UTF-8"), Error);
    CHECK_THROWS_WITH_AS(validate_vocabulary({"\xED\xA0\x80"}), doctest::Contains("not valid UTF-8"), Error);
    CHECK_THROWS_WITH_AS(validate_vocabulary({"caf\xC3"}), doctest::Contains("not valid UTF-8"), Error);
    validate_vocabulary({"caf\xC3\xA9", "\xF0\x9F\x90\x88"});
}

TEST_CASE("class list files are capped") {
    std::string big(size_t(kMaxClassListBytes) + 1, 'a');
    const std::string p = temp_file("huge_classes.txt", big);
    CHECK_THROWS_WITH_AS(resolve_vocabulary(p, fake_builtin),
                         doctest::Contains(("class list '" + p + "' is larger than the limit of 33554432 bytes").c_str()), Error);
    std::remove(p.c_str());
}
