// The CLIP byte-level BPE tokenizer, reproducing open_clip's default SimpleTokenizer
// (open_clip.tokenize / get_tokenizer("ViT-B-16")) id for id:
//
//   1. UTF-8 decode (malformed bytes -> U+FFFD, as Python's errors="replace"; see utf8.hpp)
//   2. clean: ftfy.fix_text, html.unescape x2, strip, collapse whitespace, str.lower()
//      (text_cleaning.hpp, mojibake repair included)
//   3. pre-tokenise with CLIP's regex (pretokenize.hpp)
//   4. each pre-token's UTF-8 bytes -> byte symbols (GPT-2 bytes_to_unicode alphabet), the last
//      one carrying the "</w>" end-of-word marker, then greedy BPE by merge rank
//   5. vocabulary: 256 byte symbols, the same with "</w>", one entry per merge (in merge order),
//      then <start_of_text> and <end_of_text>  (49408 entries for CLIP's 48894 merges)
//
// Merges come from text, one merge per line ("a b", symbols in the bytes_to_unicode alphabet),
// e.g. data/clip_bpe_merges.txt or the `errseg.bpe_merges` model metadata. Like open_clip, at most
// the first 48894 merges are used and an optional "#version" header line is skipped.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include "../core/error.hpp"
#include "../core/regular_file.hpp"
#include "../core/tensor.hpp"
#include "pretokenize.hpp"
#include "text_cleaning.hpp"
#include "utf8.hpp"

namespace errseg::text {

// GPT-2 / CLIP byte <-> "unicode symbol" alphabet: printable Latin-1 bytes stand for
// themselves; the other 68 bytes (controls, space, 0x7F..0xA0, 0xAD) get U+0100.. in byte order.
// `order` is the position of each byte in bytes_to_unicode()'s insertion order, which is also
// its vocabulary id.
struct ByteAlphabet {
    char32_t symbol[256];
    int32_t order[256];

    ByteAlphabet() {
        auto printable = [](int b) {
            return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        };
        int32_t pos = 0;
        for (int b = 0; b < 256; ++b)
            if (printable(b)) {
                symbol[b] = char32_t(b);
                order[b] = pos++;
            }
        char32_t extra = 0x100;
        for (int b = 0; b < 256; ++b)
            if (!printable(b)) {
                symbol[b] = extra++;
                order[b] = pos++;
            }
    }

    static const ByteAlphabet& get() {
        static const ByteAlphabet alphabet;
        return alphabet;
    }
};

class ClipTokenizer {
public:
    static constexpr int kMaxMerges = 49152 - 256 - 2;  // 48894, as open_clip slices the file
    static constexpr uint64_t kMaxMergesFileBytes = uint64_t(64) << 20;  // CLIP's file: 1.6 MB
    static constexpr int kDefaultContextLength = 77;

    // Builds the tokenizer from merge lines ("a b" per line; '\r' line ends tolerated).
    static ClipTokenizer from_merges(const std::string& merges_text) {
        auto model = std::make_shared<Model>();
        const ByteAlphabet& alpha = ByteAlphabet::get();

        // Vocabulary strings are kept in the byte-symbol alphabet, UTF-8 encoded.
        std::vector<std::string> base(256);
        for (int b = 0; b < 256; ++b) base[size_t(alpha.order[b])] = encode_utf8(std::u32string(1, alpha.symbol[b]));
        for (int b = 0; b < 256; ++b) model->byte_id[b] = alpha.order[b];
        model->vocab = base;
        for (const auto& s : base) model->vocab.push_back(s + "</w>");

        std::vector<std::pair<std::string, std::string>> merges = parse_merges(merges_text);
        for (const auto& m : merges) model->vocab.push_back(m.first + m.second);
        model->sot = int32_t(model->vocab.size());
        model->vocab.push_back("<start_of_text>");
        model->eot = int32_t(model->vocab.size());
        model->vocab.push_back("<end_of_text>");

        // encoder: string -> id (a later duplicate wins, as with Python's dict(zip(...)))
        model->encoder.reserve(model->vocab.size() * 2);
        for (size_t i = 0; i < model->vocab.size(); ++i) model->encoder[model->vocab[i]] = int32_t(i);

        // ranks keyed by the ids of the two symbols; value = (rank, id of the merged symbol)
        model->ranks.reserve(merges.size() * 2);
        for (size_t r = 0; r < merges.size(); ++r) {
            const auto& m = merges[r];
            auto a = model->encoder.find(m.first), b = model->encoder.find(m.second);
            ERRSEG_CHECK(a != model->encoder.end() && b != model->encoder.end(), "BPE merge ", r + 1,
                         " ('", m.first, " ", m.second,
                         "') uses a symbol that is neither a byte symbol nor produced by any merge");
            model->ranks[pair_key(a->second, b->second)] =
                Merge{int32_t(r), model->encoder.at(m.first + m.second)};
        }
        ClipTokenizer t;
        t.model_ = std::move(model);
        t.cache_ = std::make_shared<Cache>();
        return t;
    }

