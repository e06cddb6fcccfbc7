#!/usr/bin/env python3
"""Generate the Unicode / text-cleaning tables used by the C++ CLIP tokenizer.

Writes two headers (commit them; re-run only to change Unicode versions):

  include/errseg/text/unicode_tables.hpp   (character classes, Python str.lower() data,
                                            NFC data)
  include/errseg/text/cleaning_tables.hpp  (HTML5 entities as used by Python's html.unescape,
                                            the extra entities ftfy decodes, ftfy's width /
                                            ligature maps, the Windows-1252 C1 map)

Every table is derived *empirically* from the implementations the reference tokenizer
(open_clip.SimpleTokenizer) actually calls, so the C++ side reproduces them bit for bit:

  * scan classes   : the `regex` module with re.IGNORECASE, exactly the classes used in CLIP's
                     pre-tokenisation pattern ([\\p{L}], [\\p{N}], [^\\s\\p{L}\\p{N}], \\s)
  * lower-casing   : CPython's str.lower() (full mapping + the Final_Sigma rule)
  * NFC            : unicodedata.normalize (decompositions, combining classes, composites)
  * whitespace     : str.isspace() (str.strip) and the regex module's \\s (whitespace_clean)
  * \\d             : the stdlib `re` module (ftfy's terminal-escape pattern)
  * entities       : html.entities.html5, html._invalid_charrefs/_invalid_codepoints,
                     ftfy.chardata.HTML_ENTITIES / WIDTH_MAP / LIGATURES

Run with the interpreter that has `regex` and `ftfy` installed:
    /usr/bin/python3 tests/reference/gen_unicode_tables.py
"""
import html
import html.entities
import os
import re
import sys
import unicodedata

import ftfy
import ftfy.chardata
import regex

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT_DIR = os.path.join(ROOT, "include", "errseg", "text")

MAX_CP = 0x110000


def all_codepoints():
    """Every Unicode scalar value (surrogates cannot occur in decoded UTF-8)."""
    for cp in range(MAX_CP):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        yield cp


def ranges_of(pred):
    """Inclusive [lo, hi] ranges of scalar values satisfying pred."""
    out = []
    for cp in all_codepoints():
        if pred(cp):
            if out and out[-1][1] == cp - 1:
                out[-1][1] = cp
            else:
                out.append([cp, cp])
    return out


def valued_ranges(value_of):
    """[lo, hi, value] ranges for every scalar value whose value_of(cp) is not None/0."""
    out = []
    for cp in all_codepoints():
        v = value_of(cp)
        if not v:
            continue
        if out and out[-1][1] == cp - 1 and out[-1][2] == v:
            out[-1][1] = cp
        else:
            out.append([cp, cp, v])
    return out


def fmt_items(items, per_line=4):
    lines = []
    for i in range(0, len(items), per_line):
        lines.append("    " + " ".join(items[i:i + per_line]))
    return "\n".join(lines)


def emit_ranges(name, rngs, comment):
    items = ["{0x%04X, 0x%04X}," % (lo, hi) for lo, hi in rngs]
    return (f"// {comment}\ninline constexpr Range {name}[] = {{\n{fmt_items(items)}\n}};\n")


def cpp_cps(s, width):
    """A char32_t initialiser of fixed width (zero-padded) for the string s."""
    cps = [ord(c) for c in s]
    assert len(cps) <= width, s
    return "{" + ", ".join("0x%04X" % c for c in cps + [0] * (width - len(cps))) + "}"


