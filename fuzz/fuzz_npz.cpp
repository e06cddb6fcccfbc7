// .npz archives (ZIP of .npy members; stored or deflated): read_npz, npz_keys and
// read_npz_strings on every key.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "errseg/io/npz.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace errseg;
    errseg_fuzz::MemFile file(data, size);
    errseg_fuzz::expect_clean([&] { read_npz(file.path()); });
    errseg_fuzz::expect_clean([&] {
        for (const auto& key : npz_keys(file.path()))
            errseg_fuzz::expect_clean([&] { read_npz_strings(file.path(), key); });
    });
    return 0;
}
