// safetensors reader and writer: round trips, the reference's empty-file test vector, one
// hand-crafted byte file per validation rule, and interoperability with an independent
// json+numpy implementation (and the safetensors package when importable) in tests/python/.
#include <cmath>
#include <cstring>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "python_support.hpp"
#include "sr/io/safetensors.hpp"
#include "test_support.hpp"

namespace test_safetensors {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

using sr::Tensor;
using sr::io::Dtype;

std::vector<unsigned char> read_bytes(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

// A file made of a size field, a header and a data buffer of data_bytes bytes (value = index).
// size_field overrides the header length written in the first 8 bytes.
std::filesystem::path write_raw(const std::filesystem::path& path, const std::string& header, std::size_t data_bytes,
                                std::optional<uint64_t> size_field = std::nullopt) {
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = size_field.value_or(header.size());
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xFF));
    out << header;
    for (std::size_t i = 0; i < data_bytes; ++i) out.put(static_cast<char>(i & 0xFF));
    return path;
}

// The error message of reading path, which must fail.
std::string read_error(const std::filesystem::path& path) {
    try {
        sr::io::read_safetensors(path);
    } catch (const sr::Error& e) {
        return e.what();
    }
    FAIL("reading " << path << " succeeded but should have failed");
    return {};
}

// The tensors tests/python/safetensors_interop.py expects (keep the two in step).
sr::io::SafetensorsWriter interop_writer(const std::map<std::string, std::string>& metadata) {
    sr::io::SafetensorsWriter writer;
    std::vector<float> weight(18);
    for (int i = 0; i < 18; ++i) weight[i] = (static_cast<float>(i) - 8.5f) * 0.25f;
    writer.add("conv.weight", Tensor<float>::from_vector({2, 3, 3, 1}, weight));
    writer.add("conv.bias", Tensor<float>::from_vector({2}, {1.5f, -2.25f}));
    writer.add("scalar", Tensor<float>::from_vector({}, {3.0f}));
    writer.add("empty", Tensor<float>::zeros({0, 4}));
    writer.add("norm.g", Tensor<double>::from_vector({3}, {1 / 3.0, 2 / 3.0, 3 / 3.0}));
    writer.add("step", Tensor<int64_t>::from_vector({}, {1234567890123}));
    writer.add("counts", Tensor<uint8_t>::from_vector({5}, {0, 1, 127, 128, 255}));
    for (const auto& [k, v] : metadata) writer.set_metadata(k, v);
    return writer;
}

const std::map<std::string, std::string> k_interop_metadata = {
    {"arch", "wdsr-b"}, {"scale", "4"}, {"note", "\xC3\xBCn\xC3\xAF" "code \xE2\x9C\x93"}};

}  // namespace

TEST_CASE("safetensors: the empty file is the reference test vector", "[safetensors]") {
    sr::test::TempDir dir;
    const auto path = dir.path / "empty.safetensors";
    sr::io::SafetensorsWriter{}.write(path);
    const std::vector<unsigned char> expected = {0x08, 0, 0, 0, 0, 0, 0, 0, 0x7B, 0x7D, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20};
    CHECK(read_bytes(path) == expected);
    const auto file = sr::io::read_safetensors(path);
    CHECK(file.entries().empty());
    CHECK(file.metadata().empty());
}

