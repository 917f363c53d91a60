// conv2d: every CPU backend against the naive double-precision reference, on one table of shapes
// (odd and even sizes, 1- and 3-channel edges, kernels 1/3/5, batch > 1), forward with each
// epilogue, backward-data and backward-weights.
//
// Tolerance: a float result accumulates K = k*k*C products; its rounding error grows like
// sqrt(K) * 6e-8 relative to the largest magnitudes involved, under 1e-5 for every K here
// (K <= 5*5*64). Winograd-free oneDNN kernels and our GEMM path stay well inside it; a wrong
// tap, channel or border shows up as O(1) error. The double GEMM path must agree to 1e-12.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>

#include "reference/conv2d_naive.hpp"
#include "sr/core/rng.hpp"
#include "sr/ops/conv2d.hpp"
#include "test_support.hpp"

namespace test_conv2d {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

namespace {

struct Case {
    int64_t n, h, w, c, o, k;
};

const Case k_cases[] = {
    {1, 5, 7, 3, 4, 3},  {2, 6, 6, 1, 3, 3},   {3, 7, 4, 16, 8, 3}, {1, 9, 8, 8, 16, 5}, {2, 4, 5, 12, 9, 1},
    {1, 1, 1, 3, 5, 3},  {1, 2, 3, 4, 4, 5},   {2, 8, 9, 32, 25, 1}, {1, 6, 10, 25, 32, 3}, {2, 5, 6, 3, 12, 5},
    {1, 12, 11, 64, 64, 3}, {2, 7, 13, 20, 48, 3}, {1, 3, 17, 7, 70, 3}, {1, 4, 30, 9, 33, 1},
};

template <class T>
sr::Tensor<T> random_tensor(const sr::Shape& shape, uint64_t seed) {
    sr::Rng rng(seed);
    auto t = sr::Tensor<T>::empty(shape);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(rng.uniform(-1.0, 1.0));
    return t;
}

std::string describe(const Case& c) {
    return "N=" + std::to_string(c.n) + " H=" + std::to_string(c.h) + " W=" + std::to_string(c.w) + " C=" +
           std::to_string(c.c) + " O=" + std::to_string(c.o) + " k=" + std::to_string(c.k);
}

struct BackendScope {
    explicit BackendScope(sr::ConvBackend b) : previous(sr::conv_backend()) { sr::set_conv_backend(b); }
    ~BackendScope() { sr::set_conv_backend(previous); }
    sr::ConvBackend previous;
};

template <class T>
void check_all_passes(const Case& cs, double tolerance) {
    INFO(describe(cs));
    auto x = random_tensor<T>({cs.n, cs.h, cs.w, cs.c}, 1);
    auto w = random_tensor<T>({cs.o, cs.k, cs.k, cs.c}, 2);
    auto b = random_tensor<T>({cs.o}, 3);
    auto addend = random_tensor<T>({cs.n, cs.h, cs.w, cs.o}, 4);
    auto grad_y = random_tensor<T>({cs.n, cs.h, cs.w, cs.o}, 5);

    const auto ref = sr::reference::conv2d_forward(x, w, b);

    auto y = sr::Tensor<T>::empty(ref.shape());
    sr::ops::conv2d_forward(x, w, b, y);
    CHECK(sr::test::normalized_max_error(y, ref) < tolerance);

    // Without bias.
    sr::ops::conv2d_forward(x, w, sr::Tensor<T>(), y);
    CHECK(sr::test::normalized_max_error(y, sr::reference::conv2d_forward(x, w, sr::Tensor<T>())) < tolerance);

    // Fused ReLU and accumulate epilogues: relu(addend + conv + b).
    addend.copy_to(y);
    sr::ops::conv2d_forward(x, w, b, y, sr::ConvEpilogue{true, true});
    auto expected = sr::Tensor<double>::empty(ref.shape());
    for (int64_t i = 0; i < ref.numel(); ++i) expected.data()[i] = std::max(0.0, ref.data()[i] + double(addend.data()[i]));
    CHECK(sr::test::normalized_max_error(y, expected) < tolerance);

    auto grad_x = sr::Tensor<T>::empty(x.shape());
    sr::ops::conv2d_backward_data(grad_y, w, grad_x);
    CHECK(sr::test::normalized_max_error(grad_x, sr::reference::conv2d_backward_data(grad_y, w, cs.c)) < tolerance);

    auto grad_w = sr::Tensor<T>::empty(w.shape());
    auto grad_b = sr::Tensor<T>::empty(b.shape());
    sr::ops::conv2d_backward_weights(x, grad_y, grad_w, grad_b);
    sr::Tensor<double> ref_w, ref_b;
    sr::reference::conv2d_backward_weights(x, grad_y, cs.k, ref_w, ref_b);
    CHECK(sr::test::normalized_max_error(grad_w, ref_w) < tolerance);
    CHECK(sr::test::normalized_max_error(grad_b, ref_b) < tolerance);
}

}  // namespace

TEST_CASE("conv2d float on oneDNN matches the naive reference", "[conv2d]") {
    BackendScope scope(sr::ConvBackend::onednn);
    for (const auto& cs : k_cases) check_all_passes<float>(cs, 1e-5);
}

TEST_CASE("conv2d float on the direct SIMD kernels matches the naive reference", "[conv2d]") {
    // Every variant this CPU can run, whatever -march the test was compiled with.
    using sr::ops::direct::Isa;
    if (!sr::ops::direct::available()) SR_SKIP("this CPU has neither AVX2+FMA nor AVX-512");
    BackendScope scope(sr::ConvBackend::direct);
    const Isa previous = sr::ops::direct::isa();
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
        if (!sr::ops::direct::supported(isa)) continue;
        INFO("kernel variant " << sr::ops::direct::isa_name(isa));
        sr::ops::direct::set_isa(isa);
        for (const auto& cs : k_cases) check_all_passes<float>(cs, 1e-5);
    }
    sr::ops::direct::set_isa(previous);
}

