// The fused kernels of WDSR-B's 1x1 pair (sr/ops/cpu/wide_pair_direct.hpp) for one instruction
// set. No include guard on purpose: that header compiles this file once per instruction set
// through sr/ops/cpu/per_isa.hpp, inside namespace sr::ops::direct::<isa> with the target pragma
// active, after conv2d_direct_kernels.hpp, whose vector helpers (vreg, vload, vfma, k_lanes,
// k_accumulators, detail::with_vectors, detail::thread_buffer) it builds on. Include that header,
// never this one.
namespace wide_pair {

// Pixels per tile: the tile's wide activation (tile x wide floats, 48 KiB at 192 channels) and
// its gradient stay in the core's L2 between the passes that write and read them.
inline constexpr int64_t k_tile_pixels = 64;

inline int64_t round_to_lanes(int64_t n) { return (n + k_lanes - 1) / k_lanes * k_lanes; }

// Row tile of the small GEMMs below for NV column vectors: as many rows as the accumulators allow,
// at most 8, so the row addresses of A stay in registers too.
template <int NV>
inline constexpr int k_rows = k_accumulators / NV < 8 ? k_accumulators / NV : 8;

// For MR rows i and NV*k_lanes columns: C[i][:] = epilogue(init + sum_k A(i, k) * B[k][:]) with
// A(i, k) = a[i * a_row + k * a_col] (any layout: row-major, or transposed with a_row = 1), B rows
// ldb apart, C rows ldc apart; init = bias (NV*k_lanes values, or 0 when null), plus C's old
// values when accumulate; epilogue = ReLU when relu.
template <int MR, int NV>
inline void gemm_tile(int64_t depth, const float* a, int64_t a_row, int64_t a_col, const float* b, int64_t ldb, float* c,
                      int64_t ldc, const float* bias, bool accumulate, bool relu) {
    // Every loop over i and j unrolled: the accumulators must stay registers (an array indexed in
    // a rolled loop lives in memory, and GCC then stores it back on every k).
    vreg acc[MR][NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
        const vreg init = bias ? vload(bias + j * k_lanes) : vzero();
#pragma GCC unroll 24
        for (int i = 0; i < MR; ++i) acc[i][j] = accumulate ? vadd(init, vload(c + i * ldc + j * k_lanes)) : init;
    }
    const float* row[MR];
#pragma GCC unroll 24
    for (int i = 0; i < MR; ++i) row[i] = a + i * a_row;
    for (int64_t k = 0; k < depth; ++k) {
        vreg bv[NV];
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) bv[j] = vload(b + k * ldb + j * k_lanes);
#pragma GCC unroll 24
        for (int i = 0; i < MR; ++i) {
            const vreg s = vbroadcast(row[i] + k * a_col);
#pragma GCC unroll 4
            for (int j = 0; j < NV; ++j) acc[i][j] = vfma(s, bv[j], acc[i][j]);
        }
    }
#pragma GCC unroll 24
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) vstore(c + i * ldc + j * k_lanes, relu ? vrelu(acc[i][j]) : acc[i][j]);
}

// gemm_tile for rows < MR (the last rows of a matrix): the instance for that count.
template <int NV, int R, int MR>
inline void gemm_tile_remainder(int rows, int64_t depth, const float* a, int64_t a_row, int64_t a_col, const float* b,
                                int64_t ldb, float* c, int64_t ldc, const float* bias, bool accumulate, bool relu) {
    if constexpr (R < MR) {
        if (rows == R) return gemm_tile<R, NV>(depth, a, a_row, a_col, b, ldb, c, ldc, bias, accumulate, relu);
        gemm_tile_remainder<NV, R + 1, MR>(rows, depth, a, a_row, a_col, b, ldb, c, ldc, bias, accumulate, relu);
    }
}

// C[m][n] = epilogue(bias + sum_k A(i, k) * B[k][j]) (+ C's old values when accumulate), one
// thread; n a multiple of k_lanes (callers pad B, C and bias with zero columns), A as in gemm_tile.
inline void gemm(int64_t m, int64_t n, int64_t depth, const float* a, int64_t a_row, int64_t a_col, const float* b,
                 int64_t ldb, float* c, int64_t ldc, const float* bias, bool accumulate, bool relu) {
    const int64_t vectors = n / k_lanes;
    for (int64_t v0 = 0; v0 < vectors;) {
        const int nv = static_cast<int>(std::min<int64_t>(4, vectors - v0));
        const int64_t col = v0 * k_lanes;
        detail::with_vectors(nv, [&](auto v) {
            constexpr int NV = v(), MR = k_rows<NV>;
            const float* bias_block = bias ? bias + col : nullptr;
            int64_t i = 0;
            for (; i + MR <= m; i += MR)
                gemm_tile<MR, NV>(depth, a + i * a_row, a_row, a_col, b + col, ldb, c + i * ldc + col, ldc, bias_block,
                                  accumulate, relu);
            if (i < m)
                gemm_tile_remainder<NV, 1, MR>(static_cast<int>(m - i), depth, a + i * a_row, a_row, a_col, b + col, ldb,
                                               c + i * ldc + col, ldc, bias_block, accumulate, relu);
        });
        v0 += nv;
    }
}