TEST_CASE("safetensors: round trip keeps values, shapes, dtypes and metadata", "[safetensors]") {
    sr::test::TempDir dir;
    const auto path = dir.path / "round.safetensors";
    interop_writer(k_interop_metadata).write(path);
    const auto file = sr::io::read_safetensors(path);

    CHECK(file.metadata() == k_interop_metadata);
    REQUIRE(file.entries().size() == 7);
    const auto weight = file.tensor_f32("conv.weight");
    CHECK(weight.shape() == sr::Shape({2, 3, 3, 1}));
    for (int i = 0; i < 18; ++i) CHECK(weight.data()[i] == (static_cast<float>(i) - 8.5f) * 0.25f);
    CHECK(file.tensor_f32("conv.bias").to_vector() == std::vector<float>{1.5f, -2.25f});
    CHECK(file.tensor_f32("scalar").rank() == 0);
    CHECK(file.tensor_f32("scalar").item() == 3.0f);
    CHECK(file.tensor_f32("empty").shape() == sr::Shape({0, 4}));
    CHECK(file.tensor<double>("norm.g").to_vector() == std::vector<double>{1 / 3.0, 2 / 3.0, 1.0});
    CHECK(file.tensor_f32("norm.g").to_vector() == std::vector<float>{1 / 3.0f, 2 / 3.0f, 1.0f});
    CHECK(file.tensor<int64_t>("step").item() == 1234567890123);
    CHECK(file.tensor<uint8_t>("counts").to_vector() == std::vector<uint8_t>{0, 1, 127, 128, 255});

    // The reference writer's layout: padded header, descending dtype then name, aligned data.
    const auto bytes = read_bytes(path);
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    CHECK(n % 8 == 0);
    CHECK(bytes[8 + n - 1] != '\0');
    std::vector<std::string> order;
    for (const auto& e : file.entries()) {
        order.push_back(e.name);
        CHECK((8 + n + e.begin) % sr::io::dtype_size(e.dtype) == 0);
    }
    CHECK(order == std::vector<std::string>{"step", "norm.g", "conv.bias", "conv.weight", "empty", "scalar", "counts"});

    SECTION("exact-dtype access refuses a conversion") {
        CHECK_THROWS_WITH(file.tensor<float>("norm.g"), Catch::Contains("'norm.g' has dtype F64, expected F32"));
        CHECK_THROWS_WITH(file.tensor_f32("step"), Catch::Contains("'step' has dtype I64"));
        CHECK_THROWS_WITH(file.tensor_f32("missing"), Catch::Contains("no tensor named 'missing'"));
    }
    SECTION("the header alone can be read without the data") {
        const auto header = sr::io::read_safetensors_header(path);
        CHECK(header.metadata == k_interop_metadata);
        CHECK(header.data_offset == 8 + n);
        REQUIRE(header.find("conv.weight") != nullptr);
        CHECK(header.find("conv.weight")->shape == std::vector<int64_t>{2, 3, 3, 1});
    }
}

TEST_CASE("safetensors: state dict save and load", "[safetensors]") {
    sr::test::TempDir dir;
    const auto path = dir.path / "model.safetensors";
    sr::nn::ParameterList<float, sr::Cpu> params;
    params.push_back({"head.0.weight_v", Tensor<float>::full({4, 3, 3, 3}, 0.125f)});
    params.push_back({"head.0.weight_g", Tensor<float>::from_vector({4}, {1, 2, 3, 4})});
    params.push_back({"head.0.bias", Tensor<float>::zeros({4})});
    sr::io::save_state_dict(path, params, {{"arch", "wdsr-b"}, {"scale", "2"}});

    const auto loaded = sr::io::load_state_dict(path);
    CHECK(loaded.metadata.at("arch") == "wdsr-b");
    CHECK(loaded.metadata.at("scale") == "2");
    REQUIRE(loaded.parameters.size() == 3);
    for (const auto& p : params) {
        const auto& t = sr::nn::find_parameter(loaded.parameters, p.name);
        CHECK(t.shape() == p.tensor.shape());
        CHECK(t.to_vector() == p.tensor.to_vector());
    }
    // Writing again replaces the file atomically and leaves no temporary behind.
    sr::io::save_state_dict(path, params);
    CHECK(sr::io::load_state_dict(path).metadata.empty());
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path), {}) == 1);
}

TEST_CASE("safetensors: F16 and BF16 convert to float exactly", "[safetensors]") {
    sr::test::TempDir dir;
    // F16: 1, -2, 65504 (max), 2^-24 (smallest subnormal), 2^-14 (smallest normal), -0, inf.
    const std::vector<uint16_t> half = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x0400, 0x8000, 0x7C00};
    // BF16: 1, -3, 2^-133 (subnormal), 3.3895e38 (max).
    const std::vector<uint16_t> bf16 = {0x3F80, 0xC040, 0x0001, 0x7F7F};
    std::vector<std::byte> half_bytes(half.size() * 2), bf16_bytes(bf16.size() * 2);
    std::memcpy(half_bytes.data(), half.data(), half_bytes.size());
    std::memcpy(bf16_bytes.data(), bf16.data(), bf16_bytes.size());
    sr::io::SafetensorsWriter writer;
    writer.add_bytes("h", Dtype::F16, {7}, half_bytes);
    writer.add_bytes("b", Dtype::BF16, {2, 2}, bf16_bytes);
    writer.write(dir.path / "half.safetensors");

    const auto file = sr::io::read_safetensors(dir.path / "half.safetensors");
    const auto h = file.tensor_f32("h").to_vector();
    CHECK(h[0] == 1.0f);
    CHECK(h[1] == -2.0f);
    CHECK(h[2] == 65504.0f);
    CHECK(h[3] == std::ldexp(1.0f, -24));
    CHECK(h[4] == std::ldexp(1.0f, -14));
    CHECK((h[5] == 0.0f && std::signbit(h[5])));
    CHECK(h[6] == std::numeric_limits<float>::infinity());
    const auto b = file.tensor_f32("b").to_vector();
    CHECK(b[0] == 1.0f);
    CHECK(b[1] == -3.0f);
    CHECK(b[2] == std::ldexp(1.0f, -133));
    CHECK(b[3] == std::ldexp(255.0f, 120));
    // A half NaN stays NaN.
    CHECK(std::isnan(sr::io::half_bits_to_float(0x7E00)));
}

