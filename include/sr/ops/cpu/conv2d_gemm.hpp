#pragma once
// Generic CPU conv2d for any scalar type (double for gradient checks, and float when oneDNN is not
// wanted): per output row and kernel tap, one small Eigen GEMM over the valid pixel run.
// "Same" zero padding falls out of clipping the runs at the borders. About half of oneDNN's speed
// (perf-limits.md §4.2), which is fine for what it serves.
//
// Threads: parallel_for splits the image rows, and every GEMM here runs on one thread. Eigen's own
// OpenMP threading collapses on these tall-skinny products (perf-limits.md §3). Inside
// parallel_for's team Eigen stays serial by itself (it checks omp_get_num_threads() > 1), but when
// parallel_for runs a body on the calling thread (a single image row, say) there is no team, and
// Eigen would start one per product; each body therefore holds a SerialOpenMpScope. Done here
// rather than with EIGEN_DONT_PARALLELIZE, a macro that would also change every consumer's own
// Eigen code.
#include <Eigen/Core>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "sr/core/parallel.hpp"

namespace sr::ops::gemm {

template <class T>
using RowMajorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>, 0, Eigen::OuterStride<>>;
template <class T>
using MutColMajor = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>>;
template <class T>
using ColMajor = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>>;

struct ConvGeometry {
    int64_t n, h, w, c, o, k;
    int64_t pad() const { return k / 2; }
    // Range of output columns [begin, end) whose tap kw reads an input column inside the image.
    void valid_columns(int64_t kw, int64_t& begin, int64_t& end) const {
        begin = std::max<int64_t>(0, pad() - kw);
        end = std::min<int64_t>(w, w + pad() - kw);
    }
};

// y = conv(x, w) + b (+ y when accumulate), ReLU when relu. Layouts as in sr/ops/conv2d.hpp.
template <class T>
void conv2d_forward(const ConvGeometry& g, const T* x, const T* weights, const T* bias, T* y, bool relu, bool accumulate) {
    const int64_t tap_stride = g.k * g.k * g.c;  // row stride of the OHWI weights
    parallel_for(g.n * g.h, 1, [&](int64_t row_begin, int64_t row_end) {
        const SerialOpenMpScope serial_gemms;
        for (int64_t row = row_begin; row < row_end; ++row) {
            const int64_t ni = row / g.h, hi = row % g.h;
            MutColMajor<T> out(y + (ni * g.h + hi) * g.w * g.o, g.o, g.w);  // [o x w]
            if (!accumulate) out.setZero();
            if (bias)
                out.colwise() += Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(bias, g.o);
            for (int64_t kh = 0; kh < g.k; ++kh) {
                const int64_t hin = hi + kh - g.pad();
                if (hin < 0 || hin >= g.h) continue;
                for (int64_t kw = 0; kw < g.k; ++kw) {
                    int64_t begin, end;
                    g.valid_columns(kw, begin, end);
                    if (begin >= end) continue;
                    RowMajorMap<T> tap(weights + (kh * g.k + kw) * g.c, g.o, g.c, Eigen::OuterStride<>(tap_stride));
                    ColMajor<T> in(x + ((ni * g.h + hin) * g.w + begin + kw - g.pad()) * g.c, g.c, end - begin);
                    out.middleCols(begin, end - begin).noalias() += tap * in;
                }
            }
            if (relu) out = out.cwiseMax(T(0));
        }
    });
}

// grad_x = sum over taps of tap^T * grad_y (shifted); overwrites grad_x.
template <class T>
void conv2d_backward_data(const ConvGeometry& g, const T* grad_y, const T* weights, T* grad_x) {
    const int64_t tap_stride = g.k * g.k * g.c;
    parallel_for(g.n * g.h, 1, [&](int64_t row_begin, int64_t row_end) {
        const SerialOpenMpScope serial_gemms;
        for (int64_t row = row_begin; row < row_end; ++row) {
            const int64_t ni = row / g.h, hin = row % g.h;
            MutColMajor<T> gx(grad_x + (ni * g.h + hin) * g.w * g.c, g.c, g.w);  // [c x w]
            gx.setZero();
            for (int64_t kh = 0; kh < g.k; ++kh) {
                const int64_t hout = hin - kh + g.pad();
                if (hout < 0 || hout >= g.h) continue;
                for (int64_t kw = 0; kw < g.k; ++kw) {
                    int64_t begin, end;  // output columns using this tap
                    g.valid_columns(kw, begin, end);
                    if (begin >= end) continue;
                    RowMajorMap<T> tap(weights + (kh * g.k + kw) * g.c, g.o, g.c, Eigen::OuterStride<>(tap_stride));
                    ColMajor<T> gy(grad_y + ((ni * g.h + hout) * g.w + begin) * g.o, g.o, end - begin);
                    gx.middleCols(begin + kw - g.pad(), end - begin).noalias() += tap.transpose() * gy;
                }
            }
        }
    });
}

// grad_w = sum over pixels of grad_y * x^T per tap, grad_b = sum of grad_y; both overwritten.
template <class T>
void conv2d_backward_weights(const ConvGeometry& g, const T* x, const T* grad_y, T* grad_w, T* grad_b) {
    const int64_t taps = g.k * g.k;
    const int threads = num_threads();
    // Per-thread partial sums, reduced at the end: threads own rows of the image.
    std::vector<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>> partial_w(static_cast<std::size_t>(threads));
    std::vector<Eigen::Matrix<T, Eigen::Dynamic, 1>> partial_b(static_cast<std::size_t>(threads));
    for (int t = 0; t < threads; ++t) {
        partial_w[t] = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>::Zero(g.o, taps * g.c);
        partial_b[t] = Eigen::Matrix<T, Eigen::Dynamic, 1>::Zero(g.o);
    }
    parallel_for(g.n * g.h, 1, [&](int64_t row_begin, int64_t row_end) {
        const SerialOpenMpScope serial_gemms;
        const int t = omp_get_thread_num();
        auto& pw = partial_w[t];
        for (int64_t row = row_begin; row < row_end; ++row) {
            const int64_t ni = row / g.h, hi = row % g.h;
            ColMajor<T> gy_row(grad_y + (ni * g.h + hi) * g.w * g.o, g.o, g.w);
            partial_b[t] += gy_row.rowwise().sum();
            for (int64_t kh = 0; kh < g.k; ++kh) {
                const int64_t hin = hi + kh - g.pad();
                if (hin < 0 || hin >= g.h) continue;
                for (int64_t kw = 0; kw < g.k; ++kw) {
                    int64_t begin, end;
                    g.valid_columns(kw, begin, end);
                    if (begin >= end) continue;
                    ColMajor<T> in(x + ((ni * g.h + hin) * g.w + begin + kw - g.pad()) * g.c, g.c, end - begin);
                    pw.middleCols((kh * g.k + kw) * g.c, g.c).noalias() += gy_row.middleCols(begin, end - begin) * in.transpose();
                }
            }
        }
    });
    Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic> total = partial_w[0];
    Eigen::Matrix<T, Eigen::Dynamic, 1> total_b = partial_b[0];
    for (int t = 1; t < threads; ++t) {
        total += partial_w[t];
        total_b += partial_b[t];
    }
    // total is [o x (taps*c)] column-major; OHWI wants row-major [o x (taps*c)].
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(grad_w, g.o, taps * g.c) = total;
    if (grad_b) Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>(grad_b, g.o) = total_b;
}

}  // namespace sr::ops::gemm
