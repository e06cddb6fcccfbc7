// CLIP BPE tokenizer vs open_clip: golden ids (tests/reference/gen_tokenizer_golden.py), mojibake
// repaired as ftfy does, the spec's Appendix B vectors, truncation, batching, malformed input and
// bad merge files.
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "errseg/text/tokenizer.hpp"

using errseg::text::ClipTokenizer;
namespace text = errseg::text;

namespace {

const std::string kData = ERRSEG_TEST_DATA "/tokenizer";
const std::string kMerges = ERRSEG_SOURCE_DIR "/data/clip_bpe_merges.txt";

const ClipTokenizer& tok() {
    static const ClipTokenizer t = ClipTokenizer::from_file(kMerges);
    return t;
}

std::string unhex(const std::string& h) {
    REQUIRE(h.size() % 2 == 0);
    std::string out;
    for (size_t i = 0; i < h.size(); i += 2) out.push_back(char(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
}

std::string hex(const std::string& s) {
    static const char* d = "0123456789abcdef";
    std::string out;
    for (unsigned char c : s) {
        out.push_back(d[c >> 4]);
        out.push_back(d[c & 15]);
    }
    return out;
}

std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, '\t')) f.push_back(x);
    if (!line.empty() && line.back() == '\t') f.emplace_back();
    return f;
}

std::vector<std::vector<std::string>> read_tsv(const std::string& path) {
    std::ifstream f(path);
    REQUIRE_MESSAGE(f.good(), "missing " << path);
    std::vector<std::vector<std::string>> rows;
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        rows.push_back(split_tabs(line));
    }
    return rows;
}

// The mojibake file's text fields: UTF-8 with some characters written as \u{hex}.
std::string unescape(const std::string& s) {
    std::string out;
    for (size_t i = 0; i < s.size();) {
        if (s.compare(i, 3, "\\u{") == 0) {
            const size_t close = s.find('}', i);
            REQUIRE(close != std::string::npos);
            text::append_utf8(out, char32_t(std::stoul(s.substr(i + 3, close - i - 3), nullptr, 16)));
            i = close + 1;
        } else {
            out.push_back(s[i++]);
        }
    }
    return out;
}

std::vector<int32_t> parse_ids(const std::string& s) {
    std::vector<int32_t> ids;
    std::stringstream ss(s);
    int32_t v;
    while (ss >> v) ids.push_back(v);
    return ids;
}

std::string ids_str(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t v : ids) s += std::to_string(v) + " ";
    return s;
}

std::vector<int32_t> unpadded(std::vector<int32_t> ids) {
    while (!ids.empty() && ids.back() == 0) ids.pop_back();
    return ids;
}

}  // namespace

TEST_CASE("vocabulary layout matches CLIP") {
    const auto& t = tok();
    CHECK(t.vocab_size() == 49408);
    CHECK(t.sot() == 49406);
    CHECK(t.eot() == 49407);
    CHECK(t.token_string(0) == "!");
    CHECK(t.token_string(256) == "!</w>");
    CHECK(t.token_string(49406) == "<start_of_text>");
    CHECK(t.token_string(320) == "a</w>");
    CHECK(t.token_string(1125) == "photo</w>");
    CHECK_THROWS_AS(t.token_string(49408), errseg::Error);
}

TEST_CASE("Appendix B test vectors") {
    struct Case {
        const char* text;
        std::vector<int32_t> ids;
    };
    const std::vector<Case> cases = {
        {"A photo of a wall in the scene", {49406, 320, 1125, 539, 320, 2569, 530, 518, 3562, 49407}},
        {"A photo of a building in the scene", {49406, 320, 1125, 539, 320, 2307, 530, 518, 3562, 49407}},
        {"A photo of a traffic light in the scene",
         {49406, 320, 1125, 539, 320, 3399, 1395, 530, 518, 3562, 49407}},
        {"A photo of a capybara standing in the scene",
         {49406, 320, 1125, 539, 320, 1289, 88, 19345, 2862, 530, 518, 3562, 49407}},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const std::vector<int32_t> ids = tok().tokenize(c.text);
        REQUIRE(ids.size() == 77);
        CHECK(unpadded(ids) == c.ids);
        std::vector<int32_t> body(c.ids.begin() + 1, c.ids.end() - 1);
        CHECK(tok().encode(c.text) == body);
    }
}

