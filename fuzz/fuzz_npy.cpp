// The .npy reader (sr-data's decoded-image cache): the whole-file decoder and the header and
// row-window reads the training loader uses on files.
#include <cstdint>

#include "fuzz_support.hpp"
#include "sr/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    try {
        const sr::io::NpyHeader header = sr::io::decode_npy_header(data, size, "input.npy");
        // Like decode_image: the pixel limit applies before the pixels are allocated.
        if (int64_t{header.height} * header.width > sr::fuzz::k_max_pixels) return 0;
        (void)sr::io::decode_npy(data, size, "input.npy");
    } catch (const sr::Error&) {
    }
    const auto path = sr::fuzz::scratch_file("input.npy", data, size);
    try {
        const sr::io::NpyHeader header = sr::io::read_npy_header(path);
        if (int64_t{header.height} * header.width > sr::fuzz::k_max_pixels) return 0;
        // The bottom-right 2x2 pixels (or fewer), as a training crop would ask.
        const int h = std::min(header.height, 2), w = std::min(header.width, 2);
        (void)sr::io::read_npy_window(path, sr::io::Window{header.height - h, header.width - w, h, w});
    } catch (const sr::Error&) {
    }
    return 0;
}