# ---------------------------------------------------------------------------------------------
# 1. Pre-tokenisation classes (regex module, IGNORECASE, as in open_clip's pattern)
# ---------------------------------------------------------------------------------------------
def scan_classes():
    p_letter = regex.compile(r"[\p{L}]", regex.IGNORECASE)
    p_number = regex.compile(r"[\p{N}]", regex.IGNORECASE)
    p_other = regex.compile(r"[^\s\p{L}\p{N}]", regex.IGNORECASE)
    p_space = regex.compile(r"\s", regex.IGNORECASE)
    # 1 = letter, 2 = number, 3 = skipped (\s, or a character no alternative matches); 0 = other
    cls = {}
    for cp in all_codepoints():
        c = chr(cp)
        l, n, o, s = (bool(p.fullmatch(c)) for p in (p_letter, p_number, p_other, p_space))
        assert l + n + o + s <= 1, hex(cp)
        if l:
            cls[cp] = 1
        elif n:
            cls[cp] = 2
        elif not o:
            cls[cp] = 3  # whitespace or (e.g. U+0345 under IGNORECASE) matched by nothing
    return valued_ranges(lambda cp: cls.get(cp, 0))


def ignorecase_equivalents():
    """For each ASCII letter used in the pattern's literals: the characters it matches."""
    out = {}
    for letter in "adeflmnorstvx":
        p = regex.compile(letter, regex.IGNORECASE)
        out[letter] = [cp for cp in all_codepoints() if p.fullmatch(chr(cp))]
    return out


# ---------------------------------------------------------------------------------------------
# 2. str.lower()
# ---------------------------------------------------------------------------------------------
def lower_tables():
    single, multi = {}, {}
    for cp in all_codepoints():
        lo = chr(cp).lower()
        if lo == chr(cp):
            continue
        if len(lo) == 1:
            single[cp] = ord(lo)
        else:
            multi[cp] = lo
    # Compress single mappings into runs {lo, hi, stride, delta}: cp in [lo, hi] with
    # (cp - lo) % stride == 0 maps to cp + delta. Runs never overlap.
    cps = sorted(single)
    runs = []
    i = 0
    while i < len(cps):
        lo = cps[i]
        delta = single[lo] - lo
        hi, stride = lo, 1
        j = i + 1
        if j < len(cps) and single[cps[j]] - cps[j] == delta and cps[j] - lo in (1, 2):
            stride = cps[j] - lo
            if stride == 2 and (lo + 1) in single:
                stride = 0  # would straddle another mapping
        if stride:
            while (j < len(cps) and cps[j] == hi + stride and single[cps[j]] - cps[j] == delta
                   and (stride == 1 or (hi + 1) not in single)):
                hi = cps[j]
                j += 1
        else:
            stride = 1
        runs.append((lo, hi, stride, delta))
        i = j if hi != lo else i + 1
    # verify the compressed form against the mapping for every code point
    def lookup(cp):
        for lo, hi, st, d in runs:
            if lo <= cp <= hi and (cp - lo) % st == 0:
                return cp + d
        return cp
    for cp in all_codepoints():
        if cp in multi:
            continue
        assert lookup(cp) == single.get(cp, cp), hex(cp)
    for a, b in zip(runs, runs[1:]):
        assert a[1] < b[0]
    return runs, multi


def sigma_context_tables():
    """Case_Ignorable and Cased as CPython's Final_Sigma rule sees them.

    CPython lower-cases U+03A3 to final sigma iff it is preceded by a cased letter (skipping
    case-ignorable characters) and not followed by one (skipping case-ignorable characters).
    Probing lower() in three contexts recovers the two properties:
      'A' + c + 'Σ'  -> final  iff  ignorable(c) or cased(c)
      'AΣ' + c       -> final  iff  ignorable(c) or not cased(c)
      c + 'Σ'        -> final  iff  not ignorable(c) and cased(c)
    (cased(c) is never consulted for ignorable c, so only 'cased and not ignorable' matters.)
    """
    ignorable, cased = set(), set()
    for cp in all_codepoints():
        if cp == 0x3A3:
            continue
        c = chr(cp)
        t2 = ("A" + c + "Σ").lower()[-1] == "ς"
        t3 = ("AΣ" + c).lower()[1] == "ς"
        t1 = (c + "Σ").lower()[-1] == "ς"
        if t2 and t3:
            ignorable.add(cp)
        elif t1:
            cased.add(cp)
    # Σ itself is cased (an uppercase letter) and not ignorable.
    assert ("ΑΣΣ").lower() == "ασς"
    cased.add(0x3A3)
    return ranges_of(lambda cp: cp in ignorable), ranges_of(lambda cp: cp in cased)


