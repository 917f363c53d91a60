#pragma once
// safetensors: our reader and writer of the Hugging Face tensor file format (docs/formats.md).
//
//   [u64 little-endian N][N bytes of UTF-8 JSON header][data buffer]
//   header = {"<name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, ...,
//             "__metadata__": {"<key>": "<string value>", ...}}
//
// Offsets are relative to the start of the data buffer, `end` is one past the last byte, data are
// little-endian, row-major, without strides. The reader checks everything the format promises
// (known dtype, size = prod(shape) x dtype size, tensors tiling the buffer from 0 with no gap,
// overlap or trailing byte, no duplicate keys, string metadata, header at most 100 MB) and fails
// with one line naming the file and the problem. The writer produces what the reference writer
// produces: header padded with spaces to a multiple of 8 bytes, tensors ordered by descending
// dtype (the reference's enum order, which is by alignment) then by name, so every tensor is
// naturally aligned when the file is mapped. Model files and optimizer state use this format.
#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "sr/core/device.hpp"
#include "sr/core/error.hpp"
#include "sr/core/shape.hpp"
#include "sr/core/tensor.hpp"
#include "sr/io/atomic_file.hpp"
#include "sr/nn/parameters.hpp"

namespace sr::io {

static_assert(std::endian::native == std::endian::little,
              "sr::io safetensors copies little-endian file data directly; big-endian hosts are not supported");

// The largest header the reader accepts, as the reference implementation (a guard against a
// corrupt size field making us allocate gigabytes).
inline constexpr uint64_t k_safetensors_max_header_bytes = 100'000'000;

// Element types of the format, declared in the reference's order: ascending alignment, which is
// also the order its writer sorts by (descending).
enum class Dtype : uint8_t { Bool, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

namespace detail {
struct DtypeInfo {
    Dtype dtype;
    std::string_view name;
    std::size_t size;
};
inline constexpr DtypeInfo k_dtype_table[] = {
    {Dtype::Bool, "BOOL", 1}, {Dtype::U8, "U8", 1},   {Dtype::I8, "I8", 1},     {Dtype::F8_E5M2, "F8_E5M2", 1},
    {Dtype::F8_E4M3, "F8_E4M3", 1}, {Dtype::I16, "I16", 2}, {Dtype::U16, "U16", 2}, {Dtype::F16, "F16", 2},
    {Dtype::BF16, "BF16", 2}, {Dtype::I32, "I32", 4}, {Dtype::U32, "U32", 4}, {Dtype::F32, "F32", 4},
    {Dtype::F64, "F64", 8},   {Dtype::I64, "I64", 8}, {Dtype::U64, "U64", 8},
};
}  // namespace detail

constexpr std::string_view dtype_name(Dtype dtype) { return detail::k_dtype_table[static_cast<int>(dtype)].name; }
constexpr std::size_t dtype_size(Dtype dtype) { return detail::k_dtype_table[static_cast<int>(dtype)].size; }
inline std::optional<Dtype> dtype_from_name(std::string_view name) {
    for (const auto& info : detail::k_dtype_table)
        if (info.name == name) return info.dtype;
    return std::nullopt;
}

// The file dtype that holds a C++ scalar type exactly.
template <class T>
constexpr Dtype dtype_of() {
    if constexpr (std::is_same_v<T, float>) return Dtype::F32;
    else if constexpr (std::is_same_v<T, double>) return Dtype::F64;
    else if constexpr (std::is_same_v<T, int64_t>) return Dtype::I64;
    else if constexpr (std::is_same_v<T, uint64_t>) return Dtype::U64;
    else if constexpr (std::is_same_v<T, int32_t>) return Dtype::I32;
    else if constexpr (std::is_same_v<T, uint32_t>) return Dtype::U32;
    else if constexpr (std::is_same_v<T, int16_t>) return Dtype::I16;
    else if constexpr (std::is_same_v<T, uint16_t>) return Dtype::U16;
    else if constexpr (std::is_same_v<T, int8_t>) return Dtype::I8;
    else if constexpr (std::is_same_v<T, uint8_t>) return Dtype::U8;
    else if constexpr (std::is_same_v<T, bool>) return Dtype::Bool;
    else static_assert(sizeof(T) == 0, "no safetensors dtype for this scalar type");
}

// IEEE binary16 and bfloat16 bit patterns to float (exact: every value of both is a float).
inline float half_bits_to_float(uint16_t bits) {
    const uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
    const uint32_t exponent = (bits >> 10) & 0x1Fu;
    uint32_t mantissa = bits & 0x3FFu;
    uint32_t out;
    if (exponent == 0x1F) {
        out = sign | 0x7F800000u | (mantissa << 13);
    } else if (exponent != 0) {
        out = sign | ((exponent + 112) << 23) | (mantissa << 13);
    } else if (mantissa == 0) {
        out = sign;
    } else {
        // Subnormal half: renormalise so the float has an implicit leading 1.
        int shift = 0;
        while ((mantissa & 0x400u) == 0) {
            mantissa <<= 1;
            ++shift;
        }
        out = sign | (static_cast<uint32_t>(113 - shift) << 23) | ((mantissa & 0x3FFu) << 13);
    }
    return std::bit_cast<float>(out);
}
inline float bfloat16_bits_to_float(uint16_t bits) { return std::bit_cast<float>(static_cast<uint32_t>(bits) << 16); }

// One tensor of a file as its header describes it. begin/end are byte offsets into the data buffer.
struct SafetensorsEntry {
    std::string name;
    Dtype dtype = Dtype::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;

