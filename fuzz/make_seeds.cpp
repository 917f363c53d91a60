// Writes the seed corpora of fuzz/corpus/ (committed; rerun only to change them):
//   build-fuzz/fuzz/fuzz_make_seeds fuzz/corpus [photo.png]
// The photo (default: the repository's own CC0 sample, docs/samples/chelsea.png; data from
// ../shared is never committed) is only cropped to 16x16 pixels, so the committed seeds hold real
// photographic content in a few hundred bytes each. From it: every
// image format and variant the readers take (PNG 8/16-bit in each layout, interlaced, palette;
// JPEG baseline, progressive, gray, CMYK, restart markers, EXIF orientation; BMP; TGA raw and RLE;
// .npy), tiny model files, a training checkpoint with its args.json, and a few malformed
// variants of each (cut, bit-flipped, lying headers) so the fuzzer starts at the error paths too.
#include <cstdio>  // before jpeglib.h, which uses FILE and size_t without including them
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <jpeglib.h>
#include <stb/stb_image_write.h>

#include "../tests/image_test_support.hpp"
#include "sr/io/image.hpp"
#include "sr/models/model_file.hpp"
#include "sr/models/profiles.hpp"
#include "sr/train/checkpoint.hpp"
#include "sr/train/options.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

void save(const fs::path& path, const Bytes& bytes) {
    fs::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}
Bytes load(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes(std::istreambuf_iterator<char>(in), {});
}
Bytes cut(const Bytes& b, double fraction) { return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(b.size() * fraction)); }
Bytes flip(Bytes b, std::size_t at) {
    b[at % b.size()] ^= 0x5A;
    return b;
}

// JPEG through libjpeg with the options stb's writer lacks.
Bytes libjpeg_encode(const sr::io::Image& image, bool progressive, int restart_rows, bool cmyk) {
    jpeg_compress_struct cinfo;
    jpeg_error_mgr errors;
    cinfo.err = jpeg_std_error(&errors);
    jpeg_create_compress(&cinfo);
    unsigned char* buffer = nullptr;
    unsigned long size = 0;
    jpeg_mem_dest(&cinfo, &buffer, &size);
    cinfo.image_width = static_cast<JDIMENSION>(image.width());
    cinfo.image_height = static_cast<JDIMENSION>(image.height());
    std::vector<uint8_t> samples(image.data8(), image.data8() + image.sample_count());
    if (cmyk) {  // the RGB photo as Adobe CMYK: ink = 255 - colour, no black, stored inverted
        std::vector<uint8_t> four;
        for (std::size_t p = 0; p < samples.size(); p += 3) four.insert(four.end(), {samples[p], samples[p + 1], samples[p + 2], 255});
        samples = four;
    }
    cinfo.input_components = cmyk ? 4 : image.channels();
    cinfo.in_color_space = cmyk ? JCS_CMYK : image.channels() == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&cinfo);
    jpeg_set_quality(&cinfo, 80, TRUE);
    if (progressive) jpeg_simple_progression(&cinfo);
    cinfo.restart_in_rows = restart_rows;
    jpeg_start_compress(&cinfo, TRUE);
    const std::size_t row_bytes = std::size_t{cinfo.image_width} * cinfo.input_components;
    while (cinfo.next_scanline < cinfo.image_height) {
        JSAMPROW row = samples.data() + cinfo.next_scanline * row_bytes;
        jpeg_write_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_compress(&cinfo);
    jpeg_destroy_compress(&cinfo);
    Bytes out(buffer, buffer + size);
    std::free(buffer);
    return out;
}

// A JPEG with an EXIF APP1 segment (big-endian TIFF, one IFD entry: orientation) after SOI.
Bytes with_exif(const Bytes& jpeg, int orientation) {
    const Bytes tiff = {'M', 'M', 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, static_cast<uint8_t>(orientation), 0, 0, 0, 0, 0, 0};
    Bytes app1 = {'E', 'x', 'i', 'f', 0, 0};
    app1.insert(app1.end(), tiff.begin(), tiff.end());
    Bytes out = {0xFF, 0xD8, 0xFF, 0xE1, static_cast<uint8_t>((app1.size() + 2) >> 8), static_cast<uint8_t>(app1.size() + 2)};
    out.insert(out.end(), app1.begin(), app1.end());
    out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
    return out;
}

