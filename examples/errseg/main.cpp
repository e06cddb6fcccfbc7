// errseg: open-vocabulary semantic segmentation (ERR-Seg) and CLIP from the command line.
#include <cstring>
#include <iostream>
#include <string>

#include "commands.hpp"
#include "errseg/core/error.hpp"

namespace {
void usage(std::ostream& os) {
    os << "usage: errseg <command> [options]   (errseg <command> --help for details)\n\n"
          "commands:\n"
          "  segment      label map, colour overlay and summary for images and any class list\n"
          "  eval         mIoU / pixel accuracy of a model (or of saved predictions) on a dataset\n"
          "  classify     zero-shot CLIP classification of images\n"
          "  embed-text   CLIP text embeddings (or a vocabulary's cached class embeddings) to .npy\n"
          "  embed-image  CLIP image embeddings to .npy\n"
          "  tokenize     CLIP BPE token ids, one line per text\n"
          "  info         describe a converted model file\n";
}
}  // namespace

int main(int argc, char** argv) {
    using namespace errseg::cli;
    if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
        usage(argc < 2 ? std::cerr : std::cout);
        return argc < 2 ? 2 : 0;
    }
    const std::string verb = argv[1];
    int n = argc - 2;
    char** rest = argv + 2;
    try {
        if (verb == "segment") return cmd_segment(n, rest);
        if (verb == "eval") return cmd_eval(n, rest);
        if (verb == "classify") return cmd_classify(n, rest);
        if (verb == "embed-text") return cmd_embed_text(n, rest);
        if (verb == "embed-image") return cmd_embed_image(n, rest);
        if (verb == "tokenize") return cmd_tokenize(n, rest);
        if (verb == "info") return cmd_info(n, rest);
        std::cerr << "errseg: unknown command '" << verb << "'\n";
        usage(std::cerr);
        return 2;
    } catch (const errseg::Error& e) {
        std::cerr << "errseg " << verb << ": error: " << e.what() << "\n";
        return 1;
    } catch (const std::bad_alloc&) {
        std::cerr << "errseg " << verb << ": error: out of memory\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "errseg " << verb << ": error: " << e.what() << "\n";
        return 1;
    }
}
