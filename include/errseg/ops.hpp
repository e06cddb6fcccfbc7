// All CPU ops. Every op accepts any-strided float32 input and returns a fresh contiguous tensor.
#pragma once
#include "ops/attention.hpp"
#include "ops/conv.hpp"
#include "ops/elementwise.hpp"
#include "ops/gated_mlp.hpp"
#include "ops/gemm.hpp"
#include "ops/norm.hpp"
#include "ops/pool.hpp"
#include "ops/reduce.hpp"
#include "ops/resize.hpp"
#include "ops/shape_ops.hpp"
#include "ops/softmax.hpp"