void stb_append(void* context, void* data, int size) {
    auto* out = static_cast<Bytes*>(context);
    out->insert(out->end(), static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
}
Bytes tga(const sr::io::Image& image, bool rle) {
    stbi_write_tga_with_rle = rle ? 1 : 0;
    Bytes out;
    stbi_write_tga_to_func(stb_append, &out, image.width(), image.height(), image.channels(), image.data8());
    return out;
}

void image_seeds(const fs::path& dir, const sr::io::Image& photo) {
    using sr::io::ImageFormat;
    namespace io = sr::io;
    const io::Image gray = io::rgb_to_gray(photo);
    io::Image rgba(photo.height(), photo.width(), 4, 8);
    for (int y = 0; y < photo.height(); ++y)
        for (int x = 0; x < photo.width(); ++x) {
            for (int c = 0; c < 3; ++c) rgba.set(y, x, c, photo.at(y, x, c));
            rgba.set(y, x, 3, 16 * x);
        }
    const io::Image rgb16 = io::to_bit_depth(photo, 16);
    io::Image gray_alpha16(photo.height(), photo.width(), 2, 16);
    for (int y = 0; y < photo.height(); ++y)
        for (int x = 0; x < photo.width(); ++x) gray_alpha16.set(y, x, 0, gray.at(y, x, 0) * 257), gray_alpha16.set(y, x, 1, 4096 * y);

    const Bytes png = io::encode_image(photo, ImageFormat::png);
    save(dir / "rgb8.png", png);
    save(dir / "rgba8.png", io::encode_image(rgba, ImageFormat::png));
    save(dir / "gray8.png", io::encode_image(gray, ImageFormat::png));
    save(dir / "rgb16.png", io::encode_image(rgb16, ImageFormat::png));
    save(dir / "gray_alpha16.png", io::encode_image(gray_alpha16, ImageFormat::png));
    save(dir / "interlaced.png", sr::test::hand_png(photo, true));
    save(dir / "palette_trns.png", sr::test::hand_palette_png(2, 2, {0, 1, 1, 0}, {255, 0, 0, 0, 0, 255}, {128}));

    const Bytes jpeg = io::encode_image(photo, ImageFormat::jpeg);
    save(dir / "baseline.jpg", jpeg);
    save(dir / "gray.jpg", libjpeg_encode(gray, false, 0, false));
    save(dir / "progressive.jpg", libjpeg_encode(photo, true, 0, false));
    save(dir / "restart.jpg", libjpeg_encode(photo, false, 1, false));
    save(dir / "cmyk.jpg", libjpeg_encode(photo, false, 0, true));
    save(dir / "exif6.jpg", with_exif(jpeg, 6));

    const Bytes bmp = io::encode_image(photo, ImageFormat::bmp);
    save(dir / "rgb24.bmp", bmp);
    save(dir / "rgba32.bmp", io::encode_image(rgba, ImageFormat::bmp));
    save(dir / "raw.tga", tga(photo, false));
    save(dir / "rle.tga", tga(rgba, true));
    save(dir / "rgb8.npy", io::encode_image(photo, ImageFormat::npy));

    // Malformed: cut short, a flipped byte in the middle, lying headers, formats we name only.
    save(dir / "bad_cut.png", cut(png, 0.6));
    save(dir / "bad_flip.png", flip(png, png.size() / 2));
    save(dir / "bad_cut.jpg", cut(jpeg, 0.5));
    save(dir / "bad_flip.jpg", flip(jpeg, jpeg.size() / 2));
    save(dir / "bad_cut.bmp", cut(bmp, 0.5));
    Bytes huge_bmp = bmp;
    for (int i = 18; i < 26; ++i) huge_bmp[i] = i < 21 || (i >= 22 && i < 25) ? 0xFF : 0x7F;
    save(dir / "bad_huge.bmp", huge_bmp);
    save(dir / "bad.gif", {'G', 'I', 'F', '8', '9', 'a', 1, 0, 1, 0, 0, 0, 0});
}

void npy_seeds(const fs::path& dir, const sr::io::Image& photo) {
    namespace io = sr::io;
    const Bytes rgb = io::encode_image(photo, io::ImageFormat::npy);
    save(dir / "rgb8.npy", rgb);
    save(dir / "gray16.npy", io::encode_image(io::to_bit_depth(io::rgb_to_gray(photo), 16), io::ImageFormat::npy));
    auto with_dict = [](const std::string& descr, const std::string& shape, int major, std::size_t data_bytes) {
        std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
        const std::size_t prefix = major == 1 ? 10 : 12;
        dict.append((64 - (prefix + dict.size() + 1) % 64) % 64, ' ');
        dict.push_back('\n');
        Bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(major), 0};
        sr::test::put_le16(out, static_cast<uint32_t>(dict.size()));
        if (major != 1) sr::test::put_le16(out, 0);
        out.insert(out.end(), dict.begin(), dict.end());
        for (std::size_t i = 0; i < data_bytes; ++i) out.push_back(static_cast<uint8_t>(i * 37));
        return out;
    };
    save(dir / "big_endian.npy", with_dict(">u2", "(2, 3)", 1, 12));
    save(dir / "v2.npy", with_dict("|u1", "(2, 2, 4)", 2, 16));
    save(dir / "bad_zero.npy", with_dict("|u1", "(0, 3, 3)", 1, 0));
    save(dir / "bad_dtype.npy", with_dict("<f4", "(2, 2)", 1, 16));
    save(dir / "bad_huge.npy", with_dict("|u1", "(2147483647, 2147483647, 4)", 1, 8));
    save(dir / "bad_cut.npy", cut(rgb, 0.5));
}

