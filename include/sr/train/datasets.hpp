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
#include <algorithm>
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

// Refuses, before any step, data a run cannot train or validate on: an empty training or
// validation set; training images none of which holds the HR patch (--lr-patch-size x scale on
// each side); with random-crop validation (no --benchmark), a validation image that is smaller
// than the patch (it would fail only at the first epoch's end). Sizes come from file headers.
// Returns a note naming the training images too small to be sampled (the loader leaves them out,
// as T91 at x4 needs), or "" when every image is large enough.
inline std::string check_training_data(const TrainingData& d, const TrainOptions& o) {
    const int patch = o.lr_patch_size, hr_patch = patch * o.scale;
    const auto patch_text = [&] {
        return std::to_string(hr_patch) + "x" + std::to_string(hr_patch) + " HR patch (--lr-patch-size " +
               std::to_string(patch) + " x scale " + std::to_string(o.scale) + ")";
    };
    const auto hr_text = [&](const data::ImageSize& lr) {
        return std::to_string(lr.width * o.scale) + "x" + std::to_string(lr.height * o.scale);
    };
    SR_CHECK(d.train->size() >= 1, "training data ", d.train->describe(), ": no images to train on (check --dataset and "
             "--training-images)");
    SR_CHECK(d.valid->size() >= 1, "validation data ", d.valid->describe(), ": no images to validate on (check "
             "--validation-dataset and --validation-images)");
    int64_t small = 0, largest = 0, largest_area = -1;
    std::string first_small;
    for (int64_t i = 0; i < d.train->size(); ++i) {
        const data::ImageSize lr = d.train->lr_size(i);
        if (int64_t(lr.height) * lr.width > largest_area) largest = i, largest_area = int64_t(lr.height) * lr.width;
        if (lr.height >= patch && lr.width >= patch) continue;
        if (small++ == 0) first_small = d.train->name(i) + " (" + hr_text(lr) + ")";
    }
    SR_CHECK(small < d.train->size(), "training data ", d.train->describe(), ": no image holds the ", patch_text(),
             "; the largest, ", d.train->name(largest), ", is ", hr_text(d.train->lr_size(largest)),
             "; lower --lr-patch-size or add larger images");
    if (!o.benchmark) {
        const int64_t checked = std::min<int64_t>(d.valid->size(), int64_t(std::max(1, o.validation_steps)) * o.batch_size);
        for (int64_t i = 0; i < checked; ++i) {
            const data::ImageSize lr = d.valid->lr_size(i);
            SR_CHECK(lr.height >= patch && lr.width >= patch, "validation data ", d.valid->describe(), ": ",
                     d.valid->name(i), " is ", hr_text(lr), ", smaller than the ", patch_text(),
                     " its random-crop validation needs; lower --lr-patch-size, validate on full images (--benchmark) "
                     "or leave it out (--validation-images)");
        }
    }
    if (small == 0) return "";
    return "training data: " + std::to_string(small) + " of " + std::to_string(d.train->size()) +
           " images are smaller than the " + patch_text() + " and are left out, e.g. " + first_small;
}

}  // namespace sr::train
