// errseg.Clip: CLIP text and image embeddings and zero-shot classification (errseg::Clip),
// with open_clip's image preprocessing, as `errseg embed-text / embed-image / classify`.
#include <memory>
#include <optional>
#include <utility>

#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include "bindings.hpp"
#include "errseg/core/parallel.hpp"
#include "errseg/models/clip.hpp"
#include "errseg/models/preprocess.hpp"
#include "errseg/ops.hpp"

namespace errseg::python {

namespace {

class PyClip {
public:
    PyClip(const std::string& path, std::optional<int> threads, const std::string& device, const std::string& precision) {
        const ModelParams params = model_params(path, threads, device, precision);
        nb::gil_scoped_release release;
        clip_ = std::make_shared<const Clip>(params);
    }
    const Clip& clip() const { return *clip_; }
    const text::ClipTokenizer* tokenizer() const { return clip_->tokenizer(); }

    Tensor embed_text(const std::vector<std::string>& texts, bool normalize) const {
        ERRSEG_CHECK(!texts.empty(), "embed_text: no texts");
        nb::gil_scoped_release release;
        Tensor e = clip_->encode_text(texts);
        return normalize ? ops::l2_normalize(e) : e;
    }

    // One image or a list of images -> [N, E]. Images are decoded as `errseg embed-image` does
    // (EXIF orientation ignored, as PIL's open in open_clip).
    Tensor embed_images(nb::handle images, bool normalize) const {
        std::vector<Image> decoded;
        if (nb::isinstance<nb::list>(images) || nb::isinstance<nb::tuple>(images)) {
            for (nb::handle image : images)
                decoded.push_back(image_argument(image, ExifOrientation::Ignore, kMaxImagePixels));
        } else {
            decoded.push_back(image_argument(images, ExifOrientation::Ignore, kMaxImagePixels));
        }
        ERRSEG_CHECK(!decoded.empty(), "embed_image: no images");
        nb::gil_scoped_release release;
        std::vector<Tensor> rows;
        for (const Image& image : decoded)
            rows.push_back(clip_->encode_image(models::clip_preprocess(image, int(clip_->image_size()))));
        Tensor e = rows.size() == 1 ? rows.front() : ops::concat(rows, 0);
        return normalize ? ops::l2_normalize(e) : e;
    }

private:
    std::shared_ptr<const Clip> clip_;
};

}  // namespace

void bind_clip(nb::module_& m) {
    nb::class_<PyClip>(m, "Clip", "A CLIP model (a converted CLIP or ERR-Seg .safetensors file) on the CPU.")
        .def(nb::init<const std::string&, std::optional<int>, const std::string&, const std::string&>(), nb::arg("path"),
             nb::arg("threads") = nb::none(), nb::arg("device") = "cpu", nb::arg("precision") = "fp32")
        .def_prop_ro("image_size", [](const PyClip& c) { return c.clip().image_size(); })
        .def_prop_ro("logit_scale", [](const PyClip& c) { return c.clip().logit_scale(); })
        .def(
            "embed_text",
            [](const PyClip& c, const std::vector<std::string>& texts, bool normalize) {
                return numpy_owning<float>(c.embed_text(texts, normalize));
            },
            nb::arg("texts"), nb::arg("normalize") = false, "Text embeddings, N x E float32.")
        .def(
            "embed_image",
            [](const PyClip& c, nb::handle images, bool normalize) {
                return numpy_owning<float>(c.embed_images(images, normalize));
            },
            nb::arg("images"), nb::arg("normalize") = false,
            "Image embeddings (an image or a list; arrays or paths), N x E float32.")
        .def(
            "classify",
            [](const PyClip& c, nb::handle image, nb::handle labels, const std::string& tmpl, std::optional<int64_t> top) {
                const std::vector<std::string> names = class_names_argument(labels);
                const Tensor img = c.embed_images(image, /*normalize=*/false);
                ERRSEG_CHECK(img.size(0) == 1, "classify takes one image");
                Tensor probs;
                {
                    nb::gil_scoped_release release;
                    probs = models::zero_shot_probs(c.clip(), img, models::prompts_from_template(tmpl, names));
                }
                const int64_t k = std::min<int64_t>(top.value_or(int64_t(names.size())), int64_t(names.size()));
                ERRSEG_CHECK(k >= 1, "top must be >= 1");
                auto best = ops::topk(probs, k);
                std::vector<std::pair<std::string, float>> out;
                for (int64_t i = 0; i < k; ++i)
                    out.emplace_back(names[size_t(best.indices.data<int64_t>()[i])], best.values.data<float>()[i]);
                return out;
            },
            nb::arg("image"), nb::arg("labels"), nb::arg("template") = "a photo of a {}.", nb::arg("top") = 5,
            "Zero-shot classification: [(label, probability)] best first, as `errseg classify`.")
        .def(
            "tokenize",
            [](const PyClip& c, const std::vector<std::string>& texts, int context_length) {
                ERRSEG_CHECK(c.tokenizer(), "this model file carries no tokenizer");
                return numpy_owning<int32_t>(c.tokenizer()->tokenize_batch(texts, context_length));
            },
            nb::arg("texts"), nb::arg("context_length") = 77);
}

}  // namespace errseg::python