    int64_t numel() const {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        return n;
    }
    uint64_t byte_size() const { return end - begin; }
    std::string shape_str() const {
        std::string s = "[";
        for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
        return s + "]";
    }
};

// A validated header: the metadata and the entries sorted by data offset. data_offset is where the
// data buffer starts in the file (8 + N), data_size its length.
struct SafetensorsHeader {
    std::map<std::string, std::string> metadata;
    std::vector<SafetensorsEntry> entries;
    uint64_t data_offset = 0;
    uint64_t data_size = 0;

    const SafetensorsEntry* find(std::string_view name) const {
        for (const auto& e : entries)
            if (e.name == name) return &e;
        return nullptr;
    }
};

namespace detail {

// Parses and validates the JSON header of a file whose data buffer has data_size bytes. label
// names the file in errors.
inline SafetensorsHeader parse_safetensors_header(const std::string& label, std::string_view header,
                                                  uint64_t data_size) {
    using nlohmann::json;
    SR_CHECK(!header.empty() && header.front() == '{', label,
             ": header does not start with '{' (the header must be a JSON object)");

    // nlohmann keeps one of two equal keys silently, so duplicates are caught while parsing: a stack
    // of the keys seen in each open object (arrays push an unused level to keep depths aligned).
    std::vector<std::vector<std::string>> open_keys;
    std::string duplicate;
    json::parser_callback_t on_event = [&](int, json::parse_event_t event, json& parsed) {
        switch (event) {
            case json::parse_event_t::object_start:
            case json::parse_event_t::array_start: open_keys.emplace_back(); break;
            case json::parse_event_t::object_end:
            case json::parse_event_t::array_end:
                if (!open_keys.empty()) open_keys.pop_back();
                break;
            case json::parse_event_t::key: {
                auto& keys = open_keys.back();
                const auto& key = parsed.get_ref<const std::string&>();
                if (duplicate.empty() && std::find(keys.begin(), keys.end(), key) != keys.end()) duplicate = key;
                keys.push_back(key);
                break;
            }
            case json::parse_event_t::value: break;
        }
        return true;
    };
    json root;
    try {
        root = json::parse(header.begin(), header.end(), on_event);
    } catch (const json::exception& e) {
        fail(label, ": header is not valid JSON: ", e.what());
    }
    SR_CHECK(duplicate.empty(), label, ": header has the key '", duplicate, "' more than once");
    SR_CHECK(root.is_object(), label, ": header is not a JSON object");

    auto unsigned_value = [&](const json& value, const std::string& what) -> uint64_t {
        SR_CHECK(value.is_number_unsigned(), label, ": ", what, " is ", value.dump(), ", not a non-negative integer");
        return value.get<uint64_t>();
    };

    SafetensorsHeader out;
    for (const auto& [key, value] : root.items()) {
        if (key == "__metadata__") {
            SR_CHECK(value.is_object(), label, ": __metadata__ is not a JSON object of strings");
            for (const auto& [meta_key, meta_value] : value.items()) {
                SR_CHECK(meta_value.is_string(), label, ": __metadata__ value of '", meta_key, "' is ",
                         meta_value.dump(), ", not a string");
                out.metadata[meta_key] = meta_value.get<std::string>();
            }
            continue;
        }
        const std::string where = "tensor '" + key + "'";
        SR_CHECK(value.is_object(), label, ": ", where, " is not a JSON object");
        for (const auto& [field, field_value] : value.items())
            SR_CHECK(field == "dtype" || field == "shape" || field == "data_offsets", label, ": ", where,
                     " has an unknown field '", field, "' (expected dtype, shape, data_offsets)");
        SR_CHECK(value.contains("dtype") && value.contains("shape") && value.contains("data_offsets"), label, ": ",
                 where, " needs dtype, shape and data_offsets");

        SafetensorsEntry entry;
        entry.name = key;
        const json& dtype = value["dtype"];
        SR_CHECK(dtype.is_string(), label, ": ", where, " has dtype ", dtype.dump(), ", not a string");
        auto parsed_dtype = dtype_from_name(dtype.get_ref<const std::string&>());
        SR_CHECK(parsed_dtype, label, ": ", where, " has an unknown dtype ", dtype.dump());
        entry.dtype = *parsed_dtype;

        const json& shape = value["shape"];
        SR_CHECK(shape.is_array(), label, ": ", where, " has shape ", shape.dump(), ", not an array");
        uint64_t bytes = dtype_size(entry.dtype);
        bool overflow = false;
        for (const auto& dim : shape) {
            const uint64_t d = unsigned_value(dim, where + " shape entry");
            overflow = overflow || d > static_cast<uint64_t>(INT64_MAX) || __builtin_mul_overflow(bytes, d, &bytes);
            entry.shape.push_back(static_cast<int64_t>(d));
        }
        SR_CHECK(!overflow, label, ": ", where, " shape ", shape.dump(), " is too large");

        const json& offsets = value["data_offsets"];
        SR_CHECK(offsets.is_array() && offsets.size() == 2, label, ": ", where, " has data_offsets ", offsets.dump(),
                 ", not [begin, end]");
        entry.begin = unsigned_value(offsets[0], where + " data_offsets begin");
        entry.end = unsigned_value(offsets[1], where + " data_offsets end");
        const std::string offsets_str = "[" + std::to_string(entry.begin) + ", " + std::to_string(entry.end) + "]";
        SR_CHECK(entry.begin <= entry.end && entry.end - entry.begin == bytes, label, ": ", where, " data_offsets ",
                 offsets_str, " do not match ", dtype_name(entry.dtype), " ", entry.shape_str(), " (", bytes,
                 " bytes)");
        SR_CHECK(entry.end <= data_size, label, ": ", where, " data_offsets ", offsets_str,
                 " run past the end of the data buffer (", data_size, " bytes); the file is truncated");
        out.entries.push_back(std::move(entry));
    }

    std::sort(out.entries.begin(), out.entries.end(), [](const SafetensorsEntry& a, const SafetensorsEntry& b) {
        return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
    });
    uint64_t expected = 0;
    const SafetensorsEntry* previous = nullptr;
    for (const auto& e : out.entries) {
        if (e.begin != expected) {
            const std::string prev = previous ? "tensor '" + previous->name + "'" : "the start of the buffer";
            fail(label, ": tensor '", e.name, "' starts at byte ", e.begin, " of the data buffer but ", prev,
                 " ends at ", expected, e.begin > expected ? " (a gap)" : " (an overlap)");
        }
        expected = e.end;
        previous = &e;
    }
    SR_CHECK(expected == data_size, label, ": ", data_size - expected,
             " trailing bytes after the last tensor (the data buffer has ", data_size, " bytes, the tensors end at ",
             expected, ")");
    return out;
}

// Reads the size field and the header text of an open file, checking them against the file size.
inline std::string read_header_text(std::ifstream& in, const std::string& label, uint64_t file_size,
                                    uint64_t& data_size) {
    SR_CHECK(file_size >= 8, label, ": file has ", file_size, " bytes, too short for the 8-byte header size");
    unsigned char size_bytes[8];
    in.read(reinterpret_cast<char*>(size_bytes), 8);
    SR_CHECK(in, label, ": cannot read the header size");
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | size_bytes[i];
    SR_CHECK(header_size <= k_safetensors_max_header_bytes, label, ": header size ", header_size,
             " exceeds the limit of ", k_safetensors_max_header_bytes, " bytes (corrupt or not a safetensors file)");
    SR_CHECK(header_size <= file_size - 8, label, ": header size ", header_size, " exceeds the ", file_size - 8,
             " bytes after the size field; the file is truncated");
    std::string header(header_size, '\0');
    in.read(header.data(), static_cast<std::streamsize>(header_size));
    SR_CHECK(in, label, ": cannot read the ", header_size, "-byte header");
    data_size = file_size - 8 - header_size;
    return header;
}

inline uint64_t file_size_of(const std::filesystem::path& path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path, ec);
    if (ec) fail(path.string(), ": cannot open: ", ec.message());
    if (std::filesystem::is_directory(status)) fail(path.string(), ": is a directory, not a file");
    if (!std::filesystem::is_regular_file(status))
        fail(path.string(), ": not a regular file (a FIFO, socket or device)");
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) fail(path.string(), ": cannot open: ", ec.message());
    return size;
}

// Opens `path` into `in` and reads and validates its header; `in` is left at the data buffer.
inline SafetensorsHeader open_and_read_header(const std::filesystem::path& path, std::ifstream& in) {
    const std::string label = path.string();
    const uint64_t file_size = file_size_of(path);
    in.open(path, std::ios::binary);
    SR_CHECK(in, label, ": cannot open for reading: ", std::strerror(errno));
    uint64_t data_size = 0;
    const std::string text = read_header_text(in, label, file_size, data_size);
    SafetensorsHeader header = parse_safetensors_header(label, text, data_size);
    header.data_offset = 8 + text.size();
    header.data_size = data_size;
    return header;
}

}  // namespace detail

