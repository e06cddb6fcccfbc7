#!/usr/bin/env python3
"""Generate include/errseg/text/mojibake_tables.hpp: the data of ftfy's mojibake repair
(`ftfy.fix_encoding`), read out of the installed ftfy and Python codecs.

Nothing here is typed by hand. The regular expressions ftfy uses are parsed with Python's own
regex parser (re._parser) and every character class in them is evaluated over all code points
(or all 256 byte values), so the C++ side only needs a tiny matcher for "a fixed sequence of
character classes":

  * BADNESS_RE (ftfy.badness)          -> kBadnessSeqs: every alternative as a class sequence
                                          (an optional `\\s?` becomes two sequences)
  * UTF8_DETECTOR_RE (ftfy.chardata)   -> kUtf8DetectorSeqs (the repeated alternatives) and the
                                          class of its negative look-behind
  * ALTERED_UTF8_RE, LOSSY_UTF8_RE     -> byte class sequences (restore_byte_a0,
                                          replace_lossy_sequences)
  * A_GRAVE_WORD_RE (ftfy.fixes)       -> its prefix and the look-ahead words it refuses
  * CHARMAP_ENCODINGS                  -> the 256-entry decoding table of each single-byte codec
                                          (ftfy's sloppy codecs included), checked against
                                          chardata.possible_encoding and str.encode
  * windows-1252 (strict)              -> its decoding of 0x80..0x9F (0 where undefined)

The structure the C++ code assumes (fixed-length alternatives, the detector's look-behind and
repeat) is asserted here, so a different ftfy fails loudly instead of generating wrong tables.

Run: /usr/bin/python3 tests/reference/gen_mojibake_tables.py
"""
import os
import re
import sys

try:  # Python >= 3.11
    import re._constants as C
    import re._parser as P
except ImportError:
    import sre_constants as C
    import sre_parse as P

import ftfy
import ftfy.badness
import ftfy.chardata
import ftfy.fixes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gen_unicode_tables import OUT_DIR, all_codepoints, fmt_items  # noqa: E402

MAX_SEQ = 7  # longest class sequence (BADNESS_RE: "ГўВЂВ.[A-Za-z ]")


# ---------------------------------------------------------------------------------------------
# regex AST -> class sequences
# ---------------------------------------------------------------------------------------------
class ClassSet:
    """The items of one regex element's class, over code points or (is_bytes) byte values."""

    def __init__(self, items, is_bytes):
        self.items = items  # list of (op, av) as in an IN node
        self.is_bytes = is_bytes

    def key(self):
        return repr(self.items)


def element_class(op, av, is_bytes):
    if op == C.LITERAL:
        return ClassSet([(C.LITERAL, av)], is_bytes)
    if op == C.IN:
        return ClassSet(list(av), is_bytes)
    if op == C.ANY:  # no DOTALL: anything but '\n'
        return ClassSet([(C.NEGATE, None), (C.LITERAL, 10)], is_bytes)
    raise AssertionError(f"unsupported element {op}")


CATEGORY_RE = {C.CATEGORY_UNI_SPACE: r"\s", C.CATEGORY_UNI_WORD: r"\w", C.CATEGORY_UNI_DIGIT: r"\d",
               C.CATEGORY_SPACE: r"\s", C.CATEGORY_WORD: r"\w", C.CATEGORY_DIGIT: r"\d"}


def members(cs):
    """The sorted code points (or bytes) of a class, computed with Python's re."""
    negate = any(op == C.NEGATE for op, _ in cs.items)
    out = set()
    cats = []
    for op, av in cs.items:
        if op == C.LITERAL:
            out.add(av)
        elif op == C.RANGE:
            out.update(range(av[0], av[1] + 1))
        elif op == C.CATEGORY:
            cats.append(av)
        elif op != C.NEGATE:
            raise AssertionError(f"unsupported class item {op}")
    for cat in cats:
        if cs.is_bytes:
            p = re.compile(CATEGORY_RE[cat].encode())
            out.update(b for b in range(256) if p.fullmatch(bytes([b])))
        else:
            p = re.compile(CATEGORY_RE[cat])
            out.update(cp for cp in all_codepoints() if p.fullmatch(chr(cp)))
    if negate:
        every = range(256) if cs.is_bytes else all_codepoints()
        out = set(every) - out
    return out


