// The pieces of ftfy's mojibake repair (include/errseg/text/fix_encoding.hpp) on inputs whose
// expected outputs were computed with ftfy 6.3.1 (bytes.decode("utf-8-variants"),
// ftfy.fixes.restore_byte_a0 / replace_lossy_sequences / decode_inconsistent_utf8,
// ftfy.badness.is_bad, ftfy.fix_encoding). The full comparison is the mojibake golden set
// in test_tokenizer.cpp.
#include <doctest/doctest.h>

#include <string>

#include "errseg/text/text_cleaning.hpp"

namespace text = errseg::text;
namespace ftfy = errseg::text::ftfy;

namespace {

std::u32string u32(const std::string& utf8) { return text::decode_utf8(utf8); }

}  // namespace

TEST_CASE("utf-8-variants decoding: Java null, CESU-8 pairs, Python's `$`") {
    CHECK(ftfy::decode_utf8_variants("a\xc0\x80" "b") == std::u32string(U"a\0b", 3));
    CHECK(ftfy::decode_utf8_variants("\xc0\n") == std::u32string(1, U'\0'));  // '$' before a final '\n'
    CHECK(ftfy::decode_utf8_variants("\xed\xa0\xbd\xed\xb8\x80") == U"\U0001F600");
    CHECK(ftfy::decode_utf8_variants("x\xed\xa0\xbd\xed\xb8\n") == U"x\U0001F60A");
    CHECK_FALSE(ftfy::decode_utf8_variants("\xed\xa0\xbd").has_value());
    CHECK_FALSE(ftfy::decode_utf8_variants("\xc0").has_value());
    CHECK_FALSE(ftfy::decode_utf8_variants("\xe2\xc0\x80").has_value());  // cut before the null
    CHECK(ftfy::decode_utf8_variants("caf\xc3\xa9") == U"caf\u00e9");
}

TEST_CASE("byte transcoders: restore_byte_a0, replace_lossy_sequences") {
    using namespace ftfy::fix_encoding_detail;
    CHECK(restore_byte_a0("voil\xc3 le") == "voil\xc3\xa0 le");
    CHECK(restore_byte_a0("\xc3 quele") == "\xc3\xa0quele");  // a kept word: only ALTERED_UTF8_RE applies
    CHECK(restore_byte_a0("\xe2\x80 x \xc2 ") == "\xe2\x80\xa0x \xc2\xa0");
    CHECK(replace_lossy_sequences("\xe2\x80\x1a ok \xc3?") == "\xef\xbf\xbd ok \xef\xbf\xbd");
    CHECK(replace_lossy_sequences("a\x1a" "b") == "a\xef\xbf\xbd" "b");
}

TEST_CASE("badness heuristic") {
    CHECK(ftfy::is_bad(u32("caf\xc3\x83\xc2\xa9")));                   // cafÃ©
    CHECK_FALSE(ftfy::is_bad(u32("caf\xc3\xa9")));                     // café
    CHECK_FALSE(ftfy::is_bad(u32("N\xc3\x83O")));                      // NÃO
    CHECK(ftfy::is_bad(u32("\xc3\x83 ")));                             // "Ã " at the start ('^')
    CHECK(ftfy::is_bad(u32("x \xc3\x82 ")));                           // [a-z]\s?Â[ ]
    CHECK(ftfy::is_bad(u32("\xd0\x93\xd1\x9e\xd0\x92\xd0\x82\xd0\x92\xd1\x9ax")));  // ГўВЂВњx
    CHECK_FALSE(ftfy::is_bad(u32("(\xe2\x95\xaf\xc2\xb0\xe2\x96\xa1\xc2\xb0)\xe2\x95\xaf")));  // (╯°□°)╯
}

TEST_CASE("fix_encoding and decode_inconsistent_utf8") {
    CHECK(ftfy::fix_encoding_detail::decode_inconsistent_utf8(u32("caf\xc3\xa9 caf\xc3\x83\xc2\xa9 \xc3\xa2\xe2\x82\xac\xc5\x93")) ==
          u32("caf\xc3\xa9 caf\xc3\xa9 \xe2\x80\x9c"));                 // "café café “"
    CHECK(ftfy::fix_encoding(u32("s\xc3\x83\xc2\xb3")) == u32("s\xc3\xb3"));  // sÃ³ -> só
    CHECK(ftfy::fix_encoding(u32("voil\xc3\x83 le travail")) == u32("voil\xc3\xa0 le travail"));
    CHECK(ftfy::fix_encoding(u32("\xc3\x83\xc6\x92\xc3\x82\xc2\xa9")) == u32("\xc3\xa9"));  // ÃƒÂ© (twice) -> é
    CHECK(ftfy::fix_encoding(u32("\xc3\xb0\xc5\xb8\xcb\x9c\xe2\x82\xac")) == U"\U0001F600");  // ðŸ˜€
    CHECK(ftfy::fix_encoding(u32("N\xc3\x83O")) == u32("N\xc3\x83O"));  // looks odd, stays
    CHECK(ftfy::fix_encoding(u32("\xc2\x80\xc2\x93")) == U"\u20ac\u201c");  // C1 controls -> cp1252
}