// Reads and validates the header only (the metadata and tensor list), without reading the data:
// for deciding which model to build before loading its weights.
inline SafetensorsHeader read_safetensors_header(const std::filesystem::path& path) {
    std::ifstream in;
    return detail::open_and_read_header(path, in);
}

// A whole file in memory: the validated header and the data buffer, read with one read call.
class SafetensorsFile {
public:
    SafetensorsFile(std::filesystem::path path, SafetensorsHeader header, std::unique_ptr<std::byte[]> data)
        : m_path(std::move(path)), m_header(std::move(header)), m_data(std::move(data)) {}

    const std::filesystem::path& path() const { return m_path; }
    const std::map<std::string, std::string>& metadata() const { return m_header.metadata; }
    // Entries in data-buffer order.
    const std::vector<SafetensorsEntry>& entries() const { return m_header.entries; }
    bool contains(std::string_view name) const { return m_header.find(name) != nullptr; }
    const SafetensorsEntry& entry(std::string_view name) const {
        const SafetensorsEntry* e = m_header.find(name);
        SR_CHECK(e, m_path.string(), ": no tensor named '", name, "'");
        return *e;
    }
    // The raw little-endian bytes of one tensor.
    std::span<const std::byte> bytes(std::string_view name) const {
        const SafetensorsEntry& e = entry(name);
        return {m_data.get() + e.begin, static_cast<std::size_t>(e.byte_size())};
    }