TEST_CASE("safetensors: every malformed file fails with one line naming the file and the problem", "[safetensors]") {
    sr::test::TempDir dir;
    const auto file = [&](const std::string& name) { return dir.path / name; };
    const std::string ok_entry = R"("x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]})";

    struct Case {
        std::string name, header;
        std::size_t data_bytes;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {"truncated", "{" + ok_entry + "}", 12, "run past the end of the data buffer (12 bytes); the file is truncated"},
        {"trailing", "{" + ok_entry + "}", 20, "4 trailing bytes after the last tensor"},
        {"gap", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
         12, "tensor 'b' starts at byte 8 of the data buffer but tensor 'a' ends at 4 (a gap)"},
        {"gap_at_start", R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8,
         "tensor 'a' starts at byte 4 of the data buffer but the start of the buffer ends at 0 (a gap)"},
        {"overlap", R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
         12, "tensor 'b' starts at byte 4 of the data buffer but tensor 'a' ends at 8 (an overlap)"},
        {"bad_dtype", R"({"x":{"dtype":"F17","shape":[2],"data_offsets":[0,8]}})", 8,
         "tensor 'x' has an unknown dtype \"F17\""},
        {"wrong_size", R"({"x":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 12,
         "tensor 'x' data_offsets [0, 12] do not match F32 [2, 2] (16 bytes)"},
        {"reversed_offsets", R"({"x":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}})", 4,
         "tensor 'x' data_offsets [4, 0] do not match U8 [0] (0 bytes)"},
        {"duplicate_tensor", "{" + ok_entry + "," + ok_entry + "}", 16, "header has the key 'x' more than once"},
        {"duplicate_field", R"({"x":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 4,
         "header has the key 'dtype' more than once"},
        {"duplicate_metadata", R"({"__metadata__":{"k":"1","k":"2"}})", 0, "header has the key 'k' more than once"},
        {"non_object", R"(["x"])", 0, "header does not start with '{'"},
        {"leading_space", R"( {})", 0, "header does not start with '{'"},
        {"not_json", R"({"x":)", 0, "header is not valid JSON"},
        {"metadata_not_string", R"({"__metadata__":{"scale":4}})", 0, "__metadata__ value of 'scale' is 4, not a string"},
        {"metadata_not_object", R"({"__metadata__":"x"})", 0, "__metadata__ is not a JSON object of strings"},
        {"negative_dim", R"({"x":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}})", 0,
         "tensor 'x' shape entry is -1, not a non-negative integer"},
        {"missing_field", R"({"x":{"dtype":"F32","shape":[1]}})", 4, "tensor 'x' needs dtype, shape and data_offsets"},
        {"unknown_field", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"strides":[1]}})", 4,
         "tensor 'x' has an unknown field 'strides'"},
        {"huge_shape", R"({"x":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0,
         "tensor 'x' shape [4294967296,4294967296] is too large"},
    };
    for (const auto& c : cases) {
        INFO("case " << c.name);
        const auto path = write_raw(file(c.name + ".safetensors"), c.header, c.data_bytes);
        const std::string message = read_error(path);
        CHECK_THAT(message, Catch::StartsWith(path.string() + ": "));
        CHECK_THAT(message, Catch::Contains(c.expected));
        CHECK(message.find('\n') == std::string::npos);
    }

    SECTION("size field problems") {
        const auto too_big = write_raw(file("too_big.safetensors"), "{}", 0, 100'000'001);
        CHECK_THAT(read_error(too_big), Catch::Contains("header size 100000001 exceeds the limit of 100000000 bytes"));
        const auto past_end = write_raw(file("past_end.safetensors"), "{}", 0, 64);
        CHECK_THAT(read_error(past_end), Catch::Contains("header size 64 exceeds the 2 bytes after the size field"));
        std::ofstream(file("short.safetensors"), std::ios::binary) << "abc";
        CHECK_THAT(read_error(file("short.safetensors")), Catch::Contains("file has 3 bytes, too short"));
        CHECK_THAT(read_error(file("absent.safetensors")), Catch::Contains("absent.safetensors: cannot open"));
    }
    SECTION("what the format allows is accepted") {
        // Empty tensors may share an offset, JSON may have spaces and trailing padding, data may be
        // unaligned and in any header order.
        const auto path = write_raw(
            file("allowed.safetensors"),
            R"({ "b": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]}, "e": {"dtype": "F32", "shape": [0, 5], "data_offsets": [3, 3]},)"
            R"( "a": {"dtype": "F32", "shape": [], "data_offsets": [3, 7]}, "__metadata__": {} }   )",
            7);
        const auto f = sr::io::read_safetensors(path);
        CHECK(f.tensor<uint8_t>("b").to_vector() == std::vector<uint8_t>{0, 1, 2});
        uint32_t bits = 0x06050403;  // bytes 3..6 of the data buffer
        float expected;
        std::memcpy(&expected, &bits, 4);
        CHECK(f.tensor_f32("a").item() == expected);
        CHECK(f.tensor_f32("e").numel() == 0);
    }
}

