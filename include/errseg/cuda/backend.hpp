// The GPU backend (host side): device discovery, streams, the caching allocator,
// DeviceTensor, pinned staging and uploads, and the ops facade. Link errseg::cuda.
#pragma once
#include "activation.hpp"
#include "allocator.hpp"
#include "device.hpp"
#include "device_tensor.hpp"
#include "error.hpp"
#include "gemm_args.hpp"
#include "ops.hpp"
#include "pinned.hpp"
#include "stream.hpp"
#include "upload.hpp"