    // The tensor as float, converting F16, BF16 and F64 (F64 rounds to nearest); other dtypes fail.
    Tensor<float, Cpu> tensor_f32(std::string_view name) const {
        const SafetensorsEntry& e = entry(name);
        auto out = Tensor<float, Cpu>::empty(shape_of(e));
        const std::byte* src = m_data.get() + e.begin;
        float* dst = out.data();
        const int64_t n = e.numel();
        switch (e.dtype) {
            case Dtype::F32:  // an empty tensor may have no storage: memcpy wants a pointer even for 0 bytes
                if (e.byte_size() > 0) std::memcpy(dst, src, e.byte_size());
                break;
            case Dtype::F64:
                for (int64_t i = 0; i < n; ++i) dst[i] = static_cast<float>(load<double>(src, i));
                break;
            case Dtype::F16:
                for (int64_t i = 0; i < n; ++i) dst[i] = half_bits_to_float(load<uint16_t>(src, i));
                break;
            case Dtype::BF16:
                for (int64_t i = 0; i < n; ++i) dst[i] = bfloat16_bits_to_float(load<uint16_t>(src, i));
                break;
            default:
                fail(m_path.string(), ": tensor '", e.name, "' has dtype ", dtype_name(e.dtype),
                     ", which does not convert to float (expected F32, F64, F16 or BF16)");
        }
        return out;
    }
    // The tensor as T, whose dtype must match exactly (no conversion).
    template <class T>
    Tensor<T, Cpu> tensor(std::string_view name) const {
        const SafetensorsEntry& e = entry(name);
        SR_CHECK(e.dtype == dtype_of<T>(), m_path.string(), ": tensor '", e.name, "' has dtype ", dtype_name(e.dtype),
                 ", expected ", dtype_name(dtype_of<T>()));
        auto out = Tensor<T, Cpu>::empty(shape_of(e));
        if (e.byte_size() > 0) std::memcpy(out.data(), m_data.get() + e.begin, e.byte_size());
        return out;
    }

private:
    template <class U>
    static U load(const std::byte* src, int64_t i) {
        U value;
        std::memcpy(&value, src + i * sizeof(U), sizeof(U));  // data need not be aligned in other writers' files
        return value;
    }
    Shape shape_of(const SafetensorsEntry& e) const {
        SR_CHECK(static_cast<int>(e.shape.size()) <= k_max_rank, m_path.string(), ": tensor '", e.name, "' has rank ",
                 e.shape.size(), "; sr tensors have at most ", k_max_rank, " dimensions");
        return Shape::from_range(e.shape.begin(), e.shape.end());
    }

