#!/usr/bin/env python3
"""Golden data for tests/test_tokenizer.cpp, computed with open_clip's own tokenizer.

Writes
  tests/data/tokenizer/golden.tsv       one case per line:
        category <TAB> ids <TAB> text_hex <TAB> cleaned_hex
      ids         open_clip.tokenize(text)[0] (context 77) with the trailing zero padding dropped
      text_hex    the input as hex UTF-8 bytes (malformed-UTF-8 cases hold the raw bytes; the
                  reference decodes them with errors="replace")
      cleaned_hex open_clip's cleaned text (_clean_lower), hex UTF-8; "-" (not recorded) for the
                  ASCII class-name cases
  tests/data/tokenizer/mojibake.tsv     mojibake cases (tests/reference/mojibake_cases.py: fixed
                  categories and a seeded random generator), UTF-8, one per line:
        category <TAB> ids <TAB> text <TAB> fixed
      text, fixed the input and ftfy.fix_text(input) (the step that repairs the mojibake), as
                  UTF-8 with controls, C1 controls, line/paragraph separators and backslashes
                  written as \\u{hex} (a backslash as \\u{5c}); smaller than hex
  tests/data/tokenizer/unicode_ops.tsv  table checks, one per line: op <TAB> input_hex <TAB> expected_hex
      nfc        unicodedata.normalize("NFC", x)
      lower      x.lower()
      scan       "\\0".join(regex.findall(CLIP pattern, x))
      html       html.unescape(x)
      ftfy_html  ftfy.fixes.unescape_html(x)
      ftfy       ftfy.fix_text(x)

open_clip 2.24's basic_clean calls ftfy.fix_text(text) with ftfy's default settings, mojibake
repair (fix_encoding) included; the C++ cleaning reproduces all of it.

Run: /usr/bin/python3 tests/reference/gen_tokenizer_golden.py
"""
import glob
import html
import json
import os
import random
import unicodedata

import ftfy
import ftfy.fixes
import open_clip
import regex
from open_clip import tokenizer as oc_tok

import mojibake_cases

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "tests", "data", "tokenizer")
CLASSES_DIR = "/work/shared/data/classes"
if not os.path.isdir(CLASSES_DIR):
    CLASSES_DIR = os.path.join(ROOT, "data", "classes")

TOK = oc_tok.SimpleTokenizer()
PATTERN = TOK.pat


def hexs(b: bytes) -> str:
    return b.hex()


def escaped(s: str) -> str:
    """UTF-8-safe one-line form: characters a TSV line or an editor would mangle as \\u{hex}."""
    def esc(c):
        o = ord(c)
        if o < 0x20 or 0x7F <= o <= 0x9F or c in "\\\u2028\u2029\ufeff":
            return "\\u{%x}" % o
        return c
    return "".join(esc(c) for c in s)


# ---------------------------------------------------------------------------------------------
# test strings
# ---------------------------------------------------------------------------------------------
def class_cases():
    names = []
    for path in sorted(glob.glob(os.path.join(CLASSES_DIR, "*.json"))):
        with open(path, encoding="utf-8") as f:
            names.extend(json.load(f))
    seen, out = set(), []
    for name in names:
        first = name.split(", ")[0]
        prompt = f"A photo of a {first} in the scene"
        if prompt not in seen:
            seen.add(prompt)
            out.append(("class_prompt", prompt))
    for name in dict.fromkeys(names):  # raw (multi-synonym) names, first occurrence order
        if ", " in name:
            out.append(("class_name", name))
    return out


LOREM = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor "
         "incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud "
         "exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure "
         "dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.")