TEST_CASE("safetensors: the writer refuses what the format cannot hold", "[safetensors]") {
    sr::io::SafetensorsWriter writer;
    writer.add("x", Tensor<float>::zeros({2}));
    CHECK_THROWS_WITH(writer.add("x", Tensor<float>::zeros({2})), Catch::Contains("tensor 'x' added twice"));
    CHECK_THROWS_WITH(writer.add("__metadata__", Tensor<float>::zeros({2})), Catch::Contains("reserved"));
    CHECK_THROWS_WITH(writer.add_bytes("h", Dtype::F16, {3}, std::vector<std::byte>(4)),
                      Catch::Contains("'h' has 4 bytes, but F16 of its shape needs 6"));
    sr::test::TempDir dir;
    CHECK_THROWS_WITH(writer.write(dir.path / "missing_dir" / "x.safetensors"), Catch::Contains("does not exist"));
    writer.set_metadata("bad", std::string("\xFF\xFE"));
    CHECK_THROWS_WITH(writer.write(dir.path / "bad.safetensors"), Catch::Contains("bad.safetensors: cannot write"));
    CHECK_FALSE(std::filesystem::exists(dir.path / "bad.safetensors"));
}

TEST_CASE("safetensors: files interoperate with json+numpy and the safetensors package", "[safetensors][python]") {
    SR_REQUIRE_PYTHON();
    sr::test::TempDir dir;

    SECTION("Python reads what we write") {
        const auto path = dir.path / "ours.safetensors";
        const auto single = dir.path / "ours_single_metadata.safetensors";
        interop_writer(k_interop_metadata).write(path);
        interop_writer({{"arch", "wdsr-b"}}).write(single);
        const auto result = sr::test::run_python("safetensors_interop.py", {"check", path.string(), single.string()});
        INFO(result.output);
        CHECK(result.exit_code == 0);
        WARN(result.output);
    }
    SECTION("we read what Python writes") {
        const auto path = dir.path / "theirs.safetensors";
        const auto result = sr::test::run_python("safetensors_interop.py", {"write", path.string()});
        INFO(result.output);
        REQUIRE(result.exit_code == 0);
        std::vector<std::filesystem::path> files = {path};
        if (std::filesystem::exists(path.string() + ".reference.safetensors"))
            files.push_back(path.string() + ".reference.safetensors");
        for (const auto& f : files) {
            INFO("file " << f);
            const auto file = sr::io::read_safetensors(f);
            CHECK(file.metadata() == std::map<std::string, std::string>{{"source", "numpy"}, {"step", "7"}});
            CHECK(file.tensor_f32("x").shape() == sr::Shape({3, 2}));
            CHECK(file.tensor_f32("x").to_vector() == std::vector<float>{0.5f, -1.0f, 2.0f, 3.25f, 1e-3f, 7.0f});
            CHECK(file.tensor_f32("h").to_vector() ==
                  std::vector<float>{1.0f, -2.0f, 65504.0f, std::ldexp(1.0f, -24), std::numeric_limits<float>::infinity()});
            CHECK(file.tensor<double>("d").to_vector() == std::vector<double>{0.1, 0.2, -1e-300, 12345.678});
            CHECK(file.tensor_f32("d").to_vector() == std::vector<float>{0.1f, 0.2f, -0.0f, 12345.678f});
            CHECK(file.tensor<int64_t>("i").to_vector() == std::vector<int64_t>{-1, 0, int64_t(1) << 40});
        }
        WARN(result.output);
    }
}

}  // namespace test_safetensors
