#pragma once
// HrFolderDataset: any images under a folder (recursively), with LR images made on the fly by a
// degradation (sr/data/degradation.hpp). For the bicubic degradation a training crop computes
// only its own LR window from the HR pixels it depends on, which equals cropping the whole LR
// image exactly (bicubic_downscale_window), so crops cost the same on a 2K photo as on a small one.
#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sr/data/dataset.hpp"
#include "sr/data/degradation.hpp"

namespace sr::data {

struct HrFolderOptions {
    int scale = 4;
    Degradation degradation;          // how the LR images are made
    std::filesystem::path cache_dir;  // .npy mirror of the folder (sr-data convert)
};

class HrFolderDataset : public PairDataset {
public:
    HrFolderDataset(const std::filesystem::path& root, const HrFolderOptions& options)
        : m_root(root), m_options(options) {
        SR_CHECK(options.scale >= 1, "HR folder ", root.string(), ": scale ", options.scale, " must be at least 1");
        for (const auto& stem : list_image_stems(root)) {
            m_names.push_back(stem.string());
            m_files.push_back(find_image(root, stem, options.cache_dir));
        }
        SR_CHECK(!m_files.empty(), "HR folder ", root.string(), " holds no images (.png, .jpg, .bmp, .tga, .npy)");
    }

    int64_t size() const override { return static_cast<int64_t>(m_files.size()); }
    int scale() const override { return m_options.scale; }
    std::string name(int64_t index) const override {
        check_index(index);
        return m_names[static_cast<std::size_t>(index)];
    }
    std::string describe() const override {
        return sr::detail::concat("HR folder ", m_root.string(), " x", m_options.scale, " ", m_options.degradation.name());
    }
    const std::filesystem::path& file(int64_t index) const {
        check_index(index);
        return m_files[static_cast<std::size_t>(index)];
    }

    ImagePair load(int64_t index) const override {
        Image hr = read_rgb8(file(index));
        check_size(index, {hr.height(), hr.width()});
        Image lr = degrade(hr, m_options.scale, m_options.degradation);
        const int s = m_options.scale;
        if (hr.height() != lr.height() * s || hr.width() != lr.width() * s)
            hr = io::crop(hr, Window{0, 0, lr.height() * s, lr.width() * s});
        return {std::move(lr), std::move(hr)};
    }

    ImagePair load_window(int64_t index, const Window& lr_window) const override {
        if (!m_options.degradation.is_local()) return PairDataset::load_window(index, lr_window);
        const ImageSize lr_dims = lr_size(index);
        const Window& w = lr_window;
        SR_CHECK(w.top >= 0 && w.left >= 0 && w.top + w.height <= lr_dims.height && w.left + w.width <= lr_dims.width,
                 name(index), ": LR window (top ", w.top, ", left ", w.left, ", ", w.height, "x", w.width,
                 ") is outside the ", lr_dims.height, "x", lr_dims.width, " LR image");
        const int s = m_options.scale;
        const ImageSize hr_dims = hr_size(index);
        const Window target{w.top * s, w.left * s, w.height * s, w.width * s};
        const Window support = bicubic_downscale_support(hr_dims.height, hr_dims.width, s, w);
        // One read covering both the HR crop and the pixels its LR depends on.
        const int top = std::min(target.top, support.top), left = std::min(target.left, support.left);
        const int bottom = std::max(target.top + target.height, support.top + support.height);
        const int right = std::max(target.left + target.width, support.left + support.width);
        const Window part_window{top, left, bottom - top, right - left};
        const Image part = read_rgb8_window(file(index), part_window);
        return {bicubic_downscale_window(part, part_window, hr_dims.height, hr_dims.width, s, w),
                io::crop(part, Window{target.top - top, target.left - left, target.height, target.width})};
    }

protected:
    ImageSize compute_lr_size(int64_t index) const override {
        const ImageSize hr = hr_size(index);
        return {hr.height / m_options.scale, hr.width / m_options.scale};
    }

private:
    ImageSize hr_size(int64_t index) const {
        {
            std::lock_guard lock(m_hr_size_mutex);
            if (auto it = m_hr_sizes.find(index); it != m_hr_sizes.end()) return it->second;
        }
        const ImageSize hr = image_size_of(file(index));
        check_size(index, hr);
        std::lock_guard lock(m_hr_size_mutex);
        m_hr_sizes[index] = hr;
        return hr;
    }
    void check_size(int64_t index, ImageSize hr) const {
        SR_CHECK(hr.height >= m_options.scale && hr.width >= m_options.scale, "HR folder ", m_root.string(), ": ",
                 file(index).string(), " is ", hr.width, "x", hr.height, ", smaller than the scale x", m_options.scale);
    }

    std::filesystem::path m_root;
    HrFolderOptions m_options;
    std::vector<std::string> m_names;
    std::vector<std::filesystem::path> m_files;
    mutable std::mutex m_hr_size_mutex;
    mutable std::map<int64_t, ImageSize> m_hr_sizes;
};

}  // namespace sr::data