# ---------------------------------------------------------------------------------------------
# 3. NFC
# ---------------------------------------------------------------------------------------------
def is_hangul_syllable(cp):
    return 0xAC00 <= cp <= 0xD7A3


def nfc_tables():
    ccc = valued_ranges(lambda cp: unicodedata.combining(chr(cp)))
    decomp = {}
    compose = []
    for cp in all_codepoints():
        if is_hangul_syllable(cp):
            continue
        d = unicodedata.decomposition(chr(cp))
        if not d or d.startswith("<"):
            continue
        nfd = unicodedata.normalize("NFD", chr(cp))
        if nfd != chr(cp):
            decomp[cp] = nfd
        parts = [int(x, 16) for x in d.split()]
        if len(parts) == 2 and unicodedata.normalize("NFC", chr(parts[0]) + chr(parts[1])) == chr(cp):
            compose.append((parts[0], parts[1], cp))
    compose.sort()
    return ccc, decomp, compose


# ---------------------------------------------------------------------------------------------
# writers
# ---------------------------------------------------------------------------------------------
HEADER_NOTE = (
    "// GENERATED by tests/reference/gen_unicode_tables.py -- do not edit by hand.\n"
    f"// Python {sys.version.split()[0]}, unicodedata {unicodedata.unidata_version}, "
    f"regex {regex.__version__}, ftfy {ftfy.__version__}.\n"
)


