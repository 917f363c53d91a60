// The direct convolution kernels for one instruction set. No include guard on purpose:
// sr/ops/cpu/conv2d_direct.hpp compiles this file once per instruction set through
// sr/ops/cpu/per_isa.hpp, inside namespace sr::ops::direct::<isa> with that instruction set's
// target pragma active and SR_DIRECT_LANES set (16: AVX-512, 8: AVX2+FMA), so one binary carries
// every variant and picks one at run time whatever -march it was compiled with. Include that
// header, never this one.
#if SR_DIRECT_LANES == 16
inline constexpr int k_lanes = 16;
inline constexpr int k_accumulators = 24;  // of 32 vector registers: the rest hold weights and a broadcast
using vreg = __m512;
inline vreg vload(const float* p) { return _mm512_loadu_ps(p); }
inline void vstore(float* p, vreg v) { _mm512_storeu_ps(p, v); }
inline vreg vbroadcast(const float* p) { return _mm512_set1_ps(*p); }
inline vreg vfma(vreg a, vreg b, vreg c) { return _mm512_fmadd_ps(a, b, c); }
inline vreg vadd(vreg a, vreg b) { return _mm512_add_ps(a, b); }
inline vreg vrelu(vreg a) { return _mm512_max_ps(a, _mm512_setzero_ps()); }
inline vreg vzero() { return _mm512_setzero_ps(); }
#elif SR_DIRECT_LANES == 8
inline constexpr int k_lanes = 8;
inline constexpr int k_accumulators = 12;  // of 16 vector registers
using vreg = __m256;
inline vreg vload(const float* p) { return _mm256_loadu_ps(p); }
inline void vstore(float* p, vreg v) { _mm256_storeu_ps(p, v); }
inline vreg vbroadcast(const float* p) { return _mm256_broadcast_ss(p); }
inline vreg vfma(vreg a, vreg b, vreg c) { return _mm256_fmadd_ps(a, b, c); }
inline vreg vadd(vreg a, vreg b) { return _mm256_add_ps(a, b); }
inline vreg vrelu(vreg a) { return _mm256_max_ps(a, _mm256_setzero_ps()); }
inline vreg vzero() { return _mm256_setzero_ps(); }
#else
#error "sr/ops/cpu/conv2d_direct_kernels.hpp: SR_DIRECT_LANES must be 16 or 8 (include sr/ops/cpu/conv2d_direct.hpp)"
#endif

// Output channels per register block: NV vectors, NV chosen from {1, 2, 4} so small outputs
// (3, 12, 25 channels) waste little work on padding.
inline int vectors_per_block(int64_t out_channels) {
    const int64_t vectors = (out_channels + k_lanes - 1) / k_lanes;
    if (vectors >= 4 && k_accumulators >= 24) return 4;
    if (vectors >= 2) return 2;
    return 1;
}

namespace detail {

inline std::vector<float>& thread_buffer(int which) {
    thread_local std::vector<float> buffers[3];
    return buffers[which];
}

// Rows [row_begin - pad, row_end + pad) of image n, zero-padded left, right, top and bottom, with
// channels outermost: band[r][c][x], x in [0, W + 2*pad). In this layout the PW pixels a tile
// broadcasts for one channel sit at fixed small offsets from one pointer, so the kernel needs one
// address register however wide the tile (with NHWC it needed one per pixel and GCC spilled).
inline const float* padded_band_channels_outer(const Geometry& g, const float* x, int64_t n, int64_t row_begin,
                                               int64_t row_end, std::vector<float>& band) {
    const int64_t p = g.pad(), wp = g.padded_width(), rows = row_end - row_begin + 2 * p;
    band.assign(static_cast<std::size_t>(rows * g.c * wp), 0.f);
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t src_row = row_begin - p + r;
        if (src_row < 0 || src_row >= g.h) continue;
        const float* src = x + ((n * g.h + src_row) * g.w) * g.c;
        float* dst = band.data() + r * g.c * wp + p;
        for (int64_t px = 0; px < g.w; ++px)
            for (int64_t ci = 0; ci < g.c; ++ci) dst[ci * wp + px] = src[px * g.c + ci];
    }
    return band.data();
}

