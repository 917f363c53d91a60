// Image files: every format and layout we read, against bytes laid out by hand (PNG, BMP, TGA)
// or against the pixels we encoded (JPEG, lossy); round trips of every writable layout; the
// errors for corrupt, truncated, unsupported and oversized files; EXIF orientation; atomic writes.
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>

#include "image_test_support.hpp"
#include "sr/io/image.hpp"
#include "test_support.hpp"

namespace test_image_io {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using namespace sr;
using sr::io::Image;
using sr::io::ImageErrorKind;
using sr::test::Bytes;

namespace {

// Runs f and returns the ImageError it throws; fails the test when it throws nothing.
io::ImageError expect_image_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const io::ImageError& e) {
        return e;
    }
    FAIL("no ImageError was thrown");
    return io::ImageError(ImageErrorKind::io, "");
}

void require_error(const std::filesystem::path& file, ImageErrorKind kind, const std::string& reason = "") {
    const io::ImageError e = expect_image_error([&] { io::read_image(file); });
    INFO(e.what());
    CHECK(e.kind() == kind);
    CHECK(std::string(e.what()).find(file.string()) == 0);  // the message starts with the file name
    if (!reason.empty()) CHECK(std::string(e.what()).find(reason) != std::string::npos);
}

double psnr(const Image& a, const Image& b) {
    REQUIRE(a.sample_count() == b.sample_count());
    double se = 0;
    for (int y = 0; y < a.height(); ++y)
        for (int x = 0; x < a.width(); ++x)
            for (int c = 0; c < a.channels(); ++c) {
                const double d = a.at(y, x, c) - b.at(y, x, c);
                se += d * d;
            }
    return 10 * std::log10(255.0 * 255.0 / std::max(1e-12, se / double(a.sample_count())));
}

// An APP1 EXIF segment holding only the orientation tag, in Intel or Motorola byte order.
Bytes exif_segment(int orientation, bool little_endian) {
    Bytes tiff;
    auto u16 = [&](uint32_t v) {
        if (little_endian) tiff.insert(tiff.end(), {uint8_t(v), uint8_t(v >> 8)});
        else tiff.insert(tiff.end(), {uint8_t(v >> 8), uint8_t(v)});
    };
    auto u32 = [&](uint32_t v) {
        if (little_endian) { u16(v & 0xffff); u16(v >> 16); }
        else { u16(v >> 16); u16(v & 0xffff); }
    };
    tiff.insert(tiff.end(), little_endian ? std::initializer_list<uint8_t>{'I', 'I'} : std::initializer_list<uint8_t>{'M', 'M'});
    u16(42);
    u32(8);        // IFD0 offset
    u16(2);        // two entries: an unrelated tag first, then orientation
    u16(0x010F);   // Make, ASCII, count 4, inline "sr\0\0"
    u16(2);
    u32(4);
    tiff.insert(tiff.end(), {'s', 'r', 0, 0});
    u16(0x0112);   // Orientation, SHORT, count 1
    u16(3);
    u32(1);
    u16(static_cast<uint32_t>(orientation));
    u16(0);
    u32(0);        // no next IFD
    Bytes segment = {0xFF, 0xE1};
    const uint32_t length = static_cast<uint32_t>(2 + 6 + tiff.size());
    segment.insert(segment.end(), {uint8_t(length >> 8), uint8_t(length)});
    segment.insert(segment.end(), {'E', 'x', 'i', 'f', 0, 0});
    segment.insert(segment.end(), tiff.begin(), tiff.end());
    return segment;
}

// Where display pixel (y, x) comes from in the stored image, from the EXIF definition of each
// orientation value (which visual side the stored row 0 and column 0 are on).
std::pair<int, int> exif_source(int orientation, int y, int x, int stored_h, int stored_w) {
    switch (orientation) {
        case 1: return {y, x};                                  // top, left
        case 2: return {y, stored_w - 1 - x};                   // top, right
        case 3: return {stored_h - 1 - y, stored_w - 1 - x};    // bottom, right
        case 4: return {stored_h - 1 - y, x};                   // bottom, left
        case 5: return {x, y};                                  // left, top
        case 6: return {stored_h - 1 - x, y};                   // right, top
        case 7: return {stored_h - 1 - x, stored_w - 1 - y};    // right, bottom
        case 8: return {x, stored_w - 1 - y};                   // left, bottom
    }
    return {y, x};
}

}  // namespace