TEST_CASE("conv2d direct kernels refuse a variant the CPU cannot run", "[conv2d]") {
    using sr::ops::direct::Isa;
    for (Isa isa : {Isa::avx2, Isa::avx512})
        if (!sr::ops::direct::supported(isa)) CHECK_THROWS_WITH(sr::ops::direct::set_isa(isa), Catch::Contains("cannot run"));
    CHECK(sr::ops::direct::supported(sr::ops::direct::best_isa()));
}

TEST_CASE("conv2d automatic measures each layer and pass once and stays exact", "[conv2d]") {
    // The first use of a layer times the candidates into scratch outputs: the accumulate epilogue
    // must see its addend once (not once per timed candidate) and every pass must still match.
    // Winners are keyed by layer (channels, kernel), not by image size, so a second size of the
    // same layer reuses them: tiles and whole images must run on the same backend.
    BackendScope scope(sr::ConvBackend::automatic);
    sr::ops::choice::forget();
    const Case cs{2, 7, 13, 20, 48, 3}, other_size{1, 11, 5, 20, 48, 3};
    check_all_passes<float>(cs, 1e-5);
    check_all_passes<float>(other_size, 1e-5);
    const auto winners = sr::ops::choice::winners();
    int passes_seen[3] = {0, 0, 0};
    for (const auto& [key, id] : winners) {
        CHECK((key.n == 0 && key.h == 0 && key.w == 0));
        if (key.c != cs.c || key.o != cs.o || key.k != cs.k) continue;
        ++passes_seen[static_cast<int>(key.pass)];
        const auto backend = static_cast<sr::ConvBackend>(id);
        CHECK((backend == sr::ConvBackend::onednn ||
               (backend == sr::ConvBackend::direct && sr::ops::direct::available())));
    }
    // One recorded winner per pass for both sizes (the repeated forwards reuse it).
    CHECK(passes_seen[0] == 1);
    CHECK(passes_seen[1] == 1);
    CHECK(passes_seen[2] == 1);
}

