// Dihedral transforms and the batch loader: crops aligned between LR and HR under every
// transform, determinism across thread counts and resumes, epoch coverage, errors, validation.
//
// The loader tests use "coordinate" images: LR pixel (i, j) of image n is (i, j, n) and the HR is
// that LR with every pixel blown up to an s x s block. Any LR patch then says where it was cut
// and how it was turned, and an aligned HR patch must repeat each LR pixel as an s x s block.
#include <catch2/catch.hpp>

#include <set>

#include "image_test_support.hpp"
#include "sr/data/folder_conversion.hpp"
#include "sr/data/hr_folder_dataset.hpp"
#include "sr/data/paired_dataset.hpp"
#include "sr/data/validation.hpp"
#include "test_support.hpp"

namespace test_loader {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using namespace sr;
using sr::io::Image;
using sr::io::Window;
namespace fs = std::filesystem;

namespace {

// numpy's fliplr and rot90(k=1) (counter-clockwise), written out: the seed's augmentation.
Image naive_fliplr(const Image& in) {
    Image out(in.height(), in.width(), in.channels());
    for (int y = 0; y < in.height(); ++y)
        for (int x = 0; x < in.width(); ++x)
            for (int c = 0; c < in.channels(); ++c) out.set(y, x, c, in.at(y, in.width() - 1 - x, c));
    return out;
}
Image naive_rot90(const Image& in) {
    Image out(in.width(), in.height(), in.channels());  // out[i][j] = in[j][W-1-i]
    for (int i = 0; i < out.height(); ++i)
        for (int j = 0; j < out.width(); ++j)
            for (int c = 0; c < in.channels(); ++c) out.set(i, j, c, in.at(j, in.width() - 1 - i, c));
    return out;
}
Image naive_dihedral(const Image& in, int t) {
    Image out = t >= 4 ? naive_fliplr(in) : in;
    for (int k = 0; k < t % 4; ++k) out = naive_rot90(out);
    return out;
}

constexpr int k_scale = 2;

// A paired folder of coordinate images with these LR sizes (image n at index n, names sorted).
void make_coordinate_folder(const fs::path& root, const std::vector<std::pair<int, int>>& lr_sizes) {
    fs::create_directories(root / "HR");
    fs::create_directories(root / "LR_bicubic" / ("X" + std::to_string(k_scale)));
    for (std::size_t n = 0; n < lr_sizes.size(); ++n) {
        const auto [h, w] = lr_sizes[n];
        Image lr(h, w, 3), hr(h * k_scale + 1, w * k_scale + 1, 3);  // the extra HR row and column get cropped
        for (int y = 0; y < hr.height(); ++y)
            for (int x = 0; x < hr.width(); ++x) {
                const int i = std::min(y / k_scale, h - 1), j = std::min(x / k_scale, w - 1);
                const int value[3] = {i, j, static_cast<int>(n)};
                for (int c = 0; c < 3; ++c) {
                    hr.set(y, x, c, value[c]);
                    if (y % k_scale == 0 && x % k_scale == 0 && y / k_scale < h && x / k_scale < w) lr.set(i, j, c, value[c]);
                }
            }
        const std::string name = "img" + std::to_string(10 + n) + ".png";
        io::write_image(root / "HR" / name, hr);
        io::write_image(root / "LR_bicubic" / ("X" + std::to_string(k_scale)) / name, lr);
    }
}

Image slot_image(const Tensor<float>& batch, int64_t slot) {
    return io::tensor_to_image(batch.slice_batch(slot, slot + 1).contiguous());
}

bool same_batches(const data::Batch& a, const data::Batch& b) {
    return a.items == b.items && a.lr.to_vector() == b.lr.to_vector() && a.hr.to_vector() == b.hr.to_vector();
}

std::shared_ptr<data::PairedFolderDataset> coordinate_dataset(const fs::path& root, const fs::path& cache = {}) {
    return std::make_shared<data::PairedFolderDataset>(root, data::PairedFolderOptions{.scale = k_scale, .cache_dir = cache});
}

}  // namespace

TEST_CASE("Dihedral transforms: numpy's flip-then-rotate, all distinct, invertible", "[augment]") {
    const Image image = sr::test::random_image(5, 8, 3, 8, 4);
    std::vector<Image> seen;
    for (int t = 0; t < 8; ++t) {
        const Image turned = io::dihedral(image, t);
        INFO("transform " << t);
        CHECK(turned == naive_dihedral(image, t));
        CHECK(io::dihedral(turned, io::dihedral_inverse(t)) == image);
        for (const Image& other : seen) CHECK_FALSE(other == turned);
        seen.push_back(turned);
        // The float path used for batches writes the same values.
        std::vector<float> as_float(image.sample_count());
        data::write_transformed(image, t, as_float.data());
        bool same = true;
        for (std::size_t i = 0; i < as_float.size(); ++i) same &= as_float[i] == float(turned.data8()[i]);
        CHECK(same);
    }
    // EXIF orientations map onto the same group: 6 (turn clockwise) is three counter-clockwise turns.
    CHECK(io::dihedral(image, io::dihedral_for_exif_orientation(6)) == naive_dihedral(image, 3));
}

TEST_CASE("Loader: HR crops sit exactly over their LR crops under every transform", "[loader]") {
    sr::test::TempDir dir;
    make_coordinate_folder(dir.path, {{20, 26}, {17, 30}, {25, 19}, {16, 16}, {31, 22}});
    const auto dataset = coordinate_dataset(dir.path);
    data::BatchLoader loader(dataset, {.lr_patch_size = 8, .batch_size = 5, .seed = 9, .threads = 2});
    std::set<int> transforms, tops;
    for (int step = 0; step < 30; ++step) {
        const data::Batch batch = loader.next();
        REQUIRE(batch.step == step);
        REQUIRE(batch.lr.shape() == Shape{5, 8, 8, 3});
        REQUIRE(batch.hr.shape() == Shape{5, 16, 16, 3});
        for (int slot = 0; slot < 5; ++slot) {
            const Image lr = slot_image(batch.lr, slot), hr = slot_image(batch.hr, slot);
            const data::SampleSpec spec = loader.sample_spec(step, slot);
            CHECK(spec.item == batch.items[slot]);
            const int image = lr.at(0, 0, 2);
            CHECK(image == spec.item);  // the blue channel names the image
            // Undo the transform: the LR patch is the source window, pixel for pixel.
            const Image upright = io::dihedral(lr, io::dihedral_inverse(spec.transform));
            const Window& w = spec.lr_window;
            bool window_ok = true, hr_ok = true;
            for (int i = 0; i < 8; ++i)
                for (int j = 0; j < 8; ++j) {
                    window_ok &= upright.at(i, j, 0) == w.top + i && upright.at(i, j, 1) == w.left + j;
                    for (int a = 0; a < k_scale; ++a)
                        for (int b = 0; b < k_scale; ++b)
                            for (int c = 0; c < 3; ++c) hr_ok &= hr.at(i * k_scale + a, j * k_scale + b, c) == lr.at(i, j, c);
                }
            CHECK(window_ok);
            CHECK(hr_ok);
            const data::ImageSize size = dataset->lr_size(spec.item);
            CHECK((w.top >= 0 && w.left >= 0 && w.top + 8 <= size.height && w.left + 8 <= size.width));
            transforms.insert(spec.transform);
            tops.insert(w.top);
        }
    }
    CHECK(transforms.size() == 8);
    CHECK(tops.size() > 10);
}

TEST_CASE("Loader: the same seed gives the same batches for any thread count, resumed or not", "[loader]") {
    sr::test::TempDir dir;
    make_coordinate_folder(dir.path, {{20, 26}, {17, 30}, {25, 19}, {16, 16}, {31, 22}, {18, 18}, {21, 40}});
    const auto dataset = coordinate_dataset(dir.path);
    const data::BatchLoaderOptions base{.lr_patch_size = 8, .batch_size = 3, .seed = 1234};
    data::BatchLoaderOptions one = base, many = base;
    one.threads = 1;
    one.prefetch = 1;
    many.threads = 3;
    many.prefetch = 6;
    data::BatchLoader a(dataset, one), b(dataset, many);
    std::vector<data::Batch> stream;
    for (int step = 0; step < 10; ++step) {
        stream.push_back(a.next());
        CHECK(same_batches(stream.back(), b.next()));
        CHECK(same_batches(stream.back(), a.batch(step)));
    }
    data::BatchLoader resumed(dataset, many);
    resumed.seek(6);
    CHECK(resumed.step() == 6);
    for (int step = 6; step < 10; ++step) CHECK(same_batches(resumed.next(), stream[step]));
    resumed.seek(2);  // backwards too
    CHECK(same_batches(resumed.next(), stream[2]));

    data::BatchLoaderOptions other_seed = base;
    other_seed.seed = 1235;
    data::BatchLoader c(dataset, other_seed);
    CHECK_FALSE(same_batches(c.next(), stream[0]));

    // The cache changes where pixels come from, never which pixels: identical batches.
    sr::test::TempDir cache;
    data::convert_to_npy(dir.path, cache.path);
    const auto cached = coordinate_dataset(dir.path, cache.path);
    REQUIRE(cached->entry(0).lr.extension() == ".npy");
    data::BatchLoader d(cached, many);
    for (int step = 0; step < 4; ++step) CHECK(same_batches(d.next(), stream[step]));
}

TEST_CASE("Loader: every image once per epoch, a new order each epoch", "[loader]") {
    sr::test::TempDir dir;
    make_coordinate_folder(dir.path, {{16, 16}, {16, 17}, {17, 16}, {18, 16}, {16, 18}, {19, 19}});
    const auto dataset = coordinate_dataset(dir.path);
    data::BatchLoader loader(dataset, {.lr_patch_size = 8, .batch_size = 4, .seed = 5, .threads = 2});
    CHECK(loader.steps_per_epoch() == 2);
    std::vector<int64_t> order;
    for (int step = 0; step < 6; ++step) {  // 24 samples = 4 epochs of 6 images
        const data::Batch batch = loader.next();
        order.insert(order.end(), batch.items.begin(), batch.items.end());
    }
    std::vector<std::vector<int64_t>> epochs;
    for (int e = 0; e < 4; ++e) {
        std::vector<int64_t> epoch(order.begin() + e * 6, order.begin() + (e + 1) * 6);
        epochs.push_back(epoch);
        std::sort(epoch.begin(), epoch.end());
        CHECK(epoch == std::vector<int64_t>{0, 1, 2, 3, 4, 5});
    }
    CHECK((epochs[0] != epochs[1] || epochs[1] != epochs[2]));

    data::BatchLoader ordered(dataset, {.lr_patch_size = 8, .batch_size = 4, .augment = false, .shuffle = false});
    CHECK(ordered.next().items == std::vector<int64_t>{0, 1, 2, 3});
    const data::Batch second = ordered.next();
    CHECK(second.items == std::vector<int64_t>{4, 5, 0, 1});
    for (int slot = 0; slot < 4; ++slot) CHECK(ordered.sample_spec(1, slot).transform == 0);
}

TEST_CASE("Loader: small images fail clearly or are skipped, read errors reach next()", "[loader]") {
    sr::test::TempDir dir;
    make_coordinate_folder(dir.path, {{16, 16}, {6, 30}, {20, 20}});
    const auto dataset = coordinate_dataset(dir.path);
    data::BatchLoader strict(dataset, {.lr_patch_size = 8, .batch_size = 3, .shuffle = false});
    CHECK_THROWS_WITH(strict.next(), Catch::Contains("img11") && Catch::Contains("smaller than the 8x8"));

    data::BatchLoader lenient(dataset, {.lr_patch_size = 8, .batch_size = 3, .skip_small_images = true});
    CHECK(lenient.images() == 2);
    for (int step = 0; step < 3; ++step)
        for (int64_t item : lenient.next().items) CHECK(item != 1);

    // A file that disappears after the dataset was listed: the error names it, and the same step
    // succeeds once the file is back.
    data::BatchLoader loader(dataset, {.lr_patch_size = 4, .batch_size = 3, .prefetch = 2, .shuffle = false});
    const data::Batch first = loader.next();
    const fs::path victim = dir.path / "HR" / "img12.png";
    fs::rename(victim, dir.path / "moved.png");
    data::BatchLoader fresh(dataset, {.lr_patch_size = 4, .batch_size = 3, .shuffle = false});
    CHECK_THROWS_WITH(fresh.next(), Catch::Contains("img12.png"));
    CHECK(fresh.step() == 0);
    fs::rename(dir.path / "moved.png", victim);
    CHECK(same_batches(fresh.next(), first));
}

TEST_CASE("Validation: full images, or fixed random crops covering every image once", "[loader]") {
    sr::test::TempDir dir;
    make_coordinate_folder(dir.path, {{20, 26}, {17, 30}, {25, 19}, {16, 16}, {31, 22}});
    const auto dataset = coordinate_dataset(dir.path);

    const data::ValidationSet full(dataset, {});
    REQUIRE(full.size() == 5);
    const data::Batch b = full.get(1);
    CHECK(b.lr.shape() == Shape{1, 17, 30, 3});
    CHECK(b.hr.shape() == Shape{1, 34, 60, 3});
    CHECK(slot_image(b.lr, 0) == dataset->load(1).lr);

    data::ValidationOptions crops_options;
    crops_options.mode = data::ValidationOptions::Mode::random_crop;
    crops_options.lr_patch_size = 8;
    crops_options.batch_size = 2;
    const data::ValidationSet crops(dataset, crops_options);
    REQUIRE(crops.size() == 3);
    std::vector<int64_t> items;
    for (int64_t i = 0; i < crops.size(); ++i) {
        const data::Batch batch = crops.get(i);
        CHECK(same_batches(batch, crops.get(i)));  // the same patches every evaluation
        items.insert(items.end(), batch.items.begin(), batch.items.end());
        CHECK(batch.lr.dim(0) == (i < 2 ? 2 : 1));
        for (int64_t slot = 0; slot < batch.lr.dim(0); ++slot) {
            const Image lr = slot_image(batch.lr, slot);
            CHECK(lr.at(0, 0, 2) == batch.items[slot]);
            CHECK(lr.at(0, 1, 1) == lr.at(0, 0, 1) + 1);  // upright: no augmentation unless asked
        }
    }
    CHECK(items == std::vector<int64_t>{0, 1, 2, 3, 4});
    crops_options.max_images = 3;
    CHECK(data::ValidationSet(dataset, crops_options).size() == 2);
}

TEST_CASE("Loader on an HR-only folder: each LR patch is the crop of the whole bicubic LR", "[loader]") {
    sr::test::TempDir dir;
    for (int n = 0; n < 3; ++n)
        io::write_image(dir.path / ("p" + std::to_string(n) + ".png"), sr::test::synthetic_image(70 + 9 * n, 83, 3, 8, 30 + n));
    const auto dataset = std::make_shared<data::HrFolderDataset>(dir.path, data::HrFolderOptions{.scale = 3});
    data::BatchLoader loader(dataset, {.lr_patch_size = 12, .batch_size = 3, .seed = 2, .threads = 2});
    for (int step = 0; step < 4; ++step) {
        const data::Batch batch = loader.next();
        for (int slot = 0; slot < 3; ++slot) {
            const data::SampleSpec spec = loader.sample_spec(step, slot);
            const data::ImagePair whole = dataset->load(spec.item);
            const Window& w = spec.lr_window;
            const int inverse = io::dihedral_inverse(spec.transform);
            CHECK(io::dihedral(slot_image(batch.lr, slot), inverse) == io::crop(whole.lr, w));
            CHECK(io::dihedral(slot_image(batch.hr, slot), inverse) ==
                  io::crop(whole.hr, Window{w.top * 3, w.left * 3, w.height * 3, w.width * 3}));
        }
    }
}

TEST_CASE("Loader on the real training set (291 images, HR-only, x4)", "[loader][data]") {
    SR_REQUIRE_DATA(data);
    const auto dataset = std::make_shared<data::HrFolderDataset>(data / "train", data::HrFolderOptions{.scale = 4});
    data::BatchLoader loader(dataset, {.batch_size = 16, .seed = 3, .threads = 2, .skip_small_images = true});
    CHECK(loader.images() > 200);
    CHECK(loader.images() < 291);  // some T91 images are under 192 pixels
    const data::Batch batch = loader.next();
    CHECK(batch.lr.shape() == Shape{16, 48, 48, 3});
    CHECK(batch.hr.shape() == Shape{16, 192, 192, 3});
    float low = 255, high = 0;
    for (float v : batch.hr.to_vector()) {
        low = std::min(low, v);
        high = std::max(high, v);
    }
    CHECK(low >= 0.f);
    CHECK(high <= 255.f);
    CHECK(high - low > 100.f);
}

}  // namespace test_loader
