// Datasets on synthetic folders built here (benchmark layout, DIV2K layout, HR-only folders),
// the .npy cache and the folder conversions behind sr-data, and the real benchmark folders.
#include <catch2/catch.hpp>

#include "image_test_support.hpp"
#include "sr/data/div2k_dataset.hpp"
#include "sr/data/folder_conversion.hpp"
#include "sr/data/hr_folder_dataset.hpp"
#include "sr/data/paired_dataset.hpp"
#include "test_support.hpp"

namespace test_datasets {  // one namespace per test file: the files share translation units (tests/CMakeLists.txt)

using namespace sr;
using sr::io::Image;
using sr::io::Window;
namespace fs = std::filesystem;

namespace {

// <root>/HR/<name>.png and <root>/LR_bicubic/X<s>/<name>.png for HR sizes that are not all
// multiples of the scale; one HR is gray.
void make_benchmark_folder(const fs::path& root, int scale) {
    fs::create_directories(root / "HR");
    fs::create_directories(root / "LR_bicubic" / ("X" + std::to_string(scale)));
    const std::pair<const char*, std::array<int, 3>> images[] = {
        {"alpha", {50, 61, 3}}, {"beta", {48, 48, 3}}, {"gamma", {37, 52, 1}}};
    for (const auto& [name, dims] : images) {
        const Image hr = sr::test::synthetic_image(dims[0], dims[1], dims[2], 8, dims[0] * 7 + dims[1]);
        io::write_image(root / "HR" / (std::string(name) + ".png"), hr);
        io::write_image(root / "LR_bicubic" / ("X" + std::to_string(scale)) / (std::string(name) + ".png"),
                        data::bicubic_downscale(io::to_rgb8(hr), scale));
    }
}

void require_window_consistency(const data::PairDataset& dataset) {
    Rng rng(3);
    for (int64_t i = 0; i < dataset.size(); ++i) {
        const data::ImagePair whole = dataset.load(i);
        const data::ImageSize lr = dataset.lr_size(i);
        REQUIRE((whole.lr.height() == lr.height && whole.lr.width() == lr.width));
        REQUIRE((whole.hr.height() == lr.height * dataset.scale() && whole.hr.width() == lr.width * dataset.scale()));
        for (int trial = 0; trial < 4; ++trial) {
            Window w;
            w.height = 1 + static_cast<int>(rng.below(std::min(lr.height, 12)));
            w.width = 1 + static_cast<int>(rng.below(std::min(lr.width, 12)));
            w.top = static_cast<int>(rng.below(lr.height - w.height + 1));
            w.left = static_cast<int>(rng.below(lr.width - w.width + 1));
            const int s = dataset.scale();
            const data::ImagePair part = dataset.load_window(i, w);
            INFO(dataset.name(i) << " window " << w.top << "," << w.left << " " << w.height << "x" << w.width);
            CHECK(part.lr == io::crop(whole.lr, w));
            CHECK(part.hr == io::crop(whole.hr, Window{w.top * s, w.left * s, w.height * s, w.width * s}));
        }
    }
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const std::exception& e) {
        return e.what();
    }
    return "(no error)";
}

}  // namespace

TEST_CASE("Paired folder: pairs by name, HR cropped to LR x scale, gray expanded", "[dataset]") {
    sr::test::TempDir dir;
    make_benchmark_folder(dir.path, 3);
    const data::PairedFolderDataset dataset(dir.path, {.scale = 3});
    REQUIRE(dataset.size() == 3);
    CHECK(dataset.name(0) == "alpha");
    CHECK(dataset.name(2) == "gamma");
    const data::ImagePair alpha = dataset.load(0);
    CHECK((alpha.lr.height() == 16 && alpha.lr.width() == 20));
    CHECK((alpha.hr.height() == 48 && alpha.hr.width() == 60));  // 50x61 cropped to 48x60
    CHECK(alpha.hr == io::crop(io::read_image(dir.path / "HR" / "alpha.png"), Window{0, 0, 48, 60}));
    const data::ImagePair gamma = dataset.load(2);
    CHECK(gamma.hr.channels() == 3);
    CHECK(gamma.hr.at(5, 5, 0) == gamma.hr.at(5, 5, 2));
    require_window_consistency(dataset);
}

