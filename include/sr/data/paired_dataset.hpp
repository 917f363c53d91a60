#pragma once
// Datasets whose LR images are files beside the HR images.
//
// FilePairDataset: an explicit list of (LR file, HR file) pairs. It checks that each HR is the LR
// times the scale, allowing the HR up to scale - 1 extra rows and columns (cropped top-left).
// PairedFolderDataset: the benchmark layout
//     <root>/HR/<name>.png
//     <root>/LR_bicubic/X<s>/<name>.png
// pairing by relative path without extension (so HR .png may pair with an LR .jpg or .npy).
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "sr/data/dataset.hpp"

namespace sr::data {

class FilePairDataset : public PairDataset {
public:
    struct Entry {
        std::string name;
        std::filesystem::path lr, hr;
    };

    FilePairDataset(std::vector<Entry> entries, int scale, std::string description)
        : m_entries(std::move(entries)), m_scale(scale), m_description(std::move(description)) {
        SR_CHECK(scale >= 1, m_description, ": scale ", scale, " must be at least 1");
        SR_CHECK(!m_entries.empty(), m_description, ": no image pairs");
    }

    int64_t size() const override { return static_cast<int64_t>(m_entries.size()); }
    int scale() const override { return m_scale; }
    std::string name(int64_t index) const override { return entry(index).name; }
    std::string describe() const override { return m_description; }
    const Entry& entry(int64_t index) const {
        check_index(index);
        return m_entries[static_cast<std::size_t>(index)];
    }

    ImagePair load(int64_t index) const override {
        const Entry& e = entry(index);
        Image lr = read_rgb8(e.lr);
        Image hr = read_rgb8(e.hr);
        check_sizes(e, {lr.height(), lr.width()}, {hr.height(), hr.width()});
        if (hr.height() != lr.height() * m_scale || hr.width() != lr.width() * m_scale)
            hr = io::crop(hr, Window{0, 0, lr.height() * m_scale, lr.width() * m_scale});
        return {std::move(lr), std::move(hr)};
    }

    ImagePair load_window(int64_t index, const Window& w) const override {
        const ImageSize lr_dims = lr_size(index);  // checks the HR size too
        SR_CHECK(w.top >= 0 && w.left >= 0 && w.top + w.height <= lr_dims.height && w.left + w.width <= lr_dims.width,
                 name(index), ": LR window (top ", w.top, ", left ", w.left, ", ", w.height, "x", w.width,
                 ") is outside the ", lr_dims.height, "x", lr_dims.width, " LR image");
        const Entry& e = entry(index);
        const int s = m_scale;
        return {read_rgb8_window(e.lr, w), read_rgb8_window(e.hr, Window{w.top * s, w.left * s, w.height * s, w.width * s})};
    }

protected:
    ImageSize compute_lr_size(int64_t index) const override {
        const Entry& e = entry(index);
        const ImageSize lr = image_size_of(e.lr);
        check_sizes(e, lr, image_size_of(e.hr));
        return lr;
    }

private:
    void check_sizes(const Entry& e, ImageSize lr, ImageSize hr) const {
        const bool fits = hr.height >= lr.height * m_scale && hr.height < (lr.height + 1) * m_scale &&
                          hr.width >= lr.width * m_scale && hr.width < (lr.width + 1) * m_scale;
        SR_CHECK(fits, m_description, ": HR ", e.hr.string(), " is ", hr.width, "x", hr.height, " but LR ", e.lr.string(),
                 " is ", lr.width, "x", lr.height, "; at scale x", m_scale, " the HR must be ", lr.width * m_scale, "x",
                 lr.height * m_scale, " (up to ", m_scale - 1, " more pixels each way)");
    }

    std::vector<Entry> m_entries;
    int m_scale;
    std::string m_description;
};

struct PairedFolderOptions {
    int scale = 4;
    std::string hr_folder = "HR";
    std::string lr_folder = "LR_bicubic";  // LR images in <root>/<lr_folder>/X<scale>/
    std::filesystem::path cache_dir;       // .npy mirror of <root> (same relative paths)
};

inline std::vector<FilePairDataset::Entry> paired_folder_entries(const std::filesystem::path& root,
                                                                 const PairedFolderOptions& options) {
    const std::filesystem::path hr_dir = root / options.hr_folder;
    const std::filesystem::path lr_relative = std::filesystem::path(options.lr_folder) / ("X" + std::to_string(options.scale));
    const std::filesystem::path lr_dir = root / lr_relative;
    SR_CHECK(std::filesystem::is_directory(hr_dir), "paired folder ", root.string(), ": no HR folder ", hr_dir.string());
    SR_CHECK(std::filesystem::is_directory(lr_dir), "paired folder ", root.string(), ": no LR folder ", lr_dir.string(),
             " for scale x", options.scale);
    const auto hr_stems = list_image_stems(hr_dir);
    const auto lr_stems = list_image_stems(lr_dir);
    SR_CHECK(!hr_stems.empty(), "paired folder ", root.string(), ": ", hr_dir.string(),
             " holds no images (.png, .jpg, .bmp, .tga, .npy)");
    for (const auto& stem : lr_stems)
        SR_CHECK(std::binary_search(hr_stems.begin(), hr_stems.end(), stem), "paired folder ", root.string(), ": LR image ",
                 (lr_dir / stem).string(), ".* has no HR image in ", hr_dir.string());
    std::vector<FilePairDataset::Entry> entries;
    for (const auto& stem : hr_stems) {
        SR_CHECK(std::binary_search(lr_stems.begin(), lr_stems.end(), stem), "paired folder ", root.string(),
                 ": HR image ", (hr_dir / stem).string(), ".* has no LR image in ", lr_dir.string());
        const auto cache_for = [&](const std::filesystem::path& sub) {
            return options.cache_dir.empty() ? std::filesystem::path() : options.cache_dir / sub;
        };
        entries.push_back({stem.string(), find_image(lr_dir, stem, cache_for(lr_relative)),
                           find_image(hr_dir, stem, cache_for(options.hr_folder))});
    }
    return entries;
}

class PairedFolderDataset : public FilePairDataset {
public:
    PairedFolderDataset(const std::filesystem::path& root, const PairedFolderOptions& options)
        : FilePairDataset(paired_folder_entries(root, options), options.scale,
                          sr::detail::concat("paired folder ", root.string(), " x", options.scale)) {}
};

}  // namespace sr::data