    std::filesystem::path m_path;
    SafetensorsHeader m_header;
    std::unique_ptr<std::byte[]> m_data;
};

// Reads and validates a whole file.
inline SafetensorsFile read_safetensors(const std::filesystem::path& path) {
    const std::string label = path.string();
    std::ifstream in;
    SafetensorsHeader header = detail::open_and_read_header(path, in);
    const uint64_t data_size = header.data_size;
    // Uninitialised on purpose: the read overwrites every byte and a model file can be large.
    std::unique_ptr<std::byte[]> data(new std::byte[std::max<uint64_t>(data_size, 1)]);
    in.read(reinterpret_cast<char*>(data.get()), static_cast<std::streamsize>(data_size));
    SR_CHECK(in || data_size == 0, label, ": cannot read the ", data_size, "-byte data buffer");
    return SafetensorsFile(path, std::move(header), std::move(data));
}

// Collects tensors and metadata, then writes them as one file. add() keeps a reference to the
// tensor's data (not a copy) until write(): do not modify the tensors in between.
class SafetensorsWriter {
public:
    template <class T, class D>
    void add(std::string name, const Tensor<T, D>& tensor) {
        Tensor<T, Cpu> host;
        if constexpr (is_cpu_v<D>)
            host = tensor.contiguous();
        else
            host = tensor.template to<Cpu>();
        std::vector<int64_t> shape(host.shape().begin(), host.shape().end());
        const auto* data = reinterpret_cast<const std::byte*>(host.data());
        const std::size_t bytes = static_cast<std::size_t>(host.numel()) * sizeof(T);
        add_entry(std::move(name), dtype_of<T>(), std::move(shape), data, bytes, host.impl_ptr());
    }
    // A tensor given as raw little-endian bytes of any dtype (e.g. F16 made elsewhere).
    void add_bytes(std::string name, Dtype dtype, std::vector<int64_t> shape, std::vector<std::byte> bytes) {
        auto owned = std::make_shared<std::vector<std::byte>>(std::move(bytes));
        add_entry(std::move(name), dtype, std::move(shape), owned->data(), owned->size(), owned);
    }
    void set_metadata(std::string key, std::string value) { m_metadata[std::move(key)] = std::move(value); }

