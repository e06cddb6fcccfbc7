// Class lists: parse_class_list (JSON array or one name per line) + validate_vocabulary, and
// resolve_vocabulary on the input as an inline "a,b,c" spec.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "errseg/vocabulary.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace errseg;
    const std::string text(reinterpret_cast<const char*>(data), size);
    VocabularyLimits limits;
    limits.max_classes = 64;
    errseg_fuzz::expect_clean([&] {
        auto names = parse_class_list(text, "'fuzz'");
        validate_vocabulary(names, limits);
        for (const auto& n : names)
            if (n.empty() || n.size() > limits.max_name_bytes) std::abort();
    });
    // A spec that names an existing file would make resolve_vocabulary read it: skip those.
    if (text.find('\0') != std::string::npos || text.find('/') != std::string::npos ||
        (!text.empty() && ::access(text.c_str(), F_OK) == 0))
        return 0;
    auto builtin = [](const std::string& name) -> std::string {
        return name == "tiny3" ? std::string("[\"a\", \"b, bee\", \"c\"]") : std::string();
    };
    errseg_fuzz::expect_clean([&] {
        auto names = resolve_vocabulary(text, builtin, limits);
        if (names.empty() || names.size() > limits.max_classes) std::abort();
    });
    return 0;
}
