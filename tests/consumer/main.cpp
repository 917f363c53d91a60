// Trains a one-layer model for a few steps: proves headers, oneDNN and OpenMP all link for a consumer.
#include <sr/sr.hpp>

#include <cstdio>

int main() {
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
    std::printf("consumer ok (loss %.4f -> %.4f, sr %s)\n", first, last, SR_VERSION_STRING);
    return 0;
}
