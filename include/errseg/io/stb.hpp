// stb_image / stb_image_write, compiled into every translation unit that includes this
// header with all of their functions `static` (STB_IMAGE_STATIC / STB_IMAGE_WRITE_STATIC):
// several TUs of one program can include it without duplicate symbols, and the copies are
// private to errseg. Do not include it in a TU that compiled a non-static stb_image
// implementation before it. Used by image.hpp (decode/encode) and npz.hpp (stb's inflate).
#pragma once

#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wcast-qual"
#pragma GCC diagnostic ignored "-Wshadow"
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wdouble-promotion"
#endif
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO  // we map files ourselves; decoding works on memory only
// Only the formats a segmentation input plausibly comes in: fewer decoders, less attack
// surface for hostile files (and no heuristic TGA detection of garbage).
#define STBI_NO_PSD
#define STBI_NO_HDR
#define STBI_NO_PIC
#define STBI_NO_GIF
#define STBI_NO_TGA
#ifndef STBI_MAX_DIMENSIONS
#define STBI_MAX_DIMENSIONS 65536  // backstop; image.hpp applies a stricter limit first
#endif
#include <stb_image.h>
#undef STB_IMAGE_IMPLEMENTATION
#undef STB_IMAGE_STATIC

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO  // we write through write_file_atomic
#include <stb_image_write.h>
#undef STB_IMAGE_WRITE_IMPLEMENTATION
#undef STB_IMAGE_WRITE_STATIC
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

