// TensorBoard event writer: CRC-32C against the published test vectors and a bitwise reference,
// then event files decoded back by an independent reader (record framing, CRCs, protobuf fields,
// PNG pixels) here and in tests/python/read_events.py (plus tensorboard's EventAccumulator when
// that package is importable).
#include <stb_image.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "python_support.hpp"
#include "sr/io/crc32c.hpp"
#include "sr/io/tensorboard.hpp"
#include "test_support.hpp"

namespace test_tensorboard {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

// CRC-32C one bit at a time, straight from the definition (reflected polynomial 0x82F63B78).
uint32_t crc32c_bitwise(std::string_view bytes) {
    uint32_t crc = 0xFFFFFFFFu;
    for (unsigned char b : bytes) {
        crc ^= b;
        for (int k = 0; k < 8; ++k) crc = (crc & 1u) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
    }
    return crc ^ 0xFFFFFFFFu;
}
uint32_t masked_bitwise(std::string_view bytes) {
    const uint32_t crc = crc32c_bitwise(bytes);
    return ((crc >> 15) | (crc << 17)) + 0xA282EAD8u;
}

uint64_t read_le(const std::string& s, std::size_t pos, int bytes) {
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[pos + i]);
    return v;
}

// A protobuf field: number, wire type, and its varint or raw bytes.
struct Field {
    uint32_t number = 0, wire = 0;
    uint64_t varint = 0;
    std::string bytes;
    double as_double() const {
        double d;
        std::memcpy(&d, bytes.data(), 8);
        return d;
    }
    float as_float() const {
        float f;
        std::memcpy(&f, bytes.data(), 4);
        return f;
    }
};

std::vector<Field> decode_fields(const std::string& message) {
    std::vector<Field> out;
    std::size_t pos = 0;
    auto varint = [&]() {
        uint64_t v = 0;
        for (int shift = 0;; shift += 7) {
            REQUIRE(pos < message.size());
            const auto b = static_cast<unsigned char>(message[pos++]);
            v |= uint64_t(b & 0x7F) << shift;
            if (!(b & 0x80)) return v;
        }
    };
    while (pos < message.size()) {
        const uint64_t key = varint();
        Field f;
        f.number = static_cast<uint32_t>(key >> 3);
        f.wire = static_cast<uint32_t>(key & 7);
        std::size_t length = 0;
        switch (f.wire) {
            case 0: f.varint = varint(); break;
            case 1: length = 8; break;
            case 5: length = 4; break;
            case 2: length = varint(); break;
            default: FAIL("unexpected wire type " << f.wire);
        }
        REQUIRE(pos + length <= message.size());
        f.bytes = message.substr(pos, length);
        pos += length;
        out.push_back(std::move(f));
    }
    return out;
}
const Field& field(const std::vector<Field>& fields, uint32_t number) {
    for (const auto& f : fields)
        if (f.number == number) return f;
    FAIL("no field " << number);
    return fields.front();
}
bool has_field(const std::vector<Field>& fields, uint32_t number) {
    for (const auto& f : fields)
        if (f.number == number) return true;
    return false;
}

// Splits an event file into record payloads, checking both CRCs of every record.
std::vector<std::string> read_records(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    const std::string raw((std::istreambuf_iterator<char>(in)), {});
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos < raw.size()) {
        REQUIRE(pos + 12 <= raw.size());
        const uint64_t length = read_le(raw, pos, 8);
        CHECK(read_le(raw, pos + 8, 4) == masked_bitwise(raw.substr(pos, 8)));
        REQUIRE(pos + 16 + length <= raw.size());
        std::string data = raw.substr(pos + 12, length);
        CHECK(read_le(raw, pos + 12 + length, 4) == masked_bitwise(data));
        out.push_back(std::move(data));
        pos += 16 + length;
    }
    return out;
}

struct DecodedEvent {
    double wall_time = 0;
    int64_t step = 0;
    std::string file_version;
    std::string tag;
    std::vector<Field> value;  // the fields of Summary.Value
};

std::vector<DecodedEvent> read_events(const std::filesystem::path& path) {
    std::vector<DecodedEvent> events;
    for (const auto& record : read_records(path)) {
        DecodedEvent e;
        const auto fields = decode_fields(record);
        e.wall_time = field(fields, 1).as_double();
        if (has_field(fields, 2)) e.step = static_cast<int64_t>(field(fields, 2).varint);
        if (has_field(fields, 3)) e.file_version = field(fields, 3).bytes;
        if (has_field(fields, 5)) {
            const auto summary = decode_fields(field(fields, 5).bytes);
            REQUIRE(summary.size() == 1);
            e.value = decode_fields(field(summary, 1).bytes);
            e.tag = field(e.value, 1).bytes;
        }
        events.push_back(std::move(e));
    }
    return events;
}

std::vector<double> unpack_doubles(const std::string& bytes) {
    std::vector<double> out(bytes.size() / 8);
    std::memcpy(out.data(), bytes.data(), bytes.size());
    return out;
}

