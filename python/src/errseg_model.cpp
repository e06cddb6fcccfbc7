// errseg.ErrSeg, errseg.Classes, errseg.SegmentResult: ERR-Seg on the device chosen at run time
// (errseg::Segmenter).
// The model is shared read-only by every call, so Python threads may segment at once; the GIL
// is released while the library computes.
#include <memory>
#include <optional>

#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "errseg/core/parallel.hpp"
#include "errseg/models/errseg/errseg_model.hpp"

namespace errseg::python {

namespace {

using models::SegmentResult;

// A vocabulary with its class embeddings: encode once, segment many images with it.
struct Classes {
    std::vector<std::string> names;
    Tensor embeddings;       // [T, E], L2-normalised prompt embeddings
    std::string vocabulary;  // "ade150", a file's path, "inline" or "list"
    int64_t top_k = 0;       // the vocabulary's published K (as the CLI); 0: the model's
};

struct SegmentOptionsArgs {
    std::optional<int64_t> top_k;
    bool keep_probs = false, upstream_resize = false, exif = true;
    std::string crm_ties = "torch-cpu";
    int64_t max_pixels = kMaxImagePixels;

    // vocabulary_k: the classes' published K, used when top_k is not given (as the CLI does).
    models::SegmentOptions options(int64_t vocabulary_k) const {
        models::SegmentOptions o;
        ERRSEG_CHECK(!top_k || *top_k >= 1, "top_k must be >= 1, got ", *top_k);
        o.top_k = top_k ? *top_k : vocabulary_k > 0 ? vocabulary_k : -1;
        o.keep_probs = keep_probs;
        o.upstream_resize = upstream_resize;
        ERRSEG_CHECK(crm_ties == "torch-cpu" || crm_ties == "lower-index",
                     "crm_ties must be 'torch-cpu' or 'lower-index', got '", crm_ties, "'");
        o.crm_tie_rule = crm_ties == "torch-cpu" ? models::CrmTieRule::TorchCpu : models::CrmTieRule::LowerIndex;
        return o;
    }
    ExifOrientation exif_rule() const { return exif ? ExifOrientation::Apply : ExifOrientation::Ignore; }
};

class PyErrSeg {
public:
    PyErrSeg(const std::string& path, std::optional<int> threads, const std::string& device,
             const std::string& precision) {
        const ModelParams params = model_params(path, threads, device, precision);
        nb::gil_scoped_release release;
        model_ = std::make_shared<const Segmenter>(params);
    }

    const Segmenter& model() const { return *model_; }
    const text::ClipTokenizer& tokenizer() const { return model_->tokenizer(); }

    Classes encode_classes(nb::handle spec) const {
        Vocabulary v = vocabulary_argument(spec);
        Classes c;
        c.names = std::move(v.classes);
        c.vocabulary = v.name;
        c.top_k = v.top_k;
        nb::gil_scoped_release release;
        c.embeddings = model_->encode_classes(c.names);
        return c;
    }

    // A Classes object as it is, anything else encoded first (cached by the model).
    Classes classes_argument(nb::handle classes) const {
        if (nb::isinstance<Classes>(classes)) {
            const Classes& c = nb::cast<const Classes&>(classes);
            ERRSEG_CHECK(c.embeddings.dim() == 2 && c.embeddings.size(1) == model_->config().embed_dim,
                         "these classes were encoded by a model with ", c.embeddings.size(1),
                         "-wide embeddings; this one has ", model_->config().embed_dim);
            return c;
        }
        return encode_classes(classes);
    }

