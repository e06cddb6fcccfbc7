// Model config JSON: json::Value::parse, a dump/parse round trip, and the ERR-Seg and CLIP
// config readers (ErrSegConfig, ConvNeXtConfig, VitConfig, TextConfig ::from_json).
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "errseg/io/json.hpp"
#include "errseg/models/clip_config.hpp"
#include "errseg/models/errseg/config.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace errseg;
    json::Value v;
    try {
        v = json::Value::parse(reinterpret_cast<const char*>(data), size);
    } catch (const Error&) {
        return 0;
    }
    // Whatever parses must dump to JSON that parses back to the same value.
    for (int indent : {-1, 2}) {
        const std::string text = v.dump(indent);
        json::Value again = json::Value::parse(text);
        if (again != v) std::abort();
    }
    errseg_fuzz::expect_clean([&] { models::ErrSegConfig::from_json(v); });
    errseg_fuzz::expect_clean([&] {
        const json::Value& clip = v["clip"];
        errseg_fuzz::expect_clean([&] { models::ConvNeXtConfig::from_json(clip); });
        errseg_fuzz::expect_clean([&] { models::VitConfig::from_json(clip); });
        errseg_fuzz::expect_clean([&] { models::TextConfig::from_json(clip); });
        errseg_fuzz::expect_clean([&] { models::vision_type(clip); });
    });
    return 0;
}
