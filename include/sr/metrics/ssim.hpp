#pragma once
// Structural similarity as the SR papers' MATLAB code and BasicSR compute it (Wang et al. 2004):
// an 11x11 Gaussian window with sigma 1.5 (normalised to sum 1), K1 = 0.01, K2 = 0.03, L = peak,
// 'valid' filtering (only windows wholly inside the image, so the map is (H-10) x (W-10)), no
// downsampling; SSIM = mean of the map. Multi-channel images: the mean over channels of each
// channel's SSIM. Local variances use E[x^2] - mu^2, computed in double.
#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <vector>

#include "sr/core/error.hpp"
#include "sr/core/parallel.hpp"
#include "sr/core/tensor.hpp"

namespace sr::metrics {

inline constexpr int k_ssim_window = 11;
inline constexpr double k_ssim_sigma = 1.5;
inline constexpr double k_ssim_k1 = 0.01;
inline constexpr double k_ssim_k2 = 0.03;

// The 1-D Gaussian whose outer product with itself is the 2-D window (both sum to 1).
inline std::array<double, k_ssim_window> ssim_gaussian_window() {
    std::array<double, k_ssim_window> g{};
    double sum = 0;
    for (int i = 0; i < k_ssim_window; ++i) {
        const double x = i - k_ssim_window / 2;
        g[i] = std::exp(-x * x / (2 * k_ssim_sigma * k_ssim_sigma));
        sum += g[i];
    }
    for (double& v : g) v /= sum;
    return g;
}

// Mean SSIM of channel `channel` of two contiguous [H, W, C] double images.
inline double ssim_channel(const double* a, const double* b, int64_t height, int64_t width, int64_t channels,
                           int64_t channel, double peak) {
    constexpr int r = k_ssim_window;
    const auto g = ssim_gaussian_window();
    const double c1 = (k_ssim_k1 * peak) * (k_ssim_k1 * peak), c2 = (k_ssim_k2 * peak) * (k_ssim_k2 * peak);
    const int64_t out_h = height - (r - 1), out_w = width - (r - 1);
    std::vector<double> row_sums(static_cast<std::size_t>(out_h), 0.0);
    std::atomic<bool> out_of_memory{false};
    // One output row per step: the window's vertical pass for every column, then the horizontal
    // pass. Rows are independent and their sums are added in order afterwards, so the result does
    // not depend on the thread count.
    parallel_for(out_h, 16, [&](int64_t begin, int64_t end) {
        try {
            std::vector<double> columns(static_cast<std::size_t>(5 * width));
            double* mu_a = columns.data();
            double* mu_b = mu_a + width;
            double* aa = mu_b + width;
            double* bb = aa + width;
            double* ab = bb + width;
            for (int64_t y = begin; y < end; ++y) {
                std::fill(columns.begin(), columns.end(), 0.0);
                for (int k = 0; k < r; ++k) {
                    const double* ra = a + (y + k) * width * channels + channel;
                    const double* rb = b + (y + k) * width * channels + channel;
                    for (int64_t x = 0; x < width; ++x) {
                        const double va = ra[x * channels], vb = rb[x * channels];
                        mu_a[x] += g[k] * va;
                        mu_b[x] += g[k] * vb;
                        aa[x] += g[k] * va * va;
                        bb[x] += g[k] * vb * vb;
                        ab[x] += g[k] * va * vb;
                    }
                }
                double sum = 0;
                for (int64_t x = 0; x < out_w; ++x) {
                    double ma = 0, mb = 0, saa = 0, sbb = 0, sab = 0;
                    for (int k = 0; k < r; ++k) {
                        ma += g[k] * mu_a[x + k];
                        mb += g[k] * mu_b[x + k];
                        saa += g[k] * aa[x + k];
                        sbb += g[k] * bb[x + k];
                        sab += g[k] * ab[x + k];
                    }
                    const double var_a = saa - ma * ma, var_b = sbb - mb * mb, cov = sab - ma * mb;
                    sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (var_a + var_b + c2));
                }
                row_sums[static_cast<std::size_t>(y)] = sum;
            }
        } catch (...) {
            out_of_memory = true;
        }
    });
    SR_CHECK(!out_of_memory, "ssim: out of memory for a ", height, "x", width, " image");
    double total = 0;
    for (double s : row_sums) total += s;
    return total / static_cast<double>(out_h * out_w);
}

// SSIM of two [H, W, C] images (H, W >= 11) in units where `peak` is the largest value (255 for
// 8-bit pixel units): 1 for identical images.
template <class T>
double ssim(const Tensor<T, Cpu>& a, const Tensor<T, Cpu>& b, double peak = 255.0) {
    SR_CHECK(a.shape() == b.shape(), "ssim: shapes ", a.shape(), " and ", b.shape(), " differ");
    SR_CHECK(a.rank() == 3, "ssim: expected [H, W, C] images, got shape ", a.shape());
    SR_CHECK(a.dim(0) >= k_ssim_window && a.dim(1) >= k_ssim_window, "ssim: a ", a.dim(0), "x", a.dim(1),
             " image is smaller than the ", k_ssim_window, "x", k_ssim_window, " window");
    SR_CHECK(a.dim(2) >= 1, "ssim: image of shape ", a.shape(), " has no channels");
    const Tensor<double, Cpu> ad = a.template cast<double>(), bd = b.template cast<double>();
    double total = 0;
    for (int64_t c = 0; c < a.dim(2); ++c)
        total += ssim_channel(ad.data(), bd.data(), a.dim(0), a.dim(1), a.dim(2), c, peak);
    return total / static_cast<double>(a.dim(2));
}

}  // namespace sr::metrics
