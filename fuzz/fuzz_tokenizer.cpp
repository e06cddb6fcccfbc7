// The CLIP BPE tokenizer on arbitrary bytes (invalid UTF-8, control characters, HTML entities,
// very long words): encode, tokenize at a context length taken from the input, decode back.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "errseg/text/tokenizer.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace errseg;
    static const text::ClipTokenizer tok = text::ClipTokenizer::default_clip();
    if (size == 0) return 0;
    const int context = 1 + data[0] % 80;
    const std::string s(reinterpret_cast<const char*>(data + 1), size - 1);
    errseg_fuzz::expect_clean([&] {
        const std::vector<int32_t> ids = tok.encode(s);
        for (int32_t id : ids)
            if (id < 0 || id >= tok.vocab_size()) std::abort();
        const std::vector<int32_t> row = tok.tokenize(s, context);
        if (row.size() != size_t(context) || row[0] != (context == 1 ? tok.eot() : tok.sot())) std::abort();
        tok.decode(ids);
        text::ClipTokenizer::clean(s);
    });
    return 0;
}