    static ClipTokenizer from_file(const std::string& path) {
        std::string text;
        try {
            text = read_file_capped(path, kMaxMergesFileBytes, "BPE merges file");
        } catch (const Error& e) {
            fail("cannot read BPE merges file: ", e.what());
        }
        ERRSEG_CHECK(!(text.size() >= 2 && uint8_t(text[0]) == 0x1F && uint8_t(text[1]) == 0x8B),
                     "BPE merges file '", path, "' is gzip-compressed; decompress it first");
        try {
            return from_merges(text);
        } catch (const Error& e) {
            fail("BPE merges file '", path, "': ", e.what());
        }
    }

    // CLIP's standard merges from data/clip_bpe_merges.txt, looked up at (in order) the path in
    // $ERRSEG_CLIP_MERGES, ERRSEG_DATA_DIR/clip_bpe_merges.txt and
    // ERRSEG_SOURCE_DIR/data/clip_bpe_merges.txt (when those macros are defined), and
    // ./data/clip_bpe_merges.txt. Loaded once per process (well under 0.1 s of CPU), then shared by copies.
    static ClipTokenizer default_clip() {
        static const ClipTokenizer instance = [] {
            std::vector<std::string> candidates;
            if (const char* env = std::getenv("ERRSEG_CLIP_MERGES")) candidates.emplace_back(env);
#ifdef ERRSEG_DATA_DIR
            candidates.push_back(std::string(ERRSEG_DATA_DIR) + "/clip_bpe_merges.txt");
#endif
#ifdef ERRSEG_SOURCE_DIR
            candidates.push_back(std::string(ERRSEG_SOURCE_DIR) + "/data/clip_bpe_merges.txt");
#endif
            candidates.emplace_back("data/clip_bpe_merges.txt");
            std::string tried;
            for (const auto& c : candidates) {
                if (is_regular_file(c)) return from_file(c);
                tried += " '" + c + "'";
            }
            fail("CLIP BPE merges not found (set ERRSEG_CLIP_MERGES); tried", tried);
        }();
        return instance;
    }

    int32_t sot() const { return model_->sot; }
    int32_t eot() const { return model_->eot; }
    int32_t vocab_size() const { return int32_t(model_->vocab.size()); }
    // The vocabulary entry of an id, in the byte-symbol alphabet (e.g. "photo</w>").
    const std::string& token_string(int32_t id) const {
        ERRSEG_CHECK(id >= 0 && id < vocab_size(), "token id ", id, " out of range [0, ", vocab_size(), ")");
        return model_->vocab[size_t(id)];
    }

    // The text after open_clip's cleaning (UTF-8), i.e. what gets pre-tokenised.
    static std::string clean(const std::string& text) { return encode_utf8(clip_clean_lower(decode_utf8(text))); }

    // BPE ids of the text, without <start_of_text>/<end_of_text> (SimpleTokenizer.encode).
    std::vector<int32_t> encode(const std::string& text) const {
        const std::u32string cleaned = clip_clean_lower(decode_utf8(text));
        std::vector<int32_t> ids;
        std::string bytes;
        for (const auto& span : clip_pretokenize(cleaned)) {
            bytes.clear();
            for (size_t i = span.first; i < span.second; ++i) append_utf8(bytes, cleaned[i]);
            append_bpe(bytes, ids);
        }
        return ids;
    }