// Rows [row_begin - pad, row_end + pad) of image n, zero-padded left, right, top and bottom:
// band[r][x][c] with x in [0, W + 2*pad).
inline const float* padded_band(const Geometry& g, const float* x, int64_t n, int64_t row_begin, int64_t row_end,
                                std::vector<float>& band) {
    const int64_t p = g.pad(), wp = g.padded_width(), rows = row_end - row_begin + 2 * p;
    band.assign(static_cast<std::size_t>(rows * wp * g.c), 0.f);
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t src_row = row_begin - p + r;
        if (src_row < 0 || src_row >= g.h) continue;
        std::memcpy(band.data() + (r * wp + p) * g.c, x + ((n * g.h + src_row) * g.w) * g.c,
                    static_cast<std::size_t>(g.w * g.c) * sizeof(float));
    }
    return band.data();
}

// Accumulates a PW-pixel x NV-vector output tile over all taps and input channels.
//   in:  channels-outer band at (this output row, channel 0, first pixel); channel stride Wp,
//        row stride C*Wp
//   w:   packed weights of this channel block, [tap][c][NV*L]
//   out: PW pixels with stride out_stride; bias: NV*L values; accumulate: add out's old values
template <int PW, int NV>
inline void forward_tile(const float* in, int64_t c, int64_t wp, int64_t k, const float* w, const float* bias,
                         float* out, int64_t out_stride, bool accumulate, bool relu) {
    constexpr int OB = NV * k_lanes;
    vreg acc[PW][NV];
    for (int j = 0; j < NV; ++j) {
        const vreg b = vload(bias + j * k_lanes);
        for (int p = 0; p < PW; ++p) acc[p][j] = accumulate ? vadd(b, vload(out + p * out_stride + j * k_lanes)) : b;
    }
    for (int64_t kh = 0; kh < k; ++kh) {
        for (int64_t kw = 0; kw < k; ++kw) {
            const float* xp = in + kh * c * wp + kw;
            const float* wt = w + (kh * k + kw) * c * OB;
            for (int64_t ci = 0; ci < c; ++ci, xp += wp, wt += OB) {
                vreg wv[NV];
#pragma GCC unroll 4
                for (int j = 0; j < NV; ++j) wv[j] = vload(wt + j * k_lanes);
#pragma GCC unroll 24
                for (int p = 0; p < PW; ++p) {
                    const vreg b = vbroadcast(xp + p);
#pragma GCC unroll 4
                    for (int j = 0; j < NV; ++j) acc[p][j] = vfma(b, wv[j], acc[p][j]);
                }
            }
        }
    }
    for (int p = 0; p < PW; ++p)
        for (int j = 0; j < NV; ++j) vstore(out + p * out_stride + j * k_lanes, relu ? vrelu(acc[p][j]) : acc[p][j]);
}

// forward_tile for a run of `pixels` < PW (the end of a row): the template instance for that count.
template <int NV, int R = 1, int PW>
inline void forward_tile_remainder(int pixels, const float* in, int64_t c, int64_t wp, int64_t k, const float* w,
                                   const float* bias, float* out, int64_t out_stride, bool accumulate, bool relu) {
    if constexpr (R < PW) {
        if (pixels == R) return forward_tile<R, NV>(in, c, wp, k, w, bias, out, out_stride, accumulate, relu);
        forward_tile_remainder<NV, R + 1, PW>(pixels, in, c, wp, k, w, bias, out, out_stride, accumulate, relu);
    }
}

// Packs OHWI weights [o][kh][kw][c] into [block][tap][c][OB] (zeros beyond O). With `flip`, packs
// the weights of the adjoint convolution instead: w'[c][kh][kw][o] = w[o][k-1-kh][k-1-kw][c], so
// that forward() computes the input gradient.
inline std::vector<float> pack_weights(const float* w, int64_t o, int64_t k, int64_t c, int ob, bool flip) {
    const int64_t out_ch = flip ? c : o, in_ch = flip ? o : c;
    const int64_t blocks = (out_ch + ob - 1) / ob, taps = k * k;
    std::vector<float> packed(static_cast<std::size_t>(blocks * taps * in_ch * ob), 0.f);
    for (int64_t oc = 0; oc < out_ch; ++oc)
        for (int64_t tap = 0; tap < taps; ++tap)
            for (int64_t ic = 0; ic < in_ch; ++ic) {
                const float value = flip ? w[((ic * k + (k - 1 - tap / k)) * k + (k - 1 - tap % k)) * c + oc]
                                         : w[(oc * taps + tap) * c + ic];
                packed[static_cast<std::size_t>(((oc / ob * taps + tap) * in_ch + ic) * ob + oc % ob)] = value;
            }
    return packed;
}

