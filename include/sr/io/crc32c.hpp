#pragma once
// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) and the masked form TFRecord and
// TensorBoard event files store. Masking keeps a CRC stored inside CRC-checked data from
// being mistaken for the CRC of that data.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace sr::io {

namespace detail {
constexpr std::array<uint32_t, 256> make_crc32c_table() {
    std::array<uint32_t, 256> table{};
    for (uint32_t i = 0; i < 256; ++i) {
        uint32_t crc = i;
        for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? 0x82F63B78u : 0u);
        table[i] = crc;
    }
    return table;
}
inline constexpr std::array<uint32_t, 256> k_crc32c_table = make_crc32c_table();
}  // namespace detail

// CRC-32C of bytes, continuing from a previous crc (0 to start).
inline uint32_t crc32c(const void* data, std::size_t size, uint32_t crc = 0) {
    const auto* p = static_cast<const unsigned char*>(data);
    crc = ~crc;
    for (std::size_t i = 0; i < size; ++i) crc = detail::k_crc32c_table[(crc ^ p[i]) & 0xFFu] ^ (crc >> 8);
    return ~crc;
}
inline uint32_t crc32c(std::string_view bytes) { return crc32c(bytes.data(), bytes.size()); }

// The masked CRC of TFRecord framing: rotate right by 15 bits, add a constant.
constexpr uint32_t mask_crc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u; }
inline uint32_t masked_crc32c(std::string_view bytes) { return mask_crc32c(crc32c(bytes)); }

}  // namespace sr::io
