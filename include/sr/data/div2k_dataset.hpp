#pragma once
// DIV2K in the layout the seed (krasserm/wdsr) documents:
//     <root>/DIV2K_{train,valid}_HR/0001.png
//     <root>/DIV2K_{train,valid}_LR_{downgrade}/X{2,3,4}/0001x2.png
// downgrade: bicubic, unknown, or bicubic_jpeg_<Q> (the seed's JPEG variants, .jpg files made by
// `sr-data degrade`). Image ids run 1-800 (train) and 801-900 (valid) unless a range is given.
// Each image may also be a .npy (a converted tree, as the seed's DIV2K_BIN) or come from
// cache_dir, a converted mirror of root.
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "sr/data/paired_dataset.hpp"

namespace sr::data {

// "801-900" -> {801, 900}; a single number "5" -> {5, 5}.
inline std::pair<int, int> parse_id_range(std::string_view text) {
    const auto parse = [](std::string_view digits, int& value) {
        if (digits.empty() || digits.size() > 6) return false;
        value = 0;
        for (const char c : digits) {
            if (c < '0' || c > '9') return false;
            value = value * 10 + (c - '0');
        }
        return true;
    };
    const std::size_t dash = text.find('-');
    int first = 0, last = 0;
    const bool ok = dash == std::string_view::npos
                        ? parse(text, first) && parse(text, last)
                        : parse(text.substr(0, dash), first) && parse(text.substr(dash + 1), last);
    SR_CHECK(ok && first >= 1 && last >= first, "image range '", text,
             "' is not valid (expected FIRST-LAST with 1 <= FIRST <= LAST, e.g. 801-900)");
    return {first, last};
}

struct Div2kOptions {
    std::string subset = "train";        // train or valid
    int scale = 4;                       // 2, 3 or 4 (any X<s> folder that exists)
    std::string downgrade = "bicubic";   // bicubic, unknown, bicubic_jpeg_<Q>
    int first_id = 0, last_id = 0;       // 0: 1-800 for train, 801-900 for valid
    std::filesystem::path cache_dir;     // .npy mirror of root (sr-data convert)
};

inline std::vector<FilePairDataset::Entry> div2k_entries(const std::filesystem::path& root, const Div2kOptions& o) {
    SR_CHECK(o.subset == "train" || o.subset == "valid", "DIV2K: subset '", o.subset, "' is not train or valid");
    SR_CHECK(o.scale >= 1, "DIV2K: scale ", o.scale, " must be at least 1");
    int first = o.first_id, last = o.last_id;
    if (first == 0 && last == 0) {
        first = o.subset == "train" ? 1 : 801;
        last = o.subset == "train" ? 800 : 900;
    }
    SR_CHECK(first >= 1 && last >= first && last <= 9999, "DIV2K: image range ", first, "-", last, " is not valid");
    const std::filesystem::path hr_relative = "DIV2K_" + o.subset + "_HR";
    const std::filesystem::path lr_relative =
        std::filesystem::path("DIV2K_" + o.subset + "_LR_" + o.downgrade) / ("X" + std::to_string(o.scale));
    const auto hr_dir = root / hr_relative, lr_dir = root / lr_relative;
    const auto cache_for = [&](const std::filesystem::path& sub) {
        return o.cache_dir.empty() ? std::filesystem::path() : o.cache_dir / sub;
    };
    SR_CHECK(std::filesystem::is_directory(hr_dir), "DIV2K ", root.string(), ": no HR folder ", hr_dir.string());
    SR_CHECK(std::filesystem::is_directory(lr_dir), "DIV2K ", root.string(), ": no LR folder ", lr_dir.string(),
             o.downgrade.starts_with("bicubic_jpeg_") ? " (make it with: sr-data degrade --jpeg-quality ...)" : "");
    std::vector<FilePairDataset::Entry> entries;
    for (int id = first; id <= last; ++id) {
        char hr_name[16], lr_name[24];
        std::snprintf(hr_name, sizeof(hr_name), "%04d", id);
        std::snprintf(lr_name, sizeof(lr_name), "%04dx%d", id, o.scale);
        const auto hr = find_image(hr_dir, hr_name, cache_for(hr_relative));
        const auto lr = find_image(lr_dir, lr_name, cache_for(lr_relative));
        SR_CHECK(!hr.empty(), "DIV2K ", root.string(), ": HR image ", (hr_dir / hr_name).string(),
                 ".png (or .npy, .jpg) is missing for id ", id, " of ", first, "-", last);
        SR_CHECK(!lr.empty(), "DIV2K ", root.string(), ": LR image ", (lr_dir / lr_name).string(),
                 ".png (or .npy, .jpg) is missing for id ", id, " of ", first, "-", last);
        entries.push_back({hr_name, lr, hr});
    }
    return entries;
}

class Div2kDataset : public FilePairDataset {
public:
    Div2kDataset(const std::filesystem::path& root, const Div2kOptions& options)
        : FilePairDataset(div2k_entries(root, options), options.scale,
                          sr::detail::concat("DIV2K ", options.subset, " ", options.downgrade, " x", options.scale, " (",
                                             root.string(), ")")) {}
};

}  // namespace sr::data