template <int NV>
void forward_impl(const Geometry& g, const float* x, const float* packed, const float* bias, float* y, bool accumulate,
                  bool relu) {
    constexpr int OB = NV * k_lanes;
    constexpr int PW = k_accumulators / NV;
    const int64_t blocks = (g.o + OB - 1) / OB, taps = g.k * g.k, wp = g.padded_width();
    std::vector<float> bias_padded(static_cast<std::size_t>(blocks * OB), 0.f);
    if (bias) std::copy(bias, bias + g.o, bias_padded.begin());
    const int64_t band_rows = std::max<int64_t>(1, std::min<int64_t>(8, (g.n * g.h) / (4 * num_threads()) + 1));
    const int64_t bands_per_image = (g.h + band_rows - 1) / band_rows, tasks = g.n * bands_per_image;

#pragma omp parallel for schedule(dynamic, 1) if (tasks > 1 && !omp_in_parallel())
    for (int64_t task = 0; task < tasks; ++task) {
        const int64_t n = task / bands_per_image, row_begin = task % bands_per_image * band_rows;
        const int64_t row_end = std::min(g.h, row_begin + band_rows);
        const float* band = padded_band_channels_outer(g, x, n, row_begin, row_end, thread_buffer(0));
        std::vector<float>& tile = thread_buffer(1);
        tile.resize(static_cast<std::size_t>(PW * OB));
        for (int64_t block = 0; block < blocks; ++block) {
            const float* wblock = packed + block * taps * g.c * OB;
            const float* bblock = bias_padded.data() + block * OB;
            const int64_t o0 = block * OB, valid = std::min<int64_t>(OB, g.o - o0);
            for (int64_t row = row_begin; row < row_end; ++row) {
                const float* in_row = band + (row - row_begin) * g.c * wp;
                float* out_row = y + ((n * g.h + row) * g.w) * g.o + o0;
                for (int64_t x0 = 0; x0 < g.w; x0 += PW) {
                    const int pixels = static_cast<int>(std::min<int64_t>(PW, g.w - x0));
                    const float* in = in_row + x0;
                    if (valid == OB) {
                        float* out = out_row + x0 * g.o;
                        if (pixels == PW)
                            forward_tile<PW, NV>(in, g.c, wp, g.k, wblock, bblock, out, g.o, accumulate, relu);
                        else
                            forward_tile_remainder<NV, 1, PW>(pixels, in, g.c, wp, g.k, wblock, bblock, out, g.o,
                                                              accumulate, relu);
                        continue;
                    }
                    // A partial channel block goes through a tile so no store passes channel O.
                    float* out = out_row + x0 * g.o;
                    for (int p = 0; p < pixels; ++p) {
                        std::fill_n(tile.data() + p * OB, OB, 0.f);
                        if (accumulate) std::copy_n(out + p * g.o, valid, tile.data() + p * OB);
                    }
                    if (pixels == PW)
                        forward_tile<PW, NV>(in, g.c, wp, g.k, wblock, bblock, tile.data(), OB, accumulate, relu);
                    else
                        forward_tile_remainder<NV, 1, PW>(pixels, in, g.c, wp, g.k, wblock, bblock, tile.data(), OB,
                                                          accumulate, relu);
                    for (int p = 0; p < pixels; ++p) std::copy_n(tile.data() + p * OB, valid, out + p * g.o);
                }
            }
        }
    }
}

