// sr-data: prepares training data.
//   sr-data convert -i DIV2K -o DIV2K_npy          decode every image once into .npy (uint8 HWC)
//   sr-data degrade -i HR -o LR_bicubic -s 2 -s 4  bicubic LR images (X<s>/<name>.png)
//   sr-data degrade ... --jpeg-quality 90          the same saved as JPEG at quality 90
//   sr-data check --paired benchmark/Set5 -s 4     list a dataset and check every pair's sizes
// Progress goes to stderr, the summary to stdout; any failure exits non-zero with one line per
// failed file.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "sr/data/div2k_dataset.hpp"
#include "sr/data/folder_conversion.hpp"
#include "sr/data/hr_folder_dataset.hpp"
#include "sr/data/paired_dataset.hpp"

namespace fs = std::filesystem;

namespace {

// Rewrites one progress line on a terminal; elsewhere prints a line every 10% (log files stay short).
sr::data::FolderProgress progress_printer(bool verbose) {
    const bool tty = ::isatty(STDERR_FILENO);
    return [tty, verbose, last_decile = -1](int64_t done, int64_t total, const fs::path& file) mutable {
        if (verbose) {
            std::fprintf(stderr, "[%lld/%lld] %s\n", static_cast<long long>(done), static_cast<long long>(total),
                         file.c_str());
            return;
        }
        const int decile = static_cast<int>(10 * done / total);
        if (tty) {
            std::fprintf(stderr, "\r[%lld/%lld] %3d%%", static_cast<long long>(done), static_cast<long long>(total),
                         static_cast<int>(100 * done / total));
            if (done == total) std::fprintf(stderr, "\n");
        } else if (decile != last_decile) {
            std::fprintf(stderr, "[%lld/%lld] %d%%\n", static_cast<long long>(done), static_cast<long long>(total),
                         10 * decile);
        }
        last_decile = decile;
    };
}

int report(const char* what, const sr::data::FolderJobSummary& summary, std::chrono::steady_clock::time_point start) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (const std::string& error : summary.errors) std::fprintf(stderr, "sr-data: %s\n", error.c_str());
    std::printf("%s: %lld written (%.1f MB), %lld up to date, %zu failed, %.1f s\n", what,
                static_cast<long long>(summary.written), summary.bytes_written / 1e6,
                static_cast<long long>(summary.skipped), summary.errors.size(), seconds);
    return summary.errors.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"sr-data: prepare super-resolution training data (npy cache, bicubic/JPEG LR images, checks)"};
    app.require_subcommand(1);

    fs::path input, output;
    int threads = 2;
    bool overwrite = false, verbose = false;

    auto* convert = app.add_subcommand(
        "convert", "Decode every image under a folder (recursively) into <output>/<same path>.npy, uint8 RGB HWC, "
                   "as the seed's convert.py; loaders read these instead of decoding PNG");
    convert->add_option("-i,--input", input, "folder of images (PNG, JPEG, BMP, TGA)")->required()->check(CLI::ExistingDirectory);
    convert->add_option("-o,--output", output, "folder for the .npy tree (created)")->required();
    convert->add_option("-j,--threads", threads, "decoding threads")->check(CLI::PositiveNumber);
    convert->add_flag("--overwrite", overwrite, "rewrite .npy files that are newer than their image");
    convert->add_flag("-v,--verbose", verbose, "print every file");

    std::vector<int> scales;
    int jpeg_quality = 0;
    bool div2k_names = false;
    auto* degrade = app.add_subcommand(
        "degrade", "Make LR images from an HR folder: <output>/X<s>/<same path>.png by MATLAB-exact bicubic, or "
                   ".jpg at --jpeg-quality (the seed's bicubic_jpeg_<Q>)");
    degrade->add_option("-i,--input", input, "folder of HR images")->required()->check(CLI::ExistingDirectory);
    degrade->add_option("-o,--output", output, "LR folder; X<s> subfolders are created in it")->required();
    degrade->add_option("-s,--scale", scales, "downscaling factor(s), e.g. -s 2 -s 4; 1 only re-encodes")
        ->required()
        ->check(CLI::Range(1, 16));
    degrade->add_option("-q,--jpeg-quality", jpeg_quality, "save as JPEG at this quality (1-100) instead of PNG")
        ->check(CLI::Range(1, 100));
    degrade->add_flag("--div2k-names", div2k_names, "name outputs <name>x<s> as DIV2K does (0001x2.png)");
    degrade->add_option("-j,--threads", threads, "worker threads")->check(CLI::PositiveNumber);
    degrade->add_flag("--overwrite", overwrite, "rewrite outputs that are newer than their HR image");
    degrade->add_flag("-v,--verbose", verbose, "print every file");

    fs::path paired_root, hr_root, div2k_root, cache_dir;
    int scale = 4;
    std::string subset = "train", downgrade = "bicubic", range, degradation = "bicubic";
    auto* check = app.add_subcommand("check", "Open a dataset as training would and check every image pair's sizes");
    auto* layout = check->add_option_group("layout", "the dataset to check (one of)");
    layout->add_option("--paired", paired_root, "benchmark layout: <dir>/HR and <dir>/LR_bicubic/X<s>");
    layout->add_option("--hr", hr_root, "HR-only folder; LR made on the fly by --degradation");
    layout->add_option("--div2k", div2k_root, "DIV2K root with DIV2K_<subset>_HR and DIV2K_<subset>_LR_<downgrade>");
    layout->require_option(1);
    check->add_option("-s,--scale", scale, "scale")->check(CLI::Range(1, 16));
    check->add_option("--subset", subset, "DIV2K subset: train or valid")->check(CLI::IsMember({"train", "valid"}));
    check->add_option("--downgrade", downgrade, "DIV2K LR folder: bicubic, unknown, bicubic_jpeg_<Q>");
    check->add_option("--range", range, "DIV2K image ids, e.g. 1-800 (default by subset)");
    check->add_option("--degradation", degradation, "HR-only folders: bicubic or bicubic_jpeg_<Q>");
    check->add_option("--cache", cache_dir, ".npy mirror of the dataset root made by sr-data convert");

    CLI11_PARSE(app, argc, argv);

    try {
        const auto start = std::chrono::steady_clock::now();
        if (*convert || *degrade) {
            // Once here, not once per image: an output that cannot be created is one error line.
            std::error_code ec;
            fs::create_directories(output, ec);
            if (ec || !fs::is_directory(output))
                sr::fail(output.string(), ": cannot create the output folder (",
                         ec ? ec.message() : std::string("a file is in the way"), ")");
        }
        if (*convert) {
            sr::data::ConvertOptions options;
            options.threads = threads;
            options.overwrite = overwrite;
            return report("convert", sr::data::convert_to_npy(input, output, options, progress_printer(verbose)), start);
        }
        if (*degrade) {
            sr::data::DegradeOptions options;
            options.scales = scales;
            options.degradation =
                sr::data::Degradation::parse(jpeg_quality ? "bicubic_jpeg_" + std::to_string(jpeg_quality) : "bicubic");
            options.div2k_names = div2k_names;
            options.threads = threads;
            options.overwrite = overwrite;
            return report("degrade", sr::data::degrade_folder(input, output, options, progress_printer(verbose)), start);
        }
        std::shared_ptr<sr::data::PairDataset> dataset;
        if (!paired_root.empty()) {
            dataset = std::make_shared<sr::data::PairedFolderDataset>(
                paired_root, sr::data::PairedFolderOptions{.scale = scale, .cache_dir = cache_dir});
        } else if (!hr_root.empty()) {
            dataset = std::make_shared<sr::data::HrFolderDataset>(
                hr_root, sr::data::HrFolderOptions{.scale = scale,
                                                   .degradation = sr::data::Degradation::parse(degradation),
                                                   .cache_dir = cache_dir});
        } else {
            sr::data::Div2kOptions options;
            options.subset = subset;
            options.scale = scale;
            options.downgrade = downgrade;
            options.cache_dir = cache_dir;
            if (!range.empty()) std::tie(options.first_id, options.last_id) = sr::data::parse_id_range(range);
            dataset = std::make_shared<sr::data::Div2kDataset>(div2k_root, options);
        }
        int64_t pixels = 0, failed = 0;
        int min_side = 1 << 30;
        const auto print = progress_printer(false);
        for (int64_t i = 0; i < dataset->size(); ++i) {
            try {
                const sr::data::ImageSize lr = dataset->lr_size(i);
                pixels += int64_t{lr.height} * lr.width;
                min_side = std::min({min_side, lr.height, lr.width});
            } catch (const std::exception& e) {
                std::fprintf(stderr, "sr-data: %s\n", e.what());
                ++failed;
            }
            print(i + 1, dataset->size(), dataset->name(i));
        }
        std::printf("%s: %lld pairs, %lld failed, %.1f LR Mpixel, smallest LR side %d\n", dataset->describe().c_str(),
                    static_cast<long long>(dataset->size()), static_cast<long long>(failed), pixels / 1e6,
                    failed == dataset->size() ? 0 : min_side);
        return failed ? 1 : 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sr-data: %s\n", e.what());
        return 1;
    }
}