namespace {

// Checks every row of a golden file (category, ids, input, expected text): the ids must equal
// open_clip's, and `text_pair(row, input)` gives the (got, expected) text of the last column,
// which must be equal too. Prints per-category tallies.
template <class InputOf, class TextPair>
void check_golden(const std::string& file, size_t min_rows, const char* text_name, InputOf input_of,
                  TextPair text_pair) {
    const auto rows = read_tsv(kData + "/" + file);
    REQUIRE(rows.size() >= min_rows);
    std::map<std::string, std::pair<int, int>> per_category;  // identical ids / total
    int identical = 0, text_identical = 0;
    for (const auto& r : rows) {
        REQUIRE(r.size() == 4);
        const std::vector<int32_t> expected = parse_ids(r[1]);
        const std::string input = input_of(r[2]);
        const auto [got_text, expected_text] = text_pair(r, input);
        const std::vector<int32_t> got = tok().tokenize(input);
        const bool ok = got.size() == 77 && unpadded(got) == expected;
        per_category[r[0]].second++;
        if (ok) {
            per_category[r[0]].first++;
            identical++;
        }
        text_identical += got_text == expected_text;
        if (!ok || got_text != expected_text) {
            INFO("category " << r[0] << " input hex " << hex(input));
            CHECK(ids_str(unpadded(got)) == ids_str(expected));
            CHECK(hex(got_text) == hex(expected_text));
        }
    }
    MESSAGE(file << ": " << identical << "/" << rows.size() << " identical ids, " << text_identical << "/"
                 << rows.size() << " identical " << std::string(text_name));
    for (const auto& [cat, c] : per_category) MESSAGE("  " << cat << ": " << c.first << "/" << c.second);
    CHECK(identical == int(rows.size()));
    CHECK(text_identical == int(rows.size()));
}

}  // namespace

TEST_CASE("golden ids from open_clip") {
    check_golden("golden.tsv", 300, "cleaned text", unhex, [](const std::vector<std::string>& r, const std::string& in) {
        const std::string got = ClipTokenizer::clean(in);
        return std::make_pair(got, r[3] == "-" ? got : unhex(r[3]));  // "-": cleaned text not recorded
    });
}

TEST_CASE("mojibake golden set: ftfy's repair and open_clip's ids") {
    check_golden("mojibake.tsv", 3000, "ftfy.fix_text", unescape,
                 [](const std::vector<std::string>& r, const std::string& in) {
                     return std::make_pair(text::encode_utf8(text::ftfy::fix_text(text::decode_utf8(in))),
                                           unescape(r[3]));
                 });
}

TEST_CASE("unicode table checks (NFC, lower, scanner, html, ftfy)") {
    const auto rows = read_tsv(kData + "/unicode_ops.tsv");
    REQUIRE(!rows.empty());
    std::map<std::string, std::pair<int, int>> per_op;
    for (const auto& r : rows) {
        REQUIRE(r.size() == 3);
        const std::u32string in = text::decode_utf8(unhex(r[1]));
        const std::string expected = unhex(r[2]);
        std::string got;
        const std::string& op = r[0];
        if (op == "nfc") {
            got = text::encode_utf8(text::nfc(in));
        } else if (op == "lower") {
            got = text::encode_utf8(text::python_lower(in));
        } else if (op == "scan") {
            bool first = true;
            for (const auto& span : text::clip_pretokenize(in)) {
                if (!first) got.push_back('\0');
                first = false;
                got += text::encode_utf8(in.substr(span.first, span.second - span.first));
            }
        } else if (op == "html") {
            got = text::encode_utf8(text::html_unescape(in));
        } else if (op == "ftfy_html") {
            got = text::encode_utf8(text::ftfy::unescape_html(in));
        } else if (op == "ftfy") {
            got = text::encode_utf8(text::ftfy::fix_text(in));
        } else {
            FAIL("unknown op " << op);
        }
        per_op[op].second++;
        if (got == expected) {
            per_op[op].first++;
        } else {
            INFO(op << " input " << r[1]);
            CHECK(hex(got) == r[2]);
        }
    }
    for (const auto& [op, c] : per_op) {
        MESSAGE(op << ": " << c.first << "/" << c.second);
        CHECK(c.first == c.second);
    }
}

