// errseg info: what a converted model file holds.
#include <cstdio>
#include <iostream>
#include <map>

#include "cli_args.hpp"
#include "commands.hpp"
#include "errseg/core/cpu_isa.hpp"
#include "errseg/io/safetensors.hpp"
#include "errseg/core/cpu_precision.hpp"
#include "errseg/io/json.hpp"

namespace errseg::cli {

int cmd_info(int argc, char** argv) {
    Args args("info",
              "Describe a converted model file: architecture, config, tensor count and bytes; and the CPU "
              "instruction-set path the kernels take here (ERRSEG_ISA=sse2|avx2 forces a lower one).",
              "--model M.safetensors [--tensors]");
    args.option("model", "converted model file").flag("tensors", "also list every tensor with dtype and shape");
    if (!args.parse(argc, argv)) return 0;
    auto f = SafetensorsFile::open(args.get("model"));
    const auto& meta = f.metadata();
    auto cfg_it = meta.find("errseg.config");
    ERRSEG_CHECK(cfg_it != meta.end(), "'", args.get("model"), "' has no errseg.config metadata: not an errseg model file");
    json::Value cfg = json::Value::parse(cfg_it->second);
    std::map<std::string, std::pair<size_t, size_t>> by_dtype;  // dtype -> (count, bytes)
    std::map<std::string, std::pair<size_t, size_t>> by_part;   // clip.visual / clip text / head
    size_t total = 0;
    for (const auto& name : f.names()) {
        Tensor t = f.get(name);
        auto& d = by_dtype[dtype_name(t.dtype())];
        ++d.first;
        d.second += t.nbytes();
        std::string part = name.rfind("clip.visual.", 0) == 0 ? "clip image tower" : name.rfind("clip.", 0) == 0 ? "clip text tower" : name.rfind("head.", 0) == 0 ? "segmentation head" : "other";
        auto& p = by_part[part];
        ++p.first;
        p.second += t.nbytes();
        total += t.nbytes();
    }
    std::printf("cpu isa:       %s (this CPU supports %s)\n", cpu_isa_name(active_cpu_isa()),
                cpu_isa_name(detect_cpu_isa()));
    std::printf("file:          %s (%.2f MB)\n", args.get("model").c_str(), f.file_bytes() / 1e6);
    std::printf("architecture:  %s\n", cfg["architecture"].as_string().c_str());
    if (auto it = meta.find("errseg.source"); it != meta.end()) std::printf("source:        %s\n", it->second.c_str());
    std::printf("tensors:       %zu (%.2f MB of weights)\n", f.names().size(), total / 1e6);
    for (auto& [k, v] : by_dtype) std::printf("  %-12s %6zu tensors %10.2f MB\n", k.c_str(), v.first, v.second / 1e6);
    for (auto& [k, v] : by_part) std::printf("  %-18s %6zu tensors %10.2f MB\n", k.c_str(), v.first, v.second / 1e6);
    auto bpe = meta.find("errseg.bpe_merges");
    std::printf("bpe vocabulary: %s\n", bpe == meta.end() ? "absent" : "present");
    // Not the file's: whether --precision bf16 can run on this CPU.
    std::printf("cpu bf16:      %s\n", cpu_bf16_supported() ? "available (AVX512-BF16)"
                                                              : ("unavailable: " + detail::cpu_bf16_missing_reason()).c_str());
    std::printf("config:\n%s\n", cfg.dump(2).c_str());
    if (args.flag_set("tensors"))
        for (const auto& name : f.names()) {
            Tensor t = f.get(name);
            std::printf("%-80s %-5s %s\n", name.c_str(), dtype_name(t.dtype()), shape_str(t.shape()).c_str());
        }
    return 0;
}

}  // namespace errseg::cli
