#pragma once
// The test side's bf16 reference: rounding a float to bf16 (its top 16 bits), round to nearest
// even, as oneDNN's reorder does. Written out here, independent of the engine's conversion.
#include <cstdint>
#include <cstring>

namespace sr::test {

inline float round_to_bf16(float v) {
    uint32_t bits = 0;
    std::memcpy(&bits, &v, 4);
    bits = (bits + 0x7fffu + ((bits >> 16) & 1u)) & 0xffff0000u;
    std::memcpy(&v, &bits, 4);
    return v;
}

}  // namespace sr::test