TEST_CASE("truncation keeps EOT at the last position") {
    std::string long_text;
    for (int i = 0; i < 100; ++i) long_text += "dog ";
    const std::vector<int32_t> enc = tok().encode(long_text);
    REQUIRE(enc.size() == 100);
    const std::vector<int32_t> ids = tok().tokenize(long_text);
    REQUIRE(ids.size() == 77);
    CHECK(ids[0] == tok().sot());
    CHECK(ids[76] == tok().eot());
    for (int i = 1; i < 76; ++i) CHECK(ids[size_t(i)] == enc[size_t(i - 1)]);

    // 75 tokens fit exactly; 76 lose the last one
    std::string t75, t76;
    for (int i = 0; i < 75; ++i) t75 += "dog ";
    t76 = t75 + "cat";
    const auto a = tok().tokenize(t75), b = tok().tokenize(t76);
    CHECK(a[76] == tok().eot());
    CHECK(a == b);

    // other context lengths
    const auto c = tok().tokenize(long_text, 10);
    REQUIRE(c.size() == 10);
    CHECK(c[0] == tok().sot());
    CHECK(c[9] == tok().eot());
    const auto d = tok().tokenize("a photo", 1);  // open_clip: [SOT] cut to 1, then forced to EOT
    CHECK(d == std::vector<int32_t>{tok().eot()});
    CHECK_THROWS_AS(tok().tokenize("a", 0), errseg::Error);
}

TEST_CASE("empty text") {
    CHECK(tok().encode("").empty());
    CHECK(tok().encode(" \t\n ").empty());
    const auto ids = tok().tokenize("");
    CHECK(ids[0] == 49406);
    CHECK(ids[1] == 49407);
    CHECK(ids[2] == 0);
}

TEST_CASE("tokenize_batch gives an I32 [B, L] tensor") {
    const std::vector<std::string> texts = {"A photo of a wall in the scene", "", "a dog"};
    errseg::Tensor t = tok().tokenize_batch(texts);
    CHECK(t.dtype() == errseg::DType::I32);
    REQUIRE(t.shape() == errseg::Shape{3, 77});
    const int32_t* p = t.data<int32_t>();
    for (size_t i = 0; i < texts.size(); ++i) {
        const auto row = tok().tokenize(texts[i]);
        CHECK(std::vector<int32_t>(p + i * 77, p + (i + 1) * 77) == row);
    }
    errseg::Tensor t2 = tok().tokenize_batch(texts, 16);
    CHECK(t2.shape() == errseg::Shape{3, 16});
    errseg::Tensor e = tok().tokenize_batch({});
    CHECK(e.shape() == errseg::Shape{0, 77});
}

TEST_CASE("malformed UTF-8 is replaced like Python's errors='replace'") {
    using text::decode_utf8;
    CHECK(decode_utf8("\xff") == U"\xFFFD");
    CHECK(decode_utf8("\xe2\x82" "a") == U"\xFFFD" "a");
    CHECK(decode_utf8("\xc0\x80") == U"\xFFFD\xFFFD");
    CHECK(decode_utf8("\xed\xa0\x80") == U"\xFFFD\xFFFD\xFFFD");
    CHECK(decode_utf8("\xf4\x90\x80\x80") == U"\xFFFD\xFFFD\xFFFD\xFFFD");
    CHECK(decode_utf8("\xf0\x9f\x98") == U"\xFFFD");
    CHECK(decode_utf8("\xf0\x9f\x98\x80") == U"\U0001F600");
    // never crashes, whatever the bytes
    std::string junk;
    for (int i = 0; i < 4096; ++i) junk.push_back(char((i * 7919 + 13) & 0xFF));
    CHECK_NOTHROW(tok().tokenize(junk));
    const std::string all_bytes = [] {
        std::string s;
        for (int b = 0; b < 256; ++b) s.push_back(char(b));
        return s;
    }();
    CHECK_NOTHROW(tok().encode(all_bytes));
}

TEST_CASE("decode inverts encode for plain text") {
    const auto ids = tok().encode("A photo of a capybara, standing!");
    CHECK(tok().decode(ids) == "a photo of a capybara , standing ! ");
    CHECK(tok().decode({49406, 320, 49407}) == "<start_of_text>a <end_of_text>");
}