    // The header exactly as write() stores it, padding included.
    std::string header_json() const {
        using nlohmann::json;
        std::string text = "{";
        auto quoted = [](const std::string& s) { return json(s).dump(); };
        if (!m_metadata.empty()) {
            text += "\"__metadata__\":{";
            bool first = true;
            for (const auto& [key, value] : m_metadata) {
                text += (first ? "" : ",") + quoted(key) + ":" + quoted(value);
                first = false;
            }
            text += "}";
        }
        uint64_t offset = 0;
        for (const Pending* p : sorted()) {
            if (text.size() > 1) text += ",";
            text += quoted(p->name) + ":{\"dtype\":\"" + std::string(dtype_name(p->dtype)) + "\",\"shape\":[";
            for (std::size_t i = 0; i < p->shape.size(); ++i) text += (i ? "," : "") + std::to_string(p->shape[i]);
            text += "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + p->bytes) + "]}";
            offset += p->bytes;
        }
        text += "}";
        text.append((8 - text.size() % 8) % 8, ' ');
        return text;
    }

    // Writes atomically (temporary file, flush, rename): a crash leaves the old file or none.
    void write(const std::filesystem::path& path) const {
        std::string header;
        try {
            header = header_json();
        } catch (const nlohmann::json::exception& e) {
            fail(path.string(), ": cannot write a tensor name or metadata string: ", e.what());
        }
        unsigned char size_bytes[8];
        for (int i = 0; i < 8; ++i) size_bytes[i] = static_cast<unsigned char>(uint64_t(header.size()) >> (8 * i));
        AtomicFile file(path);
        file.write(size_bytes, 8);
        file.write(header);
        for (const Pending* p : sorted()) file.write(p->data, p->bytes);
        file.commit();
    }

private:
    struct Pending {
        std::string name;
        Dtype dtype;
        std::vector<int64_t> shape;
        const std::byte* data;
        std::size_t bytes;
        std::shared_ptr<const void> owner;  // keeps data alive
    };
    void add_entry(std::string name, Dtype dtype, std::vector<int64_t> shape, const std::byte* data,
                   std::size_t bytes, std::shared_ptr<const void> owner) {
        SR_CHECK(name != "__metadata__", "safetensors: '__metadata__' is reserved and cannot name a tensor");
        for (const auto& p : m_pending)
            SR_CHECK(p.name != name, "safetensors: tensor '", name, "' added twice");
        uint64_t expected = dtype_size(dtype);
        for (int64_t d : shape) {
            SR_CHECK(d >= 0, "safetensors: tensor '", name, "' has a negative dimension ", d);
            expected *= static_cast<uint64_t>(d);
        }
        SR_CHECK(expected == bytes, "safetensors: tensor '", name, "' has ", bytes, " bytes, but ", dtype_name(dtype),
                 " of its shape needs ", expected);
        m_pending.push_back({std::move(name), dtype, std::move(shape), data, bytes, std::move(owner)});
    }
    // The reference writer's order: descending dtype (enum order = alignment), then name.
    std::vector<const Pending*> sorted() const {
        std::vector<const Pending*> order;
        for (const auto& p : m_pending) order.push_back(&p);
        std::sort(order.begin(), order.end(), [](const Pending* a, const Pending* b) {
            if (a->dtype != b->dtype) return a->dtype > b->dtype;
            return a->name < b->name;
        });
        return order;
    }

    std::vector<Pending> m_pending;
    std::map<std::string, std::string> m_metadata;
};

// A model's parameters (state dict) and the metadata needed to rebuild it.
struct StateDict {
    nn::ParameterList<float, Cpu> parameters;
    std::map<std::string, std::string> metadata;
};

// Writes every parameter under its name, plus metadata, atomically.
template <class T, class D>
void save_state_dict(const std::filesystem::path& path, const nn::ParameterList<T, D>& parameters,
                     const std::map<std::string, std::string>& metadata = {}) {
    SafetensorsWriter writer;
    for (const auto& p : parameters) writer.add(p.name, p.tensor);
    for (const auto& [key, value] : metadata) writer.set_metadata(key, value);
    writer.write(path);
}

// Reads every tensor of a file as float (F16/BF16/F64 converted), in data-buffer order.
inline StateDict load_state_dict(const std::filesystem::path& path) {
    const SafetensorsFile file = read_safetensors(path);
    StateDict out;
    out.metadata = file.metadata();
    out.parameters.reserve(file.entries().size());
    for (const auto& e : file.entries()) out.parameters.push_back({e.name, file.tensor_f32(e.name)});
    return out;
}

}  // namespace sr::io
