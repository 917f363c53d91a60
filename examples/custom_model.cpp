// Example (a): a model the library has never seen, with a layer of its own, goes through the
// engine: trained by the Trainer on a folder of images, saved, reloaded, and upscaled in tiles
// that give exactly the whole-image result.
//   custom_model <folder of images | one image, cut into a folder> <work dir>
#include <cstdio>
#include <filesystem>

#include <sr/sr.hpp>
#include <sr/train/trainer.hpp>

#include "tiny_rcan.hpp"

using namespace sr;

// A folder of 64x64 crops of one picture, when the example is given a picture.
std::filesystem::path image_folder(const std::filesystem::path& input, const std::filesystem::path& work) {
    if (std::filesystem::is_directory(input)) return input;
    const io::Image picture = io::read_image(input);
    const auto folder = work / "photos";
    std::filesystem::create_directories(folder);
    for (int top = 0; top + 64 <= picture.height(); top += 64)
        for (int left = 0; left + 64 <= picture.width(); left += 64) {
            io::Image crop(64, 64, picture.channels());
            for (int y = 0; y < 64; ++y)
                for (int x = 0; x < 64 * picture.channels(); ++x)
                    crop.data8()[y * 64 * picture.channels() + x] =
                        picture.data8()[((top + y) * picture.width() + left) * picture.channels() + x];
            io::write_image(folder / ("crop-" + std::to_string(top) + "-" + std::to_string(left) + ".png"), crop);
        }
    return folder;
}

int main(int argc, char** argv) try {
    SR_CHECK(argc == 3, "usage: custom_model <folder of images | image> <work dir>");
    const std::filesystem::path work = argv[2];
    std::filesystem::create_directories(work);

    example::register_tiny_rcan();  // the architecture and its profile (tiny_rcan.hpp)

    // Train a few steps with the library's Trainer on the folder.
    train::TrainOptions options;
    options.profile = "tiny-rcan", options.scale = 2, options.dataset = image_folder(argv[1], work).string();
    options.outdir = (work / "runs").string(), options.epochs = 1, options.steps_per_epoch = 6;
    options.batch_size = 4, options.lr_patch_size = 16, options.validation_steps = 1, options.sample_images = 1;
    auto trainer = train::Trainer::start(options);
    trainer.run();
    const models::AnyModel<float> trained = trainer.model();
    std::printf("trained %lld steps, validation PSNR %.2f dB\n", static_cast<long long>(trainer.step()),
                trainer.last_epoch() ? trainer.last_epoch()->psnr : 0.0);

    // Save, reload: the file's metadata names the architecture and its schema's keys.
    models::save_model(work / "tiny-rcan-x2.safetensors", trained);
    const auto loaded = models::load_model(work / "tiny-rcan-x2.safetensors");
    SR_CHECK(loaded.config().option_int("window") == 2, "reloaded config lost its window");

    // Tiles of 10 pixels with the model's receptive radius as overlap == one whole-image pass.
    const infer::Upscaler upscaler(loaded);
    const auto lr = io::image_to_tensor(io::read_image(std::filesystem::directory_iterator(
                                            std::filesystem::path(options.dataset))->path()));
    const auto whole = upscaler.upscale(lr, {.tile = -1}), tiled = upscaler.upscale(lr, {.tile = 10});
    double worst = 0;
    for (int64_t i = 0; i < whole.numel(); ++i) worst = std::max<double>(worst, std::abs(whole.data()[i] - tiled.data()[i]));
    const auto original = infer::Upscaler(trained).upscale(lr, {.tile = -1});
    double reload = 0;
    for (int64_t i = 0; i < whole.numel(); ++i) reload = std::max<double>(reload, std::abs(whole.data()[i] - original.data()[i]));
    std::printf("radius %lld, %lld tiles: max |tiled - whole| = %.3g; max |reloaded - trained| = %.3g\n",
                static_cast<long long>(upscaler.receptive_radius()),
                static_cast<long long>(upscaler.plan(lr.dim(1), lr.dim(2), {.tile = 10}).size()), worst, reload);
    // Measured by running the model, as for the built-ins: sr-infer's auto tile (tile = 0) uses it.
    const models::ForwardCost& cost = upscaler.forward_cost();
    std::printf("%.3f MFLOP, %.0f bytes of activations per LR pixel\n", cost.flops_per_lr_pixel / 1e6,
                cost.activation_bytes_per_lr_pixel);
    return worst <= 1e-4 && reload == 0 ? 0 : 1;
} catch (const std::exception& e) {
    std::fprintf(stderr, "custom_model: %s\n", e.what());
    return 1;
}