HANDCRAFTED = {
    "basic": [
        "", " ", "   \t\n  ", "a", "A", "hello world", "Hello World!", "HELLO WORLD",
        "A photo of a wall in the scene", "A photo of a building in the scene",
        "A photo of a traffic light in the scene", "A photo of a capybara standing in the scene",
        "a photo of a cat.", "a photo of a dog,", "CamelCaseWord", "mIxEd CaSe TeXt",
        "The quick brown fox jumps over the lazy dog", "hello hello hello hello",
        "antidisestablishmentarianism", "supercalifragilisticexpialidocious",
        "pneumonoultramicroscopicsilicovolcanoconiosis", "x" * 300, "ab" * 150,
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ],
    "punctuation": [
        "hello, world!", "what?!", "...", "!!!???", "a.b.c", "e-mail", "state-of-the-art",
        "(parenthesised)", "[brackets] {braces} <angles>", "@user #hashtag $100 %50 ^caret",
        "a_b_c", "path/to/file.txt", "C:\\Windows\\System32", "x = y + z * 2 / 3 - 1",
        "\"quoted\"", "'single'", "`backtick`", "~tilde~", "a|b|c", "semi;colon:colon",
        "<b>bold</b>", "1 < 2 > 0", "&", "& ;", "#", "--", "—em dash—", "–en dash–",
        "«guillemets»", "¿Qué?", "¡Hola!", "…ellipsis…", "•bullet", "§ 12 ¶", "©®™",
    ],
    "digits": [
        "0", "7", "42", "12345", "3.14159", "1,000,000", "2023-01-01", "10:30pm", "1st 2nd 3rd 4th",
        "v1.2.3", "0x1F600", "1e10", "-5", "+5", "50%", "$9.99", "€100", "¥500", "£20",
        "x²", "H₂O", "½ ¼ ¾", "ⅫⅣ", "①②③", "٠١٢٣٤٥٦٧٨٩", "०१२३", "一二三", "第1名",
    ],
    "accents": [
        "café", "naïve", "résumé", "façade", "jalapeño", "Zürich", "São Paulo", "Kraków",
        "Ångström", "Øresund", "Ærø", "Dvořák", "Łódź", "İstanbul", "ıi", "STRASSE Straße",
        "ẞ", "Crème Brûlée", "piñata", "Việt Nam", "Nguyễn", "Ñandú", "ÀÉÎÕÜ",
        "cafe\u0301", "nai\u0308ve", "Ame\u0301lie", "e\u0301\u0301", "a\u0323\u0302",
        "a\u0302\u0323", "o\u031b\u0303\u0323", "q\u0307\u0323", "\u0301abc", "A\u030a",
        "\u212b", "\u212a", "\u2126", "ǅ ǈ ǋ ǲ", "ﬁnance ﬂower ﬀ ﬃ ﬄ ﬅ ﬆ", "Ĳssel ĳs", "ŉ",
        "Ǆ Ǉ Ǌ", "\u1e9b\u0323", "ᾳ ᾼ", "ͅ", "ά έ ή ί ό ύ ώ", "\u0344", "\u0958",
    ],
    "greek_sigma": [
        "ΟΔΟΣ", "ΣΑΣ", "Σ", "ΑΣ", "ΑΣ.", "ΑΣΑ", "ΑΣ'Α", "Α'Σ", "Α.Σ", "ΑΣ\u0301", "ΣΑΣ ΣΑΣ",
        "ΌΣΟΣ", "ΕΛΛΗΝΙΚΑ ΓΡΑΜΜΑΤΑ", "Ελληνικά", "αΣ1", "1Σ", "Α\u00adΣ", "ΑΣ\u00adΒ",
        "ΑΣ\u0345", "ΑΣ\u0345Β", "σίσυφος", "ΣΊΣΥΦΟΣ",
    ],
    "scripts": [
        "中文字符", "我爱北京天安门", "日本語のテキスト", "ひらがな カタカナ", "한국어 텍스트",
        "\u1100\u1161\u11a8", "\u1112\u1161\u11ab\u1100\u1173\u11af", "ｶﾀｶﾅ", "ﾊﾞﾝｻﾞｲ",
        "Привет мир", "ПРИВЕТ", "Ёлка ёлка", "Українська", "Ґґ Єє Її", "العربية", "مرحبا بالعالم",
        "שלום עולם", "नमस्ते दुनिया", "हिन्दी", "ภาษาไทย", "தமிழ்", "ქართული", "Հայերեն", "አማርኛ",
        "ᏣᎳᎩ", "Ⓐⓑⓒ", "𝐀𝐁𝐂 𝒜ℬ𝒞", "ꙮ", "ｆｕｌｌｗｉｄｔｈ ＴＥＸＴ １２３", "ＬＯＵＤ　ＮＯＩＳＥＳ",
        "mix中文and English", "abc123def456", "x1y2z3", "Ελληνικά123",
    ],
    "emoji": [
        "😀", "I ❤️ NY", "👍🏽", "👨‍👩‍👧‍👦", "🇺🇸🇬🇧", "1️⃣", "🏳️‍🌈", "☃", "★☆", "→←↑↓",
        "∑∫∂√∞", "≠≤≥", "♠♣♥♦", "🐱 cat", "cat🐱dog🐶", "🏴\U000e0067\U000e0062\U000e0077\U000e006c\U000e0073\U000e007f",
    ],
    "whitespace": [
        "a  b", "a\tb", "a\nb", "a\r\nb", "a\rb", "  leading", "trailing   ", "\t\ttabs\t\t",
        "line1\nline2\nline3", "a\u00a0b", "a\u3000b", "a\u2028b", "a\u2029b", "a\u2003b",
        "a\u200bb", "a\u200cb", "a\u200db", "a\u2060b", "a\ufeffb", "\ufeffBOM", "a\x0bb", "a\x0cb",
        "a\x1cb", "a\x1fb", "a\x85b", "a\u180eb", "a\u202fb", "a\u205fb", "many      spaces   here",
        "\n\n\nnewlines\n\n\n",
    ],
    "html": [
        "&amp;", "Tom &amp; Jerry", "&amp;amp;", "&amp;amp;amp;amp;", "&lt;b&gt;bold&lt;/b&gt;",
        "&quot;quoted&quot;", "it&#39;s", "it&#x27;s", "&#65;&#66;&#67;", "&#x41;&#X42;", "&nbsp;x",
        "&copy; 2024", "&copy 2024", "&notit;", "&notin;", "&ampx", "&AMP;", "&NTILDE;", "&nTILDE;",
        "&Eacute;t&eacute;", "&EACUTE;T&EACUTE;", "&SZLIG;", "&hellip;", "&mdash;", "&rsquo;s",
        "&#59;", "&#x3b;", "&#0;", "&#128;", "&#150;", "&#x110000;", "&#xD800;", "&#1114111;",
        "&#99999999999999999999;", "&#xFFFE;", "&#65", "&#x;", "&#;", "&;", "& amp;", "&&amp;",
        "<b>&amp;</b>", "a < b &amp; c", "line1 &amp;\n<tag> &amp;\nline3 &amp;",
        "&Jscr;ohn &HilbertSpace;ancock", "&checkmark;", "&bne;", "&NotEqualTilde;", "&fjlig;",
        "&thinsp;&ensp;&emsp;", "&zwnj;&zwj;", "&shy;soft", "&#8217;s", "&#x1F600;", "&#12345abc;",
        "&amp;lt;", "&amp;#65;", "&abcdefghijklmnopqrstuvwxyz012345;", "&aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "&lt;start_of_text&gt;",
    ],
    "apostrophes": [
        "it's", "don't", "we're", "they've", "I'm", "you'll", "he'd", "IT'S", "DON'T", "We'Re",
        "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "''s", "'''", "rock'n'roll", "o'clock",
        "dogs' toys", "the '90s", "it’s", "don’t", "‘single’", "“double”", "„low“", "ʼn", "it\u02bcs",
        "'ſ", "x'ſ", "'S", "'LL", "a's b't c're", "...'s", "!'s", "'", "can't won't shan't",
    ],
    "special_tokens": [
        "<start_of_text>", "<end_of_text>", "<START_OF_TEXT>", "<End_Of_Text>",
        "hello <start_of_text> world", "<start_of_text><end_of_text>", "!<start_of_text>",
        "<start_of_text>!", "<ſtart_of_text>", "<start_of_text", "start_of_text>", "<|endoftext|>",
        "<end_of_text> <end_of_text>",
    ],
    "controls": [
        "a\x00b", "\x01\x02\x03", "a\x07b", "a\x1bb", "\x1b[31mred\x1b[0m", "\x1b[1;32;44mx\x1b[m",
        "\x1b[12", "\x1b[٣m", "a\x7fb", "\x80", "a\x80b", "\x81\x8d\x8f\x90\x9d", "\x91quote\x92",
        "\x93x\x94", "\x96\x97", "\x99", "a\u206ab", "\ufff9\ufffa\ufffb\ufffc", "\ufffd", "a\ufffdb",
        "\u00ad", "soft\u00adhyphen", "a\u034fb", "\u200e\u200f\u202a\u202e", "\U0001d173",
    ],
}


def long_cases():
    out = [LOREM, LOREM * 3, "word " * 80, "a " * 74, "a " * 75, "a " * 76, "a " * 77,
           "a photo of " * 30, "😀" * 40, "中文" * 60, "1" * 100, "x" * 2000, " ".join(["token"] * 100),
           "!" * 200, ("the quick brown fox " * 20).upper()]
    # exactly around the truncation boundary: n ids for n in 74..78
    for n in range(74, 79):
        out.append(" ".join(["dog"] * n))
    return [("long", s) for s in out]


FUZZ_POOL = (
    list("abcdefxyzABCXYZ0123456789 \t\n'\"&;#<>.,!?-_/") +
    ["amp", "lt;", "&amp;", "&#", "x4", "'s", "'t", "'re", "'ll", "Σ", "σ", "ς", "İ", "ı", "ß", "ẞ",
     "é", "e\u0301", "\u0301", "\u0323", "\u0345", "\u00ad", "\u200d", "\u00a0", "\u3000", "\u2028",
     "ﬁ", "Ａ", "ｶ", "ﾞ", "\u2019", "\u201c", "\x85", "\x80", "\x1b[1m", "\x00", "\ufeff",
     "中", "文", "日", "한", "\u1100", "\u1161", "\u11a8", "Д", "ж", "Ω", "ά", "ي", "ש", "क", "\u094d",
     "😀", "👍", "\U0001f3fd", "❤", "\ufe0f", "½", "²", "Ⅻ", "٣", "\u212b", "\u212a", "ſ", "<start_of_text>"]
)


def fuzz_cases(rng, count):
    out = []
    for _ in range(count):
        n = rng.randint(1, 25)
        out.append(("fuzz", "".join(rng.choice(FUZZ_POOL) for _ in range(n))))
    return out


def random_unicode_cases(rng, count):
    """Random assigned code points from the whole range (skips surrogates / unassigned)."""
    out = []
    for _ in range(count):
        chars = []
        while len(chars) < rng.randint(3, 20):
            cp = rng.choice([rng.randint(0x20, 0x2FF), rng.randint(0x300, 0x2FFF),
                             rng.randint(0x3000, 0xFFFF), rng.randint(0x10000, 0x1FFFF)])
            if 0xD800 <= cp <= 0xDFFF or unicodedata.category(chr(cp)) in ("Cn", "Cs", "Co"):
                continue
            chars.append(chr(cp))
            if rng.random() < 0.2:
                chars.append(" ")
        out.append(("random_unicode", "".join(chars)))
    return out


MALFORMED = [
    b"\xff", b"abc\xffdef", b"\xc3", b"caf\xc3", b"\xc3\x28", b"\xe2\x82", b"\xe2\x82a", b"\xe2\x28\xa1",
    b"\xf0\x9f\x98", b"\xf0\x9f\x98a", b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf",
    b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xf0\x80\x80\x80", b"\xf4\x90\x80\x80", b"\xf5\x80\x80\x80",
    b"\xf8\x88\x80\x80\x80", b"\x80\x80\x80", b"\xbf", b"a\x80b\xbfc", b"\xfe\xff", b"\xef\xbb\xbfBOM",
    b"ok \xe6\x97\xa5\xe6\x9c\xac \xe6\x97", b"\xce\xa3\xce", b"\xcc\x81", b"photo of a \xff cat",
]


def all_cases():
    rng = random.Random(1234)
    cases = class_cases()
    for cat, items in HANDCRAFTED.items():
        cases.extend((cat, s) for s in items)
    cases.extend(long_cases())
    cases.extend(fuzz_cases(rng, 300))
    cases.extend(random_unicode_cases(rng, 150))
    return cases


# ---------------------------------------------------------------------------------------------
# unicode_ops.tsv
# ---------------------------------------------------------------------------------------------
def grouped(items, size, sep=" "):
    return [sep.join(items[i:i + size]) for i in range(0, len(items), size)]


def unicode_ops(rng):
    ops = []
    valid = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]

    # NFC: every character with a canonical decomposition, the NFD form of every composite,
    # random combining sequences, Hangul jamo sequences.
    decomposable = [chr(cp) for cp in valid if unicodedata.decomposition(chr(cp))
                    and not unicodedata.decomposition(chr(cp)).startswith("<")]
    nfd_forms = [unicodedata.normalize("NFD", c) for c in decomposable]
    marks = [chr(cp) for cp in valid if unicodedata.combining(chr(cp))]
    bases = list("aeiouAEIOUnNcCsSzZ") + ["α", "ω", "Ω", "ι", "Ж", "ᄀ", "가", "ᅡ", "\u0b47", "\u0cc6", "ê"]
    combos = []
    for _ in range(600):
        s = rng.choice(bases) + "".join(rng.choice(marks + ["\u0301", "\u0308", "\u0323", "\u0345", "\u0b3e", "\u0cd5"])
                                        for _ in range(rng.randint(1, 4)))
        combos.append(s)
    jamo = []
    for _ in range(150):
        s = "".join(rng.choice(["\u1100", "\u1112", "\u1161", "\u1175", "\u11a8", "\u11c2", "가", "\u11a7", "\u11c3",
                                "\u1160", "a"]) for _ in range(rng.randint(2, 6)))
        jamo.append(s)
    for group in grouped(decomposable, 40) + grouped(nfd_forms, 40) + grouped(combos, 30) + grouped(jamo, 30):
        ops.append(("nfc", group, unicodedata.normalize("NFC", group)))

    # lower: every character that lower() changes, and sigma contexts.
    changing = [chr(cp) for cp in valid if chr(cp).lower() != chr(cp)]
    for group in grouped(changing, 80, sep=""):
        ops.append(("lower", group, group.lower()))
    sigma_pool = ["Σ", "Σ", "A", "a", "'", ".", " ", "\u0301", "\u00ad", "1", "İ", "\u0345", "\u02b0", "ͅ", "ᾼ", "ǅ", "\u2160", "Ⓐ"]
    for _ in range(300):
        s = "".join(rng.choice(sigma_pool) for _ in range(rng.randint(1, 8)))
        ops.append(("lower", s, s.lower()))

    # scan: characters at every boundary of the classes, in random orders.
    def klass(cp):
        c = chr(cp)
        for i, p in enumerate([r"[\p{L}]", r"[\p{N}]", r"\s"]):
            if regex.fullmatch(p, c, regex.IGNORECASE):
                return i + 1
        return 0
    boundary = set()
    prev = klass(0)
    for cp in valid[1:]:
        k = klass(cp)
        if k != prev:
            boundary.update({cp - 1, cp})
        prev = k
    boundary = [chr(cp) for cp in sorted(boundary) if not 0xD800 <= cp <= 0xDFFF]
    rng.shuffle(boundary)
    for i in range(0, len(boundary), 30):
        s = "".join(boundary[i:i + 30])
        s = s.replace("\x00", "")  # \0 is the separator of the expected output
        ops.append(("scan", s, "\x00".join(PATTERN.findall(s))))
    scan_pool = list("ab'sStTrRlLdDvVmM<>_ 1.") + ["ſ", "start_of_text", "end_of_text", "<start_of_text>", "ͅ", "é", "\u0301", "٣"]
    for _ in range(300):
        s = "".join(rng.choice(scan_pool) for _ in range(rng.randint(1, 10)))
        ops.append(("scan", s, "\x00".join(PATTERN.findall(s))))

    # html.unescape over every entity name (with and without a following letter), and the
    # ftfy variant over the ';' names and their all-caps spellings.
    names = sorted(html.entities.html5)
    ent = ["&" + n for n in names] + ["&" + n + "x" for n in names if not n.endswith(";")]
    for group in grouped(ent, 40):
        ops.append(("html", group, html.unescape(group)))
    # (the ';' names themselves are already covered by "html"; check the all-caps table fully)
    semi = [n for n in names if n.endswith(";")]
    fent = ["&" + n for n in rng.sample(semi, 200)] + ["&" + n.upper() for n in semi if n == n.lower()]
    for group in grouped(fent, 40):
        ops.append(("ftfy_html", group, ftfy.fixes.unescape_html(group)))
    numeric = ["&#%d;" % n for n in list(range(0, 300)) + [0xD800, 0xDFFF, 0xFDD0, 0xFFFE, 0x10FFFF, 0x110000, 0x1FFFE]]
    numeric += ["&#x%x" % n for n in range(0x70, 0xA5)] + ["&#X%X;" % n for n in (0xFFFF, 0xE000, 0x1F600)]
    for group in grouped(numeric, 30):
        ops.append(("html", group, html.unescape(group)))
        ops.append(("ftfy_html", group, ftfy.fixes.unescape_html(group)))

    # ftfy.fix_text on the fuzz pool.
    for _ in range(300):
        s = "".join(rng.choice(FUZZ_POOL) for _ in range(rng.randint(1, 20)))
        ops.append(("ftfy", s, ftfy.fix_text(s)))
    return ops


# ---------------------------------------------------------------------------------------------
MOJIBAKE_RANDOM = 2500  # seeded random mojibake cases


def write_tsv(name, columns, lines, counts):
    path = os.path.join(OUT_DIR, name)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(f"# generated by tests/reference/gen_tokenizer_golden.py: {columns}\n")
        f.write("\n".join(lines) + "\n")
    print(f"wrote {path}: {len(lines)} cases")
    for k, v in counts.items():
        print(f"  {k:24s} {v}")


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    # sanity: the factory tokenizer of the ERR-Seg CLIP is this same tokenizer
    fac = open_clip.get_tokenizer("ViT-B-16")
    assert isinstance(fac, oc_tok.SimpleTokenizer)
    assert fac("A photo of a wall in the scene").tolist() == open_clip.tokenize("A photo of a wall in the scene").tolist()

    lines, counts = [], {}

    def add(cat, raw, text, last):
        ids = open_clip.tokenize(text)[0].tolist()
        while ids and ids[-1] == 0:
            ids.pop()
        lines.append(f"{cat}\t{' '.join(map(str, ids))}\t{raw}\t{last}")
        counts[cat] = counts.get(cat, 0) + 1

    for cat, text in all_cases():
        # class names are plain ASCII: leave their cleaned text out ("-") to keep the file small
        cleaned = "-" if cat.startswith("class_") else hexs(oc_tok._clean_lower(text).encode("utf-8"))
        add(cat, hexs(text.encode("utf-8")), text, cleaned)
    for raw in MALFORMED:
        text = raw.decode("utf-8", errors="replace")
        add("malformed_utf8", hexs(raw), text, hexs(oc_tok._clean_lower(text).encode("utf-8")))
    write_tsv("golden.tsv", "category\tids\ttext_hex\tcleaned_hex", lines, counts)

    lines, counts = [], {}
    mojibake = mojibake_cases.handcrafted() + mojibake_cases.randomized(random.Random(2024), MOJIBAKE_RANDOM)
    repaired = 0
    for cat, text in dict.fromkeys(mojibake):  # unique, in order
        fixed = ftfy.fix_text(text)
        repaired += fixed != ftfy.fix_text(text, fix_encoding=False)
        add(cat, escaped(text), text, escaped(fixed))
    write_tsv("mojibake.tsv", "category\tids\ttext\tfixed (\\u{hex} escapes)", lines, counts)
    print(f"  ({repaired} of them changed by ftfy's fix_encoding step)")

    ops = unicode_ops(random.Random(99))
    path = os.path.join(OUT_DIR, "unicode_ops.tsv")
    with open(path, "w", encoding="ascii", newline="\n") as f:
        f.write("# generated by tests/reference/gen_tokenizer_golden.py: op\tinput_hex\texpected_hex\n")
        for op, a, b in ops:
            f.write(f"{op}\t{hexs(a.encode('utf-8'))}\t{hexs(b.encode('utf-8'))}\n")
    print(f"wrote {path}: {len(ops)} checks")


if __name__ == "__main__":
    main()