TEST_CASE("PNG: every layout at 8 and 16 bits decodes from hand-laid bytes", "[image]") {
    sr::test::TempDir dir;
    for (int bits : {8, 16})
        for (int channels = 1; channels <= 4; ++channels) {
            const Image expected = sr::test::random_image(7, 13, channels, bits, 10 * bits + channels);
            const auto path = dir.path / ("hand_" + std::to_string(bits) + "_" + std::to_string(channels) + ".png");
            sr::test::write_bytes(path, sr::test::hand_png(expected));
            const Image got = io::read_image(path);
            INFO(bits << "-bit, " << channels << " channels");
            CHECK(got.bit_depth() == bits);
            CHECK(got.channels() == channels);
            CHECK(got.source_layout() == io::layout_of(channels));
            CHECK(got == expected);
            const io::ImageInfo info = io::read_image_info(path);
            CHECK((info.height == 7 && info.width == 13 && info.channels == channels && info.bit_depth == bits));
        }
}

TEST_CASE("PNG: interlaced images and row windows decode to the same pixels", "[image]") {
    sr::test::TempDir dir;
    for (int bits : {8, 16}) {
        const Image expected = sr::test::random_image(21, 19, 3, bits, 300 + bits);
        sr::test::write_bytes(dir.path / "plain.png", sr::test::hand_png(expected));
        sr::test::write_bytes(dir.path / "adam7.png", sr::test::hand_png(expected, true));
        CHECK(io::read_image(dir.path / "adam7.png") == expected);
        for (const io::Window w : {io::Window{0, 0, 21, 19}, io::Window{3, 2, 7, 11}, io::Window{20, 0, 1, 19},
                                   io::Window{0, 18, 21, 1}}) {
            INFO(bits << "-bit window " << w.top << "," << w.left << " " << w.height << "x" << w.width);
            CHECK(io::read_image_window(dir.path / "plain.png", w) == io::crop(expected, w));
            CHECK(io::read_image_window(dir.path / "adam7.png", w) == io::crop(expected, w));
        }
    }
    // A window stops decoding after its last row: damage below it shows only on a full read.
    // (Rows of 3 kB in stored deflate blocks, so byte offsets follow the rows and libpng's 8 kB
    // reads stay well inside the first quarter while it decodes the top rows.)
    const Image image = sr::test::random_image(40, 1000, 3, 8, 301);
    const Bytes png = sr::test::hand_png(image);
    sr::test::write_bytes(dir.path / "cut.png", Bytes(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(png.size() * 3 / 4)));
    CHECK(io::read_image_window(dir.path / "cut.png", {0, 0, 10, 1000}) == io::crop(image, {0, 0, 10, 1000}));
    CHECK_THROWS_AS(io::read_image(dir.path / "cut.png"), io::ImageError);
    CHECK_THROWS_AS(io::read_image_window(dir.path / "cut.png", {30, 0, 10, 1000}), io::ImageError);
}

TEST_CASE("PNG: palette with tRNS becomes RGBA, without it RGB", "[image]") {
    sr::test::TempDir dir;
    const Bytes palette = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30};
    const Bytes indices = {0, 1, 2, 3, 3, 2, 1, 0};
    sr::test::write_bytes(dir.path / "pal.png", sr::test::hand_palette_png(2, 4, indices, palette, {}));
    sr::test::write_bytes(dir.path / "pal_alpha.png", sr::test::hand_palette_png(2, 4, indices, palette, {255, 128, 0}));
    const Image rgb = io::read_image(dir.path / "pal.png");
    const Image rgba = io::read_image(dir.path / "pal_alpha.png");
    REQUIRE(rgb.channels() == 3);
    REQUIRE(rgba.channels() == 4);
    CHECK(io::read_image_info(dir.path / "pal_alpha.png").channels == 4);
    const int alpha_of[4] = {255, 128, 0, 255};  // entries past the tRNS table are opaque
    for (int i = 0; i < 8; ++i) {
        const int y = i / 4, x = i % 4, p = indices[i];
        for (int c = 0; c < 3; ++c) {
            CHECK(rgb.at(y, x, c) == palette[p * 3 + c]);
            CHECK(rgba.at(y, x, c) == palette[p * 3 + c]);
        }
        CHECK(rgba.at(y, x, 3) == alpha_of[p]);
    }
}