    // [SOT, ids..., EOT] zero-padded to context_length. Longer sequences are cut to
    // context_length and the last id is forced to EOT (open_clip's behaviour).
    std::vector<int32_t> tokenize(const std::string& text, int context_length = kDefaultContextLength) const {
        ERRSEG_CHECK(context_length >= 1, "tokenize: context_length must be >= 1, got ", context_length);
        std::vector<int32_t> ids = encode(text);
        std::vector<int32_t> out(size_t(context_length), 0);
        std::vector<int32_t> seq;
        seq.reserve(ids.size() + 2);
        seq.push_back(sot());
        seq.insert(seq.end(), ids.begin(), ids.end());
        seq.push_back(eot());
        if (seq.size() > out.size()) {
            seq.resize(out.size());
            seq.back() = eot();
        }
        std::copy(seq.begin(), seq.end(), out.begin());
        return out;
    }

    // I32 tensor [texts.size(), context_length], one tokenize() row per text.
    Tensor tokenize_batch(const std::vector<std::string>& texts, int context_length = kDefaultContextLength) const {
        ERRSEG_CHECK(context_length >= 1, "tokenize_batch: context_length must be >= 1, got ", context_length);
        Tensor t = Tensor::zeros({int64_t(texts.size()), int64_t(context_length)}, DType::I32);
        int32_t* dst = t.data<int32_t>();
        for (size_t i = 0; i < texts.size(); ++i) {
            const std::vector<int32_t> row = tokenize(texts[i], context_length);
            std::copy(row.begin(), row.end(), dst + i * size_t(context_length));
        }
        return t;
    }

    // Ids back to text like SimpleTokenizer.decode: "</w>" becomes a space; padding zeros are
    // decoded too (id 0 is "!"), so strip them first. Invalid UTF-8 decodes to U+FFFD.
    std::string decode(const std::vector<int32_t>& ids) const {
        const ByteAlphabet& alpha = ByteAlphabet::get();
        std::unordered_map<char32_t, uint8_t> to_byte;
        for (int b = 0; b < 256; ++b) to_byte[alpha.symbol[b]] = uint8_t(b);
        std::string bytes;
        for (int32_t id : ids)
            for (char32_t c : decode_utf8(token_string(id))) {
                auto it = to_byte.find(c);
                ERRSEG_CHECK(it != to_byte.end(), "token ", id, " has a symbol outside the byte alphabet");
                bytes.push_back(char(it->second));
            }
        std::string text = encode_utf8(decode_utf8(bytes));
        std::string out;
        for (size_t i = 0; i < text.size();) {
            if (text.compare(i, 4, "</w>") == 0) {
                out.push_back(' ');
                i += 4;
            } else {
                out.push_back(text[i++]);
            }
        }
        return out;
    }

private:
    ClipTokenizer() = default;  // use from_merges / from_file / default_clip

    struct Merge {
        int32_t rank;
        int32_t merged;  // id of the merged symbol
    };
    struct Model {
        std::vector<std::string> vocab;
        std::unordered_map<std::string, int32_t> encoder;
        std::unordered_map<uint64_t, Merge> ranks;
        int32_t byte_id[256];
        int32_t sot = 0, eot = 0;
    };
    // Memo of pre-token bytes -> ids (open_clip's self.cache); shared by copies, thread-safe.
    struct Cache {
        static constexpr size_t kMaxEntries = 1 << 16;
        std::mutex mutex;
        std::unordered_map<std::string, std::vector<int32_t>> map;
    };

    static uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

