#pragma once
// TensorBoard event files written without protobuf (docs/formats.md).
//
// A file is a sequence of TFRecords: u64le length, u32le masked CRC-32C of those 8 bytes, the
// data, u32le masked CRC-32C of the data. Each record's data is a serialized tensorflow.Event;
// the first carries file_version "brain.Event:2", the others one Summary value: a scalar
// (simple_value), an image (PNG bytes) or a histogram. TensorBoard (RustBoard and the Python
// EventAccumulator) still maps these legacy value kinds to its scalars, images and histograms
// dashboards, so no plugin metadata is needed. We encode the few protobuf fields by hand.
//
// Each event reaches the operating system with one write() before the call returns, so training
// that is killed loses nothing already logged.
#include <fcntl.h>
#include <unistd.h>

#include <stb_image_write.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <limits>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sr/core/error.hpp"
#include "sr/core/tensor.hpp"
#include "sr/io/crc32c.hpp"

namespace sr::io {

namespace detail {

// The protobuf wire format, as much of it as events need: keys are (field << 3) | wire type.
class ProtoWriter {
public:
    void varint(uint32_t field, uint64_t value) {
        key(field, 0);
        raw_varint(value);
    }
    void fixed64_double(uint32_t field, double value) {
        key(field, 1);
        raw_fixed(std::bit_cast<uint64_t>(value), 8);
    }
    void fixed32_float(uint32_t field, float value) {
        key(field, 5);
        raw_fixed(std::bit_cast<uint32_t>(value), 4);
    }
    void bytes(uint32_t field, std::string_view value) {
        key(field, 2);
        raw_varint(value.size());
        m_out.append(value);
    }
    void packed_doubles(uint32_t field, std::span<const double> values) {
        key(field, 2);
        raw_varint(values.size() * 8);
        for (double v : values) raw_fixed(std::bit_cast<uint64_t>(v), 8);
    }
    const std::string& str() const { return m_out; }

private:
    void key(uint32_t field, uint32_t wire_type) { raw_varint((uint64_t(field) << 3) | wire_type); }
    void raw_varint(uint64_t value) {
        while (value >= 0x80) {
            m_out.push_back(static_cast<char>((value & 0x7F) | 0x80));
            value >>= 7;
        }
        m_out.push_back(static_cast<char>(value));
    }
    void raw_fixed(uint64_t value, int bytes) {
        for (int i = 0; i < bytes; ++i) m_out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
    }
    std::string m_out;
};

// Field numbers of event.proto and summary.proto.
namespace event_field {
inline constexpr uint32_t wall_time = 1, step = 2, file_version = 3, summary = 5;
}
namespace summary_field {
inline constexpr uint32_t value = 1;
}
namespace value_field {
inline constexpr uint32_t tag = 1, simple_value = 2, image = 4, histo = 5;
}
namespace image_field {
inline constexpr uint32_t height = 1, width = 2, colorspace = 3, encoded_image_string = 4;
}
namespace histogram_field {
inline constexpr uint32_t min = 1, max = 2, num = 3, sum = 4, sum_squares = 5, bucket_limit = 6, bucket = 7;
}

inline void append_to_string(void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data), static_cast<std::size_t>(size));
}

}  // namespace detail