// Decodes PNG bytes with stb_image (a decoder independent of the writer's encoder path).
std::vector<uint8_t> decode_png(const std::string& png, int& height, int& width, int& channels) {
    unsigned char* pixels = stbi_load_from_memory(reinterpret_cast<const unsigned char*>(png.data()),
                                                  static_cast<int>(png.size()), &width, &height, &channels, 0);
    REQUIRE(pixels != nullptr);
    std::vector<uint8_t> out(pixels, pixels + static_cast<std::size_t>(width) * height * channels);
    stbi_image_free(pixels);
    return out;
}

// What the writer test logs; the Python check compares against the same numbers.
struct Logged {
    std::vector<std::pair<int64_t, float>> loss = {{0, 0.5f}, {1, 0.25f}, {2, 0.125f}, {1'000'000'000'000, 1e-7f}};
    std::vector<uint8_t> rgb;  // 5 x 7 x 3
    Logged() {
        for (int i = 0; i < 5 * 7 * 3; ++i) rgb.push_back(static_cast<uint8_t>((i * 37) % 256));
    }
};

std::filesystem::path write_sample(const std::filesystem::path& dir, const Logged& logged) {
    sr::io::EventWriter writer(dir);
    for (const auto& [step, value] : logged.loss) writer.add_scalar("train/loss", value, step);
    writer.add_scalar("valid/psnr", 31.25, 7);
    writer.add_image("sample/rgb", logged.rgb, 5, 7, 3, 7);
    // Tensor path: out-of-range values clamp, ties round to even.
    auto gray = sr::Tensor<float>::from_vector({1, 2, 3, 1}, {-4.0f, 0.5f, 1.5f, 2.5f, 254.5f, 300.0f});
    writer.add_image("sample/gray", gray, 8);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    writer.add_histogram("weights/head", std::vector<float>{0, 1, 2, 3, 4, nan}, 9, 4);
    return writer.path();
}

}  // namespace

TEST_CASE("tensorboard: CRC-32C matches the published test vectors", "[tensorboard]") {
    const std::string zeros(32, '\0');
    CHECK(sr::io::crc32c(zeros) == 0x8A9136AAu);
    CHECK(crc32c_bitwise(zeros) == 0x8A9136AAu);
    const std::string text = "\x1a\x11" "CRC test, one two";
    CHECK(sr::io::masked_crc32c(text) == 0x5794D08Au);
    CHECK(masked_bitwise(text) == 0x5794D08Au);
    CHECK(sr::io::crc32c(std::string_view("123456789")) == 0xE3069283u);  // the CRC catalogue's check value
    // Table and bitwise implementations agree on every length and byte pattern tried.
    std::string bytes;
    for (int i = 0; i < 300; ++i) {
        bytes.push_back(static_cast<char>((i * 131 + 7) & 0xFF));
        REQUIRE(sr::io::crc32c(bytes) == crc32c_bitwise(bytes));
    }
    // Continuing a CRC over a split buffer gives the CRC of the whole.
    CHECK(sr::io::crc32c(bytes.data() + 100, 200, sr::io::crc32c(bytes.data(), 100)) == sr::io::crc32c(bytes));
}

TEST_CASE("tensorboard: event files decode back to what was logged", "[tensorboard]") {
    sr::test::TempDir dir;
    const Logged logged;
    const double before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const auto path = write_sample(dir.path / "run1", logged);

    char host[256] = {};
    ::gethostname(host, sizeof(host) - 1);
    CHECK(path.parent_path() == dir.path / "run1");
    std::smatch match;
    const std::string name = path.filename().string();
    REQUIRE(std::regex_match(name, match, std::regex("events\\.out\\.tfevents\\.([0-9]{10})\\.(.+)")));
    CHECK(match[2].str() == host);
    CHECK(std::abs(std::stod(match[1].str()) - before) < 60);

    const auto events = read_events(path);
    REQUIRE(events.size() == 1 + logged.loss.size() + 1 + 2 + 1);
    CHECK(events[0].file_version == "brain.Event:2");
    CHECK(events[0].value.empty());
    for (const auto& e : events) {
        CHECK(e.wall_time >= before - 1);
        CHECK(e.wall_time <= before + 60);
    }

    std::size_t i = 1;
    for (const auto& [step, value] : logged.loss) {
        const auto& e = events[i++];
        CHECK(e.tag == "train/loss");
        CHECK(e.step == step);
        CHECK(field(e.value, 2).wire == 5);
        CHECK(field(e.value, 2).as_float() == value);
    }
    CHECK(events[i].tag == "valid/psnr");
    CHECK(events[i].step == 7);
    CHECK(field(events[i++].value, 2).as_float() == 31.25f);

    {
        const auto& e = events[i++];
        CHECK(e.tag == "sample/rgb");
        CHECK(e.step == 7);
        const auto image = decode_fields(field(e.value, 4).bytes);
        CHECK(field(image, 1).varint == 5);
        CHECK(field(image, 2).varint == 7);
        CHECK(field(image, 3).varint == 3);
        int h = 0, w = 0, c = 0;
        const auto pixels = decode_png(field(image, 4).bytes, h, w, c);
        CHECK((h == 5 && w == 7 && c == 3));
        CHECK(pixels == logged.rgb);
    }
    {
        const auto& e = events[i++];
        CHECK(e.tag == "sample/gray");
        const auto image = decode_fields(field(e.value, 4).bytes);
        CHECK(field(image, 3).varint == 1);
        int h = 0, w = 0, c = 0;
        const auto pixels = decode_png(field(image, 4).bytes, h, w, c);
        CHECK((h == 2 && w == 3 && c == 1));
        CHECK(pixels == std::vector<uint8_t>{0, 0, 2, 2, 254, 255});
    }
    {
        const auto& e = events[i++];
        CHECK(e.tag == "weights/head");
        CHECK(e.step == 9);
        const auto histo = decode_fields(field(e.value, 5).bytes);
        CHECK(field(histo, 1).as_double() == 0.0);
        CHECK(field(histo, 2).as_double() == 4.0);
        CHECK(field(histo, 3).as_double() == 5.0);
        CHECK(field(histo, 4).as_double() == 10.0);
        CHECK(field(histo, 5).as_double() == 30.0);
        CHECK(unpack_doubles(field(histo, 6).bytes) == std::vector<double>{1, 2, 3, 4});
        CHECK(unpack_doubles(field(histo, 7).bytes) == std::vector<double>{2, 1, 1, 1});
    }
}