def flatten(seq, is_bytes):
    """All expansions of one alternative into (anchored, [ClassSet...])."""
    results = [(False, [])]
    for op, av in seq:
        if op == C.AT:
            assert av == C.AT_BEGINNING and all(not s for _, s in results), "only a leading ^"
            results = [(True, s) for _, s in results]
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            assert hi != C.MAXREPEAT and hi <= 3, "bounded repeats only"
            (sub_op, sub_av), = sub.data
            cls = element_class(sub_op, sub_av, is_bytes)
            results = [(a, s + [cls] * n) for a, s in results for n in range(lo, hi + 1)]
        elif op == C.SUBPATTERN:
            inner = flatten(av[3].data, is_bytes)
            results = [(a or a2, s + s2) for a, s in results for a2, s2 in inner]
        else:
            cls = element_class(op, av, is_bytes)
            results = [(a, s + [cls]) for a, s in results]
    return results


def alternatives(pattern):
    """The top-level alternatives of a compiled pattern as lists of AST items."""
    tree = P.parse(pattern.pattern, pattern.flags)
    if len(tree.data) == 1 and tree.data[0][0] == C.BRANCH:
        return [alt.data for alt in tree.data[0][1][1]]
    return [tree.data]


class ClassTable:
    """Deduplicated classes; each gets one bit."""

    def __init__(self, is_bytes):
        self.is_bytes = is_bytes
        self.sets = []  # frozenset per id
        self.ids = {}
        self.cache = {}  # class source -> members

    def id_of(self, cs):
        if cs.key() not in self.cache:
            self.cache[cs.key()] = frozenset(members(cs))
        s = self.cache[cs.key()]
        if s not in self.ids:
            self.ids[s] = len(self.sets)
            self.sets.append(s)
        return self.ids[s]

    def sequences(self, pattern):
        out = []
        for alt in alternatives(pattern):
            for anchored, seq in flatten(alt, self.is_bytes):
                assert 1 <= len(seq) <= MAX_SEQ
                out.append((anchored, [self.id_of(c) for c in seq]))
        return out


def seq_items(seqs):
    items = []
    for anchored, ids in seqs:
        padded = ids + [0] * (MAX_SEQ - len(ids))
        items.append("{%d, %d, {%s}}," % (int(anchored), len(ids), ", ".join(map(str, padded))))
    return items


# ---------------------------------------------------------------------------------------------
# the pieces
# ---------------------------------------------------------------------------------------------
def detector_sequences(table):
    """UTF8_DETECTOR_RE = (?<![strict]) ( alt | alt | alt )+ : the look-behind class id and the
    repeated alternatives."""
    tree = P.parse(ftfy.chardata.UTF8_DETECTOR_RE.pattern, ftfy.chardata.UTF8_DETECTOR_RE.flags)
    (op1, look), (op2, rep) = tree.data
    assert op1 == C.ASSERT_NOT and look[0] == -1, "a negative look-behind first"
    (lop, lav), = look[1].data
    behind = table.id_of(element_class(lop, lav, False))
    assert op2 == C.MAX_REPEAT and rep[0] == 1 and rep[1] == C.MAXREPEAT, "then (...)+"
    (sop, sav), = rep[2].data
    assert sop == C.SUBPATTERN
    (bop, bav), = sav[3].data
    assert bop == C.BRANCH
    seqs = []
    for alt in bav[1]:
        for anchored, seq in flatten(alt.data, False):
            assert not anchored
            seqs.append((False, [table.id_of(c) for c in seq]))
    return behind, seqs


