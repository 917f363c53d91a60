#pragma once
// Whole-folder conversions behind `sr-data`:
// - convert_to_npy: the seed's convert.py step. Every image under a folder (recursively) is
//   decoded once, made 8-bit RGB, and saved as <output>/<relative path>.npy (uint8 HWC), so
//   training reads raw pixels instead of decoding PNGs (and crops read only their rows).
// - degrade_folder: LR images from an HR folder, <output>/X<s>/<relative path>[x<s>].<ext>,
//   bicubic (PNG) or bicubic then JPEG at quality Q (a .jpg written at Q, as the seed's JPEG
//   conversion saved it). Scale 1 only re-encodes (JPEG variants of an existing LR folder).
// Files are processed by a thread pool; every write is atomic, so an interrupted run leaves only
// whole files, and a re-run skips outputs newer than their source unless `overwrite`.
#include <algorithm>
#include <filesystem>
#include <functional>
#include <future>
#include <string>
#include <vector>

#include "sr/core/thread_pool.hpp"
#include "sr/data/dataset.hpp"
#include "sr/data/degradation.hpp"
#include "sr/io/image.hpp"

namespace sr::data {

struct FolderJobSummary {
    int64_t written = 0, skipped = 0;
    int64_t bytes_written = 0;
    std::vector<std::string> errors;  // one line per file that failed ("<file>: <reason>")
};

// Called on the calling thread after each file: (files done, files in total, output path).
using FolderProgress = std::function<void(int64_t, int64_t, const std::filesystem::path&)>;

namespace detail {

struct FolderTask {
    std::filesystem::path source, destination;
    std::function<std::vector<uint8_t>(const std::filesystem::path&)> make;  // encoded output bytes
};

inline bool up_to_date(const std::filesystem::path& source, const std::filesystem::path& destination) {
    std::error_code ec;
    const auto out_time = std::filesystem::last_write_time(destination, ec);
    if (ec) return false;
    const auto in_time = std::filesystem::last_write_time(source, ec);
    return !ec && out_time >= in_time;
}

inline FolderJobSummary run_folder_tasks(std::vector<FolderTask> tasks, int threads, bool overwrite,
                                         const FolderProgress& progress) {
    SR_CHECK(threads >= 1, "folder conversion: threads ", threads, " must be at least 1");
    struct Outcome {
        bool skipped = false;
        int64_t bytes = 0;
        std::string error;
    };
    FolderJobSummary summary;
    ThreadPool pool(threads);
    std::vector<std::future<Outcome>> outcomes;
    outcomes.reserve(tasks.size());
    for (const FolderTask& task : tasks)
        outcomes.push_back(pool.submit([&task, overwrite] {
            Outcome outcome;
            try {
                if (!overwrite && up_to_date(task.source, task.destination)) {
                    outcome.skipped = true;
                    return outcome;
                }
                std::filesystem::create_directories(task.destination.parent_path());
                const std::vector<uint8_t> bytes = task.make(task.source);
                io::write_file_atomically(task.destination, bytes.data(), bytes.size());
                outcome.bytes = static_cast<int64_t>(bytes.size());
            } catch (const std::exception& e) {
                outcome.error = e.what();
            }
            return outcome;
        }));
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        const Outcome outcome = outcomes[i].get();
        if (!outcome.error.empty()) {
            summary.errors.push_back(outcome.error);
        } else if (outcome.skipped) {
            ++summary.skipped;
        } else {
            ++summary.written;
            summary.bytes_written += outcome.bytes;
        }
        if (progress) progress(static_cast<int64_t>(i + 1), static_cast<int64_t>(outcomes.size()), tasks[i].destination);
    }
    return summary;
}

inline std::vector<std::filesystem::path> source_images(const std::filesystem::path& input) {
    SR_CHECK(std::filesystem::is_directory(input), input.string(), ": input folder does not exist");
    std::vector<std::filesystem::path> files;
    for (const auto& entry :
         std::filesystem::recursive_directory_iterator(input, std::filesystem::directory_options::follow_directory_symlink)) {
        const auto format = io::format_from_extension(entry.path());
        if (entry.is_regular_file() && format != io::ImageFormat::automatic && format != io::ImageFormat::npy &&
            !entry.path().filename().string().starts_with("."))
            files.push_back(std::filesystem::relative(entry.path(), input));
    }
    std::sort(files.begin(), files.end());
    SR_CHECK(!files.empty(), input.string(), ": no images found (.png, .jpg, .jpeg, .bmp, .tga)");
    return files;
}

}  // namespace detail

struct ConvertOptions {
    int threads = 2;
    bool overwrite = false;  // rewrite .npy files that are newer than their image
};

inline FolderJobSummary convert_to_npy(const std::filesystem::path& input, const std::filesystem::path& output,
                                       const ConvertOptions& options = {}, const FolderProgress& progress = {}) {
    std::vector<detail::FolderTask> tasks;
    for (const auto& relative : detail::source_images(input)) {
        auto destination = output / relative;
        destination.replace_extension(".npy");
        tasks.push_back({input / relative, destination,
                         [](const std::filesystem::path& source) { return io::encode_npy(read_rgb8(source)); }});
    }
    return detail::run_folder_tasks(std::move(tasks), options.threads, options.overwrite, progress);
}

struct DegradeOptions {
    std::vector<int> scales = {4};
    Degradation degradation;   // bicubic -> .png; bicubic_jpeg_Q -> .jpg at quality Q
    bool div2k_names = false;  // name outputs <stem>x<s> (DIV2K) instead of <stem>
    int threads = 2;
    bool overwrite = false;
};

inline FolderJobSummary degrade_folder(const std::filesystem::path& input, const std::filesystem::path& output,
                                       const DegradeOptions& options = {}, const FolderProgress& progress = {}) {
    SR_CHECK(!options.scales.empty(), "degrade: no scale given");
    const bool jpeg = options.degradation.kind == Degradation::Kind::bicubic_jpeg;
    std::vector<detail::FolderTask> tasks;
    for (const auto& relative : detail::source_images(input))
        for (const int scale : options.scales) {
            SR_CHECK(scale >= 1, "degrade: scale ", scale, " must be at least 1");
            auto destination = output / ("X" + std::to_string(scale)) / relative;
            std::string stem = destination.stem().string();
            if (options.div2k_names) stem += "x" + std::to_string(scale);
            destination.replace_filename(stem + (jpeg ? ".jpg" : ".png"));
            const int quality = options.degradation.jpeg_quality;
            tasks.push_back({input / relative, destination, [scale, jpeg, quality](const std::filesystem::path& source) {
                                 const Image lr = bicubic_downscale(read_rgb8(source), scale);
                                 io::WriteOptions write;
                                 write.jpeg_quality = quality;
                                 return io::encode_image(lr, jpeg ? io::ImageFormat::jpeg : io::ImageFormat::png, write,
                                                         source.string());
                             }});
        }
    return detail::run_folder_tasks(std::move(tasks), options.threads, options.overwrite, progress);
}

}  // namespace sr::data
