// The errseg verbs. Each takes the arguments after the verb and returns the exit code.
#pragma once
#include <string>

namespace errseg::cli {
int cmd_tokenize(int argc, char** argv);
int cmd_embed_text(int argc, char** argv);
int cmd_info(int argc, char** argv);
int cmd_segment(int argc, char** argv);
int cmd_eval(int argc, char** argv);
int cmd_classify(int argc, char** argv);
int cmd_embed_image(int argc, char** argv);

// Built-in vocabulary JSON text by name ("" when unknown); compiled into the binary.
std::string builtin_vocabulary(const std::string& name);
}  // namespace errseg::cli
