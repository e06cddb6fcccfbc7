// All of errseg's file and data I/O: JSON, safetensors model files and scoped weights,
// NumPy .npy/.npz, images (stb) and crash-safe file writes.
#pragma once
#include "atomic_file.hpp"
#include "image.hpp"
#include "json.hpp"
#include "npy.hpp"
#include "npz.hpp"
#include "safetensors.hpp"
#include "weights.hpp"