TEST_CASE("PNG: written images of every layout and depth read back exactly", "[image]") {
    sr::test::TempDir dir;
    for (int bits : {8, 16})
        for (int channels = 1; channels <= 4; ++channels) {
            const Image image = sr::test::random_image(19, 23, channels, bits, 100 + channels);
            const auto path = dir.path / "out.png";
            io::write_image(path, image);
            const Bytes bytes = sr::test::read_bytes(path);
            // IHDR says what we meant: depth at byte 24, colour type at 25 (PNG spec 11.2.2).
            static const int k_color_type[5] = {0, 0, 4, 2, 6};
            CHECK(bytes[24] == bits);
            CHECK(bytes[25] == k_color_type[channels]);
            CHECK(io::read_image(path) == image);
        }
}

TEST_CASE("PNG: 16-bit values survive, including the extremes", "[image]") {
    sr::test::TempDir dir;
    Image image(2, 4, 3, 16);
    const int values[] = {0, 1, 255, 256, 257, 32767, 32768, 65534, 65535, 4660, 43981, 1000};
    for (int i = 0; i < 24; ++i) image.set(i / 12, (i / 3) % 4, i % 3, values[i % 12]);
    io::write_image(dir.path / "deep.png", image);
    const Image back = io::read_image(dir.path / "deep.png");
    CHECK(back == image);
    // 16-bit pixels in a tensor are value / 257 and come back exactly.
    const Image again = io::tensor_to_image(io::image_to_tensor(back), 16);
    CHECK(again == image);
}

TEST_CASE("BMP and TGA decode from hand-laid bytes", "[image]") {
    sr::test::TempDir dir;
    const Image rgb = sr::test::random_image(5, 7, 3, 8, 31);  // width 7: rows need padding in BMP
    sr::test::write_bytes(dir.path / "bottom_up.bmp", sr::test::hand_bmp24(rgb, false));
    sr::test::write_bytes(dir.path / "top_down.bmp", sr::test::hand_bmp24(rgb, true));
    CHECK(io::read_image(dir.path / "bottom_up.bmp") == rgb);
    CHECK(io::read_image(dir.path / "top_down.bmp") == rgb);

    sr::test::write_bytes(dir.path / "rgb.tga", sr::test::hand_tga(rgb));
    CHECK(io::read_image(dir.path / "rgb.tga") == rgb);
    const Image gray = sr::test::random_image(6, 5, 1, 8, 32);
    sr::test::write_bytes(dir.path / "gray.tga", sr::test::hand_tga(gray));
    CHECK(io::read_image(dir.path / "gray.tga") == gray);

    Image runs = sr::test::random_image(4, 9, 3, 8, 33);
    for (int x = 2; x < 7; ++x)
        for (int c = 0; c < 3; ++c) runs.set(1, x, c, runs.at(1, 2, c));  // a run of 5 in row 1
    sr::test::write_bytes(dir.path / "rle.tga", sr::test::hand_tga_rle(runs));
    CHECK(io::read_image(dir.path / "rle.tga") == runs);
    const io::ImageInfo info = io::read_image_info(dir.path / "rle.tga");
    CHECK((info.height == 4 && info.width == 9));
}

TEST_CASE("BMP: written RGB and RGBA read back exactly, gray comes back as equal RGB", "[image]") {
    sr::test::TempDir dir;
    for (int channels : {3, 4}) {
        const Image image = sr::test::random_image(9, 11, channels, 8, 40 + channels);
        io::write_image(dir.path / "out.bmp", image);
        CHECK(io::read_image(dir.path / "out.bmp") == image);
    }
    const Image gray = sr::test::random_image(9, 11, 1, 8, 45);
    io::write_image(dir.path / "gray.bmp", gray);
    const Image back = io::read_image(dir.path / "gray.bmp");
    REQUIRE(back.channels() == 3);
    CHECK(io::rgb_to_gray(back) == gray);
}