// dW partial sums for one (tap, channel block, output block): CB input channels broadcast,
// NV vectors of output-channel gradients, over `rows` x W pixels.
//   x: band at (first row, pixel 0 shifted by the tap, first channel), pixel stride C, row stride Wp*C
//   dy: gradient rows at (first row, pixel 0, first channel of the block), pixel stride ys, row stride W*ys
//   dw: [c][Opad] partial sums at (c0, o0), row stride opad
template <int CB, int NV>
inline void weights_tile(const float* x, int64_t c, int64_t x_row_stride, const float* dy, int64_t ys, int64_t rows,
                         int64_t width, float* dw, int64_t opad) {
    vreg acc[CB][NV];
    for (int ci = 0; ci < CB; ++ci)
        for (int j = 0; j < NV; ++j) acc[ci][j] = vzero();
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x + r * x_row_stride;
        const float* yr = dy + r * width * ys;
        for (int64_t px = 0; px < width; ++px) {
            vreg gv[NV];
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) gv[j] = vload(yr + px * ys + j * k_lanes);
#pragma GCC unroll 24
            for (int ci = 0; ci < CB; ++ci) {
                const vreg b = vbroadcast(xr + px * c + ci);
#pragma GCC unroll 4
                for (int j = 0; j < NV; ++j) acc[ci][j] = vfma(b, gv[j], acc[ci][j]);
            }
        }
    }
    for (int ci = 0; ci < CB; ++ci)
        for (int j = 0; j < NV; ++j) {
            float* d = dw + ci * opad + j * k_lanes;
            vstore(d, vadd(vload(d), acc[ci][j]));
        }
}

template <int NV, int R = 1, int CB>
inline void weights_tile_remainder(int channels, const float* x, int64_t c, int64_t x_row_stride, const float* dy,
                                   int64_t ys, int64_t rows, int64_t width, float* dw, int64_t opad) {
    if constexpr (R < CB) {
        if (channels == R) return weights_tile<R, NV>(x, c, x_row_stride, dy, ys, rows, width, dw, opad);
        weights_tile_remainder<NV, R + 1, CB>(channels, x, c, x_row_stride, dy, ys, rows, width, dw, opad);
    }
}

inline constexpr int64_t k_segment_pixels = 32;

template <int NV>
void backward_weights_impl(const Geometry& g, const float* x, const float* dy, float* dw, float* db) {
    constexpr int OB = NV * k_lanes;
    constexpr int CB = k_accumulators / NV;
    const int64_t blocks = (g.o + OB - 1) / OB, opad = blocks * OB, taps = g.k * g.k, wp = g.padded_width();
    const int threads = num_threads();
    // Per-thread partial sums: [tap][c][opad] for the weights, [opad] for the bias.
    std::vector<std::vector<float>> partial(static_cast<std::size_t>(threads));
    std::vector<std::vector<double>> partial_bias(static_cast<std::size_t>(threads));
    const int64_t band_rows = std::max<int64_t>(1, std::min<int64_t>(8, (g.n * g.h) / (4 * threads) + 1));
    const int64_t bands_per_image = (g.h + band_rows - 1) / band_rows, tasks = g.n * bands_per_image;

#pragma omp parallel num_threads(threads) if (tasks > 1 && !omp_in_parallel())
    {
        const int t = omp_get_thread_num();
        auto& mine = partial[static_cast<std::size_t>(t)];
        auto& mine_bias = partial_bias[static_cast<std::size_t>(t)];
        mine.assign(static_cast<std::size_t>(taps * g.c * opad), 0.f);
        mine_bias.assign(static_cast<std::size_t>(opad), 0.0);
        // Static assignment: each thread sums the same tasks in the same order on every run, so
        // gradients (and training) are bit-for-bit reproducible for a given thread count.
#pragma omp for schedule(static)
        for (int64_t task = 0; task < tasks; ++task) {
            const int64_t n = task / bands_per_image, row_begin = task % bands_per_image * band_rows;
            const int64_t row_end = std::min(g.h, row_begin + band_rows), rows = row_end - row_begin;
            const float* band = padded_band(g, x, n, row_begin, row_end, thread_buffer(0));
            // Output gradients of the band with channels padded to opad (vector loads past O
            // must read zeros).
            const float* grad = dy + ((n * g.h + row_begin) * g.w) * g.o;
            if (opad != g.o) {
                std::vector<float>& padded = thread_buffer(2);
                padded.assign(static_cast<std::size_t>(rows * g.w * opad), 0.f);
                for (int64_t px = 0; px < rows * g.w; ++px)
                    std::copy_n(grad + px * g.o, g.o, padded.data() + px * opad);
                grad = padded.data();
            }
            for (int64_t px = 0; px < rows * g.w; ++px)
                for (int64_t oc = 0; oc < g.o; ++oc) mine_bias[oc] += grad[px * opad + oc];
            // Pixel segments short enough that the input rows and gradients they read stay in L1
            // while every (tap, channel block, output block) sweeps over them.
            const int64_t segments = (g.w + k_segment_pixels - 1) / k_segment_pixels;
            const int64_t segment = (g.w + segments - 1) / segments;
            for (int64_t r = 0; r < rows; ++r) {
                for (int64_t x0 = 0; x0 < g.w; x0 += segment) {
                    const int64_t width = std::min(segment, g.w - x0);
                    const float* grad_segment = grad + (r * g.w + x0) * opad;
                    for (int64_t tap = 0; tap < taps; ++tap) {
                        const int64_t kh = tap / g.k, kw = tap % g.k;
                        const float* xt = band + ((r + kh) * wp + x0 + kw) * g.c;
                        for (int64_t block = 0; block < blocks; ++block) {
                            for (int64_t c0 = 0; c0 < g.c; c0 += CB) {
                                const int channels = static_cast<int>(std::min<int64_t>(CB, g.c - c0));
                                float* d = mine.data() + (tap * g.c + c0) * opad + block * OB;
                                if (channels == CB)
                                    weights_tile<CB, NV>(xt + c0, g.c, 0, grad_segment + block * OB, opad, 1, width, d,
                                                         opad);
                                else
                                    weights_tile_remainder<NV, 1, CB>(channels, xt + c0, g.c, 0, grad_segment + block * OB,
                                                                      opad, 1, width, d, opad);
                            }
                        }
                    }
                }
            }
        }
    }
    // Reduce the partial sums into OHWI dW and dB.
    for (int64_t oc = 0; oc < g.o; ++oc) {
        for (int64_t tap = 0; tap < taps; ++tap)
            for (int64_t ic = 0; ic < g.c; ++ic) {
                float total = 0.f;
                for (const auto& p : partial)
                    if (!p.empty()) total += p[static_cast<std::size_t>((tap * g.c + ic) * opad + oc)];
                dw[(oc * taps + tap) * g.c + ic] = total;
            }
        if (db) {
            double total = 0;
            for (const auto& p : partial_bias)
                if (!p.empty()) total += p[static_cast<std::size_t>(oc)];
            db[oc] = static_cast<float>(total);
        }
    }
}