def a_grave_word():
    """A_GRAVE_WORD_RE = PREFIX (?!WORD|WORD|...)."""
    tree = P.parse(ftfy.fixes.A_GRAVE_WORD_RE.pattern, ftfy.fixes.A_GRAVE_WORD_RE.flags)
    prefix = []
    words = []
    for op, av in tree.data:
        if op == C.LITERAL:
            assert not words
            prefix.append(av)
        else:
            assert op == C.ASSERT_NOT and av[0] == 1
            (bop, bav), = av[1].data
            assert bop == C.BRANCH
            for alt in bav[1]:
                assert all(o == C.LITERAL for o, _ in alt.data)
                words.append(bytes(v for _, v in alt.data))
    return bytes(prefix), words


def codec_tables():
    rows = []
    for enc in ftfy.chardata.CHARMAP_ENCODINGS:
        table = []
        for b in range(256):
            ch = bytes([b]).decode(enc)
            assert len(ch) == 1
            table.append(ord(ch))
        for b in range(0x80):
            assert b == 0x1A or table[b] == b, (enc, b)
        # what possible_encoding accepts, and how str.encode maps it
        allowed = {b for b in range(0x80) if b != 0x1A}
        allowed |= {table[b] for b in list(range(0x80, 0x100)) + [0x1A]}
        for cp in all_codepoints():
            assert ftfy.chardata.possible_encoding(chr(cp), enc) == (cp in allowed), (enc, hex(cp))
        for b in list(range(0x80, 0x100)) + [0x1A]:
            assert chr(table[b]).encode(enc) == bytes([b]), (enc, b)
        rows.append((enc, table))
    return rows


def cp1252_strict_c1():
    out = []
    for b in range(0x80, 0xA0):
        try:
            out.append(ord(bytes([b]).decode("windows-1252")))
        except UnicodeDecodeError:
            out.append(0)
    return out


