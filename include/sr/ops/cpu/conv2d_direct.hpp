#pragma once
// Hand-written SIMD direct convolution for float on x86 (AVX2+FMA or AVX-512), NHWC / OHWI.
//
// Why our own kernel: on AVX2 machines oneDNN 2.6's NHWC convolution reaches only about half of
// the FMA peak (its fast kernels want the blocked nChw8c layout), and on every machine it needs a
// weight reorder per call. This kernel works on NHWC directly.
//
// Forward, per task (one image, a band of output rows):
//   1. copy the input rows the band reads into a zero-padded buffer (so borders need no tests);
//   2. for each block of OB = NV*L output channels and each run of PW output pixels of a row,
//      keep PW x NV vector accumulators in registers and, for every tap and input channel,
//      broadcast one input value per pixel and FMA it with NV weight vectors.
//   Weights are repacked per call to [out block][tap][in channel][OB] so each (tap, channel)
//   step reads OB contiguous floats; output channels beyond O are zero weights whose results are
//   never stored.
// Backward data is the forward with flipped, transposed weights (exact for stride 1, odd k).
// Backward weights accumulates dW[tap][c][o] += x[p + tap][c] * dy[p][o] over the band's pixels
// with CB x NV register accumulators, per thread, reduced at the end.
//
// Runtime ISA dispatch: the kernels (sr/ops/cpu/conv2d_direct_kernels.hpp) are compiled twice in
// every program that includes this header, once for AVX2+FMA and once for AVX-512, through target
// pragmas rather than -march, and the entry points below pick the widest variant the running CPU
// supports. So the engine's speed does not depend on the consumer's compiler flags, and a binary
// built on one x86-64 machine runs on any other. Non-x86 builds get no direct kernels (oneDNN
// runs every float convolution there).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "sr/core/error.hpp"
#include "sr/core/parallel.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define SR_DIRECT_X86 1
#else
#define SR_DIRECT_X86 0
#endif

namespace sr::ops::direct {

struct Geometry {
    int64_t n, h, w, c, o, k;
    int64_t pad() const { return k / 2; }
    int64_t padded_width() const { return w + 2 * pad(); }
};

// The instruction sets the kernels are compiled for, narrowest first.
enum class Isa { none, avx2, avx512 };

inline const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::avx2: return "avx2";
        case Isa::avx512: return "avx512";
        default: return "none";
    }
}

// Whether the running CPU (and OS) can execute a variant.
inline bool supported(Isa isa) {
#if SR_DIRECT_X86
    switch (isa) {
        case Isa::avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        case Isa::avx512:
            return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
        default: return true;
    }
#else
    return isa == Isa::none;
#endif
}

// The widest variant this CPU runs.
inline Isa best_isa() {
    if (supported(Isa::avx512)) return Isa::avx512;
    if (supported(Isa::avx2)) return Isa::avx2;
    return Isa::none;
}

namespace detail {
// The variant in use: best_isa(), or the environment's SR_DIRECT_ISA (avx2 | avx512) when this CPU
// supports it (a narrower variant for comparison; an unsupported request is an error).
inline Isa& isa_setting() {
    static Isa isa = [] {
        const char* env = std::getenv("SR_DIRECT_ISA");
        const std::string name = env ? env : "";
        if (name.empty()) return best_isa();
        const Isa wanted = name == "avx512" ? Isa::avx512 : name == "avx2" ? Isa::avx2 : Isa::none;
        SR_CHECK(wanted != Isa::none && supported(wanted), "SR_DIRECT_ISA=", name,
                 ": expected avx2 or avx512, supported by this CPU (best here: ", isa_name(best_isa()), ")");
        return wanted;
    }();
    return isa;
}
}  // namespace detail

inline Isa isa() { return detail::isa_setting(); }

// Selects the kernel variant for the whole process (tests run each supported one); the CPU must
// support it.
inline void set_isa(Isa isa) {
    SR_CHECK(supported(isa), "conv2d direct kernels: this CPU cannot run the ", isa_name(isa), " variant (best here: ",
             isa_name(best_isa()), ")");
    detail::isa_setting() = isa;
}

// Whether the direct kernels can run here.
inline bool available() { return isa() != Isa::none; }

}  // namespace sr::ops::direct

#define SR_PER_ISA_FILE "sr/ops/cpu/conv2d_direct_kernels.hpp"
#include "sr/ops/cpu/per_isa.hpp"

namespace sr::ops::direct {

namespace detail {
[[noreturn]] inline void no_variant() {
    fail("conv2d: the direct kernels need an x86 CPU with AVX2+FMA or AVX-512 (this one: ", isa_name(best_isa()),
         "); use SR_CONV_BACKEND=onednn");
}
}  // namespace detail

// y = conv(x, w) + b (+ y when accumulate), ReLU when relu. x NHWC, w OHWI, b [O] or null.
inline void conv2d_forward(const Geometry& g, const float* x, const float* w, const float* b, float* y, bool relu,
                           bool accumulate) {
#if SR_DIRECT_X86
    if (isa() == Isa::avx512) return avx512::conv2d_forward(g, x, w, b, y, relu, accumulate);
    if (isa() == Isa::avx2) return avx2::conv2d_forward(g, x, w, b, y, relu, accumulate);
#endif
    detail::no_variant();
}

// grad_x = conv(grad_y, flipped and transposed w): the input gradient, overwritten.
inline void conv2d_backward_data(const Geometry& g, const float* grad_y, const float* w, float* grad_x) {
#if SR_DIRECT_X86
    if (isa() == Isa::avx512) return avx512::conv2d_backward_data(g, grad_y, w, grad_x);
    if (isa() == Isa::avx2) return avx2::conv2d_backward_data(g, grad_y, w, grad_x);
#endif
    detail::no_variant();
}

// grad_w (OHWI) and grad_b ([O], skipped when null), overwritten.
inline void conv2d_backward_weights(const Geometry& g, const float* x, const float* grad_y, float* grad_w, float* grad_b) {
#if SR_DIRECT_X86
    if (isa() == Isa::avx512) return avx512::conv2d_backward_weights(g, x, grad_y, grad_w, grad_b);
    if (isa() == Isa::avx2) return avx2::conv2d_backward_weights(g, x, grad_y, grad_w, grad_b);
#endif
    detail::no_variant();
}

}  // namespace sr::ops::direct
