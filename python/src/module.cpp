// The Python module errseg._errseg: errseg.Error, threads, images, label PNGs, the tokenizer;
// ErrSeg and Clip are bound in their own files (errseg_model.cpp, clip.cpp).
#include <climits>
#include <map>

#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "errseg/core/cpu_isa.hpp"
#include "errseg/core/parallel.hpp"
#include "errseg/io/label_map.hpp"
#include "errseg/text/tokenizer.hpp"
#include "errseg/vocabulary.hpp"

namespace errseg::python {

namespace {

bool is_path(nb::handle h) {
    return nb::isinstance<nb::str>(h) || nb::hasattr(h, "__fspath__");
}

std::string array_problem(const nb::ndarray<>& a) {
    if (a.device_type() != nb::device::cpu::value) return "is not in CPU memory";
    if (a.dtype() != nb::dtype<uint8_t>()) return "has a dtype other than uint8 (convert with .astype(np.uint8))";
    if (a.ndim() != 3) return "has " + std::to_string(a.ndim()) + " dimensions, expected 3 (H x W x 3)";
    if (a.shape(2) != 3)
        return "has " + std::to_string(a.shape(2)) + " channels, expected 3 (RGB; drop alpha with [..., :3] and copy)";
    if (a.shape(0) == 0 || a.shape(1) == 0) return "is empty (" + std::to_string(a.shape(0)) + " x " +
                                                   std::to_string(a.shape(1)) + " pixels)";
    if (a.stride(2) != 1 || a.stride(1) != 3 || a.stride(0) != int64_t(a.shape(1)) * 3)
        return "is not C-contiguous (a view with strides; pass np.ascontiguousarray(image))";
    return {};
}

}  // namespace

Image image_argument(nb::handle image, ExifOrientation exif, int64_t max_pixels) {
    if (is_path(image)) {
        const std::string path = nb::cast<std::string>(nb::module_::import_("os").attr("fsdecode")(image));
        nb::gil_scoped_release release;
        return load_image(path, max_pixels, exif);
    }
    nb::ndarray<> a;
    if (!nb::try_cast(image, a))
        fail("image must be an H x W x 3 uint8 NumPy array or a path, got ",
             nb::cast<std::string>(nb::str(nb::handle(reinterpret_cast<PyObject*>(Py_TYPE(image.ptr()))))));
    const std::string problem = array_problem(a);
    ERRSEG_CHECK(problem.empty(), "image array of shape (",
                 [&] {
                     std::string s;
                     for (size_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
                     return s;
                 }(),
                 ") ", problem);
    ERRSEG_CHECK(a.shape(0) <= size_t(INT_MAX) && a.shape(1) <= size_t(INT_MAX), "image array is too large");
    detail::check_image_dims(int64_t(a.shape(1)), int64_t(a.shape(0)), "image array", max_pixels);
    Image img;
    img.height = int(a.shape(0));
    img.width = int(a.shape(1));
    const auto* data = static_cast<const uint8_t*>(a.data());
    img.rgb.assign(data, data + a.size());  // the library's Image owns its pixels: one copy
    return img;
}

void set_threads(std::optional<int> threads) {
    if (!threads) return;
    ERRSEG_CHECK(*threads >= 1 && *threads <= 1024, "threads must be between 1 and 1024, got ", *threads);
    set_num_threads(*threads);
}

ModelParams model_params(const std::string& path, std::optional<int> threads, const std::string& device,
                         const std::string& precision) {
    set_threads(threads);
    ModelParams p;
    p.model = path;
    p.device = Device::parse(device);
    p.precision = parse_precision(precision);
    return p;
}

Vocabulary vocabulary_argument(nb::handle classes) {
    if (nb::isinstance<nb::str>(classes) || nb::hasattr(classes, "__fspath__")) {
        const std::string spec = nb::cast<std::string>(nb::module_::import_("os").attr("fsdecode")(classes));
        return load_vocabulary(spec, builtin_vocabulary);
    }
    Vocabulary v;
    v.name = "list";
    if (!nb::try_cast(classes, v.classes))
        fail("classes must be a vocabulary name, a file, \"a,b,c\" or a list of class names");
    validate_vocabulary(v.classes);
    return v;
}

std::vector<std::string> class_names_argument(nb::handle classes) { return vocabulary_argument(classes).classes; }

}  // namespace errseg::python

using namespace errseg;
using namespace errseg::python;

NB_MODULE(_errseg, m) {
    m.doc() = "errseg: ERR-Seg open-vocabulary segmentation and CLIP (C++ core)";
    nb::exception<errseg::Error>(m, "Error");

    m.def("set_num_threads", [](int threads) { set_threads(threads); }, nb::arg("threads"),
          "Sets the process-wide number of CPU threads the library computes with.");
    m.def("get_num_threads", &get_num_threads);
    m.def(
        "cpu_isa", [] { return std::string(errseg::cpu_isa_name(errseg::active_cpu_isa())); },
        "The instruction-set path of the CPU kernels: 'avx512', 'avx2' or 'sse2' (the best this CPU has, "
        "unless the ERRSEG_ISA environment variable lowers it).");

    m.def(
        "load_image",
        [](nb::handle path, bool exif, int64_t max_pixels) {
            ERRSEG_CHECK(is_path(path), "load_image takes a path");
            auto* img = new Image(image_argument(path, exif ? ExifOrientation::Apply : ExifOrientation::Ignore, max_pixels));
            nb::capsule owner(img, [](void* p) noexcept { delete static_cast<Image*>(p); });
            const size_t shape[3] = {size_t(img->height), size_t(img->width), 3};
            return nb::ndarray<nb::numpy, uint8_t>(img->rgb.data(), 3, shape, owner);
        },
        nb::arg("path"), nb::arg("exif") = true, nb::arg("max_pixels") = kMaxImagePixels,
        "Decodes an image file (PNG, JPEG, BMP, PNM...) to an H x W x 3 uint8 array as `errseg segment` does.");

    m.def(
        "write_label_png",
        [](nb::handle path, nb::ndarray<const int32_t, nb::ndim<2>, nb::c_contig, nb::device::cpu> labels,
           size_t num_classes) {
            const std::string p = nb::cast<std::string>(nb::module_::import_("os").attr("fsdecode")(path));
            ERRSEG_CHECK(labels.shape(0) > 0 && labels.shape(1) > 0 && labels.shape(0) <= size_t(INT_MAX) &&
                             labels.shape(1) <= size_t(INT_MAX),
                         "label map '", p, "': empty or too large array");
            nb::gil_scoped_release release;
            write_label_png(p, labels.data(), int(labels.shape(1)), int(labels.shape(0)), num_classes);
        },
        nb::arg("path"), nb::arg("labels"), nb::arg("num_classes"),
        "Writes an H x W int32 label map as `errseg segment`'s <name>_labels.png (8-bit for <= 255 "
        "classes, else 16-bit), atomically.");

    m.def(
        "_tokenize_with_merges",
        [](const std::vector<std::string>& texts, const std::string& merges_path, int context_length) {
            static std::map<std::string, text::ClipTokenizer> loaded;  // guarded by the GIL
            auto it = loaded.find(merges_path);
            if (it == loaded.end()) it = loaded.emplace(merges_path, text::ClipTokenizer::from_file(merges_path)).first;
            return numpy_owning<int32_t>(it->second.tokenize_batch(texts, context_length));
        },
        nb::arg("texts"), nb::arg("merges_path"), nb::arg("context_length"));

    bind_errseg(m);
    bind_clip(m);
}