TEST_CASE("Paired folder: a missing pair, a wrong size, an empty folder are named errors", "[dataset]") {
    sr::test::TempDir dir;
    make_benchmark_folder(dir.path, 2);
    const fs::path lr_dir = dir.path / "LR_bicubic" / "X2";

    fs::rename(lr_dir / "beta.png", dir.path / "beta_lr.png");
    CHECK_THAT(error_of([&] { data::PairedFolderDataset(dir.path, {.scale = 2}); }),
               Catch::Contains("beta") && Catch::Contains("has no LR image"));
    fs::rename(dir.path / "beta_lr.png", lr_dir / "beta.png");

    io::write_image(lr_dir / "delta.png", sr::test::synthetic_image(8, 8, 3));
    CHECK_THAT(error_of([&] { data::PairedFolderDataset(dir.path, {.scale = 2}); }),
               Catch::Contains("delta") && Catch::Contains("has no HR image"));
    fs::remove(lr_dir / "delta.png");

    io::write_image(lr_dir / "beta.png", sr::test::synthetic_image(20, 24, 3));  // HR is 48x48: not x2 of 24x20
    const data::PairedFolderDataset dataset(dir.path, {.scale = 2});
    CHECK_THAT(error_of([&] { dataset.load(1); }), Catch::Contains("beta.png") && Catch::Contains("at scale x2"));
    CHECK_THAT(error_of([&] { dataset.lr_size(1); }), Catch::Contains("at scale x2"));
    CHECK_THAT(error_of([&] { data::PairedFolderDataset(dir.path, {.scale = 4}); }), Catch::Contains("no LR folder"));

    sr::test::TempDir empty;
    fs::create_directories(empty.path / "HR");
    fs::create_directories(empty.path / "LR_bicubic" / "X4");
    CHECK_THAT(error_of([&] { data::PairedFolderDataset(empty.path, {.scale = 4}); }), Catch::Contains("holds no images"));
    CHECK_THAT(error_of([&] { data::HrFolderDataset(empty.path / "HR", {}); }), Catch::Contains("holds no images"));
}

TEST_CASE("DIV2K layout: ids, names, ranges, JPEG variants and missing files", "[dataset]") {
    CHECK(data::parse_id_range("1-800") == std::pair{1, 800});
    CHECK(data::parse_id_range("801-900") == std::pair{801, 900});
    CHECK(data::parse_id_range("7") == std::pair{7, 7});
    for (const char* bad : {"", "0-5", "9-3", "1-", "-4", "a-b", "1-2-3"})
        CHECK_THROWS_WITH(data::parse_id_range(bad), Catch::Contains("not valid"));

    sr::test::TempDir dir;
    const fs::path hr_dir = dir.path / "DIV2K_valid_HR", lr_dir = dir.path / "DIV2K_valid_LR_bicubic" / "X2";
    const fs::path jpeg_dir = dir.path / "DIV2K_valid_LR_bicubic_jpeg_90" / "X2";
    fs::create_directories(hr_dir);
    fs::create_directories(lr_dir);
    for (int id = 801; id <= 803; ++id) {
        const Image hr = sr::test::synthetic_image(40 + id % 3, 44, 3, 8, id);
        const std::string name = "0" + std::to_string(id);  // ids 801-803: four digits
        io::write_image(hr_dir / (name + ".png"), hr);
        io::write_image(lr_dir / (name + "x2.png"), data::bicubic_downscale(hr, 2));
    }
    data::Div2kOptions options;
    options.subset = "valid";
    options.scale = 2;
    options.first_id = 801;
    options.last_id = 803;
    const data::Div2kDataset dataset(dir.path, options);
    REQUIRE(dataset.size() == 3);
    CHECK(dataset.name(1) == "0802");
    CHECK(dataset.entry(2).lr.filename() == "0803x2.png");
    CHECK(dataset.load(0).lr == io::read_image(lr_dir / "0801x2.png"));
    require_window_consistency(dataset);

    options.last_id = 804;
    CHECK_THAT(error_of([&] { data::Div2kDataset(dir.path, options); }), Catch::Contains("0804") && Catch::Contains("missing"));
    options.last_id = 803;
    options.downgrade = "bicubic_jpeg_90";
    CHECK_THAT(error_of([&] { data::Div2kDataset(dir.path, options); }), Catch::Contains("sr-data degrade"));

    // The seed's JPEG variant: the bicubic LR saved as .jpg at quality 90 by degrade_folder.
    data::DegradeOptions degrade;
    degrade.scales = {2};
    degrade.degradation = data::Degradation::parse("bicubic_jpeg_90");
    degrade.div2k_names = true;
    const auto summary = data::degrade_folder(hr_dir, jpeg_dir.parent_path(), degrade);
    CHECK(summary.written == 3);
    CHECK(summary.errors.empty());
    CHECK(fs::exists(jpeg_dir / "0801x2.jpg"));
    const data::Div2kDataset jpeg(dir.path, options);
    const Image lr_jpeg = jpeg.load(0).lr, lr_clean = dataset.load(0).lr;
    CHECK(lr_jpeg != lr_clean);
    CHECK(lr_jpeg == data::jpeg_round_trip(lr_clean, 90));  // same encoder, same bytes, same pixels
}

