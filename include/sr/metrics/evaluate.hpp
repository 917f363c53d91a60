#pragma once
// Evaluation protocols (docs/metrics.md) and the per-image-pair entry point sr-eval calls.
//
//   seed():       krasserm/wdsr bench.py: RGB, float SR as the network gives it (no rounding or
//                 clipping), no border shave; PSNR as tf.image.psnr with max_val 255.
//   paper(s):     the papers' benchmark protocol (Set5, Set14, B100, Urban100): SR quantized to
//                 uint8 (round half to even, clamped), BT.601 Y, s pixels shaved from each border.
//   paper_rgb(s): EDSR's DIV2K validation protocol: quantized, RGB, s + 6 pixels shaved.
//
// PSNR and SSIM are computed per image pair; a data set's score is the mean over its images.
#include <limits>
#include <string>

#include "sr/core/error.hpp"
#include "sr/core/tensor.hpp"
#include "sr/metrics/preprocess.hpp"
#include "sr/metrics/psnr.hpp"
#include "sr/metrics/ssim.hpp"

namespace sr::metrics {

struct MetricsProtocol {
    bool quantize = false;   // round both images to uint8 values first (a no-op on 8-bit HR)
    bool y_channel = false;  // compare BT.601 Y instead of RGB (3 channels; 1 channel is used as it is)
    bool round_y = false;    // round Y to uint8, as MATLAB's rgb2ycbcr does on uint8 input
    int border = 0;          // pixels removed from each side before comparing

    static MetricsProtocol seed() { return {}; }
    static MetricsProtocol paper(int scale) {
        SR_CHECK(scale >= 1, "MetricsProtocol::paper: scale ", scale, " must be at least 1");
        return {.quantize = true, .y_channel = true, .round_y = false, .border = scale};
    }
    static MetricsProtocol paper_rgb(int scale) {
        SR_CHECK(scale >= 1, "MetricsProtocol::paper_rgb: scale ", scale, " must be at least 1");
        return {.quantize = true, .y_channel = false, .round_y = false, .border = scale + 6};
    }

    // One line for logs and reports, e.g. "uint8, Y (BT.601), border 4".
    std::string describe() const {
        std::string s = quantize ? "uint8" : "float";
        s += y_channel ? (round_y ? ", Y (BT.601, rounded)" : ", Y (BT.601)") : ", RGB";
        s += ", border " + std::to_string(border);
        return s;
    }
};

struct ImageMetrics {
    double psnr = 0;                                      // dB; +inf for identical images
    double ssim = std::numeric_limits<double>::quiet_NaN();  // NaN when not computed
};

// The images compared under a protocol: quantized, converted to Y and shaved as it says.
inline Tensor<double, Cpu> apply_protocol(const Tensor<double, Cpu>& hwc, const MetricsProtocol& protocol) {
    Tensor<double, Cpu> image = protocol.quantize ? quantize_uint8(hwc) : hwc;
    // A one-channel image is its own luma, as in the papers' MATLAB scripts, which skip rgb2ycbcr
    // for gray images (Set14's bridge); expanding it to RGB first would scale its errors by 219/255.
    if (protocol.y_channel && image.dim(2) != 1) {
        SR_CHECK(image.dim(2) == 3, "metrics: the Y-channel protocol needs RGB or gray images, got ", image.dim(2),
                 " channels (drop the alpha channel first)");
        image = rgb_to_y(image);
        if (protocol.round_y) image = quantize_uint8(image);
    }
    return shave_border(image, protocol.border);
}

// PSNR (peak 255) and, when with_ssim, SSIM of a super-resolved image against its ground truth.
// Both are CPU tensors [1, H, W, C] or [H, W, C] of one shape, in pixel units (0..255).
inline ImageMetrics evaluate_pair(const Tensor<float, Cpu>& sr, const Tensor<float, Cpu>& hr,
                                  const MetricsProtocol& protocol, bool with_ssim = true) {
    const Tensor<double, Cpu> sr_hwc = to_hwc(sr, "evaluate_pair: SR image");
    const Tensor<double, Cpu> hr_hwc = to_hwc(hr, "evaluate_pair: HR image");
    SR_CHECK(sr_hwc.shape() == hr_hwc.shape(), "evaluate_pair: SR image ", sr_hwc.shape(), " and HR image ",
             hr_hwc.shape(), " differ in shape (crop HR to the SR size first)");
    SR_CHECK(2 * protocol.border < sr_hwc.dim(0) && 2 * protocol.border < sr_hwc.dim(1), "evaluate_pair: border ",
             protocol.border, " leaves nothing of a ", sr_hwc.dim(0), "x", sr_hwc.dim(1), " image");
    const Tensor<double, Cpu> a = apply_protocol(sr_hwc, protocol);
    const Tensor<double, Cpu> b = apply_protocol(hr_hwc, protocol);
    ImageMetrics out;
    out.psnr = psnr(a, b);
    if (with_ssim) out.ssim = ssim(a, b);
    return out;
}

}  // namespace sr::metrics