TEST_CASE("JPEG: quality trades size for fidelity, gray and RGB round-trip closely", "[image]") {
    sr::test::TempDir dir;
    const Image rgb = sr::test::synthetic_image(64, 80, 3, 8, 50);
    io::WriteOptions high, low;
    high.jpeg_quality = 95;
    low.jpeg_quality = 30;
    io::write_image(dir.path / "high.jpg", rgb, high);
    io::write_image(dir.path / "low.jpeg", rgb, low);
    const Image back_high = io::read_image(dir.path / "high.jpg");
    const Image back_low = io::read_image(dir.path / "low.jpeg");
    REQUIRE(back_high.channels() == 3);
    const double psnr_high = psnr(back_high, rgb), psnr_low = psnr(back_low, rgb);
    INFO("PSNR q95 " << psnr_high << " dB, q30 " << psnr_low << " dB");
    CHECK(psnr_high > 35.0);  // the test image carries +-3% noise, which JPEG smooths away
    CHECK(psnr_low < psnr_high - 2.0);
    CHECK(std::filesystem::file_size(dir.path / "low.jpeg") < std::filesystem::file_size(dir.path / "high.jpg"));

    const Image gray = sr::test::synthetic_image(40, 48, 1, 8, 51);
    io::write_image(dir.path / "gray.jpg", gray, high);
    const Image gray_back = io::read_image(dir.path / "gray.jpg");  // stb stores gray as YCbCr
    CHECK(psnr(io::rgb_to_gray(io::to_rgb8(gray_back)), gray) > 35.0);
}

TEST_CASE("JPEG: EXIF orientation 1-8 turns the image upright, in both byte orders", "[image]") {
    sr::test::TempDir dir;
    const Image stored_pixels = sr::test::synthetic_image(16, 24, 3, 8, 60);
    const Bytes plain = io::encode_image(stored_pixels, io::ImageFormat::jpeg);
    const Image stored = io::decode_image(plain.data(), plain.size(), "plain.jpg");
    for (bool little : {true, false})
        for (int orientation = 1; orientation <= 8; ++orientation) {
            Bytes tagged(plain.begin(), plain.begin() + 2);  // SOI
            const Bytes app1 = exif_segment(orientation, little);
            tagged.insert(tagged.end(), app1.begin(), app1.end());
            tagged.insert(tagged.end(), plain.begin() + 2, plain.end());
            const auto path = dir.path / "oriented.jpg";
            sr::test::write_bytes(path, tagged);
            INFO("orientation " << orientation << (little ? " (II)" : " (MM)"));
            const Image upright = io::read_image(path);
            const bool swapped = orientation >= 5;
            REQUIRE(upright.height() == (swapped ? stored.width() : stored.height()));
            REQUIRE(upright.width() == (swapped ? stored.height() : stored.width()));
            bool all_equal = true;
            for (int y = 0; y < upright.height(); ++y)
                for (int x = 0; x < upright.width(); ++x) {
                    const auto [sy, sx] = exif_source(orientation, y, x, stored.height(), stored.width());
                    for (int c = 0; c < 3; ++c) all_equal &= upright.at(y, x, c) == stored.at(sy, sx, c);
                }
            CHECK(all_equal);
            const io::ImageInfo info = io::read_image_info(path);
            CHECK((info.height == upright.height() && info.width == upright.width()));
            io::ReadOptions raw;
            raw.apply_exif_orientation = false;
            CHECK(io::read_image(path, raw) == stored);
        }
}