sr::models::ModelConfig tiny(const std::string& profile, int filters, int blocks) {
    return sr::models::make_config(profile, 2, {.num_filters = filters, .num_blocks = blocks});
}

void model_seeds(const fs::path& dir) {
    fs::create_directories(dir);
    sr::Rng rng(1);
    for (const auto& [profile, filters] : {std::pair{"wdsr-b-8", 4}, std::pair{"wdsr-a-8", 4}, std::pair{"edsr-16", 4}}) {
        const sr::models::AnyModel<float> model(tiny(profile, filters, 1), rng);
        sr::models::save_model(dir / (std::string(profile) + ".safetensors"), model);
    }
    const Bytes good = load(dir / "wdsr-b-8.safetensors");
    save(dir / "bad_cut.safetensors", cut(good, 0.7));
    save(dir / "bad_flip_header.safetensors", flip(good, 40));
    Bytes huge_header = good;
    huge_header[5] = 0x7F;  // header size beyond the file
    save(dir / "bad_header_size.safetensors", huge_header);
    // Metadata that names a model far larger than the weights the file holds.
    uint64_t header_size = 0;
    for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | good[i];
    std::string text(good.begin() + 8, good.begin() + 8 + static_cast<std::ptrdiff_t>(header_size));
    const auto at = text.find("\"num_filters\":\"4\"");
    if (at != std::string::npos) {
        text.replace(at, 17, "\"num_filters\":\"9\"");
        Bytes lying(good.begin(), good.begin() + 8);
        lying.insert(lying.end(), text.begin(), text.end());
        lying.insert(lying.end(), good.begin() + 8 + static_cast<std::ptrdiff_t>(text.size()), good.end());
        save(dir / "bad_metadata.safetensors", lying);
    }
}

void resume_seeds(const fs::path& dir, const fs::path& scratch) {
    fs::create_directories(dir);
    sr::train::TrainOptions options;
    options.profile = "wdsr-b-8";
    options.num_filters = 8;
    options.num_res_blocks = 2;
    options.dataset = "images";
    options.epochs = 3;
    options.steps_per_epoch = 30;
    options.batch_size = 4;
    options.lr_patch_size = 8;
    const std::string args = sr::train::to_json(options).dump(2);
    sr::Rng rng(2);
    const sr::models::AnyModel<float> model(options.model_config(), rng);
    sr::optim::Adam<float, sr::Cpu> optimizer(model.parameters(), {});
    sr::train::TrainingState state;
    state.step = 30;
    state.last_validated_epoch = 1;
    state.best_psnr = 21.5;
    sr::train::save_training_state(scratch / "last.safetensors", model, optimizer, state);
    const Bytes checkpoint = load(scratch / "last.safetensors");
    auto input = [](const std::string& json, const Bytes& file) {
        Bytes out = {static_cast<uint8_t>(json.size()), static_cast<uint8_t>(json.size() >> 8)};
        out.insert(out.end(), json.begin(), json.end());
        out.insert(out.end(), file.begin(), file.end());
        return out;
    };
    save(dir / "run.bin", input(args, checkpoint));
    save(dir / "bad_json.bin", input(args.substr(0, args.size() / 2), checkpoint));
    save(dir / "bad_types.bin", input(R"({"epochs": "three", "scale": 2.5, "num_filters": -1})", checkpoint));
    save(dir / "bad_checkpoint.bin", input(args, cut(checkpoint, 0.5)));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: fuzz_make_seeds <corpus-dir> [photo.png]\n";
        return 2;
    }
    const fs::path root = argv[1];
    const fs::path photo_path = argc > 2 ? fs::path(argv[2]) : fs::path(SR_SOURCE_DIR) / "docs" / "samples" / "chelsea.png";
    const sr::io::Image full = sr::io::read_image(photo_path);
    const sr::io::Image photo = sr::io::crop(full, sr::io::Window{full.height() / 2, full.width() / 2, 16, 16});
    image_seeds(root / "fuzz_image", photo);
    npy_seeds(root / "fuzz_npy", photo);
    model_seeds(root / "fuzz_safetensors");
    const fs::path scratch = fs::temp_directory_path() / "sr_make_seeds";
    fs::create_directories(scratch);
    resume_seeds(root / "fuzz_resume", scratch);
    fs::remove_all(scratch);
    std::cout << "seeds written to " << root << "\n";
}
