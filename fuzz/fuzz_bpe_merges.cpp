// A BPE merge list as read from a model file's `errseg.bpe_merges` metadata (hostile text),
// then a few words tokenised with it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "errseg/text/tokenizer.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace errseg;
    const std::string merges(reinterpret_cast<const char*>(data), size);
    errseg_fuzz::expect_clean([&] {
        const text::ClipTokenizer tok = text::ClipTokenizer::from_merges(merges);
        for (const char* t : {"a photo of a cat", "lower newer wider", "\xff\xfe zz"}) {
            for (int32_t id : tok.encode(t))
                if (id < 0 || id >= tok.vocab_size()) std::abort();
        }
    });
    return 0;
}
