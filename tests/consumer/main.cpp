// The engine alone (target sr::sr): trains a one-layer model for a few steps and, given a model
// file, upscales a small image held in memory with it. Proves that headers, oneDNN and OpenMP link
// for a consumer, and that the engine's headers pull in no image codec and impose no Eigen macro.
//   consumer [model.safetensors]
#include <sr/engine.hpp>
#include <sr/models/model_file.hpp>
#include <sr/nn/conv2d.hpp>

#include <cstdio>

#ifdef EIGEN_DONT_PARALLELIZE
#error "sr::sr defines EIGEN_DONT_PARALLELIZE for its consumers; Eigen's settings are the consumer's"
#endif
#if defined(PNG_LIBPNG_VER) || defined(JPEG_LIB_VERSION) || defined(STBI_INCLUDE_STB_IMAGE_H) || \
    defined(INCLUDE_STB_IMAGE_WRITE_H)
#error "an engine header (sr::sr) includes an image codec's header; codecs belong to sr::image"
#endif

int main(int argc, char** argv) try {
    sr::Rng rng(7);
    sr::nn::Conv2d<float> conv({3, 3, 3, true}, rng);
    auto x = sr::Tensor<float>::full({1, 8, 8, 3}, 0.5f);
    auto target = sr::Tensor<float>::full({1, 8, 8, 3}, 0.25f);
    sr::optim::Adam<float, sr::Cpu> adam(sr::nn::parameters_of(conv), {1e-2});
    float first = 0, last = 0;
    for (int step = 0; step < 20; ++step) {
        adam.zero_grad();
        auto loss = sr::l1_loss(conv(x), target);
        loss.backward();
        adam.step();
        (step == 0 ? first : last) = loss.item();
    }
    if (!(last < first)) return 1;
    if (argc > 1) {
        const sr::infer::Upscaler upscaler(sr::models::load_model(argv[1]));
        const auto hr = upscaler.upscale(sr::Tensor<float>::full({1, 12, 10, 3}, 128.f), {.tile = 8});
        SR_CHECK(hr.dim(1) == 12 * upscaler.scale() && hr.dim(2) == 10 * upscaler.scale(), "upscaled to ", hr.shape());
        std::printf("upscaled 12x10 -> %lldx%lld\n", static_cast<long long>(hr.dim(1)), static_cast<long long>(hr.dim(2)));
    }
    std::printf("consumer ok (loss %.4f -> %.4f, sr %s)\n", first, last, SR_VERSION_STRING);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
    return 1;
}
