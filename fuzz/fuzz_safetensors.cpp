// Safetensors header and loader: arbitrary bytes as a model file, read through SafetensorsFile
// (every tensor fetched) and Weights (float tensors converted and checked, the errseg.config
// metadata parsed as a model config).
#include <cstddef>
#include <cstdint>

#include "errseg/io/safetensors.hpp"
#include "errseg/io/weights.hpp"
#include "errseg/models/clip_config.hpp"
#include "errseg/models/errseg/config.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace errseg;
    errseg_fuzz::MemFile file(data, size);
    errseg_fuzz::expect_clean([&] {
        SafetensorsFile f = SafetensorsFile::open(file.path());
        uint64_t total = 0;
        for (const auto& e : f.entries()) {
            Tensor t = f.get(e.name);
            // Touch the first and last byte: a view past the map would fault under ASan.
            if (t.nbytes() > 0) {
                const uint8_t* p = static_cast<const uint8_t*>(t.raw());
                total += p[0] + p[t.nbytes() - 1];
            }
            if (shape_numel(t.shape()) != t.numel()) std::abort();
        }
        if (f.tensor_bytes() > f.file_bytes()) std::abort();
        (void)total;
    });
    errseg_fuzz::expect_clean([&] {
        Weights w = Weights::open(file.path());
        for (const std::string& name : w.names()) {
            const DType dt = w.stored_dtype(name);
            if (dt == DType::F32 || dt == DType::F16 || dt == DType::BF16)
                errseg_fuzz::expect_clean([&] { w.get(name); });
            else
                w.get_raw(name);
        }
        const json::Value& cfg = w.config();
        errseg_fuzz::expect_clean([&] { models::ErrSegConfig::from_json(cfg); });
        errseg_fuzz::expect_clean([&] { models::TextConfig::from_json(cfg["clip"]); });
    });
    return 0;
}
