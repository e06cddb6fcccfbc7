// Where the CPU instantiations of the model templates (ConvNeXtOn<CpuBackend>, ...) are compiled.
//
//  * Compiled library (the default of the CMake target errseg::errseg, which defines
//    ERRSEG_COMPILED_LIB for its users): src/errseg_cpu.cpp compiles them once, with our
//    optimisation flags; each model header declares them `extern template`, so a program that
//    includes errseg.hpp and calls segment() does not compile the networks again.
//  * Header-only (no macro, -DERRSEG_HEADER_ONLY=ON in CMake, or ERRSEG_HEADER_ONLY defined):
//    every translation unit instantiates what it uses, as a plain template library.
#pragma once

// ERRSEG_CPU_INSTANCE(declaration): an instantiation the library compiles once.

#if defined(ERRSEG_BUILDING_LIB)
#define ERRSEG_CPU_INSTANCE(...) template __VA_ARGS__;
#elif defined(ERRSEG_COMPILED_LIB) && !defined(ERRSEG_HEADER_ONLY)
#define ERRSEG_CPU_INSTANCE(...) extern template __VA_ARGS__;
#else
#define ERRSEG_CPU_INSTANCE(...)
#endif

// A heavy non-template function the library compiles once (the image decoders):
//   ERRSEG_LIB_FN Image decode_image(...)
//   #if ERRSEG_LIB_DEFINES
//   { ... }
//   #else
//   ;
//   #endif
// Programs linking the compiled library see the declaration only.
#if defined(ERRSEG_BUILDING_LIB)
#define ERRSEG_LIB_FN
#define ERRSEG_LIB_DEFINES 1
#elif defined(ERRSEG_COMPILED_LIB) && !defined(ERRSEG_HEADER_ONLY)
#define ERRSEG_LIB_FN
#define ERRSEG_LIB_DEFINES 0
#else
#define ERRSEG_LIB_FN inline
#define ERRSEG_LIB_DEFINES 1
#endif
