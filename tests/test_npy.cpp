// .npy image caches: the header we write, headers numpy writes (laid out by hand here, and by
// numpy itself when a Python with numpy is found), window reads, and malformed files.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "image_test_support.hpp"
#include "sr/io/image.hpp"
#include "test_support.hpp"

namespace test_npy {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using namespace sr;
using sr::io::Image;
using sr::io::ImageErrorKind;
using sr::test::Bytes;

namespace {

// A .npy as numpy lays it out: magic, version, little-endian header length, dict, padding, data.
Bytes npy_bytes(int major, const std::string& dict, const Bytes& data) {
    Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
    const std::size_t prefix = major == 1 ? 10 : 12;
    std::string header = dict;
    while ((prefix + header.size() + 1) % 64 != 0) header.push_back(' ');
    header.push_back('\n');
    sr::test::put_le16(out, static_cast<uint32_t>(header.size() & 0xffff));
    if (major >= 2) sr::test::put_le16(out, static_cast<uint32_t>(header.size() >> 16));
    out.insert(out.end(), header.begin(), header.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

// A python3 that can import numpy, or empty.
std::string python_with_numpy() {
    for (const char* candidate : {"/usr/bin/python3", "python3"}) {
        const std::string command = std::string(candidate) + " -c \"import numpy\" > /dev/null 2>&1";
        if (std::system(command.c_str()) == 0) return candidate;
    }
    return {};
}

}  // namespace

TEST_CASE("NPY: the header we write is numpy's format 1.0", "[npy]") {
    const Image image = sr::test::random_image(5, 7, 3, 8, 1);
    const Bytes bytes = io::encode_npy(image);
    REQUIRE(bytes.size() > 10);
    CHECK(std::string(bytes.begin() + 1, bytes.begin() + 6) == "NUMPY");
    CHECK((bytes[0] == 0x93 && bytes[6] == 1 && bytes[7] == 0));
    const std::size_t header_len = bytes[8] | (bytes[9] << 8);
    CHECK((10 + header_len) % 64 == 0);  // data aligned to 64 bytes
    const std::string dict(bytes.begin() + 10, bytes.begin() + 10 + static_cast<std::ptrdiff_t>(header_len));
    CHECK(dict.find("'descr': '|u1'") != std::string::npos);
    CHECK(dict.find("'fortran_order': False") != std::string::npos);
    CHECK(dict.find("'shape': (5, 7, 3)") != std::string::npos);
    CHECK(dict.back() == '\n');
    CHECK(bytes.size() == 10 + header_len + 5 * 7 * 3);
    CHECK(Bytes(bytes.begin() + 10 + static_cast<std::ptrdiff_t>(header_len), bytes.end()) ==
          Bytes(image.data8(), image.data8() + image.sample_count()));
    const Image deep = sr::test::random_image(2, 3, 4, 16, 2);
    const Bytes deep_bytes = io::encode_npy(deep);
    CHECK(std::string(deep_bytes.begin(), deep_bytes.end()).find("'descr': '<u2'") != std::string::npos);
    CHECK(io::decode_npy(deep_bytes.data(), deep_bytes.size(), "deep.npy") == deep);
}

TEST_CASE("NPY: headers as numpy writes them decode, in any key order and version", "[npy]") {
    sr::test::TempDir dir;
    Bytes data8;
    for (int i = 0; i < 2 * 3 * 3; ++i) data8.push_back(static_cast<uint8_t>(i * 13));
    Image expected(2, 3, 3);
    for (int i = 0; i < 18; ++i) expected.set(i / 9, (i / 3) % 3, i % 3, i * 13 % 256);

    const Bytes v1 = npy_bytes(1, "{'shape': (2, 3, 3), 'fortran_order': False, 'descr': '|u1', }", data8);
    CHECK(io::decode_npy(v1.data(), v1.size(), "v1") == expected);
    const Bytes v2 = npy_bytes(2, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3, 3), }", data8);
    CHECK(io::decode_npy(v2.data(), v2.size(), "v2") == expected);

    // (H, W) is gray; '<u2' little-endian and '>u2' big-endian 16-bit samples.
    Bytes little, big;
    Image gray16(2, 2, 1, 16);
    const int values[4] = {1, 258, 65535, 4660};
    for (int i = 0; i < 4; ++i) {
        gray16.set(i / 2, i % 2, 0, values[i]);
        little.insert(little.end(), {uint8_t(values[i]), uint8_t(values[i] >> 8)});
        big.insert(big.end(), {uint8_t(values[i] >> 8), uint8_t(values[i])});
    }
    const Bytes le = npy_bytes(1, "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 2), }", little);
    const Bytes be = npy_bytes(1, "{'descr': '>u2', 'fortran_order': False, 'shape': (2, 2), }", big);
    CHECK(io::decode_npy(le.data(), le.size(), "le") == gray16);
    CHECK(io::decode_npy(be.data(), be.size(), "be") == gray16);
    sr::test::write_bytes(dir.path / "be.npy", be);
    CHECK(io::read_image(dir.path / "be.npy") == gray16);
    CHECK(io::read_image_window(dir.path / "be.npy", {1, 0, 1, 2}) == io::crop(gray16, {1, 0, 1, 2}));
}

TEST_CASE("NPY: malformed and unsupported arrays are refused with the reason", "[npy]") {
    const Bytes data(24, 0);
    auto kind_of = [&](const std::string& dict, const Bytes& payload) {
        const Bytes bytes = npy_bytes(1, dict, payload);
        try {
            io::decode_npy(bytes.data(), bytes.size(), "bad.npy");
        } catch (const io::ImageError& e) {
            return e.kind();
        }
        return ImageErrorKind::io;  // "no error" as a kind the checks below never expect
    };
    CHECK(kind_of("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", data) == ImageErrorKind::unsupported);
    CHECK(kind_of("{'descr': '|u1', 'fortran_order': True, 'shape': (2, 3, 3), }", data) == ImageErrorKind::unsupported);
    CHECK(kind_of("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2, 5), }", data) == ImageErrorKind::unsupported);
    CHECK(kind_of("{'descr': '|u1', 'fortran_order': False, 'shape': (4, 4, 3), }", data) == ImageErrorKind::truncated);
    CHECK(kind_of("{'fortran_order': False, 'shape': (2, 3), }", data) == ImageErrorKind::corrupt);
    CHECK(kind_of("{'descr': '|u1', 'fortran_order': False, 'shape': (2, x), }", data) == ImageErrorKind::corrupt);
}

TEST_CASE("NPY: window reads equal crops of the whole image", "[npy]") {
    sr::test::TempDir dir;
    for (int bits : {8, 16}) {
        const Image image = sr::test::random_image(31, 17, 3, bits, 7);
        const auto path = dir.path / "image.npy";
        io::write_image(path, image);
        CHECK(io::read_image(path) == image);
        const io::ImageInfo info = io::read_image_info(path);
        CHECK((info.height == 31 && info.width == 17 && info.channels == 3 && info.bit_depth == bits));
        for (const io::Window w : {io::Window{0, 0, 31, 17}, io::Window{5, 3, 10, 9}, io::Window{30, 16, 1, 1},
                                   io::Window{0, 4, 31, 2}})
            CHECK(io::read_image_window(path, w) == io::crop(image, w));
        CHECK_THROWS_WITH(io::read_image_window(path, {20, 0, 12, 5}), Catch::Contains("outside"));
    }
}

TEST_CASE("NPY: numpy reads our files and we read numpy's", "[npy]") {
    const std::string python = python_with_numpy();
    if (python.empty()) SR_SKIP("no python3 with numpy found");
    sr::test::TempDir dir;
    const Image ours8 = sr::test::random_image(6, 5, 3, 8, 11);
    const Image ours16 = sr::test::random_image(4, 3, 4, 16, 12);
    io::write_npy(dir.path / "ours8.npy", ours8);
    io::write_npy(dir.path / "ours16.npy", ours16);
    // Python checks our files against the same values (sent as text) and writes its own arrays.
    std::ofstream script(dir.path / "check.py");
    auto dump = [](const Image& image) {
        std::string text = "[";
        for (std::size_t i = 0; i < image.sample_count(); ++i)
            text += std::to_string(image.bit_depth() == 8 ? image.data8()[i] : image.data16()[i]) + ",";
        return text + "]";
    };
    script << "import numpy as np, sys\n"
           << "d = sys.argv[1]\n"
           << "a = np.load(d + '/ours8.npy'); assert a.dtype == np.uint8 and a.shape == (6, 5, 3), a.shape\n"
           << "assert a.ravel().tolist() == " << dump(ours8) << "\n"
           << "b = np.load(d + '/ours16.npy'); assert b.dtype == np.uint16 and b.shape == (4, 3, 4), b.shape\n"
           << "assert b.ravel().tolist() == " << dump(ours16) << "\n"
           << "np.save(d + '/theirs8.npy', (np.arange(7 * 9 * 3) % 251).astype(np.uint8).reshape(7, 9, 3))\n"
           << "np.save(d + '/theirs_gray16.npy', (np.arange(4 * 6) * 2741 % 65536).astype(np.uint16).reshape(4, 6))\n"
           << "np.save(d + '/theirs_big.npy', (np.arange(2 * 2 * 3) * 4099).astype('>u2').reshape(2, 2, 3))\n";
    script.close();
    const std::string command = python + " " + (dir.path / "check.py").string() + " " + dir.path.string();
    REQUIRE(std::system(command.c_str()) == 0);

    const Image theirs8 = io::read_image(dir.path / "theirs8.npy");
    REQUIRE((theirs8.height() == 7 && theirs8.width() == 9 && theirs8.channels() == 3 && theirs8.bit_depth() == 8));
    for (std::size_t i = 0; i < theirs8.sample_count(); ++i) REQUIRE(theirs8.data8()[i] == i % 251);
    const Image gray16 = io::read_image(dir.path / "theirs_gray16.npy");
    REQUIRE((gray16.channels() == 1 && gray16.bit_depth() == 16 && gray16.width() == 6));
    for (std::size_t i = 0; i < gray16.sample_count(); ++i) REQUIRE(gray16.data16()[i] == i * 2741 % 65536);
    const Image big = io::read_image(dir.path / "theirs_big.npy");
    for (std::size_t i = 0; i < big.sample_count(); ++i) REQUIRE(big.data16()[i] == i * 4099);
}

}  // namespace test_npy