// dst[r][0, cols) = src[r][0, cols) for `rows` rows; the strides may differ (padding in or out).
inline void copy_rows(int64_t rows, int64_t cols, const float* src, int64_t src_stride, float* dst, int64_t dst_stride) {
    for (int64_t r = 0; r < rows; ++r) std::copy_n(src + r * src_stride, cols, dst + r * dst_stride);
}

// [rows][cols] row-major -> [cols][padded] (transposed, zero columns beyond rows): the B operand
// "k = input channel, n = output channel" from OHWI 1x1 weights [out][in].
inline std::vector<float> pack_transposed(const float* w, int64_t rows, int64_t cols, int64_t padded) {
    std::vector<float> packed(static_cast<std::size_t>(cols * padded), 0.f);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t k = 0; k < cols; ++k) packed[static_cast<std::size_t>(k * padded + r)] = w[r * cols + k];
    return packed;
}

// [rows][cols] -> [rows][padded] with zero columns beyond cols (and `values` -> `padded` zeros).
inline std::vector<float> pack_padded(const float* w, int64_t rows, int64_t cols, int64_t padded) {
    std::vector<float> packed(static_cast<std::size_t>(rows * padded), 0.f);
    if (w) copy_rows(rows, cols, w, cols, packed.data(), padded);
    return packed;
}

// The one-thread buffers of a tile, sized once per call.
inline float* tile_buffer(int which, int64_t floats) {
    auto& buffer = detail::thread_buffer(which);
    if (buffer.size() < static_cast<std::size_t>(floats)) buffer.resize(static_cast<std::size_t>(floats));
    return buffer.data();
}

}  // namespace wide_pair

// y = relu(x · we^T + be) · wr^T + br per pixel; shapes and layouts in sr/ops/cpu/wide_pair_direct.hpp.
inline void wide_pair_forward(const WidePairShape& s, const float* x, const float* we, const float* be, const float* wr,
                              const float* br, float* y) {
    using namespace wide_pair;
    const int64_t wide_p = round_to_lanes(s.wide), out_p = round_to_lanes(s.out);
    const auto we_t = pack_transposed(we, s.wide, s.c, wide_p);   // [c][wide_p]
    const auto wr_t = pack_transposed(wr, s.out, s.wide, out_p);  // [wide][out_p]
    const auto be_p = pack_padded(be, 1, s.wide, wide_p), br_p = pack_padded(br, 1, s.out, out_p);
    const int64_t tiles = (s.pixels + k_tile_pixels - 1) / k_tile_pixels;
    parallel_for(tiles, 1, [&](int64_t begin, int64_t end) {
        float* wide = tile_buffer(0, k_tile_pixels * wide_p);
        float* out = tile_buffer(1, k_tile_pixels * out_p);
        for (int64_t t = begin; t < end; ++t) {
            const int64_t p0 = t * k_tile_pixels, rows = std::min(k_tile_pixels, s.pixels - p0);
            gemm(rows, wide_p, s.c, x + p0 * s.c, s.c, 1, we_t.data(), wide_p, wide, wide_p, be_p.data(), false, true);
            if (out_p == s.out) {
                gemm(rows, out_p, s.wide, wide, wide_p, 1, wr_t.data(), out_p, y + p0 * s.out, s.out, br_p.data(), false,
                     false);
            } else {  // through a padded tile, so no store passes channel `out`
                gemm(rows, out_p, s.wide, wide, wide_p, 1, wr_t.data(), out_p, out, out_p, br_p.data(), false, false);
                copy_rows(rows, s.out, out, out_p, y + p0 * s.out, s.out);
            }
        }
    });
}