TEST_CASE("The .npy cache: convert, then loaders read it and give the same pixels", "[dataset][parallel]") {
    sr::test::TempDir dir;
    const fs::path root = dir.path / "bench", cache = dir.path / "bench_npy";
    make_benchmark_folder(root, 2);
    int64_t reported = 0;
    const auto summary = data::convert_to_npy(root, cache, {.threads = 2},
                                              [&](int64_t done, int64_t total, const fs::path&) {
                                                  CHECK(done == reported + 1);
                                                  CHECK(total == 6);
                                                  reported = done;
                                              });
    CHECK(summary.written == 6);
    CHECK(reported == 6);
    CHECK(fs::exists(cache / "HR" / "alpha.npy"));
    CHECK(fs::exists(cache / "LR_bicubic" / "X2" / "gamma.npy"));
    const Image gray_cached = io::read_image(cache / "HR" / "gamma.npy");
    CHECK(gray_cached.channels() == 3);  // cached as RGB, as the seed's convert step did

    const auto again = data::convert_to_npy(root, cache);  // up to date: nothing rewritten
    CHECK((again.written == 0 && again.skipped == 6));

    const data::PairedFolderDataset plain(root, {.scale = 2});
    const data::PairedFolderDataset cached(root, {.scale = 2, .cache_dir = cache});
    const data::PairedFolderDataset converted_root(cache, {.scale = 2});
    for (int64_t i = 0; i < plain.size(); ++i) {
        CHECK(cached.entry(i).hr.extension() == ".npy");
        CHECK(converted_root.entry(i).lr.extension() == ".npy");
        const auto a = plain.load(i), b = cached.load(i), c = converted_root.load(i);
        CHECK((a.lr == b.lr && a.hr == b.hr && a.lr == c.lr && a.hr == c.hr));
    }
    require_window_consistency(cached);

    // A corrupt source image is reported by name and the others still convert.
    sr::test::write_bytes(root / "HR" / "broken.png", {0x89, 'P', 'N', 'G'});
    const auto with_error = data::convert_to_npy(root, dir.path / "second");
    CHECK(with_error.written == 6);
    REQUIRE(with_error.errors.size() == 1);
    CHECK_THAT(with_error.errors[0], Catch::Contains("broken.png"));
}

TEST_CASE("HR-only folder: recursive, LR made on the fly, crops equal crops of the whole", "[dataset]") {
    sr::test::TempDir dir;
    fs::create_directories(dir.path / "a" / "b");
    io::write_image(dir.path / "one.png", sr::test::synthetic_image(45, 38, 3, 8, 1));
    io::write_image(dir.path / "a" / "two.bmp", sr::test::synthetic_image(40, 40, 3, 8, 2));
    io::write_image(dir.path / "a" / "b" / "three.png", sr::test::synthetic_image(33, 50, 3, 16, 3));
    sr::test::write_bytes(dir.path / "a" / "notes.txt", {'h', 'i'});

    for (const char* degradation : {"bicubic", "bicubic_jpeg_75"}) {
        data::HrFolderOptions options;
        options.scale = 4;
        options.degradation = data::Degradation::parse(degradation);
        const data::HrFolderDataset dataset(dir.path, options);
        REQUIRE(dataset.size() == 3);
        CHECK(dataset.name(0) == "a/b/three");
        CHECK(dataset.name(2) == "one");
        const Image hr = io::to_rgb8(io::read_image(dir.path / "one.png"));
        const data::ImagePair one = dataset.load(2);
        CHECK(one.lr == data::degrade(hr, 4, options.degradation));
        CHECK(one.hr == io::crop(hr, Window{0, 0, 44, 36}));
        CHECK(dataset.lr_size(2) == data::ImageSize{11, 9});
        require_window_consistency(dataset);
    }
    CHECK_THROWS_WITH(data::Degradation::parse("bicubic_jpeg_0"), Catch::Contains("not known"));
    CHECK_THROWS_WITH(data::Degradation::parse("unknown"), Catch::Contains("not known"));

    io::write_image(dir.path / "tiny.png", sr::test::synthetic_image(3, 30, 3));
    const data::HrFolderDataset with_tiny(dir.path, {.scale = 4});
    CHECK_THAT(error_of([&] { with_tiny.lr_size(3); }), Catch::Contains("tiny.png") && Catch::Contains("smaller than the scale"));
}

TEST_CASE("Real data: Set5 as a paired folder, and as HR-only with bicubic on the fly", "[dataset][data]") {
    SR_REQUIRE_DATA(data);
    const fs::path set5 = data / "benchmark" / "Set5";
    const data::PairedFolderDataset paired(set5, {.scale = 4});
    const data::HrFolderDataset generated(set5 / "HR", {.scale = 4});
    REQUIRE(paired.size() == 5);
    REQUIRE(generated.size() == 5);
    for (int64_t i = 0; i < 5; ++i) {
        CHECK(paired.name(i) == generated.name(i));
        const auto a = paired.load(i), b = generated.load(i);
        CHECK(a.hr == b.hr);
        CHECK(a.lr == b.lr);  // on-the-fly bicubic is the benchmark's own LR
    }
    const data::HrFolderDataset train(data / "train", {.scale = 2});
    CHECK(train.size() == 291);
    const auto pair = train.load(0);
    CHECK(pair.hr.height() == pair.lr.height() * 2);
}

}  // namespace test_datasets
