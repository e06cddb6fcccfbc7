"""Mojibake test strings for the tokenizer golden set (used by gen_tokenizer_golden.py).

Real text is broken the ways ftfy repairs (and some it does not): UTF-8 bytes decoded with
a single-byte codec (Latin-1, Windows-125x, ISO-8859-2, MacRoman, cp437, ...), once or twice,
over the whole text or a part of it, with A0 bytes turned into spaces, with lost bytes
('?' or U+FFFD), with C1 controls, with CESU-8 / Java-null encodings, cut off in the middle of
a sequence, next to text that only looks like mojibake. `handcrafted()` lists fixed cases by
category; `randomized(rng, n)` draws n more from a seeded generator.
"""
import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-* and utf-8-variants codecs)

SOURCES = [
    "café", "naïve résumé", "São Paulo", "Zürich", "Crème brûlée", "à la carte", "voilà le travail",
    "“smart quotes”", "it’s", "‘single’", "en–dash em—dash", "10 €", "wait…", "• bullet", "©®™",
    "привет мир", "Ελληνικά", "中文字符", "日本語のテキスト", "한국어", "😀 emoji", "👍🏽", "Łódź",
    "Dvořák", "İstanbul", "Straße", "señor piñata", "¯\\_(ツ)_/¯", "hello 中文", "مرحبا", "नमस्ते",
    "½ cup", "20°C", "x² × y³", "Ærø Øresund Ångström", "Việt Nam", "Nguyễn", "façade", "Kraków",
    "Ñandú", "œuvre", "“Hello,” she said — “it’s 5 €.”", "a photo of a café in São Paulo",
    "¡Hola! ¿Qué tal?", "Größe", "ÀÉÎÕÜ", "שלום", "ภาษาไทย", "✔ done", "→ arrow", "♥", "€",
]

# Codecs UTF-8 text gets mis-decoded with: ftfy's own (which it can undo) and a few it cannot.
FTFY_CODECS = ["latin-1", "sloppy-windows-1252", "sloppy-windows-1251", "sloppy-windows-1250",
               "sloppy-windows-1253", "sloppy-windows-1254", "sloppy-windows-1257", "iso-8859-2",
               "macroman", "cp437"]
OTHER_CODECS = ["cp850", "koi8-r", "iso-8859-15", "cp1258", "iso-8859-7"]


def mis_decode(text, codec, errors="replace"):
    return text.encode("utf-8").decode(codec, errors=errors)


def cesu8(text):
    """UTF-8 of each UTF-16 code unit (supplementary characters as surrogate pairs)."""
    units = text.encode("utf-16-le")
    chars = "".join(chr(int.from_bytes(units[i:i + 2], "little")) for i in range(0, len(units), 2))
    return chars.encode("utf-8", "surrogatepass")


# Text that is (or could be) meant as written, next to short strings that are mojibake; ftfy
# keeps most and repairs some (its false positives such as "Ã is a letter" included): the
# golden set records whatever ftfy does.
LOOKALIKES = [
    "NÃO", "ÃO", "Ã TESTE", "×ÂÈÙ", "(ò_ó)", "(╯°□°)╯︵ ┻━┻", "├── src", "Ω≈ç√∫", "£5 or €6",
    "Â¡", "Ø Ù", "résumé ©2024", "ÇA VA", "AÑO", "ŒUVRE", "vœu", "°F", "Â", "Ã", "ÃÃÃ",
    "Ã©", "Ã© ok", "â€", "Ð", "Ðx", "ÐŸ", "Ù€", "ØªØ", "à²", "√±", "≈°", "вЂ", "β€™",
    "ā€", "ГўВЂВњx", "Ã¡", "Ã\xa0", "x Â ", "Â »", "¬ ¦ ¨", "Œ1", "Ñ¢", "È°", "£Ã",
    "ʼn", "Ã is a letter", "Ãœber", "mañana Ñ", "Ü€", "ñ€", "ø¡", "¤¤", "ÆØÅ æøå",
    "ℵ₀", "I ♥ NY", "5 × 3 = 15", "µm", "±3", "§ 1 ¶", "ºC", "ª", "ÐÑÒ", "ÿþ", "þÿ",
]

