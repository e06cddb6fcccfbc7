// errseg tokenize / embed-text: the CLIP text side from the command line.
#include <filesystem>
#include <iostream>

#include "cli_args.hpp"
#include "model_options.hpp"
#include "commands.hpp"
#include "errseg/errseg.hpp"
#include "errseg/io/npy.hpp"
#include "errseg/io/weights.hpp"
#include "errseg/models/clip.hpp"
#include "errseg/models/errseg/class_embeddings_file.hpp"
#include "errseg/named_vocabulary.hpp"
#include "errseg/ops.hpp"
#include "errseg/text/tokenizer.hpp"
#include "errseg/vocabulary.hpp"

namespace fs = std::filesystem;

namespace errseg::cli {

int cmd_tokenize(int argc, char** argv) {
    Args args("tokenize", "CLIP BPE token ids (start and end tokens included, zero-padded to the context\n"
              "length), one line per TEXT.", "--model M.safetensors [--context N] TEXT...");
    args.option("model", "converted model file (its BPE vocabulary is used)")
        .option("context", "context length", "77")
        .flag("no-pad", "omit the zero padding");
    if (!args.parse(argc, argv)) return 0;
    ERRSEG_CHECK(!args.positionals().empty(), "no text given (see errseg tokenize --help)");
    Weights w = Weights::open(args.get("model"));
    std::string merges = w.metadata("errseg.bpe_merges");
    ERRSEG_CHECK(!merges.empty(), "model file '", args.get("model"), "' carries no BPE vocabulary (errseg.bpe_merges)");
    auto tok = text::ClipTokenizer::from_merges(merges);
    const int ctx = int(args.get_int("context", 2, 4096));
    for (const std::string& t : args.positionals()) {
        auto ids = tok.tokenize(t, ctx);
        if (args.flag_set("no-pad"))
            while (!ids.empty() && ids.back() == 0) ids.pop_back();
        for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
        std::cout << "\n";
    }
    return 0;
}

int cmd_embed_text(int argc, char** argv) {
    Args args("embed-text", "CLIP text embeddings, one row per TEXT, written as a float32 .npy (rows x E).\n"
              "By default the raw text_projection output; --normalize L2-normalises the rows.\n"
              "With --classes on an ERR-Seg model, writes the vocabulary's class embeddings exactly as\n"
              "'errseg segment' computes them (prompt template, first synonym, normalised) into a\n"
              "safetensors file that also records the vocabulary (name, classes, default K) and the\n"
              "model's text-tower fingerprint; pass it to 'errseg segment --class-embeddings' to skip\n"
              "the text tower on later runs (it is refused for another vocabulary or model).",
              "--model M.safetensors --out X.npy [--normalize] TEXT...\n"
              "       errseg embed-text --model M.safetensors --classes VOCAB --out X.safetensors");
    args.option("model", "converted CLIP or ERR-Seg model file")
        .option("out", "output file: .npy for TEXT..., a .safetensors class-embeddings file with --classes")
        .option("classes", "vocabulary to encode as ERR-Seg class embeddings (ERR-Seg models)")
        .flag("normalize", "L2-normalise each embedding");
    add_model_options(args);
    if (!args.parse(argc, argv)) return 0;
    const ModelParams params = model_params(args, args.get("model"));
    const std::string out = args.get("out");
    Tensor emb;
    if (args.has("classes")) {
        ERRSEG_CHECK(args.positionals().empty(), "give either TEXT... or --classes, not both");
        ERRSEG_CHECK(fs::path(out).extension() != ".npy", "--out '", out, "': with --classes the embeddings ",
                     "are written as a safetensors file that records their vocabulary and model (a .npy cannot); ",
                     "name it e.g. ", fs::path(out).stem().string(), ".safetensors");
        ERRSEG_CHECK(!args.flag_set("normalize"), "--normalize does not apply to --classes (class embeddings are always normalised)");
        const Vocabulary vocab = load_vocabulary(args.get("classes"), builtin_vocabulary);
        const Weights weights = Weights::open(args.get("model"));
        const models::ClassEmbeddings c =
            models::compute_class_embeddings(Segmenter(params), weights, vocab);
        models::write_class_embeddings(out, c);
        std::cout << "wrote " << out << " " << shape_str(c.embeddings.shape()) << " (vocabulary " << vocab.name
                  << ", model " << c.model_identity << ")\n";
        return 0;
    } else {
        ERRSEG_CHECK(!args.positionals().empty(), "no text given (see errseg embed-text --help)");
        const Clip clip(params);
        emb = clip.encode_text(args.positionals());
        if (args.flag_set("normalize")) emb = ops::l2_normalize(emb);
    }
    write_npy(out, emb);
    std::cout << "wrote " << out << " " << shape_str(emb.shape()) << "\n";
    return 0;
}

}  // namespace errseg::cli