TEST_CASE("conv2d backend winners survive a round trip through the disk cache file", "[conv2d]") {
    sr::test::TempDir dir;
    const auto file = dir.path / "sub" / "choice.txt";
    const sr::ops::choice::Key a{16, 48, 48, 64, 64, 3, sr::ops::choice::Pass::backward_weights, 2};
    const sr::ops::choice::Key b{1, 270, 480, 32, 192, 1, sr::ops::choice::Pass::forward, 1};
    sr::ops::choice::detail::append_winner(file, a, 2);
    sr::ops::choice::detail::append_winner(file, b, 1);
    { std::ofstream(file, std::ios::app) << "16 48 48 64\n"; }  // a half-written line is skipped
    std::map<sr::ops::choice::Key, int> read;
    sr::ops::choice::detail::read_winners(file, read);
    REQUIRE(read.size() == 2);
    CHECK(read.at(a) == 2);
    CHECK(read.at(b) == 1);
}

TEST_CASE("conv2d float on the Eigen GEMM path matches the naive reference", "[conv2d]") {
    BackendScope scope(sr::ConvBackend::gemm);
    for (const auto& cs : k_cases) check_all_passes<float>(cs, 1e-5);
}

// One image row is one task, so parallel_for runs the GEMM path's body on the calling thread, outside
// any team, where Eigen would thread a product of this size itself (O*W*C far above its 50000
// multiply-adds per thread) unless the body's SerialOpenMpScope keeps it serial.
TEST_CASE("conv2d on the Eigen GEMM path of a single row matches the naive reference", "[conv2d]") {
    BackendScope scope(sr::ConvBackend::gemm);
    check_all_passes<float>({1, 1, 300, 48, 40, 3}, 1e-5);
    check_all_passes<double>({1, 1, 300, 48, 40, 3}, 1e-12);
}

TEST_CASE("SerialOpenMpScope keeps OpenMP and Eigen on the calling thread, then restores its count", "[conv2d]") {
    const int outer = omp_get_max_threads();
    omp_set_num_threads(3);
    {
        const sr::SerialOpenMpScope scope;
        CHECK(omp_get_max_threads() == 1);
        CHECK(Eigen::nbThreads() == 1);
        int team = 0;
#pragma omp parallel
        {
#pragma omp single
            team = omp_get_num_threads();
        }
        CHECK(team == 1);
    }
    CHECK(omp_get_max_threads() == 3);
    CHECK(Eigen::nbThreads() == 3);
    omp_set_num_threads(outer);
}

TEST_CASE("conv2d double matches the naive reference to rounding", "[conv2d]") {
    for (const auto& cs : k_cases) check_all_passes<double>(cs, 1e-12);
}

TEST_CASE("conv2d rejects mismatched shapes with a message naming them", "[conv2d]") {
    auto x = sr::Tensor<float>::zeros({1, 4, 4, 3});
    auto w = sr::Tensor<float>::zeros({8, 3, 3, 4});
    auto y = sr::Tensor<float>::empty({1, 4, 4, 8});
    CHECK_THROWS_WITH(sr::ops::conv2d_forward(x, w, sr::Tensor<float>(), y),
                      Catch::Contains("3 channels") && Catch::Contains("expect 4"));
    auto even = sr::Tensor<float>::zeros({8, 2, 2, 3});
    CHECK_THROWS_WITH(sr::ops::conv2d_forward(x, even, sr::Tensor<float>(), y), Catch::Contains("odd square kernel"));
    auto bad_bias = sr::Tensor<float>::zeros({7});
    auto w_ok = sr::Tensor<float>::zeros({8, 3, 3, 3});
    CHECK_THROWS_WITH(sr::ops::conv2d_forward(x, w_ok, bad_bias, y), Catch::Contains("bias"));
}

}  // namespace test_conv2d