def write_unicode_tables():
    scan = scan_classes()
    equiv = ignorecase_equivalents()
    lower_runs, lower_multi = lower_tables()
    ignorable, cased = sigma_context_tables()
    ccc, decomp, compose = nfc_tables()
    py_space = ranges_of(lambda cp: chr(cp).isspace())
    p_rs = regex.compile(r"\s")
    regex_space = ranges_of(lambda cp: bool(p_rs.fullmatch(chr(cp))))
    p_d = re.compile(r"\d")
    decimal = ranges_of(lambda cp: bool(p_d.fullmatch(chr(cp))))

    parts = [HEADER_NOTE]
    parts.append("""// Data for errseg/text/unicode.hpp; see that header for how each table is used.
#pragma once
#include <cstdint>

namespace errseg::text::tables {

struct Range {            // inclusive code point range
    char32_t lo, hi;
};
struct ClassRange {       // inclusive range with a small value (class or combining class)
    char32_t lo, hi;
    uint8_t value;
};
struct CaseRun {          // cp in [lo, hi] with (cp - lo) % stride == 0 lowers to cp + delta
    char32_t lo, hi;
    uint8_t stride;
    int32_t delta;
};
struct MultiMap {         // one code point -> up to 3 code points (0-padded)
    char32_t cp;
    char32_t out[3];
};
struct Decomposition {    // full canonical decomposition: kDecompData[offset .. offset+len)
    char32_t cp;
    uint16_t offset;
    uint8_t len;
};
struct Composition {      // primary composite: first + second -> composite (sorted by first, second)
    char32_t first, second, composite;
};

""")
    # scan classes
    items = ["{0x%04X, 0x%04X, %d}," % (lo, hi, v) for lo, hi, v in scan]
    parts.append(
        "// CLIP pre-tokenisation classes, from the `regex` module with IGNORECASE:\n"
        "// 1 = [\\p{L}], 2 = [\\p{N}], 3 = matched by no alternative (\\s, and characters such as\n"
        "// U+0345 that IGNORECASE removes from both [\\p{L}] and [^\\s\\p{L}\\p{N}]).\n"
        "// Code points not listed are class 0 = [^\\s\\p{L}\\p{N}].\n"
        f"inline constexpr ClassRange kScanClass[] = {{\n{fmt_items(items)}\n}};\n\n")
    # IGNORECASE equivalents
    eq_items = []
    for letter, cps in equiv.items():
        extra = [cp for cp in cps if cp not in (ord(letter), ord(letter.upper()))]
        for cp in extra:
            eq_items.append("{0x%04X, '%s'}," % (cp, letter))
    parts.append(
        "// Non-ASCII characters that match an ASCII letter of the pattern's literals under\n"
        "// IGNORECASE (simple case folding), e.g. U+017F LONG S matches 's'.\n"
        "struct FoldEquivalent {\n    char32_t cp;\n    char letter;\n};\n"
        f"inline constexpr FoldEquivalent kFoldEquivalents[] = {{\n{fmt_items(eq_items)}\n}};\n\n")
    parts.append(emit_ranges("kRegexSpace", regex_space,
                             "`regex` module \\s (open_clip's whitespace_clean: \\s+ -> ' ')") + "\n")
    parts.append(emit_ranges("kPySpace", py_space, "str.isspace() (str.strip / str.split)") + "\n")
    parts.append(emit_ranges("kDecimal", decimal, "stdlib `re` \\d (Unicode Nd), used by ftfy's ANSI escape pattern") + "\n")
    # lower
    items = ["{0x%04X, 0x%04X, %d, %d}," % r for r in lower_runs]
    parts.append("// str.lower(): single code point mappings, compressed into runs.\n"
                 f"inline constexpr CaseRun kLowerRuns[] = {{\n{fmt_items(items, 3)}\n}};\n\n")
    items = ["{0x%04X, %s}," % (cp, cpp_cps(s, 3)) for cp, s in sorted(lower_multi.items())]
    parts.append("// str.lower(): mappings to more than one code point.\n"
                 f"inline constexpr MultiMap kLowerMulti[] = {{\n{fmt_items(items, 2)}\n}};\n\n")
    parts.append(emit_ranges("kCaseIgnorable", ignorable,
                             "Case_Ignorable as seen by CPython's Final_Sigma rule") + "\n")
    parts.append(emit_ranges("kCasedNotIgnorable", cased,
                             "Cased (and not Case_Ignorable) as seen by CPython's Final_Sigma rule") + "\n")
    # NFC
    items = ["{0x%04X, 0x%04X, %d}," % tuple(r) for r in ccc]
    parts.append("// Canonical combining class (non-zero entries).\n"
                 f"inline constexpr ClassRange kCombiningClass[] = {{\n{fmt_items(items)}\n}};\n\n")
    data, entries = [], []
    for cp in sorted(decomp):
        s = decomp[cp]
        entries.append("{0x%04X, %d, %d}," % (cp, len(data), len(s)))
        data.extend(ord(c) for c in s)
    assert len(data) < 65536
    parts.append("// Full canonical decompositions (NFD of one code point), Hangul syllables excluded\n"
                 "// (they decompose algorithmically).\n"
                 f"inline constexpr Decomposition kDecompositions[] = {{\n{fmt_items(entries)}\n}};\n")
    items = ["0x%04X," % c for c in data]
    parts.append(f"inline constexpr char32_t kDecompData[] = {{\n{fmt_items(items, 8)}\n}};\n\n")
    items = ["{0x%04X, 0x%04X, 0x%04X}," % t for t in compose]
    parts.append("// Primary composites (canonical pairs that NFC recomposes), Hangul excluded.\n"
                 f"inline constexpr Composition kCompositions[] = {{\n{fmt_items(items, 3)}\n}};\n\n")
    parts.append("}  // namespace errseg::text::tables\n")
    path = os.path.join(OUT_DIR, "unicode_tables.hpp")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(parts))
    print(f"wrote {path}: {len(scan)} scan ranges, {len(lower_runs)} lower runs, "
          f"{len(decomp)} decompositions, {len(compose)} compositions")


def c_string(s):
    assert s.isascii() and '"' not in s and "\\" not in s
    return '"' + s + '"'


