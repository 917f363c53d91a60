// Hostile and odd-but-valid inputs of the readers (issue 12): CMYK/YCCK JPEG (encoded here with
// libjpeg from CMYK samples we chose, so the expected RGB is the ink formula, not the decoder under
// test), JPEG whose scan data stops early, absurd BMP/TGA/PNG/.npy headers whose size arithmetic
// used to overflow, zero-size arrays, and 16-bit gray+alpha through the Upscaler.
#include <catch2/catch.hpp>

#include <cstdio>
#include <cstring>

#include <jpeglib.h>

#include "image_test_support.hpp"
#include "sr/infer/upscaler.hpp"
#include "sr/io/image.hpp"
#include "sr/io/safetensors.hpp"
#include "sr/models/model_file.hpp"
#include "sr/models/profiles.hpp"
#include "test_support.hpp"

namespace test_io_hardening {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

namespace io = sr::io;
using io::ImageErrorKind;
using sr::test::Bytes;

io::ImageError image_error(const Bytes& bytes, const std::string& name) {
    try {
        io::decode_image(bytes.data(), bytes.size(), name);
    } catch (const io::ImageError& e) {
        return e;
    }
    FAIL("no ImageError for " << name);
    return io::ImageError(ImageErrorKind::io, "");
}

void require_error(const Bytes& bytes, const std::string& name, ImageErrorKind kind, const std::string& reason) {
    const io::ImageError e = image_error(bytes, name);
    INFO(e.what());
    CHECK(e.kind() == kind);
    CHECK_THAT(std::string(e.what()), Catch::StartsWith(name) && Catch::Contains(reason));
}

// A JPEG of 4-channel samples, as Photoshop writes CMYK: with an Adobe marker and each sample
// stored as 255 - ink. `ycck` stores it as YCCK (the Adobe transform 2) instead of plain CMYK.
Bytes encode_cmyk_jpeg(const std::vector<uint8_t>& stored, int height, int width, bool ycck) {
    jpeg_compress_struct cinfo;
    jpeg_error_mgr errors;
    cinfo.err = jpeg_std_error(&errors);
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = static_cast<JDIMENSION>(width);
    cinfo.image_height = static_cast<JDIMENSION>(height);
    cinfo.input_components = 4;
    cinfo.in_color_space = JCS_CMYK;
    jpeg_set_defaults(&cinfo);
    jpeg_set_colorspace(&cinfo, ycck ? JCS_YCCK : JCS_CMYK);  // both write the Adobe marker
    for (int c = 0; c < cinfo.num_components; ++c) cinfo.comp_info[c].h_samp_factor = cinfo.comp_info[c].v_samp_factor = 1;
    jpeg_set_quality(&cinfo, 100, TRUE);
    jpeg_start_compress(&cinfo, TRUE);
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = const_cast<uint8_t*>(stored.data()) + std::size_t{cinfo.next_scanline} * width * 4;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    Bytes out(buffer, buffer + size);
    std::free(buffer);
    return out;
}

}  // namespace

TEST_CASE("JPEG: CMYK and YCCK files (Adobe, inverted) decode to RGB by the ink formula", "[image][hardening]") {
    const int height = 24, width = 32;
    const io::Image ink = sr::test::synthetic_image(height, width, 4);  // smooth: JPEG at q100 keeps it closely
    std::vector<uint8_t> stored(ink.sample_count());
    for (std::size_t i = 0; i < stored.size(); ++i) stored[i] = static_cast<uint8_t>(255 - ink.data8()[i]);
    for (const bool ycck : {false, true}) {
        INFO((ycck ? "YCCK" : "CMYK"));
        const Bytes jpeg = encode_cmyk_jpeg(stored, height, width, ycck);
        const io::Image rgb = io::decode_image(jpeg.data(), jpeg.size(), "cmyk.jpg");
        REQUIRE(rgb.channels() == 3);
        REQUIRE(rgb.height() == height);
        REQUIRE(rgb.width() == width);
        const io::ImageInfo info = io::read_jpeg_info(jpeg.data(), jpeg.size(), "cmyk.jpg");
        CHECK(info.channels == 3);
        double sum = 0;
        int worst = 0;
        for (int y = 0; y < height; ++y)
            for (int x = 0; x < width; ++x)
                for (int c = 0; c < 3; ++c) {
                    // RGB = (1 - C)(1 - K) in 0..255 units.
                    const double expected = (255.0 - ink.at(y, x, c)) * (255.0 - ink.at(y, x, 3)) / 255.0;
                    const int diff = static_cast<int>(std::abs(expected - rgb.at(y, x, c)) + 0.5);
                    worst = std::max(worst, diff);
                    sum += diff;
                }
        // q100 without chroma subsampling: a few levels of quantisation and colour-transform error.
        CHECK(sum / (height * width * 3) < 2.0);
        CHECK(worst <= 12);
    }
}