TEST_CASE("cache and copies give identical results") {
    const ClipTokenizer copy = tok();
    const std::string s = "hello hello hello world world";
    const auto a = tok().encode(s);
    CHECK(copy.encode(s) == a);
    CHECK(tok().encode(s) == a);
    CHECK(a.size() == 5);
}

TEST_CASE("concurrent use from several threads") {
    const ClipTokenizer t = ClipTokenizer::from_file(kMerges);  // fresh, empty cache
    std::vector<std::string> texts;
    for (int i = 0; i < 200; ++i) texts.push_back("A photo of a thing number " + std::to_string(i % 37) + " in the scene");
    std::vector<std::vector<int32_t>> expected;
    for (const auto& s : texts) expected.push_back(tok().tokenize(s));
    std::vector<int> ok(4, 0);
    std::vector<std::thread> threads;
    for (int w = 0; w < 4; ++w)
        threads.emplace_back([&, w] {
            for (size_t i = 0; i < texts.size(); ++i) ok[size_t(w)] += t.tokenize(texts[i]) == expected[i];
        });
    for (auto& th : threads) th.join();
    for (int w = 0; w < 4; ++w) CHECK(ok[size_t(w)] == int(texts.size()));
}

TEST_CASE("small merge lists and errors") {
    // "h e", "l l", "he ll", "o</w>" is not needed: o</w> is a byte symbol.
    const ClipTokenizer t = ClipTokenizer::from_merges("#version: 0.2\nh e\nl l\nhe ll\nhell o</w>\n");
    CHECK(t.vocab_size() == 512 + 4 + 2);
    CHECK(t.sot() == 516);
    CHECK(t.eot() == 517);
    CHECK(t.encode("hello") == std::vector<int32_t>{515});
    CHECK(t.token_string(515) == "hello</w>");
    CHECK(t.encode("hell") == std::vector<int32_t>{512, 'l' - '!' + 0, 'l' - '!' + 256});
    // CRLF line endings are fine
    CHECK(ClipTokenizer::from_merges("h e\r\nl l\r\n").vocab_size() == 516);

    CHECK_THROWS_AS(ClipTokenizer::from_merges(""), errseg::Error);
    CHECK_THROWS_AS(ClipTokenizer::from_merges("\n\n"), errseg::Error);
    CHECK_THROWS_WITH_AS(ClipTokenizer::from_merges("h e\nabc\n"), doctest::Contains("line 2"), errseg::Error);
    CHECK_THROWS_AS(ClipTokenizer::from_merges("h e f\n"), errseg::Error);
    CHECK_THROWS_AS(ClipTokenizer::from_merges("h e\n\nl l\n"), errseg::Error);  // empty line inside
    CHECK_THROWS_AS(ClipTokenizer::from_merges("h \xc3\xa9\xc3\xa9x\n"), errseg::Error);  // valid chars, never produced
    CHECK_THROWS_AS(ClipTokenizer::from_merges("a \xe4\xb8\xad\n"), errseg::Error);  // U+4E2D not a byte symbol
    CHECK_THROWS_AS(ClipTokenizer::from_merges("a </w>\n"), errseg::Error);       // "</w>" alone is no symbol
    CHECK_THROWS_AS(ClipTokenizer::from_merges("ab c\n"), errseg::Error);         // "ab" never produced
    CHECK_THROWS_AS(ClipTokenizer::from_file(kData + "/does_not_exist.txt"), errseg::Error);
    const std::string gz = std::string(ERRSEG_BUILD_DIR) + "/test_tokenizer_fake.txt.gz";
    std::ofstream(gz, std::ios::binary) << "\x1f\x8b\x08\x00rest";
    CHECK_THROWS_WITH_AS(ClipTokenizer::from_file(gz), doctest::Contains("gzip"), errseg::Error);
}

TEST_CASE("default_clip loads the repository merges") {
    const ClipTokenizer t = ClipTokenizer::default_clip();
    CHECK(t.vocab_size() == 49408);
    CHECK(t.tokenize("A photo of a wall in the scene") == tok().tokenize("A photo of a wall in the scene"));
}
