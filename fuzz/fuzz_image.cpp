// Image decoding (PNG, JPEG, BMP, PNM through stb_image, behind our own header checks) and the
// EXIF orientation parser.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "errseg/io/image.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace errseg;
    errseg_fuzz::expect_clean([&] {
        // The EXIF walk on any bytes (it runs before decoding could refuse them), then the
        // decoder with the orientation applied (what `errseg segment` does).
        const int orientation = exif_orientation(data, size);
        if (orientation < 1 || orientation > 8) std::abort();
        Image img = load_image_from_memory(data, size, kMaxImagePixels, ExifOrientation::Apply);
        if (img.width <= 0 || img.height <= 0 || int64_t(img.width) * img.height > kMaxImagePixels ||
            img.rgb.size() != size_t(img.width) * size_t(img.height) * 3)
            std::abort();
        // The tensor conversion the pipeline does next (small images only: keep runs fast).
        if (int64_t(img.width) * img.height <= 4096) image_to_tensor(img);
    });
    return 0;
}
