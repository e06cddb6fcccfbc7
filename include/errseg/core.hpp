// Core types: tensors, shapes, dtypes, activations, errors, threading.
#pragma once
#include "core/activation.hpp"
#include "core/cpu_isa.hpp"
#include "core/cpu_precision.hpp"
#include "core/dtype.hpp"
#include "core/error.hpp"
#include "core/finite.hpp"
#include "core/parallel.hpp"
#include "core/regular_file.hpp"
#include "core/shape.hpp"
#include "core/storage.hpp"
#include "core/tensor.hpp"