    std::vector<SegmentResult> segment_many(nb::handle images, nb::handle classes, const SegmentOptionsArgs& args) const {
        const Classes c = classes_argument(classes);
        const models::SegmentOptions opt = args.options(c.top_k);
        ERRSEG_CHECK(!nb::isinstance<nb::str>(images) && nb::hasattr(images, "__iter__"),
                     "segment_batch takes a list of images, not one path or ", nb::type_name(images.type()).c_str());
        std::vector<Image> decoded;
        for (nb::handle image : images) decoded.push_back(image_argument(image, args.exif_rule(), args.max_pixels));
        ERRSEG_CHECK(!decoded.empty(), "segment_batch: no images");
        nb::gil_scoped_release release;
        std::vector<const Image*> pointers;
        for (const Image& image : decoded) pointers.push_back(&image);
        return model_->segment_batch(pointers, c.embeddings, opt);
    }

private:
    std::shared_ptr<const Segmenter> model_;
};

SegmentOptionsArgs options_from(std::optional<int64_t> top_k, bool keep_probs, bool upstream_resize,
                                const std::string& crm_ties, bool exif, int64_t max_pixels) {
    SegmentOptionsArgs a;
    a.top_k = top_k;
    a.keep_probs = keep_probs;
    a.upstream_resize = upstream_resize;
    a.crm_ties = crm_ties;
    a.exif = exif;
    a.max_pixels = max_pixels;
    return a;
}

// segment and segment_batch: the image argument(s), the classes, the same keyword options.
template <class Func>
void def_segment(nb::class_<PyErrSeg>& cls, const char* name, const char* images, Func&& func, const char* doc) {
    cls.def(name, std::forward<Func>(func), nb::arg(images).none(), nb::arg("classes"), nb::kw_only(),
            nb::arg("top_k") = nb::none(), nb::arg("keep_probs") = false, nb::arg("upstream_resize") = false,
            nb::arg("crm_ties") = "torch-cpu", nb::arg("exif") = true, nb::arg("max_pixels") = kMaxImagePixels, doc);
}

}  // namespace

void bind_errseg(nb::module_& m) {
    nb::class_<Classes>(m, "Classes", "A vocabulary and its class embeddings (ErrSeg.encode_classes).")
        .def_ro("names", &Classes::names)
        .def_ro("vocabulary", &Classes::vocabulary, "the vocabulary's name (\"ade150\", a file, \"inline\", \"list\")")
        .def_ro("top_k", &Classes::top_k, "the vocabulary's published K, used when segment gets no top_k; 0: the model's K")
        .def_prop_ro("embeddings", [](nb::handle self) {
            return numpy_view<const float>(nb::cast<const Classes&>(self).embeddings, self);  // the model's cache
        }, "T x E float32 L2-normalised prompt embeddings (read-only view)")
        .def("__len__", [](const Classes& c) { return c.names.size(); })
        .def("__repr__", [](const Classes& c) { return "<errseg.Classes: " + std::to_string(c.names.size()) + " classes>"; });

    nb::class_<SegmentResult>(m, "SegmentResult", "What ErrSeg.segment returns; arrays are views of the result.")
        .def_prop_ro("labels", [](nb::handle self) { return numpy_view<int32_t>(nb::cast<const SegmentResult&>(self).labels, self); },
                     "H x W int32 class indices at the image's size")
        .def_prop_ro("logits", [](nb::handle self) { return numpy_view<float>(nb::cast<const SegmentResult&>(self).logits, self); },
                     "T x h x w float32 decoder logits before sigmoid (-100 for classes CRM dropped)")
        .def_prop_ro("probs", [](nb::handle self) -> nb::object {
            const SegmentResult& r = nb::cast<const SegmentResult&>(self);
            if (!r.probs.defined()) return nb::none();
            return nb::cast(numpy_view<float>(r.probs, self));
        }, "T x H x W float32 probabilities (segment(..., keep_probs=True)), else None")
        .def_ro("selected", &SegmentResult::selected, "classes CRM kept, ascending")
        .def_prop_ro("timings", [](const SegmentResult& r) {
            nb::dict d;
            for (const auto& [stage, ms] : r.timings_ms) d[nb::str(stage.c_str())] = ms;
            return d;
        }, "milliseconds per stage, and 'total'");

    auto errseg_class = nb::class_<PyErrSeg>(m, "ErrSeg", "An ERR-Seg model (a converted .safetensors file) on the CPU.");
    errseg_class
        .def(nb::init<const std::string&, std::optional<int>, const std::string&, const std::string&>(), nb::arg("path"),
             nb::arg("threads") = nb::none(), nb::arg("device") = "cpu", nb::arg("precision") = "fp32",
             "Loads a model. threads: the process-wide CPU thread count (default: all cores); device: cpu,\n"
             "cuda or cuda:N (a build with the CUDA backend); precision: fp32, bf16 (CPUs with AVX512-BF16: the\n"
             "GEMMs in bf16) or fp16/bf16 on the GPU.")
        .def_prop_ro("embed_dim", [](const PyErrSeg& s) { return s.model().config().embed_dim; })
        .def_prop_ro("crop_size", [](const PyErrSeg& s) { return s.model().config().input.crop_size; })
        .def("encode_classes", &PyErrSeg::encode_classes, nb::arg("classes"),
             "A built-in vocabulary name (ade150, ade847, pc59, pc459, voc20, voc20b, coco), a file, "
             "\"a,b,c\" or a list of names -> Classes (cached per vocabulary).")
        .def(
            "tokenize",
            [](const PyErrSeg& s, const std::vector<std::string>& texts, int context_length) {
                return numpy_owning<int32_t>(s.tokenizer().tokenize_batch(texts, context_length));
            },
            nb::arg("texts"), nb::arg("context_length") = 77, "CLIP BPE ids with this model's vocabulary, N x L int32.");

    def_segment(errseg_class, "segment", "image",
                [](const PyErrSeg& s, nb::handle image, nb::handle classes, std::optional<int64_t> top_k,
                   bool keep_probs, bool upstream_resize, const std::string& crm_ties, bool exif, int64_t max_pixels) {
                    nb::list one;
                    one.append(image);
                    return std::move(s.segment_many(one, classes, options_from(top_k, keep_probs, upstream_resize,
                                                                               crm_ties, exif, max_pixels))
                                         .front());
                },
                "Segments one image (H x W x 3 uint8 array, or a path) with Classes or a vocabulary.");
    def_segment(errseg_class, "segment_batch", "images",
                [](const PyErrSeg& s, nb::handle images, nb::handle classes, std::optional<int64_t> top_k,
                   bool keep_probs, bool upstream_resize, const std::string& crm_ties, bool exif, int64_t max_pixels) {
                    return s.segment_many(images, classes, options_from(top_k, keep_probs, upstream_resize, crm_ties,
                                                                        exif, max_pixels));
                },
                "Segments several images with one image-encoder pass; result i is segment(images[i]).");
}

}  // namespace errseg::python