// One TFRecord around data: the framing TensorBoard reads.
inline std::string tf_record(std::string_view data) {
    std::string record;
    record.reserve(data.size() + 16);
    const uint64_t length = data.size();
    char length_bytes[8];
    for (int i = 0; i < 8; ++i) length_bytes[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
    auto put_u32 = [&](uint32_t v) {
        for (int i = 0; i < 4; ++i) record.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    };
    record.append(length_bytes, 8);
    put_u32(masked_crc32c(std::string_view(length_bytes, 8)));
    record.append(data);
    put_u32(masked_crc32c(data));
    return record;
}

// PNG bytes of 8-bit interleaved pixels (1 to 4 channels: gray, gray+alpha, RGB, RGBA).
inline std::string encode_png(std::span<const uint8_t> pixels, int height, int width, int channels) {
    SR_CHECK(channels >= 1 && channels <= 4, "encode_png: ", channels, " channels, expected 1 to 4");
    SR_CHECK(height > 0 && width > 0, "encode_png: empty image ", height, "x", width);
    SR_CHECK(pixels.size() == static_cast<std::size_t>(height) * width * channels, "encode_png: ", pixels.size(),
             " bytes for a ", height, "x", width, "x", channels, " image");
    std::string png;
    const int ok = stbi_write_png_to_func(detail::append_to_string, &png, width, height, channels, pixels.data(),
                                          width * channels);
    SR_CHECK(ok != 0 && !png.empty(), "encode_png: stb could not encode a ", height, "x", width, "x", channels,
             " image");
    return png;
}

// Appends events to a new file events.out.tfevents.<unix seconds>.<host> in a log directory (made
// if missing). Thread-safe: each event is one atomic append from the writer's point of view.
class EventWriter {
public:
    explicit EventWriter(const std::filesystem::path& log_dir) {
        std::error_code ec;
        std::filesystem::create_directories(log_dir, ec);
        SR_CHECK(!ec, log_dir.string(), ": cannot create the TensorBoard log directory: ", ec.message());
        char host[256] = {};
        if (::gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') std::strcpy(host, "localhost");
        const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
        const std::string base = "events.out.tfevents." + std::to_string(seconds) + "." + host;
        // Two writers in one directory within a second (tests, restarts) get distinct files.
        for (int attempt = 0; m_fd < 0; ++attempt) {
            m_path = log_dir / (attempt == 0 ? base : base + "." + std::to_string(attempt));
            m_fd = ::open(m_path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
            if (m_fd < 0 && (errno != EEXIST || attempt > 1000))
                fail(m_path.string(), ": cannot create the event file: ", std::strerror(errno));
        }
        detail::ProtoWriter event;
        event.fixed64_double(detail::event_field::wall_time, now());
        event.bytes(detail::event_field::file_version, "brain.Event:2");
        try {
            write_record(event.str());
        } catch (...) {
            ::close(m_fd);  // the destructor does not run for a constructor that throws
            throw;
        }
    }
    ~EventWriter() {
        if (m_fd >= 0) ::close(m_fd);
    }
    EventWriter(const EventWriter&) = delete;
    EventWriter& operator=(const EventWriter&) = delete;

    const std::filesystem::path& path() const { return m_path; }

    // A scalar point; TensorBoard stores it as a 32-bit float.
    void add_scalar(std::string_view tag, double value, int64_t step) {
        detail::ProtoWriter v;
        v.bytes(detail::value_field::tag, tag);
        v.fixed32_float(detail::value_field::simple_value, static_cast<float>(value));
        write_summary(v.str(), step);
    }

    // An image from 8-bit interleaved pixels, 1 to 4 channels (gray, gray+alpha, RGB, RGBA).
    void add_image(std::string_view tag, std::span<const uint8_t> pixels, int height, int width, int channels,
                   int64_t step) {
        detail::ProtoWriter image;
        image.varint(detail::image_field::height, static_cast<uint64_t>(height));
        image.varint(detail::image_field::width, static_cast<uint64_t>(width));
        // Summary.Image colorspace: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA: the channel count.
        image.varint(detail::image_field::colorspace, static_cast<uint64_t>(channels));
        image.bytes(detail::image_field::encoded_image_string, encode_png(pixels, height, width, channels));
        detail::ProtoWriter v;
        v.bytes(detail::value_field::tag, tag);
        v.bytes(detail::value_field::image, image.str());
        write_summary(v.str(), step);
    }
    // An image from a CPU tensor [H, W, C] or [1, H, W, C] in pixel units (0..255); values are
    // rounded to nearest (ties to even) and clamped to 0..255.
    void add_image(std::string_view tag, const Tensor<float, Cpu>& image, int64_t step) {
        SR_CHECK((image.rank() == 3 || (image.rank() == 4 && image.dim(0) == 1)), "EventWriter::add_image '", tag,
                 "': expects an [H, W, C] or [1, H, W, C] tensor, got shape ", image.shape());
        const Tensor<float, Cpu> hwc = image.contiguous();
        const int height = static_cast<int>(hwc.dim(-3)), width = static_cast<int>(hwc.dim(-2)),
                  channels = static_cast<int>(hwc.dim(-1));
        std::vector<uint8_t> pixels(static_cast<std::size_t>(hwc.numel()));
        for (std::size_t i = 0; i < pixels.size(); ++i)
            pixels[i] = static_cast<uint8_t>(std::nearbyint(std::clamp(hwc.data()[i], 0.0f, 255.0f)));
        add_image(tag, pixels, height, width, channels, step);
    }

    // A histogram of the finite values (non-finite ones are left out), in `bins` equal buckets
    // between the minimum and the maximum. TensorBoard rebuckets for display.
    void add_histogram(std::string_view tag, std::span<const float> values, int64_t step, int bins = 30) {
        SR_CHECK(bins >= 1, "EventWriter::add_histogram '", tag, "': bins = ", bins, ", expected at least 1");
        double lo = std::numeric_limits<double>::infinity(), hi = -lo, sum = 0, sum_squares = 0, count = 0;
        for (float f : values) {
            if (!std::isfinite(f)) continue;
            const double v = f;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
            sum += v;
            sum_squares += v * v;
            ++count;
        }
        std::vector<double> limits, counts;
        if (count == 0) {
            lo = hi = 0;
        } else if (lo == hi) {
            limits = {hi};
            counts = {count};
        } else {
            const double width = (hi - lo) / bins;
            counts.assign(static_cast<std::size_t>(bins), 0.0);
            for (int i = 0; i < bins; ++i) limits.push_back(i + 1 == bins ? hi : lo + width * (i + 1));
            for (float f : values) {
                if (!std::isfinite(f)) continue;
                // Bucket i holds (limit[i-1], limit[i]]; the minimum goes to the first.
                const auto it = std::lower_bound(limits.begin(), limits.end(), static_cast<double>(f));
                counts[static_cast<std::size_t>(std::min<std::ptrdiff_t>(it - limits.begin(), bins - 1))] += 1;
            }
        }
        detail::ProtoWriter histo;
        histo.fixed64_double(detail::histogram_field::min, lo);
        histo.fixed64_double(detail::histogram_field::max, hi);
        histo.fixed64_double(detail::histogram_field::num, count);
        histo.fixed64_double(detail::histogram_field::sum, sum);
        histo.fixed64_double(detail::histogram_field::sum_squares, sum_squares);
        histo.packed_doubles(detail::histogram_field::bucket_limit, limits);
        histo.packed_doubles(detail::histogram_field::bucket, counts);
        detail::ProtoWriter v;
        v.bytes(detail::value_field::tag, tag);
        v.bytes(detail::value_field::histo, histo.str());
        write_summary(v.str(), step);
    }
    void add_histogram(std::string_view tag, const Tensor<float, Cpu>& values, int64_t step, int bins = 30) {
        const Tensor<float, Cpu> c = values.contiguous();
        add_histogram(tag, std::span<const float>(c.data(), static_cast<std::size_t>(c.numel())), step, bins);
    }

private:
    static double now() {
        return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    }
    void write_summary(const std::string& value, int64_t step) {
        detail::ProtoWriter summary;
        summary.bytes(detail::summary_field::value, value);
        detail::ProtoWriter event;
        event.fixed64_double(detail::event_field::wall_time, now());
        event.varint(detail::event_field::step, static_cast<uint64_t>(step));
        event.bytes(detail::event_field::summary, summary.str());
        write_record(event.str());
    }
    void write_record(const std::string& event) {
        const std::string record = tf_record(event);
        std::lock_guard<std::mutex> lock(m_mutex);
        const char* p = record.data();
        std::size_t left = record.size();
        while (left > 0) {
            const ssize_t n = ::write(m_fd, p, left);
            if (n < 0) {
                if (errno == EINTR) continue;
                fail(m_path.string(), ": cannot write a TensorBoard event: ", std::strerror(errno));
            }
            p += n;
            left -= static_cast<std::size_t>(n);
        }
    }

    std::filesystem::path m_path;
    int m_fd = -1;
    std::mutex m_mutex;
};

}  // namespace sr::io
