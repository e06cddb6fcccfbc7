// errseg classify / embed-image: the CLIP image side (open_clip's eval preprocessing:
// bicubic shortest-side resize, centre crop, CLIP mean/std).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli_args.hpp"
#include "model_options.hpp"
#include "commands.hpp"
#include "errseg/errseg.hpp"
#include "errseg/io/npy.hpp"
#include "errseg/vocabulary.hpp"

namespace errseg::cli {

namespace {
Tensor embed_images(const Clip& clip, const std::vector<std::string>& paths, bool quiet) {
    std::vector<Tensor> rows;
    Progress progress(paths.size(), !quiet && isatty(2));
    for (const std::string& p : paths) {
        Tensor x = models::clip_preprocess(load_image(p), int(clip.image_size()));
        rows.push_back(clip.encode_image(x));
        progress.step(p);
    }
    return ops::concat(rows, 0);
}
}  // namespace

int cmd_embed_image(int argc, char** argv) {
    Args args("embed-image", "CLIP image embeddings, one row per IMAGE, written as a float32 .npy (rows x E).\n"
              "Preprocessing is open_clip's: bicubic resize of the shortest side, centre crop, CLIP mean/std.",
              "--model M.safetensors --out X.npy [--normalize] IMAGE...");
    args.option("model", "converted CLIP or ERR-Seg model file")
        .option("out", "output .npy file")
        .flag("normalize", "L2-normalise each embedding")
        .flag("quiet", "no progress bar");
    add_model_options(args);
    if (!args.parse(argc, argv)) return 0;
    ERRSEG_CHECK(!args.positionals().empty(), "no image given (see errseg embed-image --help)");
    const ModelParams params = model_params(args, args.get("model"));
    const std::string out = args.get("out");
    const Clip clip(params);
    Tensor emb = embed_images(clip, args.positionals(), args.flag_set("quiet"));
    if (args.flag_set("normalize")) emb = ops::l2_normalize(emb);
    write_npy(out, emb);
    std::cout << "wrote " << out << " " << shape_str(emb.shape()) << "\n";
    return 0;
}

int cmd_classify(int argc, char** argv) {
    Args args("classify", "Zero-shot CLIP classification: cosine similarity of image and label embeddings,\n"
              "scaled by the model's logit scale, softmax over labels. Prints the top labels per image.",
              "--model M.safetensors --labels \"a,b,c\"|FILE|VOCAB [--top N] [--template T] IMAGE...");
    args.option("model", "converted CLIP or ERR-Seg model file")
        .option("labels", "labels: \"a,b,c\", '[\"a, b\",\"c\"]' (inline JSON), a file (JSON array or one per line) or a built-in vocabulary")
        .option("top", "labels to print per image", "5")
        .option("template", "prompt template, {} is replaced by the label", "a photo of a {}.")
        .flag("quiet", "no progress bar");
    add_model_options(args);
    if (!args.parse(argc, argv)) return 0;
    ERRSEG_CHECK(!args.positionals().empty(), "no image given (see errseg classify --help)");
    const ModelParams params = model_params(args, args.get("model"));
    auto labels = resolve_vocabulary(args.get("labels"), builtin_vocabulary);
    const Clip clip(params);
    Tensor probs = models::zero_shot_probs(clip, embed_images(clip, args.positionals(), args.flag_set("quiet")),
                                           models::prompts_from_template(args.get("template"), labels));
    const int64_t top = std::min<int64_t>(args.get_int("top", 1, 1000000), int64_t(labels.size()));
    auto best = ops::topk(probs, top);
    const float* pv = best.values.data<float>();
    const int64_t* pi = best.indices.data<int64_t>();
    for (size_t i = 0; i < args.positionals().size(); ++i) {
        std::cout << args.positionals()[i] << "\n";
        for (int64_t k = 0; k < top; ++k)
            std::printf("  %6.2f%%  %s\n", 100.0 * pv[int64_t(i) * top + k], labels[size_t(pi[int64_t(i) * top + k])].c_str());
    }
    return 0;
}

}  // namespace errseg::cli
