// Training-data loader throughput: patches per second that BatchLoader delivers through next()
// (batch 16 of 48x48 LR patches, x4, random dihedral transforms), from image files and from the
// .npy cache that `sr-data convert` writes.
//
// Build and run:
//   cmake --build build --target loader_bench && ./build/bench/loader_bench
// Options: --threads=N loader threads (default 2), --data=DIR (default ../shared/data beside the
// checkout), plus Google Benchmark's own (--benchmark_filter=...).
// Variants (source x format):
//   div2k_like  6 synthetic 2040x1404 photos-like HR PNGs with their bicubic x4 LR (paired folder)
//   train291    the 291 training photographs (T91 BMP + BSD200 PNG), HR-only, LR by bicubic on the fly
//   x  png (decode every file for every patch) | npy (cache: only the crop's rows are read)
// Before timing, each npy variant's first batch is checked equal to the file variant's.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>

#include "bench_support.hpp"
#include "sr/core/rng.hpp"
#include "sr/data/batch_loader.hpp"
#include "sr/data/folder_conversion.hpp"
#include "sr/data/hr_folder_dataset.hpp"
#include "sr/data/paired_dataset.hpp"

namespace fs = std::filesystem;

namespace {

int g_threads = 2;
fs::path g_work;
std::vector<std::pair<std::string, std::shared_ptr<const sr::data::PairDataset>>> g_datasets;

constexpr int k_batch = 16, k_patch = 48, k_scale = 4;

// Smooth gradients with texture and noise: compresses roughly like a photograph (about 2 bytes
// per pixel as PNG), so decoding costs what a DIV2K image costs.
sr::io::Image photo_like(int height, int width, uint64_t seed) {
    sr::io::Image image(height, width, 3);
    sr::Rng rng(seed);
    uint8_t* p = image.data8();
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < width; ++x)
            for (int c = 0; c < 3; ++c) {
                const double v = 128 + 60 * std::sin(0.013 * x * (c + 1) + 0.007 * y) + 30 * std::cos(0.05 * (x + y)) +
                                 12 * (rng.uniform() - 0.5);
                *p++ = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
            }
    return image;
}

void make_div2k_like(const fs::path& root) {
    fs::create_directories(root / "HR");
    fs::create_directories(root / "LR_bicubic" / "X4");
    for (int i = 0; i < 6; ++i) {
        const sr::io::Image hr = photo_like(1404, 2040, 100 + i);
        const std::string name = "000" + std::to_string(i + 1) + ".png";
        sr::io::write_image(root / "HR" / name, hr);
        sr::io::write_image(root / "LR_bicubic" / "X4" / name, sr::data::bicubic_downscale(hr, k_scale));
    }
}

bool same_first_batch(const std::shared_ptr<const sr::data::PairDataset>& a,
                      const std::shared_ptr<const sr::data::PairDataset>& b) {
    const sr::data::BatchLoaderOptions options{.lr_patch_size = k_patch, .batch_size = k_batch, .seed = 7, .threads = 1,
                                               .prefetch = 1, .skip_small_images = true};
    const sr::data::BatchLoader la(a, options), lb(b, options);
    const sr::data::Batch x = la.batch(0), y = lb.batch(0);
    return x.lr.to_vector() == y.lr.to_vector() && x.hr.to_vector() == y.hr.to_vector();
}

void loader_throughput(benchmark::State& state, std::shared_ptr<const sr::data::PairDataset> dataset) {
    sr::data::BatchLoader loader(dataset, {.lr_patch_size = k_patch, .batch_size = k_batch, .seed = 1,
                                           .threads = g_threads, .prefetch = 2 * g_threads, .skip_small_images = true});
    loader.next();  // reads the headers and fills the queue
    int64_t patches = 0;
    for (auto _ : state) {
        const sr::data::Batch batch = loader.next();
        benchmark::DoNotOptimize(batch.lr.data());
        patches += batch.lr.dim(0);
    }
    state.SetItemsProcessed(patches);
    state.counters["patches/s"] = benchmark::Counter(static_cast<double>(patches), benchmark::Counter::kIsRate);
}

}  // namespace

int main(int argc, char** argv) {
    fs::path data = fs::path(__FILE__).parent_path().parent_path() / ".." / "shared" / "data";
    std::vector<char*> args;
    for (int i = 0; i < argc; ++i) {
        if (std::strncmp(argv[i], "--threads=", 10) == 0) g_threads = std::max(1, std::atoi(argv[i] + 10));
        else if (std::strncmp(argv[i], "--data=", 7) == 0) data = argv[i] + 7;
        else args.push_back(argv[i]);
    }
    int count = static_cast<int>(args.size());
    benchmark::Initialize(&count, args.data());

    g_work = fs::temp_directory_path() / ("sr_loader_bench_" + std::to_string(::getpid()));
    std::printf("machine: %s, %u hardware threads; loader threads: %d\n", sr::bench::cpu_name().c_str(),
                std::thread::hardware_concurrency(), g_threads);
    std::printf("a CPU training step (EDSR-baseline, batch 16, 2 threads) takes 0.57-1.0 s: 16-28 patches/s;\n"
                "a GPU step takes ~2-8 ms: 2000-8000 patches/s (docs perf-limits.md)\n");
    try {
        const auto start = std::chrono::steady_clock::now();
        make_div2k_like(g_work / "div2k_like");
        sr::data::convert_to_npy(g_work / "div2k_like", g_work / "div2k_like_npy", {.threads = g_threads});
        auto div2k_png = std::make_shared<sr::data::PairedFolderDataset>(g_work / "div2k_like",
                                                                         sr::data::PairedFolderOptions{.scale = k_scale});
        auto div2k_npy = std::make_shared<sr::data::PairedFolderDataset>(
            g_work / "div2k_like", sr::data::PairedFolderOptions{.scale = k_scale, .cache_dir = g_work / "div2k_like_npy"});
        g_datasets.push_back({"div2k_like/png", div2k_png});
        g_datasets.push_back({"div2k_like/npy", div2k_npy});
        if (fs::is_directory(data / "train")) {
            sr::data::convert_to_npy(data / "train", g_work / "train_npy", {.threads = g_threads});
            auto train_png = std::make_shared<sr::data::HrFolderDataset>(data / "train", sr::data::HrFolderOptions{.scale = k_scale});
            auto train_npy = std::make_shared<sr::data::HrFolderDataset>(
                data / "train", sr::data::HrFolderOptions{.scale = k_scale, .cache_dir = g_work / "train_npy"});
            g_datasets.push_back({"train291/png+bmp", train_png});
            g_datasets.push_back({"train291/npy", train_npy});
        } else {
            std::printf("(no %s: the train291 variants are skipped)\n", (data / "train").c_str());
        }
        std::printf("prepared in %.1f s\n",
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        for (std::size_t i = 0; i + 1 < g_datasets.size(); i += 2)
            if (!same_first_batch(g_datasets[i].second, g_datasets[i + 1].second)) {
                std::fprintf(stderr, "%s and %s give different batches\n", g_datasets[i].first.c_str(),
                             g_datasets[i + 1].first.c_str());
                fs::remove_all(g_work);
                return 1;
            }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "loader_bench: %s\n", e.what());
        fs::remove_all(g_work);
        return 1;
    }
    for (const auto& [name, dataset] : g_datasets)
        benchmark::RegisterBenchmark(("loader/" + name).c_str(), loader_throughput, dataset)->UseRealTime()->MinTime(2.0);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    g_datasets.clear();
    fs::remove_all(g_work);
    return 0;
}
