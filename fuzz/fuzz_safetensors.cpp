// Model files: the safetensors reader (header JSON, offsets, dtypes, shapes), every tensor
// converted to float, the model-file metadata and load_model, which builds the network the
// metadata describes and fills it from the file.
#include <cstdint>

#include "fuzz_support.hpp"
#include "sr/io/safetensors.hpp"
#include "sr/models/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    const auto path = sr::fuzz::scratch_file("model.safetensors", data, size);
    try {
        (void)sr::models::read_model_metadata(path);
    } catch (const sr::Error&) {
    }
    try {
        const sr::io::SafetensorsFile file = sr::io::read_safetensors(path);
        for (const auto& entry : file.entries()) {
            try {
                (void)file.tensor_f32(entry.name);
            } catch (const sr::Error&) {
            }
        }
    } catch (const sr::Error&) {
    }
    try {
        (void)sr::models::load_model<float>(path);
    } catch (const sr::Error&) {
    }
    return 0;
}
