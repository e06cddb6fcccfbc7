// --device / --precision / --threads, the same on every verb that runs a network, and the
// errseg::ModelParams they make (the run-time fronts of errseg/front.hpp take it).
#pragma once
#include <string>

#include "cli_args.hpp"
#include "errseg/front.hpp"

namespace errseg::cli {

inline Args& add_model_options(Args& args) {
    return args
        .option("device", "where the networks run: cpu, cuda or cuda:N (cuda needs a build with -DERRSEG_CUDA=ON)", "cpu")
        .option("precision", "weights and activations: fp32, fp16 or bf16 (fp32 accumulation); the CPU does fp32, or bf16 GEMMs where it has AVX512-BF16 (norms, softmax, depthwise convs stay fp32)", "fp32")
        .option("threads", "CPU threads", std::to_string(default_num_threads()));
}

// Parsed and checked (a device this build cannot use, or a bad ERRSEG_ISA, is refused here,
// before any file is read); the thread count is applied.
inline ModelParams model_params(const Args& args, const std::string& model_path) {
    ModelParams p;
    p.model = model_path;
    p.device = Device::parse(args.get("device"));
    p.precision = parse_precision(args.get("precision"));
    p.threads = int(args.get_int("threads", 1, 1024));
    active_cpu_isa();  // chooses the CPU kernels' path now: ERRSEG_ISA's error before any work
    p.apply();
    return p;
}

}  // namespace errseg::cli
