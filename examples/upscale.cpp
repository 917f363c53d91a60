// Example (b): upscale an image with a model file (any registered architecture).
#include <cstdio>

#include <sr/sr.hpp>

int main(int argc, char** argv) {
    if (argc != 4) return std::fprintf(stderr, "usage: upscale <model.safetensors> <in> <out>\n"), 2;
    const sr::infer::Upscaler upscaler(sr::models::load_model(argv[1]));
    sr::io::write_image(argv[3], upscaler.upscale(sr::io::read_image(argv[2])));
    std::printf("%s -> %s (x%d)\n", argv[2], argv[3], upscaler.scale());
}