TEST_CASE("tensorboard: writers sharing a directory get separate files", "[tensorboard]") {
    sr::test::TempDir dir;
    sr::io::EventWriter a(dir.path), b(dir.path);
    CHECK(a.path() != b.path());
    a.add_scalar("x", 1.0, 0);
    // Every event is in the file as soon as the call returns (nothing buffered in the process).
    CHECK(read_events(a.path()).size() == 2);
    CHECK(read_events(b.path()).size() == 1);
    CHECK_THROWS_WITH(a.add_image("bad", std::vector<uint8_t>(5), 1, 1, 5, 0), Catch::Contains("5 channels"));
    CHECK_THROWS_WITH(a.add_image("bad", sr::Tensor<float>::zeros({2, 2}), 0),
                      Catch::Contains("expects an [H, W, C] or [1, H, W, C] tensor"));
}

TEST_CASE("tensorboard: an independent Python reader decodes the file", "[tensorboard][python]") {
    SR_REQUIRE_PYTHON();
    sr::test::TempDir dir;
    const Logged logged;
    const auto path = write_sample(dir.path / "run", logged);
    const auto json_path = dir.path / "decoded.json";
    const auto result = sr::test::run_python("read_events.py", {path.string(), json_path.string()});
    INFO(result.output);
    REQUIRE(result.exit_code == 0);
    WARN(result.output);
    std::ifstream in(json_path);
    const auto decoded = nlohmann::json::parse(in);

    CHECK(decoded["records"] == 1 + logged.loss.size() + 4);
    CHECK(decoded["file_version"] == "brain.Event:2");
    auto check_scalars = [&](const nlohmann::json& scalars) {
        REQUIRE(scalars.size() == logged.loss.size() + 1);
        std::map<std::pair<std::string, int64_t>, double> by_key;
        for (const auto& s : scalars) by_key[{s["tag"], s["step"]}] = s["value"];
        for (const auto& [step, value] : logged.loss) CHECK(by_key.at({"train/loss", step}) == value);
        CHECK(by_key.at({"valid/psnr", 7}) == 31.25);
    };
    check_scalars(decoded["scalars"]);
    REQUIRE(decoded["images"].size() == 2);
    const auto& rgb = decoded["images"][0];
    CHECK(rgb["tag"] == "sample/rgb");
    CHECK((rgb["height"] == 5 && rgb["width"] == 7 && rgb["colorspace"] == 3));
    CHECK((rgb["png_height"] == 5 && rgb["png_width"] == 7 && rgb["png_color_type"] == 2));  // PNG type 2 = RGB
    CHECK(decoded["images"][1]["png_color_type"] == 0);                                     // PNG type 0 = gray
    REQUIRE(decoded["histograms"].size() == 1);
    CHECK(decoded["histograms"][0]["bucket"] == std::vector<double>{2, 1, 1, 1});
    CHECK(decoded["histograms"][0]["num"] == 5.0);

    if (decoded.contains("tensorboard")) {
        const auto& tb = decoded["tensorboard"];
        INFO("tensorboard " << tb["version"]);
        check_scalars(tb["scalars"]);
        REQUIRE(tb["images"].size() == 2);
        for (const auto& image : tb["images"]) {
            const auto& ours = image["tag"] == "sample/rgb" ? decoded["images"][0] : decoded["images"][1];
            CHECK(image["png_sha256"] == ours["png_sha256"]);
            CHECK(image["height"] == ours["height"]);
        }
        REQUIRE(tb["histograms"].size() == 1);
        CHECK(tb["histograms"][0]["bucket"] == std::vector<double>{2, 1, 1, 1});
    }
}

}  // namespace test_tensorboard