    // Splits merge text into (first, second) symbol pairs; errors name the offending line.
    static std::vector<std::pair<std::string, std::string>> parse_merges(const std::string& text) {
        std::vector<std::pair<std::string, std::string>> merges;
        std::vector<std::string> lines;
        {
            size_t pos = 0;
            while (pos <= text.size()) {
                size_t nl = text.find('\n', pos);
                if (nl == std::string::npos) nl = text.size();
                std::string line = text.substr(pos, nl - pos);
                if (!line.empty() && line.back() == '\r') line.pop_back();
                lines.push_back(std::move(line));
                pos = nl + 1;
            }
        }
        while (!lines.empty() && lines.back().empty()) lines.pop_back();  // trailing newline(s)
        size_t first = 0;
        if (!lines.empty() && lines[0].rfind("#version", 0) == 0) first = 1;
        for (size_t li = first; li < lines.size() && merges.size() < size_t(kMaxMerges); ++li) {
            const std::string& line = lines[li];
            std::vector<std::string> parts;
            size_t p = 0;
            while (p < line.size()) {
                while (p < line.size() && (line[p] == ' ' || line[p] == '\t')) ++p;
                size_t q = p;
                while (q < line.size() && line[q] != ' ' && line[q] != '\t') ++q;
                if (q > p) parts.push_back(line.substr(p, q - p));
                p = q;
            }
            ERRSEG_CHECK(parts.size() == 2, "BPE merges line ", li + 1, ": expected two symbols separated by a space, got '",
                         line, "'");
            for (const auto& part : parts) validate_symbol(part, li + 1);
            merges.emplace_back(parts[0], parts[1]);
        }
        ERRSEG_CHECK(!merges.empty(), "BPE merges text contains no merges");
        return merges;
    }

    // A merge symbol is one or more byte-alphabet characters, optionally followed by "</w>".
    static void validate_symbol(const std::string& sym, size_t line_no) {
        std::string body = sym;
        if (body.size() > 4 && body.compare(body.size() - 4, 4, "</w>") == 0) body.resize(body.size() - 4);
        const std::u32string cps = decode_utf8(body);
        const ByteAlphabet& alpha = ByteAlphabet::get();
        for (char32_t c : cps) {
            bool ok = false;
            if (c < 0x100) {
                ok = alpha.symbol[c] == c;
            } else {
                ok = c < 0x100 + 68;  // the remapped non-printable bytes
            }
            ERRSEG_CHECK(ok, "BPE merges line ", line_no, ": symbol '", sym,
                         "' contains a character outside CLIP's byte alphabet (U+", std::hex, uint32_t(c), ")");
        }
    }

    // Appends the BPE ids of one pre-token (raw UTF-8 bytes).
    void append_bpe(const std::string& token, std::vector<int32_t>& out) const {
        if (token.empty()) return;
        if (token == "<start_of_text>" || token == "<end_of_text>") {  // pre-seeded in open_clip's cache
            out.push_back(token[1] == 's' ? sot() : eot());
            return;
        }
        {
            std::lock_guard<std::mutex> lock(cache_->mutex);
            auto it = cache_->map.find(token);
            if (it != cache_->map.end()) {
                out.insert(out.end(), it->second.begin(), it->second.end());
                return;
            }
        }
        std::vector<int32_t> word = bpe(token);
        out.insert(out.end(), word.begin(), word.end());
        std::lock_guard<std::mutex> lock(cache_->mutex);
        if (cache_->map.size() >= Cache::kMaxEntries) cache_->map.clear();
        cache_->map.emplace(token, std::move(word));
    }

    // Greedy BPE: repeatedly merge every (left-to-right, non-overlapping) occurrence of the
    // adjacent pair with the lowest merge rank, until no adjacent pair has a rank.
    std::vector<int32_t> bpe(const std::string& token) const {
        const Model& m = *model_;
        std::vector<int32_t> word(token.size());
        for (size_t i = 0; i < token.size(); ++i) word[i] = m.byte_id[uint8_t(token[i])];
        word.back() += 256;  // the last symbol carries "</w>"
        std::vector<int32_t> next;
        while (word.size() > 1) {
            int32_t best_rank = INT32_MAX, first = -1, second = -1, merged = -1;
            for (size_t i = 0; i + 1 < word.size(); ++i) {
                auto it = m.ranks.find(pair_key(word[i], word[i + 1]));
                if (it != m.ranks.end() && it->second.rank < best_rank) {
                    best_rank = it->second.rank;
                    first = word[i];
                    second = word[i + 1];
                    merged = it->second.merged;
                }
            }
            if (merged < 0) break;
            next.clear();
            for (size_t i = 0; i < word.size();) {
                if (i + 1 < word.size() && word[i] == first && word[i + 1] == second) {
                    next.push_back(merged);
                    i += 2;
                } else {
                    next.push_back(word[i++]);
                }
            }
            word.swap(next);
        }
        return word;
    }

    std::shared_ptr<const Model> model_;
    std::shared_ptr<Cache> cache_;
};

}  // namespace errseg::text
