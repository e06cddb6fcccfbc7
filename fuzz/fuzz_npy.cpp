// .npy files (read_npy: the --class-embeddings input of `errseg segment`) and the in-memory
// .npy header parser used for .npz members.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "errseg/io/npy.hpp"
#include "errseg/io/npz.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace errseg;
    {
        errseg_fuzz::MemFile file(data, size);
        errseg_fuzz::expect_clean([&] {
            Tensor t = read_npy(file.path());
            if (t.nbytes() > size) std::abort();
        });
    }
    errseg_fuzz::expect_clean([&] {
        const auto h = detail_npz::parse_npy_header(data, size, "fuzz");
        if (detail_npz::is_string_descr(h.descr)) {
            auto s = detail_npz::npy_to_strings(data, size, h, "fuzz");
            (void)s;
        } else {
            Tensor t = detail_npz::npy_to_tensor(data, size, h, "fuzz");
            if (t.nbytes() > size) std::abort();
        }
    });
    return 0;
}