// The gradients of wide_pair_forward from grad_y, recomputing the wide activation tile by tile.
inline void wide_pair_backward(const WidePairShape& s, const float* x, const float* we, const float* be, const float* wr,
                               const float* grad_y, float* grad_x, WidePairWeightGrads grads) {
    using namespace wide_pair;
    const int64_t wide_p = round_to_lanes(s.wide), c_p = round_to_lanes(s.c), out_p = round_to_lanes(s.out);
    const auto we_t = pack_transposed(we, s.wide, s.c, wide_p);  // [c][wide_p]: recomputes the activation
    const auto be_p = pack_padded(be, 1, s.wide, wide_p);
    const auto wr_p = pack_padded(wr, s.out, s.wide, wide_p);  // [out][wide_p]: grad_y -> wide gradient
    const auto we_p = pack_padded(we, s.wide, s.c, c_p);       // [wide][c_p]: wide gradient -> grad_x
    const int64_t tiles = (s.pixels + k_tile_pixels - 1) / k_tile_pixels;
    const bool weights = grads.we != nullptr;
    // Weight gradients: one partial sum per chunk of tiles, added in chunk order at the end, so the
    // result depends on the thread count only (not on scheduling).
    const int64_t chunks = weights ? std::max<int64_t>(1, std::min<int64_t>(num_threads(), tiles)) : 1;
    const int64_t partial_size = s.out * wide_p + s.wide * c_p + out_p + wide_p;
    std::vector<float> partials(weights ? static_cast<std::size_t>(chunks * partial_size) : 0, 0.f);
    parallel_for(chunks, 1, [&](int64_t chunk_begin, int64_t chunk_end) {
        float* wide = tile_buffer(0, k_tile_pixels * wide_p);
        float* grad_wide = tile_buffer(1, k_tile_pixels * wide_p);
        float* padded_x = tile_buffer(2, k_tile_pixels * c_p);
        for (int64_t chunk = chunk_begin; chunk < chunk_end; ++chunk) {
            float* d_wr = weights ? partials.data() + chunk * partial_size : nullptr;  // [out][wide_p]
            float* d_we = weights ? d_wr + s.out * wide_p : nullptr;                   // [wide][c_p]
            float* d_br = weights ? d_we + s.wide * c_p : nullptr;                      // [out_p]
            float* d_be = weights ? d_br + out_p : nullptr;                             // [wide_p]
            for (int64_t t = tiles * chunk / chunks; t < tiles * (chunk + 1) / chunks; ++t) {
                const int64_t p0 = t * k_tile_pixels, rows = std::min(k_tile_pixels, s.pixels - p0);
                const float* xt = x + p0 * s.c;
                const float* gy = grad_y + p0 * s.out;
                gemm(rows, wide_p, s.c, xt, s.c, 1, we_t.data(), wide_p, wide, wide_p, be_p.data(), false, true);
                // Gradient of the wide activation, through the ReLU (0 where the activation is 0).
                gemm(rows, wide_p, s.out, gy, s.out, 1, wr_p.data(), wide_p, grad_wide, wide_p, nullptr, false, false);
                for (int64_t i = 0; i < rows * wide_p; ++i)
                    if (!(wide[i] > 0.f)) grad_wide[i] = 0.f;
                if (grad_x) {
                    if (c_p == s.c) {
                        gemm(rows, c_p, s.wide, grad_wide, wide_p, 1, we_p.data(), c_p, grad_x + p0 * s.c, s.c, nullptr,
                             false, false);
                    } else {  // padded_x is free until the weight gradients below
                        gemm(rows, c_p, s.wide, grad_wide, wide_p, 1, we_p.data(), c_p, padded_x, c_p, nullptr, false,
                             false);
                        copy_rows(rows, s.c, padded_x, c_p, grad_x + p0 * s.c, s.c);
                    }
                }
                if (!weights) continue;
                // d_wr[o][j] += sum_p grad_y[p][o] * wide[p][j]; d_we[j][c] += sum_p grad_wide[p][j] * x[p][c].
                gemm(s.out, wide_p, rows, gy, 1, s.out, wide, wide_p, d_wr, wide_p, nullptr, true, false);
                const float* x_rows = xt;
                if (c_p != s.c) {
                    for (int64_t r = 0; r < rows; ++r) std::fill_n(padded_x + r * c_p + s.c, c_p - s.c, 0.f);
                    copy_rows(rows, s.c, xt, s.c, padded_x, c_p);
                    x_rows = padded_x;
                }
                gemm(s.wide, c_p, rows, grad_wide, 1, wide_p, x_rows, c_p, d_we, c_p, nullptr, true, false);
                for (int64_t r = 0; r < rows; ++r) {
                    for (int64_t o = 0; o < s.out; ++o) d_br[o] += gy[r * s.out + o];
                    for (int64_t j = 0; j < s.wide; ++j) d_be[j] += grad_wide[r * wide_p + j];
                }
            }
        }
    });
    if (!weights) return;
    for (int64_t chunk = 1; chunk < chunks; ++chunk) {
        const float* part = partials.data() + chunk * partial_size;
        for (int64_t i = 0; i < partial_size; ++i) partials[static_cast<std::size_t>(i)] += part[i];
    }
    const float* d_wr = partials.data();
    const float* d_we = d_wr + s.out * wide_p;
    const float* d_br = d_we + s.wide * c_p;
    const float* d_be = d_br + out_p;
    copy_rows(s.out, s.wide, d_wr, wide_p, grads.wr, s.wide);
    copy_rows(s.wide, s.c, d_we, c_p, grads.we, s.c);
    if (grads.br) std::copy_n(d_br, s.out, grads.br);
    if (grads.be) std::copy_n(d_be, s.wide, grads.be);
}
