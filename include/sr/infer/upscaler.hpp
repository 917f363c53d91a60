#pragma once
// Upscaler: the facade sr-infer and library users call to super-resolve images of any size.
//
//   Upscaler up(models::load_model("model.safetensors"));
//   io::Image out = up.upscale(io::read_image("photo.png"), {.tile = 0, .ensemble = false});
//
// What it handles around the network:
//   - tiles (sr/infer/tiling.hpp) with an overlap of at least the receptive radius, so the result
//     equals a whole-image pass; the HR result is written tile by tile into the output image, so
//     no full-size float tensor ever exists (a 4000x3000 x4 image needs the 8-bit output and one
//     tile's activations);
//   - the 8-way self-ensemble: each tile is run under the 8 flips/rotations, transformed back and
//     averaged (as EDSR's x8 ensemble, but per tile and still exact);
//   - alpha: the network sees the colour, alpha is enlarged with bicubic and re-attached;
//   - gray images are run as RGB (equal channels) and averaged back to one channel;
//   - 16-bit images: values / 257 in, x 257 out, written back as 16 bits.
// With tile = 0 the tile size comes from the memory budget and the model's activations, measured
// once by running it (forward_cost()), so a registered model of any architecture gets it too.
// The network runs with weight norm folded and no gradient recording, on the CPU or on a CUDA
// device: there each tile (each transform of it, with the ensemble) is uploaded, run, and its
// result downloaded, so images, the ensemble's sum and the output stay on the host and only one
// tile's activations live on the device.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <variant>
#include <vector>

#include "sr/autograd/grad_mode.hpp"
#include "sr/config.hpp"
#include "sr/core/device_choice.hpp"
#include "sr/data/bicubic.hpp"
#include "sr/infer/tiling.hpp"
#include "sr/io/image_convert.hpp"
#include "sr/io/image_transform.hpp"
#include "sr/models/model.hpp"

namespace sr::infer {

struct UpscaleOptions {
    int64_t tile = 0;        // LR tile core side; 0 = from available memory; < 0 = whole image
    int64_t overlap = -1;    // LR pixels of margin; < 0 = the model's receptive radius (exact)
    bool ensemble = false;   // 8-way self-ensemble (8x the work)
    double memory_budget = 0;  // bytes for activations with tile = 0; 0 = half the available memory (CPU: at most
                               // 4 GiB; CUDA: half the device's free memory plus what our pool holds unused,
                               // at most 8 GiB)
    // Called after each tile with (tiles done, tiles in total).
    std::function<void(int64_t, int64_t)> progress;
};

class Upscaler {
public:
    // Runs `model` on `device`: a CUDA device gets a copy of the weights (the device must exist;
    // see select_device), the CPU uses the model's own.
    explicit Upscaler(const models::AnyModel<float, Cpu>& model, const DeviceChoice& device = {})
        : m_model(on_device(model, device)), m_device(device) {}
#if SR_WITH_CUDA
    // Runs a model that already lives on the current CUDA device (e.g. the one being trained).
    explicit Upscaler(const models::AnyModel<float, Cuda>& model)
        : m_model(model.fold_weight_norm()), m_device{true, current_device_index()} {}
#endif

    int scale() const {
        return std::visit([](const auto& m) { return m.scale(); }, m_model);
    }
    const models::ModelConfig& config() const {
        return std::visit([](const auto& m) -> const models::ModelConfig& { return m.config(); }, m_model);
    }
    const DeviceChoice& device() const { return m_device; }
    // The model's own (sr/models/model_concept.hpp): tiles overlapping by it are seam-exact.
    int64_t receptive_radius() const {
        return std::visit([](const auto& m) { return m.receptive_radius(); }, m_model);
    }

    // What one forward pass of the (folded) model costs per LR pixel, measured on the model's
    // device the first time it is asked for (sr/models/forward_cost.hpp; two small forwards) and
    // kept: copies of this Upscaler share it, as they share the model.
    const models::ForwardCost& forward_cost() const {
        std::call_once(m_cost->once, [&] {
            m_cost->cost = std::visit([](const auto& m) { return models::measure_forward_cost(m); }, m_model);
        });
        return m_cost->cost;
    }

