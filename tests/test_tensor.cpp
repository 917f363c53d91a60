// Tensor: allocation, alignment, views (batch slices, crops, reshape), copies and errors.
#include <catch2/catch.hpp>

#include <numeric>

#include "sr/core/tensor.hpp"
#include "test_support.hpp"

namespace test_tensor {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using sr::Shape;
using sr::Tensor;

namespace {
Tensor<float> iota_tensor(const Shape& shape) {
    auto t = Tensor<float>::empty(shape);
    std::iota(t.data(), t.data() + t.numel(), 0.f);
    return t;
}
}  // namespace

TEST_CASE("tensors are 64-byte aligned and shapes report their sizes", "[tensor]") {
    for (int64_t n : {1, 3, 17, 1000}) {
        auto t = Tensor<float>::empty({n, 3});
        CHECK(reinterpret_cast<uintptr_t>(t.data()) % 64 == 0);
        CHECK(t.numel() == n * 3);
    }
    auto scalar = Tensor<double>::zeros(Shape{});
    CHECK(scalar.rank() == 0);
    CHECK(scalar.numel() == 1);
    CHECK(scalar.item() == 0.0);
    CHECK(Tensor<float>::zeros({2, 0, 3}).numel() == 0);
}

TEST_CASE("copying a tensor shares data, clone copies it", "[tensor]") {
    auto a = Tensor<float>::full({2, 2}, 1.f);
    auto shared = a;
    auto copy = a.clone();
    a.data()[0] = 5.f;
    CHECK(shared.data()[0] == 5.f);
    CHECK(copy.data()[0] == 1.f);
}

TEST_CASE("batch slices and crops are views with the right elements", "[tensor]") {
    auto t = iota_tensor({3, 4, 5, 2});
    auto slice = t.slice_batch(1, 3);
    CHECK(slice.shape() == Shape({2, 4, 5, 2}));
    CHECK(slice.is_contiguous());
    CHECK(slice.at({0, 0, 0, 0}) == t.at({1, 0, 0, 0}));
    slice.at({1, 3, 4, 1}) = -1.f;
    CHECK(t.at({2, 3, 4, 1}) == -1.f);

    auto crop = t.crop(1, 2, 2, 3);
    CHECK(crop.shape() == Shape({3, 2, 3, 2}));
    CHECK_FALSE(crop.is_contiguous());
    for (int64_t n = 0; n < 3; ++n)
        for (int64_t h = 0; h < 2; ++h)
            for (int64_t w = 0; w < 3; ++w)
                for (int64_t c = 0; c < 2; ++c) CHECK(crop.at({n, h, w, c}) == t.at({n, h + 1, w + 2, c}));
    auto packed = crop.contiguous();
    CHECK(packed.is_contiguous());
    CHECK(packed.at({2, 1, 2, 1}) == t.at({2, 2, 4, 1}));
    // A crop spanning the full width of one image is contiguous.
    CHECK(t.slice_batch(0, 1).crop(1, 0, 2, 5).is_contiguous());
}

TEST_CASE("copy_to writes through strided views", "[tensor]") {
    auto t = Tensor<float>::zeros({1, 4, 4, 1});
    auto patch = Tensor<float>::full({1, 2, 2, 1}, 7.f);
    patch.copy_to(t.crop(1, 1, 2, 2));
    CHECK(t.at({0, 1, 1, 0}) == 7.f);
    CHECK(t.at({0, 2, 2, 0}) == 7.f);
    CHECK(t.at({0, 0, 0, 0}) == 0.f);
    CHECK(t.at({0, 3, 3, 0}) == 0.f);
    CHECK(t.at({0, 1, 3, 0}) == 0.f);
}

TEST_CASE("reshape keeps the data and checks sizes", "[tensor]") {
    auto t = iota_tensor({2, 3, 4});
    auto r = t.reshape({6, 4});
    CHECK(r.at({5, 3}) == 23.f);
    CHECK_THROWS_WITH(t.reshape({5, 5}), Catch::Contains("cannot view shape [2, 3, 4]"));
    CHECK_THROWS_WITH(t.reshape({2, 3, 4, 1}).crop(0, 0, 2, 2).reshape({8}), Catch::Contains("not contiguous"));
}

TEST_CASE("out-of-range views and indices are errors that name the shape", "[tensor]") {
    auto t = Tensor<float>::zeros({2, 4, 4, 3});
    CHECK_THROWS_WITH(t.slice_batch(1, 3), Catch::Contains("[2, 4, 4, 3]"));
    CHECK_THROWS_WITH(t.crop(3, 0, 2, 2), Catch::Contains("outside shape"));
    CHECK_THROWS_WITH(t.at({0, 4, 0, 0}), Catch::Contains("out of range"));
    CHECK_THROWS_WITH(Tensor<float>::from_vector({2, 2}, {1.f, 2.f}), Catch::Contains("needs 4 values"));
    Tensor<float> undefined;
    CHECK_THROWS_WITH(undefined.shape(), Catch::Contains("undefined tensor"));
}

TEST_CASE("cast converts element types", "[tensor]") {
    auto t = Tensor<float>::from_vector({3}, {1.5f, -2.25f, 3.f});
    auto d = t.cast<double>();
    CHECK(d.at({1}) == -2.25);
    CHECK(d.to_vector() == std::vector<double>{1.5, -2.25, 3.0});
}

}  // namespace test_tensor