TEST_CASE("Corrupt and truncated files of every format raise the matching error", "[image]") {
    sr::test::TempDir dir;
    const Image rgb = sr::test::synthetic_image(32, 40, 3, 8, 70);
    auto save = [&](const std::string& name, const Bytes& bytes) {
        sr::test::write_bytes(dir.path / name, bytes);
        return dir.path / name;
    };
    auto cut = [](const Bytes& b, double fraction) { return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(b.size() * fraction)); };

    SECTION("PNG") {
        const Bytes png = io::encode_image(rgb, io::ImageFormat::png);
        require_error(save("half.png", cut(png, 0.5)), ImageErrorKind::truncated);
        require_error(save("header.png", cut(png, 0.1)), ImageErrorKind::truncated);
        require_error(save("no_iend.png", Bytes(png.begin(), png.end() - 6)), ImageErrorKind::truncated);
        Bytes flipped = png;
        flipped[flipped.size() / 2] ^= 0x5a;  // inside IDAT: bad deflate data or a CRC mismatch
        require_error(save("flipped.png", flipped), ImageErrorKind::corrupt);
        Bytes bad_crc = png;
        bad_crc[29] ^= 0x01;  // the CRC of IHDR (8 signature + 8 chunk header + 13 data bytes)
        require_error(save("bad_crc.png", bad_crc), ImageErrorKind::corrupt, "CRC");
    }
    SECTION("JPEG") {
        const Bytes jpg = io::encode_image(rgb, io::ImageFormat::jpeg);
        require_error(save("half.jpg", cut(jpg, 0.5)), ImageErrorKind::truncated);
        require_error(save("no_eoi.jpg", Bytes(jpg.begin(), jpg.end() - 2)), ImageErrorKind::truncated);
        require_error(save("headers.jpg", cut(jpg, 0.05)), ImageErrorKind::truncated);
        // The first segment after SOI with a length field of 1.
        Bytes bad_length = jpg;
        bad_length[4] = 0;
        bad_length[5] = 1;
        require_error(save("bad_length.jpg", bad_length), ImageErrorKind::corrupt);
        // Relabel the baseline frame as arithmetic-coded (SOF9): valid JPEG, not one we decode.
        Bytes arithmetic = jpg;
        for (std::size_t i = 2; i + 1 < arithmetic.size(); ++i)
            if (arithmetic[i] == 0xFF && arithmetic[i + 1] == 0xC0) {
                arithmetic[i + 1] = 0xC9;
                break;
            }
        require_error(save("arithmetic.jpg", arithmetic), ImageErrorKind::unsupported, "arithmetic");
    }
    SECTION("BMP") {
        const Bytes bmp = io::encode_image(rgb, io::ImageFormat::bmp);
        require_error(save("half.bmp", cut(bmp, 0.5)), ImageErrorKind::truncated);
        require_error(save("header.bmp", Bytes(bmp.begin(), bmp.begin() + 20)), ImageErrorKind::truncated);
        require_error(save("one_short.bmp", Bytes(bmp.begin(), bmp.end() - 1)), ImageErrorKind::truncated);
        Bytes rle = bmp;
        rle[30] = 1;  // BI_RLE8
        require_error(save("rle.bmp", rle), ImageErrorKind::unsupported, "run-length");
        Bytes zero_width = bmp;
        for (int i = 18; i < 22; ++i) zero_width[i] = 0;
        require_error(save("zero_width.bmp", zero_width), ImageErrorKind::corrupt);
    }
    SECTION("TGA") {
        const Bytes tga = sr::test::hand_tga(rgb);
        require_error(save("half.tga", cut(tga, 0.5)), ImageErrorKind::truncated);
        const Bytes rle = sr::test::hand_tga_rle(rgb);
        require_error(save("half_rle.tga", cut(rle, 0.5)), ImageErrorKind::truncated);
        require_error(save("header.tga", cut(tga, 10.0 / tga.size())), ImageErrorKind::truncated);
        Bytes bad_type = tga;
        bad_type[2] = 99;
        require_error(save("bad_type.tga", bad_type), ImageErrorKind::corrupt);
    }
    SECTION("NPY") {
        const Bytes npy = io::encode_npy(rgb);
        require_error(save("half.npy", cut(npy, 0.5)), ImageErrorKind::truncated);
        require_error(save("header.npy", cut(npy, 8.0 / npy.size())), ImageErrorKind::truncated);
    }
    SECTION("other files") {
        require_error(save("empty.png", {}), ImageErrorKind::truncated, "empty");
        require_error(save("anim.gif", {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0}), ImageErrorKind::unsupported, "GIF");
        require_error(save("notes.png", {'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd', '!', '!', '!'}),
                      ImageErrorKind::unsupported);
        require_error(dir.path / "missing.png", ImageErrorKind::io, "cannot open");
    }
}