TEST_CASE("JPEG: scan data that stops early is corrupt, not padded with gray", "[image][hardening]") {
    const io::Image image = sr::test::synthetic_image(64, 64, 3);
    const Bytes jpeg = io::encode_image(image, io::ImageFormat::jpeg);
    // Find the start of scan, keep a third of the entropy-coded data, then end the file properly:
    // the marker chain is complete, the pixels are not.
    std::size_t sos = 0;
    for (std::size_t i = 2; i + 1 < jpeg.size(); ++i)
        if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA) sos = i;
    REQUIRE(sos > 0);
    const std::size_t scan_start = sos + 2 + ((jpeg[sos + 2] << 8) | jpeg[sos + 3]);
    Bytes cut(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(scan_start + (jpeg.size() - scan_start) / 3));
    if (cut.back() == 0xFF) cut.pop_back();
    cut.push_back(0xFF);
    cut.push_back(0xD9);
    require_error(cut, "short_scan.jpg", ImageErrorKind::corrupt, "JPEG");
    // The untouched file still decodes: the check is about the cut, not the encoder.
    CHECK(io::decode_image(jpeg.data(), jpeg.size(), "whole.jpg").width() == 64);
}

TEST_CASE("BMP and TGA headers with absurd sizes fail as truncated, without overflow", "[image][hardening]") {
    // 40-byte BITMAPINFOHEADER claiming 2147483647 x 2147483647 at 32 bits: row_bytes * height is
    // about 2^64, which overflowed the old 64-bit check.
    Bytes bmp = {'B', 'M'};
    sr::test::put_le32(bmp, 54);  // file size (ignored)
    sr::test::put_le32(bmp, 0);
    sr::test::put_le32(bmp, 54);  // data offset
    sr::test::put_le32(bmp, 40);  // DIB header size
    sr::test::put_le32(bmp, 0x7FFFFFFF);
    sr::test::put_le32(bmp, 0x7FFFFFFF);
    sr::test::put_le16(bmp, 1);
    sr::test::put_le16(bmp, 32);
    for (int i = 0; i < 6; ++i) sr::test::put_le32(bmp, 0);
    bmp.resize(64, 0);
    require_error(bmp, "huge.bmp", ImageErrorKind::truncated, "BMP: the pixels need");
    // A data offset beyond the end of the file.
    Bytes far = bmp;
    far[10] = far[11] = far[12] = 0xFF, far[13] = 0x7F;
    far[18] = 1, far[19] = far[20] = far[21] = 0;  // 1 x
    far[22] = 1, far[23] = far[24] = far[25] = 0;  // 1
    require_error(far, "far.bmp", ImageErrorKind::truncated, "BMP");

    // TGA, uncompressed RGB, 65535 x 65535, almost no data.
    Bytes tga(18, 0);
    tga[2] = 2;
    tga[12] = tga[13] = tga[14] = tga[15] = 0xFF;
    tga[16] = 24;
    tga.resize(40, 7);
    require_error(tga, "huge.tga", ImageErrorKind::truncated, "TGA: the pixels need");
}

TEST_CASE(".npy: zero-size and absurd shapes are refused with the shape named", "[image][hardening]") {
    auto npy = [](const std::string& shape) {
        std::string dict = "{'descr': '|u1', 'fortran_order': False, 'shape': " + shape + ", }";
        dict.append((64 - (10 + dict.size() + 1) % 64) % 64, ' ');
        dict.push_back('\n');
        Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
        sr::test::put_le16(out, static_cast<uint32_t>(dict.size()));
        const std::size_t header_start = out.size();  // resize + memcpy: GCC 12 misreads insert() here
        out.resize(header_start + dict.size());
        std::memcpy(out.data() + header_start, dict.data(), dict.size());
        return out;
    };
    require_error(npy("(0, 5, 3)"), "empty_rows.npy", ImageErrorKind::corrupt, "no pixels");
    require_error(npy("(4, 0)"), "empty_cols.npy", ImageErrorKind::corrupt, "no pixels");
    require_error(npy("(2147483648, 1, 3)"), "big_dim.npy", ImageErrorKind::corrupt, "too large");
    // Both dimensions at the int limit: the pixel count alone is refused before any size arithmetic.
    require_error(npy("(2147483647, 2147483647, 4)"), "absurd.npy", ImageErrorKind::too_large, "beyond any image");
    // A small valid one still reads.
    Bytes ok = npy("(1, 2, 3)");
    for (int i = 0; i < 6; ++i) ok.push_back(static_cast<uint8_t>(i * 40));
    const io::Image image = io::decode_image(ok.data(), ok.size(), "ok.npy");
    CHECK(image.width() == 2);
    CHECK(image.at(0, 1, 2) == 200);
}

