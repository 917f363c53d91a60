#pragma once
// Tiny training fixtures: a folder of synthetic photographs-like images and options for a model
// small enough to train for a few steps in a test.
#include <cmath>
#include <filesystem>

#include "sr/core/rng.hpp"
#include "sr/io/image.hpp"
#include "sr/train/options.hpp"

namespace sr::test {

// `count` RGB images of size x size with smooth gradients, stripes and noise (so a network has
// something to learn), as PNG files image_<i>.png.
inline void write_training_images(const std::filesystem::path& dir, int count, int size, uint64_t seed = 1) {
    std::filesystem::create_directories(dir);
    Rng rng(seed);
    for (int i = 0; i < count; ++i) {
        io::Image image(size, size, 3, 8);
        const double fx = rng.uniform(0.05, 0.4), fy = rng.uniform(0.05, 0.4), phase = rng.uniform(0, 6.28);
        for (int y = 0; y < size; ++y)
            for (int x = 0; x < size; ++x)
                for (int c = 0; c < 3; ++c) {
                    const double v = 128 + 90 * std::sin(fx * x + fy * y + phase + c) + rng.uniform(-10, 10);
                    image.set(y, x, c, static_cast<int>(std::clamp(v, 0.0, 255.0)));
                }
        io::write_image(dir / ("image_" + std::to_string(i) + ".png"), image);
    }
}

inline train::TrainOptions tiny_training(const std::filesystem::path& dataset, const std::filesystem::path& outdir) {
    train::TrainOptions o;
    o.profile = "wdsr-b-8";
    o.num_filters = 8;
    o.num_res_blocks = 2;
    o.scale = 2;
    o.dataset = dataset.string();
    o.outdir = outdir.string();
    o.epochs = 2;
    o.steps_per_epoch = 4;
    o.batch_size = 4;
    o.lr_patch_size = 8;
    o.validation_steps = 1;
    o.loader_threads = 1;
    o.threads = 2;
    o.log_every = 2;
    o.seed = 5;
    return o;
}

}  // namespace sr::test