TEST_CASE("The pixel limit stops decompression bombs before decoding", "[image]") {
    sr::test::TempDir dir;
    const Image rgb = sr::test::synthetic_image(20, 30, 3, 8, 80);
    io::ReadOptions tight;
    tight.max_pixels = 599;
    for (const char* ext : {".png", ".jpg", ".bmp", ".npy"}) {
        const auto path = dir.path / (std::string("image") + ext);
        io::write_image(path, rgb);
        CHECK_NOTHROW(io::read_image(path));
        const io::ImageError e = expect_image_error([&] { io::read_image(path, tight); });
        INFO(e.what());
        CHECK(e.kind() == ImageErrorKind::too_large);
    }
    sr::test::write_bytes(dir.path / "image.tga", sr::test::hand_tga(rgb));
    CHECK(expect_image_error([&] { io::read_image(dir.path / "image.tga", tight); }).kind() == ImageErrorKind::too_large);

    // A PNG whose header claims 60000 x 60000 pixels (3.6 Gpixel) with almost no data: refused by
    // the default limit, before any allocation.
    Bytes bomb = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    Bytes ihdr;
    sr::test::put_be32(ihdr, 60000);
    sr::test::put_be32(ihdr, 60000);
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
    sr::test::png_chunk(bomb, "IHDR", ihdr);
    sr::test::png_chunk(bomb, "IDAT", sr::test::zlib_stored(Bytes(100, 0)));
    sr::test::png_chunk(bomb, "IEND", {});
    sr::test::write_bytes(dir.path / "bomb.png", bomb);
    require_error(dir.path / "bomb.png", ImageErrorKind::too_large, "60000x60000");
}

TEST_CASE("Writes are atomic and refuse what the format cannot hold", "[image]") {
    sr::test::TempDir dir;
    const auto path = dir.path / "keep.jpg";
    const Image rgb = sr::test::synthetic_image(8, 8, 3, 8, 90);
    io::write_image(path, rgb);
    const Bytes before = sr::test::read_bytes(path);

    const Image rgba = sr::test::synthetic_image(8, 8, 4, 8, 91);
    CHECK(expect_image_error([&] { io::write_image(path, rgba); }).kind() == ImageErrorKind::invalid);
    const Image deep = sr::test::synthetic_image(8, 8, 3, 16, 92);
    CHECK(expect_image_error([&] { io::write_image(path, deep); }).kind() == ImageErrorKind::invalid);
    CHECK(expect_image_error([&] { io::write_image(dir.path / "x.bmp", deep); }).kind() == ImageErrorKind::invalid);
    CHECK(expect_image_error([&] { io::write_image(dir.path / "x.tga", rgb); }).kind() == ImageErrorKind::invalid);
    CHECK(expect_image_error([&] { io::write_image(dir.path / "x.webp", rgb); }).kind() == ImageErrorKind::invalid);
    CHECK_THROWS_WITH(io::write_image(dir.path / "no_such_dir" / "x.png", rgb), Catch::Contains("does not exist"));

    CHECK(sr::test::read_bytes(path) == before);  // the failed writes left the old file alone
    int files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
        (void)entry;
        ++files;
    }
    CHECK(files == 1);  // and no temporary files behind

    io::WriteOptions as_png;
    as_png.format = io::ImageFormat::png;
    io::write_image(dir.path / "named.dat", rgb, as_png);  // the explicit format wins over the extension
    CHECK(io::read_image(dir.path / "named.dat") == rgb);
}

