// errseg: everything a program needs, in one include.
//
//   #include <errseg/errseg.hpp>
//   auto model = errseg::models::ErrSegModel::load("errseg_b.safetensors");
//   auto classes = model.encode_classes({"wall", "floor", "person"});
//   auto result = model.segment(errseg::load_image("room.png"), classes);   // result.labels [H, W]
#pragma once

#include "core.hpp"
#include "ops.hpp"

#include "io/image.hpp"
#include "io/json.hpp"
#include "io/npy.hpp"
#include "io/npz.hpp"
#include "io/safetensors.hpp"
#include "io/weights.hpp"

#include "text/tokenizer.hpp"

#include "models/clip.hpp"
#include "models/clip_config.hpp"
#include "models/clip_text.hpp"
#include "models/convnext.hpp"
#include "models/preprocess.hpp"
#include "models/vit.hpp"

#include "models/errseg/config.hpp"
#include "models/errseg/class_embeddings_file.hpp"
#include "models/errseg/errseg_model.hpp"

#include "eval/confusion.hpp"
#include "eval/protocol.hpp"
#include "named_vocabulary.hpp"

#include "front.hpp"  // errseg::Segmenter / errseg::Clip: the device chosen at run time