    // The tiles an h x w LR image is processed in, with these options.
    std::vector<Tile> plan(int64_t height, int64_t width, const UpscaleOptions& options) const {
        const int64_t overlap = options.overlap < 0 ? receptive_radius() : options.overlap;
        int64_t tile = options.tile;
        if (tile == 0) {
            double budget = options.memory_budget;
            if (budget <= 0) budget = default_memory_budget();
            tile = auto_tile_size(forward_cost(), height, width, overlap, budget);
        }
        return plan_tiles(height, width, tile, overlap);
    }

    // Super-resolves an RGB float image lr [1, H, W, 3] (pixel units) tile by tile; for each tile,
    // sink(sr_core [1, h*s, w*s, 3], hr_top, hr_left) receives the float output of its core.
    template <class Sink>
    void upscale_tiles(const Tensor<float>& lr, const UpscaleOptions& options, Sink&& sink) const {
        SR_CHECK(lr.rank() == 4 && lr.dim(0) == 1 && lr.dim(3) == 3, "upscale: expects an RGB image [1, H, W, 3], got ",
                 lr.shape());
        NoGradGuard no_grad;
        const auto tiles = plan(lr.dim(1), lr.dim(2), options);
        const int64_t s = scale();
        int64_t done = 0;
        for (const Tile& t : tiles) {
            const Tensor<float> input = lr.crop(t.in_top, t.in_left, t.in_height, t.in_width).contiguous();
            const Tensor<float> output = options.ensemble ? ensemble_forward(input) : forward(input);
            sink(output.crop((t.top - t.in_top) * s, (t.left - t.in_left) * s, t.height * s, t.width * s), t.top * s,
                 t.left * s);
            if (options.progress) options.progress(++done, static_cast<int64_t>(tiles.size()));
        }
    }

    // The whole float result [1, sH, sW, 3] (for tests and small images).
    Tensor<float> upscale(const Tensor<float>& lr, const UpscaleOptions& options = {}) const {
        auto out = Tensor<float>::empty({1, lr.dim(1) * scale(), lr.dim(2) * scale(), 3});
        upscale_tiles(lr, options, [&](const Tensor<float>& core, int64_t top, int64_t left) {
            core.copy_to(out.crop(top, left, core.dim(1), core.dim(2)));
        });
        return out;
    }

    // Super-resolves a decoded image of any layout and depth into an image of the same layout
    // and depth, scale times larger.
    io::Image upscale(const io::Image& image, const UpscaleOptions& options = {}) const {
        SR_CHECK(!image.empty(), "upscale: empty image");
        const int s = scale();
        const auto parts = io::split_alpha(image);
        const io::Image& color = parts.color;
        const bool gray = color.channels() == 1;
        const Tensor<float> lr = io::image_to_tensor(gray ? io::gray_to_rgb(color) : color);
        io::Image out_color(color.height() * s, color.width() * s, color.channels(), color.bit_depth());
        upscale_tiles(lr, options, [&](const Tensor<float>& core, int64_t top, int64_t left) {
            write_core(core, top, left, gray, out_color);
        });
        if (parts.alpha) {
            const io::Image alpha = data::bicubic_resize(*parts.alpha, parts.alpha->height() * s, parts.alpha->width() * s);
            io::Image merged = io::merge_alpha(out_color, alpha);
            merged.set_source_layout(image.source_layout());
            return merged;
        }
        out_color.set_source_layout(image.source_layout());
        return out_color;
    }

private:
#if SR_WITH_CUDA
    using ModelVariant = std::variant<models::AnyModel<float, Cpu>, models::AnyModel<float, Cuda>>;
    static int current_device_index() { return cuda::current_device(); }
#else
    using ModelVariant = std::variant<models::AnyModel<float, Cpu>>;
#endif

    static ModelVariant on_device(const models::AnyModel<float, Cpu>& model, const DeviceChoice& device) {
        if (!device.cuda) return model.fold_weight_norm();
#if SR_WITH_CUDA
        select_device(device);
        // Folded after the upload: a folded model has no v/g for AnyModel::to to copy.
        return model.to<Cuda>().fold_weight_norm();
#else
        select_device(device);  // fails: no CUDA in this build
        return model.fold_weight_norm();
#endif
    }

