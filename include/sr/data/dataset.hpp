#pragma once
// PairDataset: a list of (LR, HR) training or validation pairs at one scale.
//
// Every pair is 8-bit RGB (gray expanded, alpha dropped, 16 bits rounded to 8), and the HR is
// exactly scale times the LR in each dimension: an HR that is not a multiple of the scale is
// cropped top-left, as the benchmark protocol does. Implementations: Div2kDataset,
// PairedFolderDataset, HrFolderDataset (LR made on the fly).
//
// Decoded-image cache: `sr-data convert` mirrors a folder tree into .npy files (uint8 HWC). A
// dataset given DatasetOptions::cache_dir reads <cache_dir>/<relative path>.npy instead of the
// image whenever it exists; a dataset whose root is itself a converted tree finds the .npy files
// directly. Crops of cached images read only their rows.
//
// Thread safety: all const members may be called from several threads at once (the loader does).
#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sr/io/image.hpp"

namespace sr::data {

using io::Image;
using io::Window;

struct ImagePair {
    Image lr, hr;  // 8-bit RGB; hr is lr x scale in both dimensions
};

struct ImageSize {
    int height = 0, width = 0;
    friend bool operator==(const ImageSize&, const ImageSize&) = default;
};

struct DatasetOptions {
    std::filesystem::path cache_dir;  // optional .npy mirror of the dataset root (sr-data convert)
};

class PairDataset {
public:
    virtual ~PairDataset() = default;

    virtual int64_t size() const = 0;
    virtual int scale() const = 0;
    // A name for logs and errors (the relative file name of the HR image).
    virtual std::string name(int64_t index) const = 0;
    // What the dataset is, in one line ("paired folder benchmark/Set5, x4, 5 images").
    virtual std::string describe() const = 0;
    // LR size of pair `index`, from file headers; cached after the first call.
    ImageSize lr_size(int64_t index) const {
        check_index(index);
        {
            std::lock_guard lock(m_size_mutex);
            if (auto it = m_lr_sizes.find(index); it != m_lr_sizes.end()) return it->second;
        }
        const ImageSize size = compute_lr_size(index);
        std::lock_guard lock(m_size_mutex);
        m_lr_sizes[index] = size;
        return size;
    }
    // The whole pair, HR cropped to LR x scale.
    virtual ImagePair load(int64_t index) const = 0;
    // Window `lr_window` of the LR and the aligned HR window (every coordinate times scale()).
    // Equal to cropping load(index); implementations read less where they can.
    virtual ImagePair load_window(int64_t index, const Window& lr_window) const {
        ImagePair pair = load(index);
        const int s = scale();
        return {io::crop(pair.lr, lr_window),
                io::crop(pair.hr, Window{lr_window.top * s, lr_window.left * s, lr_window.height * s, lr_window.width * s})};
    }

protected:
    virtual ImageSize compute_lr_size(int64_t index) const = 0;
    void check_index(int64_t index) const {
        SR_CHECK(index >= 0 && index < size(), describe(), ": pair index ", index, " is outside 0..", size() - 1);
    }

private:
    mutable std::mutex m_size_mutex;
    mutable std::map<int64_t, ImageSize> m_lr_sizes;
};

// ---- helpers shared by the implementations ----

// Extensions tried, in order, for an image named by its path without extension. .npy first: a
// converted tree holds both, and the cache is what it is for.
inline const std::vector<std::string>& image_extensions() {
    static const std::vector<std::string> k_extensions = {".npy", ".png", ".jpg", ".jpeg", ".bmp", ".tga",
                                                          ".PNG", ".JPG", ".JPEG", ".BMP", ".TGA"};
    return k_extensions;
}

// The file holding image `stem` (a path without extension) under `root`, preferring the .npy
// in `cache_dir` at the same relative path; empty when none exists.
inline std::filesystem::path find_image(const std::filesystem::path& root, const std::filesystem::path& relative_stem,
                                        const std::filesystem::path& cache_dir) {
    if (!cache_dir.empty()) {
        std::filesystem::path cached = cache_dir / relative_stem;
        cached += ".npy";
        if (std::filesystem::is_regular_file(cached)) return cached;
    }
    for (const std::string& ext : image_extensions()) {
        std::filesystem::path candidate = root / relative_stem;
        candidate += ext;
        if (std::filesystem::is_regular_file(candidate)) return candidate;
    }
    return {};
}

// Image files under `root`, recursively, as paths relative to root without extension, sorted;
// one entry per stem when a folder holds both an image and its .npy.
inline std::vector<std::filesystem::path> list_image_stems(const std::filesystem::path& root) {
    SR_CHECK(std::filesystem::is_directory(root), root.string(), ": folder does not exist");
    std::vector<std::filesystem::path> stems;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(
             root, std::filesystem::directory_options::follow_directory_symlink)) {
        if (!entry.is_regular_file() || !io::is_image_file(entry.path())) continue;
        if (entry.path().filename().string().starts_with(".")) continue;  // temporaries of atomic writes
        stems.push_back(std::filesystem::relative(entry.path(), root).replace_extension());
    }
    std::sort(stems.begin(), stems.end());
    stems.erase(std::unique(stems.begin(), stems.end()), stems.end());
    return stems;
}

inline Image read_rgb8(const std::filesystem::path& path) { return io::to_rgb8(io::read_image(path)); }
inline Image read_rgb8_window(const std::filesystem::path& path, const Window& window) {
    return io::to_rgb8(io::read_image_window(path, window));
}

inline ImageSize image_size_of(const std::filesystem::path& path) {
    const io::ImageInfo info = io::read_image_info(path);
    return {info.height, info.width};
}

}  // namespace sr::data