TEST_CASE("Layout helpers: alpha split and merge, gray expand and collapse, depth, quantisation", "[image]") {
    const Image rgba = sr::test::random_image(5, 6, 4, 8, 200);
    const auto parts = io::split_alpha(rgba);
    REQUIRE(parts.alpha.has_value());
    CHECK(parts.color.channels() == 3);
    for (int y = 0; y < 5; ++y)
        for (int x = 0; x < 6; ++x) {
            CHECK(parts.alpha->at(y, x, 0) == rgba.at(y, x, 3));
            for (int c = 0; c < 3; ++c) CHECK(parts.color.at(y, x, c) == rgba.at(y, x, c));
        }
    CHECK(io::merge_alpha(parts.color, *parts.alpha) == rgba);
    CHECK_FALSE(io::split_alpha(parts.color).alpha.has_value());

    const Image gray_alpha = sr::test::random_image(4, 3, 2, 16, 201);
    const Image expanded = io::gray_to_rgb(gray_alpha);
    REQUIRE(expanded.channels() == 4);
    CHECK(expanded.source_layout() == io::ColorLayout::gray_alpha);
    CHECK(io::rgb_to_gray(expanded) == gray_alpha);
    Image color(1, 2, 3);
    color.set(0, 0, 0, 255);  // pure red -> 0.299 * 255 = 76.2
    color.set(0, 1, 1, 255);  // pure green -> 149.7
    const Image luma = io::rgb_to_gray(color);
    CHECK(luma.at(0, 0, 0) == 76);
    CHECK(luma.at(0, 1, 0) == 150);

    Image all16(1, 65536 / 4, 4, 16);
    for (int i = 0; i < 65536; ++i) all16.set(0, i / 4, i % 4, i);
    const Image all8 = io::to_bit_depth(all16, 8);
    bool rounding_ok = true;
    for (int i = 0; i < 65536; ++i) rounding_ok &= all8.at(0, i / 4, i % 4) == std::lround(i / 257.0);
    CHECK(rounding_ok);
    CHECK(io::to_bit_depth(all8, 16).at(0, 16383, 3) == 65535);

    CHECK(io::quantize_u8(0.5f) == 0);  // ties to even
    CHECK(io::quantize_u8(1.5f) == 2);
    CHECK(io::quantize_u8(2.5f) == 2);
    CHECK(io::quantize_u8(2.5001f) == 3);
    CHECK(io::quantize_u8(-3.f) == 0);
    CHECK(io::quantize_u8(254.5f) == 254);
    CHECK(io::quantize_u8(300.f) == 255);
    CHECK(io::quantize_u8(std::nanf("")) == 0);

    const Image rgb = sr::test::random_image(3, 5, 3, 8, 202);
    const Tensor<float> t = io::image_to_tensor(rgb);
    CHECK(t.shape() == Shape{1, 3, 5, 3});
    CHECK(t.at({0, 2, 4, 1}) == float(rgb.at(2, 4, 1)));
    CHECK(io::tensor_to_image(t) == rgb);
    Tensor<float> nudged = t.clone();
    for (int64_t i = 0; i < nudged.numel(); ++i) nudged.data()[i] += (i % 2 ? 0.49f : -0.49f);
    CHECK(io::tensor_to_image(nudged) == rgb);
}

TEST_CASE("Real files: Set14 gray and T91 BMP decode", "[image][data]") {
    SR_REQUIRE_DATA(data);
    const Image bridge = io::read_image(data / "benchmark" / "Set14" / "HR" / "bridge.png");
    CHECK(bridge.channels() == 1);
    const Image rgb = io::to_rgb8(bridge);
    CHECK(rgb.channels() == 3);
    CHECK(rgb.source_layout() == io::ColorLayout::gray);
    CHECK(rgb.at(100, 100, 0) == bridge.at(100, 100, 0));
    CHECK(rgb.at(100, 100, 2) == bridge.at(100, 100, 0));
    const Image t1 = io::read_image(data / "train" / "T91" / "t1.bmp");
    const io::ImageInfo info = io::read_image_info(data / "train" / "T91" / "t1.bmp");
    CHECK((t1.height() == info.height && t1.width() == info.width && t1.channels() == 3));
}

}  // namespace test_image_io