def write():
    cps = ClassTable(False)
    badness = cps.sequences(ftfy.badness.BADNESS_RE)
    behind, detector = detector_sequences(cps)
    byts = ClassTable(True)
    altered = byts.sequences(ftfy.chardata.ALTERED_UTF8_RE)
    lossy = byts.sequences(ftfy.chardata.LOSSY_UTF8_RE)
    assert len(cps.sets) <= 128 and len(byts.sets) <= 64
    assert not any(a for a, _ in altered + lossy)
    prefix, words = a_grave_word()
    codecs_ = codec_tables()

    # code point classes as ranges of equal membership masks
    mask_of = {}
    for i, s in enumerate(cps.sets):
        for cp in s:
            mask_of[cp] = mask_of.get(cp, 0) | (1 << i)
    ranges = []
    for cp in sorted(mask_of):
        m = mask_of[cp]
        if ranges and ranges[-1][1] == cp - 1 and ranges[-1][2] == m:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp, m])
    byte_masks = [0] * 256
    for i, s in enumerate(byts.sets):
        for b in s:
            byte_masks[b] |= 1 << i

    p = []
    p.append("// GENERATED by tests/reference/gen_mojibake_tables.py -- do not edit by hand.\n"
             f"// Python {sys.version.split()[0]}, ftfy {ftfy.__version__}.\n")
    p.append("""// Data for errseg/text/mojibake.hpp (ftfy.fix_encoding): ftfy's regular expressions as
// sequences of character classes, and its single-byte codecs.
#pragma once
#include <cstdint>

namespace errseg::text::tables {

// One alternative of a regular expression made of single-character classes: `len` class ids
// (bits of the class masks below); `anchored`: only at the start of the text ('^').
struct ClassSeq {
    uint8_t anchored;
    uint8_t len;
    uint8_t cls[%d];
};
struct MaskRange {        // code points lo..hi belong to exactly the classes in `mask`
    char32_t lo, hi;
    uint64_t mask[2];     // class id i: bit (i %% 64) of mask[i / 64]
};
struct CharmapCodec {     // ftfy.chardata.CHARMAP_ENCODINGS, in ftfy's order
    const char* name;
    bool sloppy;          // a "sloppy-" codec: replace_lossy_sequences applies
    bool restore_byte_a0; // restore_byte_a0 applies (all but macroman)
    char32_t decode[256];
};

""" % MAX_SEQ)
    p.append(f"// {len(cps.sets)} code point classes of BADNESS_RE and UTF8_DETECTOR_RE.\n"
             "inline constexpr MaskRange kMojibakeClassRanges[] = {\n" +
             fmt_items(["{0x%04X, 0x%04X, {0x%XULL, 0x%XULL}}," % (lo, hi, m & (2**64 - 1), m >> 64)
                        for lo, hi, m in ranges], 2) + "\n};\n\n")
    p.append("// ftfy.badness.BADNESS_RE: text is bad when any sequence matches somewhere.\n"
             "inline constexpr ClassSeq kBadnessSeqs[] = {\n" + fmt_items(seq_items(badness), 4) + "\n};\n\n")
    p.append("// ftfy.chardata.UTF8_DETECTOR_RE: (?<![class kUtf8DetectorNotAfter]) (seq | seq | seq)+\n"
             f"inline constexpr uint8_t kUtf8DetectorNotAfter = {behind};\n"
             "inline constexpr ClassSeq kUtf8DetectorSeqs[] = {\n" + fmt_items(seq_items(detector), 4) + "\n};\n\n")
    p.append(f"// {len(byts.sets)} byte classes of ALTERED_UTF8_RE and LOSSY_UTF8_RE: the mask of each byte.\n"
             "inline constexpr uint64_t kByteClassMasks[256] = {\n" +
             fmt_items(["0x%XULL," % m for m in byte_masks], 8) + "\n};\n")
    p.append("// ftfy.chardata.ALTERED_UTF8_RE (restore_byte_a0).\n"
             "inline constexpr ClassSeq kAlteredUtf8Seqs[] = {\n" + fmt_items(seq_items(altered), 4) + "\n};\n")
    p.append("// ftfy.chardata.LOSSY_UTF8_RE (replace_lossy_sequences).\n"
             "inline constexpr ClassSeq kLossyUtf8Seqs[] = {\n" + fmt_items(seq_items(lossy), 4) + "\n};\n\n")

    def c_bytes(b):
        return '"' + "".join("\\x%02x" % x for x in b) + '"'
    p.append("// ftfy.fixes.A_GRAVE_WORD_RE: kAGravePrefix not followed by one of kAGraveKeepWords.\n"
             f"inline constexpr const char* kAGravePrefix = {c_bytes(prefix)};\n"
             "inline constexpr const char* kAGraveKeepWords[] = {" +
             ", ".join(c_bytes(w) for w in words) + "};\n\n")
    items = []
    for enc, table in codecs_:
        body = fmt_items(["0x%04X," % c for c in table], 8)
        items.append('    {"%s", %s, %s, {\n%s\n    }},' % (
            enc, "true" if enc.startswith("sloppy") else "false",
            "false" if enc == "macroman" else "true", body))
    p.append("// Decoding tables (byte -> code point) of the single-byte codecs ftfy tries.\n"
             f"inline constexpr CharmapCodec kCharmapCodecs[{len(codecs_)}] = {{\n" + "\n".join(items) + "\n};\n\n")
    p.append("// Strict windows-1252 for bytes 0x80..0x9F (0: undefined, decoding fails).\n"
             "inline constexpr char32_t kCp1252StrictC1[32] = {\n" +
             fmt_items(["0x%04X," % c for c in cp1252_strict_c1()], 8) + "\n};\n\n")
    p.append("}  // namespace errseg::text::tables\n")
    path = os.path.join(OUT_DIR, "mojibake_tables.hpp")
    with open(path, "w", encoding="utf-8") as f:
        f.write("".join(p))
    print(f"wrote {path}: {len(cps.sets)} code point classes in {len(ranges)} ranges, "
          f"{len(badness)} badness sequences, {len(detector)} detector sequences, "
          f"{len(byts.sets)} byte classes, {len(codecs_)} codecs")


if __name__ == "__main__":
    write()