def write_cleaning_tables():
    html5 = html.entities.html5
    names = sorted(html5, key=lambda n: n.encode("ascii"))
    items = ["{%s, %s}," % (c_string(n), cpp_cps(html5[n], 2)) for n in names]
    parts = [HEADER_NOTE]
    parts.append("""// Data for errseg/text/text_cleaning.hpp (Python html.unescape and the ftfy fixers).
#pragma once
#include <cstdint>

namespace errseg::text::tables {

struct NamedEntity {      // entity name (without '&', with ';' where the name has one)
    const char* name;
    char32_t value[2];    // 0-padded
};
struct WideEntity {
    const char* name;
    char32_t value[3];
};
struct CharMap {          // one code point -> up to 3 code points (0-padded)
    char32_t cp;
    char32_t out[3];
};

""")
    parts.append("// html.entities.html5, sorted by name (byte order).\n"
                 f"inline constexpr NamedEntity kHtml5Entities[] = {{\n{fmt_items(items, 2)}\n}};\n\n")
    std_keys = {"&" + n for n in html5 if n.endswith(";")}
    extras = {k[1:]: v for k, v in ftfy.chardata.HTML_ENTITIES.items() if k not in std_keys}
    for k, v in ftfy.chardata.HTML_ENTITIES.items():
        if k in std_keys:
            assert html5[k[1:]] == v
    items = ["{%s, %s}," % (c_string(n), cpp_cps(extras[n], 3))
             for n in sorted(extras, key=lambda n: n.encode("ascii"))]
    parts.append("// ftfy.chardata.HTML_ENTITIES beyond the html5 names ending in ';': all-caps\n"
                 "// spellings of lower-case entities (\"EACUTE;\" -> U+00C9), sorted by name.\n"
                 f"inline constexpr WideEntity kFtfyUpperEntities[] = {{\n{fmt_items(items, 2)}\n}};\n\n")
    items = ["{0x%02X, 0x%04X}," % (k, ord(v)) for k, v in sorted(html._invalid_charrefs.items())]
    parts.append("// html._invalid_charrefs: numeric references replaced by another character.\n"
                 "struct CharrefFix {\n    uint32_t num;\n    char32_t cp;\n};\n"
                 f"inline constexpr CharrefFix kInvalidCharrefs[] = {{\n{fmt_items(items)}\n}};\n\n")
    items = ["0x%04X," % c for c in sorted(html._invalid_codepoints)]
    parts.append("// html._invalid_codepoints: numeric references that decode to nothing.\n"
                 f"inline constexpr uint32_t kInvalidCodepoints[] = {{\n{fmt_items(items, 8)}\n}};\n\n")
    wm = ftfy.chardata.WIDTH_MAP
    items = ["{0x%04X, %s}," % (k, cpp_cps(wm[k], 3)) for k in sorted(wm)]
    parts.append("// ftfy fix_character_width (U+3000 and NFKC of U+FF01..U+FFEF).\n"
                 f"inline constexpr CharMap kWidthMap[] = {{\n{fmt_items(items, 2)}\n}};\n\n")
    lg = ftfy.chardata.LIGATURES
    items = ["{0x%04X, %s}," % (k, cpp_cps(lg[k], 3)) for k in sorted(lg)]
    parts.append("// ftfy fix_latin_ligatures.\n"
                 f"inline constexpr CharMap kLigatures[] = {{\n{fmt_items(items, 2)}\n}};\n\n")
    items = ["0x%04X," % ord(bytes([b]).decode("sloppy-windows-1252")) for b in range(0x80, 0xA0)]
    parts.append("// ftfy fix_c1_controls: U+0080..U+009F decoded as sloppy-windows-1252.\n"
                 f"inline constexpr char32_t kC1ToCp1252[32] = {{\n{fmt_items(items, 8)}\n}};\n\n")
    parts.append("}  // namespace errseg::text::tables\n")
    path = os.path.join(OUT_DIR, "cleaning_tables.hpp")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(parts))
    print(f"wrote {path}: {len(names)} html5 entities, {len(extras)} ftfy extras")


if __name__ == "__main__":
    os.makedirs(OUT_DIR, exist_ok=True)
    write_unicode_tables()
    write_cleaning_tables()
