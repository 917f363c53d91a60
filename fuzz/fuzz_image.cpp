// Image decoding from memory, as sr-infer, sr-eval and the data loaders see a file: format
// detection (PNG, JPEG, BMP, TGA, NPY and the formats named as unsupported), each decoder, the
// JPEG header read, PNG row windows (training crops) and EXIF orientation.
// Every malformed input must end in sr::Error (ImageError); anything else escaping, a sanitizer
// report, a leak or an allocation beyond -malloc_limit_mb is a finding.
#include <cstdint>

#include "fuzz_support.hpp"
#include "sr/io/image.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    sr::io::ReadOptions options;
    options.max_pixels = sr::fuzz::k_max_pixels;
    // The name decides TGA detection by extension; let one input bit choose it.
    const std::string name = size > 0 && (data[size - 1] & 1) ? "input.tga" : "input";
    try {
        const sr::io::Image image = sr::io::decode_image(data, size, name, options);
        if (image.empty()) __builtin_trap();  // decoders promise pixels or an error
    } catch (const sr::Error&) {
    }
    if (sr::io::is_jpeg(data, size)) {
        try {
            (void)sr::io::read_jpeg_info(data, size, name);
        } catch (const sr::Error&) {
        }
    }
    if (sr::io::is_png(data, size)) {
        try {
            (void)sr::io::decode_png(data, size, name, options.max_pixels, 1, 2);  // rows 1..2 only
        } catch (const sr::Error&) {
        }
    }
    return 0;
}
