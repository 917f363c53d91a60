#pragma once
// What the fuzz targets share: the memory bound per input and a scratch file for the readers that
// take a path (safetensors, .npy windows, checkpoints).
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>

namespace sr::fuzz {

// Decoders run with ReadOptions::max_pixels at 4 Mpixels: what an input may make us allocate stays
// far below libFuzzer's -malloc_limit_mb (fuzz/run passes 2048), so an allocation failure is a
// finding, not noise. The product's default limit (2^28) is the same check with a larger number.
inline constexpr int64_t k_max_pixels = int64_t{1} << 22;

// A file under the temporary directory named for this process, rewritten for each input.
inline std::filesystem::path scratch_file(const char* name, const uint8_t* data, std::size_t size) {
    const auto path = std::filesystem::temp_directory_path() / ("sr_fuzz_" + std::to_string(::getpid()) + "_" + name);
    std::FILE* out = std::fopen(path.c_str(), "wb");
    if (!out) __builtin_trap();  // the fuzzer cannot run without it; not a finding about the input
    if (size > 0) std::fwrite(data, 1, size, out);
    std::fclose(out);
    return path;
}

}  // namespace sr::fuzz
