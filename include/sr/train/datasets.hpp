#pragma once
// The training and validation data of a run, from the --dataset path:
//   - a DIV2K root (DIV2K_train_HR/, DIV2K_train_LR_<downgrade>/X<s>/, ...): --training-images and
//     --validation-images are DIV2K ids (1-800 and 801-900 by default), from train and valid;
//   - a paired folder (HR/ + LR_bicubic/X<s>/, e.g. a benchmark set);
//   - any folder of HR images, searched recursively, LR made on the fly with --downgrade.
// For the folders the ranges are 1-based positions in the sorted image list; by default the last
// 5 % (at least one image) validate and the rest train, or all train when --validation-dataset
// names a separate validation set.
#include <filesystem>
#include <memory>
#include <string>

#include "sr/data/div2k_dataset.hpp"
#include "sr/data/hr_folder_dataset.hpp"
#include "sr/data/paired_dataset.hpp"
#include "sr/data/subset_dataset.hpp"
#include "sr/train/options.hpp"

namespace sr::train {

struct TrainingData {
    std::shared_ptr<const data::PairDataset> train, valid;
};

inline bool is_div2k_root(const std::filesystem::path& p) {
    return std::filesystem::is_directory(p / "DIV2K_train_HR") || std::filesystem::is_directory(p / "DIV2K_valid_HR");
}
inline bool is_paired_folder(const std::filesystem::path& p) {
    return std::filesystem::is_directory(p / "HR") && std::filesystem::is_directory(p / "LR_bicubic");
}

// A whole folder dataset (paired or HR-only), at `scale`.
inline std::shared_ptr<const data::PairDataset> open_folder(const std::filesystem::path& path, int scale,
                                                           const std::string& downgrade, const std::string& cache) {
    SR_CHECK(std::filesystem::is_directory(path), "dataset ", path.string(), ": no such folder");
    if (is_paired_folder(path)) {
        SR_CHECK(downgrade == "bicubic", "dataset ", path.string(), ": a paired folder holds LR_bicubic images; --downgrade ",
                 downgrade, " needs a DIV2K root or a folder of HR images");
        return std::make_shared<data::PairedFolderDataset>(path, data::PairedFolderOptions{scale, "HR", "LR_bicubic", cache});
    }
    SR_CHECK(downgrade != "unknown", "dataset ", path.string(), ": --downgrade unknown needs DIV2K's "
             "DIV2K_*_LR_unknown images; a folder of HR images supports bicubic and bicubic_jpeg_<Q>");
    return std::make_shared<data::HrFolderDataset>(path, data::HrFolderOptions{scale, data::Degradation::parse(downgrade), cache});
}

inline TrainingData open_training_data(const TrainOptions& o) {
    const std::filesystem::path root(o.dataset);
    TrainingData d;
    if (is_div2k_root(root)) {
        auto div2k = [&](const char* subset, const std::string& range, const char* fallback) {
            data::Div2kOptions opts;
            opts.subset = subset, opts.scale = o.scale, opts.downgrade = o.downgrade, opts.cache_dir = o.cache;
            std::tie(opts.first_id, opts.last_id) = data::parse_id_range(range.empty() ? fallback : range);
            return std::make_shared<data::Div2kDataset>(root, opts);
        };
        d.train = div2k("train", o.training_images, "1-800");
        if (o.validation_dataset.empty()) d.valid = div2k("valid", o.validation_images, "801-900");
    } else {
        auto all = open_folder(root, o.scale, o.downgrade, o.cache);
        const int n = static_cast<int>(all->size());
        if (!o.training_images.empty()) {
            const auto [first, last] = data::parse_id_range(o.training_images);
            d.train = data::select_range(all, first, last);
        }
        if (o.validation_dataset.empty()) {
            int first = 0, last = 0;
            if (!o.validation_images.empty()) {
                std::tie(first, last) = data::parse_id_range(o.validation_images);
            } else {
                SR_CHECK(n >= 2, "dataset ", root.string(), " has ", n, " image(s): too few to keep some for validation; "
                         "add images or pass --validation-dataset");
                first = n - std::max(1, n / 20) + 1, last = n;
            }
            d.valid = data::select_range(all, first, last);
            if (!d.train) d.train = data::select_range(all, 1, first - 1);
        } else if (!d.train) {
            d.train = all;
        }
    }
    if (!o.validation_dataset.empty()) {
        const std::filesystem::path vroot(o.validation_dataset);
        if (is_div2k_root(vroot)) {
            data::Div2kOptions opts;
            opts.subset = "valid", opts.scale = o.scale, opts.downgrade = o.downgrade;
            std::tie(opts.first_id, opts.last_id) =
                data::parse_id_range(o.validation_images.empty() ? "801-900" : o.validation_images);
            d.valid = std::make_shared<data::Div2kDataset>(vroot, opts);
        } else {
            d.valid = open_folder(vroot, o.scale, is_paired_folder(vroot) ? "bicubic" : o.downgrade, "");
        }
    }
    return d;
}

}  // namespace sr::train