TEST_CASE("PNG info refuses a header size that does not fit an int", "[image][hardening]") {
    sr::test::TempDir dir;
    Bytes png = sr::test::hand_png(sr::test::synthetic_image(2, 2, 3));
    png[16] = 0xFF;  // width 0xFF000002: above 2^31 - 1
    sr::test::write_bytes(dir.path / "wide.png", png);
    try {
        io::read_image_info(dir.path / "wide.png");
        FAIL("read_image_info accepted a width above 2^31 - 1");
    } catch (const io::ImageError& e) {
        CHECK(e.kind() == ImageErrorKind::corrupt);
        CHECK_THAT(std::string(e.what()), Catch::Contains("is not valid"));
    }
}

TEST_CASE("safetensors: zero-element tensors read back empty", "[hardening]") {
    sr::test::TempDir dir;
    io::SafetensorsWriter writer;
    writer.add("empty", sr::Tensor<float, sr::Cpu>::empty({0, 3}));
    writer.add("one", sr::Tensor<float, sr::Cpu>::full({1}, 2.5f));
    writer.write(dir.path / "t.safetensors");
    const io::SafetensorsFile file = io::read_safetensors(dir.path / "t.safetensors");
    CHECK(file.tensor_f32("empty").numel() == 0);
    CHECK(file.tensor<float>("empty").numel() == 0);
    CHECK(file.tensor_f32("one").to_vector() == std::vector<float>{2.5f});
}

TEST_CASE("Upscaler: 16-bit gray+alpha and 1-pixel-wide strips keep their layout and depth", "[image][hardening]") {
    sr::models::ProfileOverrides o;
    o.num_filters = 8, o.num_blocks = 1;
    sr::Rng rng(5);
    const sr::models::AnyModel<float> model(sr::models::make_config("wdsr-b-8", 2, o), rng);
    const sr::infer::Upscaler upscaler(model);
    const io::Image gray_alpha = sr::test::synthetic_image(9, 7, 2, 16);
    const io::Image up = upscaler.upscale(gray_alpha);
    CHECK(up.layout() == io::ColorLayout::gray_alpha);
    CHECK(up.bit_depth() == 16);
    CHECK(up.height() == 18);
    CHECK(up.width() == 14);
    // Through PNG too: what sr-infer writes reads back as the same 16-bit gray+alpha pixels.
    sr::test::TempDir dir;
    io::write_image(dir.path / "up.png", up);
    CHECK(io::read_image(dir.path / "up.png") == up);
    for (const auto& [h, w] : {std::pair{1, 13}, std::pair{13, 1}, std::pair{1, 1}}) {
        const io::Image strip = upscaler.upscale(sr::test::synthetic_image(h, w, 3));
        CHECK(strip.height() == 2 * h);
        CHECK(strip.width() == 2 * w);
    }
}

TEST_CASE("load_model refuses metadata naming a network the file's tensors cannot hold", "[hardening]") {
    sr::test::TempDir dir;
    sr::Rng rng(6);
    const sr::models::ModelConfig small = sr::models::make_config("wdsr-b-8", 2, {.num_filters = 4, .num_blocks = 1});
    const sr::models::AnyModel<float> model(small, rng);
    sr::models::ModelConfig huge = small;
    huge.num_filters = 100000;  // 10^10 weights per block: tens of GB if it were built
    io::SafetensorsWriter writer;
    for (const auto& p : model.parameters()) writer.add(p.name, p.tensor);
    for (const auto& [key, value] : sr::models::model_metadata(huge)) writer.set_metadata(key, value);
    writer.write(dir.path / "lying.safetensors");
    try {
        (void)sr::models::load_model<float>(dir.path / "lying.safetensors");
        FAIL("load_model built the network the metadata named");
    } catch (const sr::Error& e) {
        CHECK_THAT(std::string(e.what()), Catch::StartsWith((dir.path / "lying.safetensors").string()) &&
                                              Catch::Contains("100000 filters") && Catch::Contains("can hold"));
    }
    // The honest file loads.
    sr::models::save_model(dir.path / "honest.safetensors", model);
    CHECK(sr::models::load_model<float>(dir.path / "honest.safetensors").config().num_filters == 4);
}

}  // namespace test_io_hardening
