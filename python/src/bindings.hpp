// Shared pieces of the Python module errseg._errseg (nanobind): how NumPy arrays and paths
// become library images, how library tensors become NumPy arrays without a copy, and the
// per-class binding functions each source file defines.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include "errseg/core/tensor.hpp"
#include "errseg/io/image.hpp"
#include "errseg/front.hpp"
#include "errseg/named_vocabulary.hpp"
#include "errseg/text/tokenizer.hpp"

namespace errseg::python {

namespace nb = nanobind;

// The built-in vocabularies (generated from data/classes/*.json by cmake/ErrsegVocabularies.cmake).
std::string builtin_vocabulary(const std::string& name);

// An image argument: a str / os.PathLike is decoded from the file (under a released GIL), an
// H x W x 3 uint8 C-contiguous array is copied into the library's Image. Anything else raises
// errseg.Error naming what was wrong (dtype, dimensions, channels, strides, size).
Image image_argument(nb::handle image, ExifOrientation exif, int64_t max_pixels);

// A contiguous host tensor as a NumPy array over the same bytes; `owner` keeps them alive.
// T const: the array is read-only.
template <class T>
nb::ndarray<nb::numpy, T> numpy_view(const Tensor& tensor, nb::handle owner) {
    using Element = std::remove_const_t<T>;
    std::vector<size_t> shape(tensor.shape().begin(), tensor.shape().end());
    return nb::ndarray<nb::numpy, T>(const_cast<Element*>(tensor.data<Element>()), shape.size(), shape.data(), owner);
}

// A tensor handed over to NumPy: the array owns it (no copy).
template <class T>
nb::ndarray<nb::numpy, T> numpy_owning(Tensor tensor) {
    Tensor* owned = new Tensor(tensor.is_contiguous() ? std::move(tensor) : tensor.contiguous());
    nb::capsule owner(owned, [](void* p) noexcept { delete static_cast<Tensor*>(p); });
    return numpy_view<T>(*owned, owner);
}

// The `threads=` argument of the model constructors: the process-wide pool size when given.
void set_threads(std::optional<int> threads);
// The run-time device front's parameters from the constructors' keywords (threads applied here).
ModelParams model_params(const std::string& path, std::optional<int> threads, const std::string& device,
                         const std::string& precision);

// "ade150", a file, "a,b,c" or a list of names -> validated class names.
std::vector<std::string> class_names_argument(nb::handle classes);
// The same, with the vocabulary's name and published K (named_vocabulary.hpp); a list is "list".
Vocabulary vocabulary_argument(nb::handle classes);

void bind_errseg(nb::module_& m);
void bind_clip(nb::module_& m);

}  // namespace errseg::python