    // The network on one CPU tensor [1, h, w, 3] -> [1, sh, sw, 3] on the CPU.
    Tensor<float> forward(const Tensor<float>& input) const {
        return std::visit(
            [&](const auto& model) -> Tensor<float> {
                using D = typename std::decay_t<decltype(model)>::device_type;
                if constexpr (is_cpu_v<D>)
                    return model(input);
                else
                    return model(input.template to<D>()).template to<Cpu>();
            },
            m_model);
    }

    // tile = 0: half the memory activations may use on the model's device.
    double default_memory_budget() const {
#if SR_WITH_CUDA
        if (m_device.cuda) {
            std::size_t free_bytes = 0, total_bytes = 0;
            cuda::memory_info(free_bytes, total_bytes);
            // Memory our stream-ordered pool keeps for reuse is free to us, though not to the driver.
            const cuda::MemoryStats stats = cuda::memory_stats();
            const double pooled =
                stats.reserved > stats.in_use ? static_cast<double>(stats.reserved - stats.in_use) : 0.0;
            // At most 8 GiB: the estimate counts every live tensor, so no single activation then
            // exceeds 2^31 floats, the limit of cuDNN engines with 32-bit indexing (half of an
            // H200's free memory would allow tensors several times that, and no engine for them).
            return std::min(8.0 * (1 << 30), 0.5 * (static_cast<double>(free_bytes) + pooled));
        }
#endif
        return std::min(4.0 * (1 << 30), 0.5 * std::max(available_memory_bytes(), 1.0 * (1 << 30)));
    }

    // Mean over the 8 dihedral transforms: f(x) = mean_t T_t^-1(model(T_t(x))).
    Tensor<float> ensemble_forward(const Tensor<float>& input) const {
        const int h = static_cast<int>(input.dim(1)), w = static_cast<int>(input.dim(2)), s = scale();
        Tensor<float> sum = Tensor<float>::zeros({1, h * s, w * s, 3});
        auto back = Tensor<float>::empty(sum.shape());
        for (int t = 0; t < io::k_dihedral_count; ++t) {
            const io::DihedralMap map = io::dihedral_map(t, h, w);
            auto transformed = Tensor<float>::empty({1, map.out_height, map.out_width, 3});
            io::dihedral_copy(input.data(), h, w, 3, t, transformed.data());
            const Tensor<float> y = forward(transformed);
            io::dihedral_copy(y.data(), static_cast<int>(y.dim(1)), static_cast<int>(y.dim(2)), 3, io::dihedral_inverse(t),
                              back.data());
            ops::add_scaled_into(sum, sum, back, 1.f);
        }
        ops::scale_into(sum, sum, 1.f / io::k_dihedral_count);
        return sum;
    }

    // Quantizes a float core into the output image (round half to even, clamped; 16-bit x 257).
    static void write_core(const Tensor<float>& core, int64_t top, int64_t left, bool gray, io::Image& out) {
        const Tensor<float> c = core.contiguous();
        const int64_t h = c.dim(1), w = c.dim(2);
        const int channels = out.channels();
        for (int64_t y = 0; y < h; ++y) {
            const float* src = c.data() + y * w * 3;
            const std::size_t row = static_cast<std::size_t>((top + y) * out.width() + left) * channels;
            for (int64_t x = 0; x < w; ++x) {
                for (int ch = 0; ch < channels; ++ch) {
                    const float v = gray ? (src[3 * x] + src[3 * x + 1] + src[3 * x + 2]) / 3.f : src[3 * x + ch];
                    const std::size_t i = row + static_cast<std::size_t>(x * channels + ch);
                    if (out.bit_depth() == 8)
                        out.data8()[i] = io::quantize_u8(v);
                    else
                        out.data16()[i] = io::quantize_u16(static_cast<double>(v) * 257.0);
                }
            }
        }
    }

    struct CostCache {
        std::once_flag once;
        models::ForwardCost cost;
    };

    ModelVariant m_model;
    DeviceChoice m_device;
    std::shared_ptr<CostCache> m_cost = std::make_shared<CostCache>();
};

}  // namespace sr::infer