// Calls f(std::integral_constant<int, nv>) for a run-time nv in 1..4, so the kernels are
// instantiated for every register blocking once.
template <class F>
void with_vectors(int nv, F&& f) {
    switch (nv) {
        case 1: return f(std::integral_constant<int, 1>{});
        case 2: return f(std::integral_constant<int, 2>{});
        case 3: return f(std::integral_constant<int, 3>{});
        default: return f(std::integral_constant<int, 4>{});
    }
}

}  // namespace detail

// y = conv(x, w) + b (+ y when accumulate), ReLU when relu. x NHWC, w OHWI, b [O] or null.
inline void conv2d_forward(const Geometry& g, const float* x, const float* w, const float* b, float* y, bool relu,
                           bool accumulate) {
    const int nv = vectors_per_block(g.o);
    const auto packed = detail::pack_weights(w, g.o, g.k, g.c, nv * k_lanes, false);
    detail::with_vectors(nv, [&](auto v) { detail::forward_impl<v()>(g, x, packed.data(), b, y, accumulate, relu); });
}

// grad_x = conv(grad_y, flipped and transposed w): the input gradient, overwritten.
inline void conv2d_backward_data(const Geometry& g, const float* grad_y, const float* w, float* grad_x) {
    const Geometry adjoint{g.n, g.h, g.w, g.o, g.c, g.k};
    const int nv = vectors_per_block(adjoint.o);
    const auto packed = detail::pack_weights(w, g.o, g.k, g.c, nv * k_lanes, true);
    detail::with_vectors(nv, [&](auto v) {
        detail::forward_impl<v()>(adjoint, grad_y, packed.data(), nullptr, grad_x, false, false);
    });
}

// grad_w (OHWI) and grad_b ([O], skipped when null), overwritten.
inline void conv2d_backward_weights(const Geometry& g, const float* x, const float* grad_y, float* grad_w, float* grad_b) {
    const int nv = vectors_per_block(g.o);
    detail::with_vectors(nv, [&](auto v) { detail::backward_weights_impl<v()>(g, x, grad_y, grad_w, grad_b); });
}