PARTIAL = [
    "cafÃ", "Ã", "â€", "â€œhi", "ðŸ˜", "ðŸ", "caf\u00c3\u00a9\u00c3", "Ã©Ã", "Ã©x Ã",
    "â€œquoted", "quotedâ€", "â€\x9d", "Ð¿Ñ€Ð¸Ð²Ðµ", "Ð¿Ñ€Ð¸Ð²ÐµÑ", "æ—¥æœ", "í ½í¸€", "í ½",
    "Ã©\u00a9", "cafÃ©\ufffd", "cafÃ?", "Ã¢â‚¬", "ÃƒÂ", "Â", "Ã\x80", "â\x80\x9c", "â\x80",
]


def handcrafted():
    cases = []
    for s in SOURCES:
        cases.append(("mojibake_latin1", mis_decode(s, "latin-1")))
        cases.append(("mojibake_cp1252", mis_decode(s, "sloppy-windows-1252")))
        cases.append(("mojibake_cp1252_strict", mis_decode(s, "windows-1252")))  # holes -> U+FFFD
    for codec in FTFY_CODECS[2:] + OTHER_CODECS:
        for s in SOURCES[::3]:
            cases.append(("mojibake_other_codec", mis_decode(s, codec)))
    for s in SOURCES[::2]:
        cases.append(("mojibake_double", mis_decode(mis_decode(s, "sloppy-windows-1252"), "sloppy-windows-1252")))
        cases.append(("mojibake_double", mis_decode(mis_decode(s, "latin-1"), "latin-1")))
        cases.append(("mojibake_double", mis_decode(mis_decode(s, "latin-1"), "sloppy-windows-1252")))
    for s in SOURCES[::4]:
        cases.append(("mojibake_triple", mis_decode(mis_decode(mis_decode(s, "sloppy-windows-1252"),
                                                               "sloppy-windows-1252"), "sloppy-windows-1252")))
    for i, s in enumerate(SOURCES):
        t = SOURCES[(i * 7 + 3) % len(SOURCES)]
        cases.append(("mojibake_mixed", f"{s} and {mis_decode(t, 'sloppy-windows-1252')}"))
        cases.append(("mojibake_mixed", f"{mis_decode(s, 'latin-1')} / {mis_decode(t, 'sloppy-windows-1251')}"))
        cases.append(("mojibake_mixed", f"{mis_decode(s, 'sloppy-windows-1252')}\n{t}\n{mis_decode(t, 'latin-1')}"))
    for s in SOURCES:
        broken = mis_decode(s, "sloppy-windows-1252")
        if "\xa0" in broken:
            cases.append(("mojibake_nbsp", broken.replace("\xa0", " ")))
        lossy = "".join("?" if ch in "\x81\x8d\x8f\x90\x9d" else ch for ch in broken)
        if lossy != broken:
            cases.append(("mojibake_lossy", lossy))
        if len(broken) > 2:
            cases.append(("mojibake_lossy", broken[:-1] + "\ufffd"))
            cases.append(("mojibake_lossy", broken[:len(broken) // 2] + "?" + broken[len(broken) // 2 + 1:]))
    for s in ["😀", "emoji 😀 here", "👍🏽 ok", "𝐀𝐁𝐂", "a\u0000b"]:
        raw = cesu8(s).replace(b"\x00", b"\xc0\x80")
        cases.append(("mojibake_cesu8", raw.decode("latin-1")))
        cases.append(("mojibake_cesu8", raw.decode("sloppy-windows-1252")))
    cases += [("c1_controls", s) for s in [
        "\x80", "a\x85b", "\x91quoted\x92", "\x93double\x94", "caf\xe9\x85", "\x96 dash \x97",
        "price \x80 5", "\x8a\x8e\x9a\x9e\x9f", "\x81\x8d\x8f\x90\x9d", "Ã\x83Â\x82", "â\x80\x94",
        "mixed \x80 and Ã©", "\x9b\x9c", "line1\x85line2", "\x99 mark",
    ]]
    cases += [("mojibake_lookalike", s) for s in LOOKALIKES]
    cases += [("mojibake_partial", s) for s in PARTIAL]
    cases += [("mojibake_html", s) for s in [
        "caf&Atilde;&copy;", "&Atilde;&copy;", "&ATILDE;&COPY;", "Ã&copy;", "&lt;Ã©&gt;", "<b>Ã©</b>",
        "â€œ&amp;â€\x9d", "caf&#195;&#169;", "&#xC3;&#xA9;",
    ]]
    cases += [("mojibake_lines", s) for s in [
        "cafÃ©\ncafé", "café\ncafÃ©", "Ã©\n<b>\nÃ©", "line â€”\r\nnext â€”", "Ã©\u2028Ã©", "Ã©\rÃ©",
    ]]
    return cases


WORDS = (["a", "photo", "of", "the", "cat", "dog", "street", "house", "tree", "sky", "red", "big", "on",
          "and", "in", "with", "it's", "don't", "1990", "42", "&", "-", ",", ".", "!", "?", "(x)"] +
         ["café", "naïve", "résumé", "São", "Zürich", "crème", "brûlée", "à", "voilà", "señor", "Größe",
          "façade", "Ærø", "Øresund", "Ångström", "Łódź", "Dvořák", "İstanbul", "Việt", "Nguyễn", "œuvre"] +
         ["“quoted”", "it’s", "‘x’", "–", "—", "…", "€5", "£3", "¥9", "©", "®", "™", "•", "°C", "½", "²",
          "×", "±", "µ", "§", "¶", "¿", "¡", "«x»", "‹y›", "†", "‰", "™"] +
         ["привет", "мир", "Ελλάδα", "γάτα", "中文", "日本", "한국", "😀", "👍🏽", "🇺🇸", "❤️", "✔",
          "مرحبا", "שלום", "नमस्ते", "ภาษา", "ﬁ", "Ａ", "ｶ", "\u00a0", "\u2019s", "¯\\_(ツ)_/¯"])

RANDOM_CODECS = (["latin-1"] * 3 + ["sloppy-windows-1252"] * 4 + ["windows-1252"] * 2 + FTFY_CODECS[2:]
                 + OTHER_CODECS)


def _break(rng, text):
    """One random way of breaking `text` (already possibly broken)."""
    kind = rng.random()
    if kind < 0.55:
        return mis_decode(text, rng.choice(RANDOM_CODECS))
    if kind < 0.7:  # mis-decoded, then A0 bytes turned into spaces
        return mis_decode(text, rng.choice(["latin-1", "sloppy-windows-1252"])).replace("\xa0", " ")
    if kind < 0.8:  # mis-decoded, then some characters lost
        t = list(mis_decode(text, "sloppy-windows-1252"))
        for _ in range(rng.randint(1, 2)):
            t[rng.randrange(len(t))] = rng.choice(["?", "\ufffd"])
        return "".join(t)
    if kind < 0.88:  # CESU-8 / Java null, mis-decoded
        return cesu8(text).replace(b"\x00", b"\xc0\x80").decode(rng.choice(["latin-1", "sloppy-windows-1252"]))
    if kind < 0.95:  # cut in the middle of a mis-decoded sequence
        t = mis_decode(text, rng.choice(["latin-1", "sloppy-windows-1252"]))
        cut = rng.randrange(1, len(t) + 1)
        return t[:cut] + t[cut + 1:]
    return "".join(chr(0x80 + rng.randrange(32)) if rng.random() < 0.3 else ch for ch in text)  # C1 noise


def randomized(rng, count):
    out = []
    for _ in range(count):
        words = [rng.choice(WORDS) for _ in range(rng.randint(1, 6))]
        text = " ".join(words)
        if rng.random() < 0.5:  # break only a part
            a = rng.randrange(len(words))
            b = rng.randrange(a, len(words)) + 1
            part = " ".join(words[a:b])
            broken = _break(rng, part)
            if rng.random() < 0.3:
                broken = _break(rng, broken)
            text = " ".join(words[:a] + [broken] + words[b:])
        else:
            text = _break(rng, text)
            if rng.random() < 0.35:
                text = _break(rng, text)
        if rng.random() < 0.1:
            text = text + rng.choice(["\n", "\r\n", "\n<p>"]) + _break(rng, rng.choice(WORDS))
        out.append(("mojibake_random", text))
    return out
