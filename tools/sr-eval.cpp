// sr-eval: PSNR/SSIM of one model or of every model in a folder on a test set (the seed's
// bench.py, plus the papers' protocol).
//
//   sr-eval -m models/sr-default-x4.safetensors -d ../shared/data/benchmark/Set14
//   sr-eval -m output/20261125-190000/models -d DIV2K --images 801-900 --protocol seed --json bench.json
//
// Protocols (docs/metrics.md): paper = SR rounded to uint8 (half to even), Y of BT.601,
// border = scale, SSIM as MATLAB computes it; seed = RGB, float output, no border, as bench.py.
// The table ends with a bicubic baseline row (MATLAB bicubic of the LR) and names the best model.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sr/data/bicubic.hpp"
#include "sr/data/subset_dataset.hpp"
#include "sr/dist/shard.hpp"
#include "sr/infer/upscaler.hpp"
#include "sr/io/atomic_file.hpp"
#include "sr/metrics/evaluate.hpp"
#include "sr/models/model_file.hpp"
#include "sr/train/datasets.hpp"
#include "sr/ops/cpu/precision.hpp"
#include "sr_tools.hpp"
#include "tool_support.hpp"

namespace fs = std::filesystem;

namespace {

struct Score {
    double psnr = 0, ssim = 0, seconds = 0;
    int64_t images = 0;
    std::vector<std::pair<std::string, sr::metrics::ImageMetrics>> per_image;
};

// Every sr model file at `path`: the file itself, or those under the folder (recursively),
// sorted; training states and other safetensors files are skipped.
std::vector<fs::path> find_models(const fs::path& path) {
    if (!fs::is_directory(path)) {
        SR_CHECK(fs::exists(path), path.string(), ": no such model file or folder");
        return {path};
    }
    std::vector<fs::path> models;
    for (const auto& e : fs::recursive_directory_iterator(path)) {
        if (!e.is_regular_file() || e.path().extension() != ".safetensors") continue;
        try {
            const auto meta = sr::models::read_model_metadata(e.path());
            auto it = meta.find("format");
            if (it != meta.end() && it->second == sr::models::k_model_format) models.push_back(e.path());
        } catch (const sr::Error&) {
            // not a readable safetensors file: not a model
        }
    }
    std::sort(models.begin(), models.end());
    SR_CHECK(!models.empty(), path.string(), ": no sr model files (.safetensors with sr-model metadata) in this folder");
    return models;
}

std::shared_ptr<const sr::data::PairDataset> open_test_set(const fs::path& path, int scale, const std::string& images) {
    if (sr::train::is_div2k_root(path)) {
        sr::data::Div2kOptions o;
        o.subset = "valid", o.scale = scale;
        std::tie(o.first_id, o.last_id) = sr::data::parse_id_range(images.empty() ? "801-900" : images);
        return std::make_shared<sr::data::Div2kDataset>(path, o);
    }
    auto all = sr::train::open_folder(path, scale, "bicubic", "");
    if (images.empty()) return all;
    const auto [first, last] = sr::data::parse_id_range(images);
    return sr::data::select_range(all, first, last);
}

template <class Upscale>
Score evaluate(const sr::data::PairDataset& data, const sr::metrics::MetricsProtocol& protocol, Upscale&& upscale,
               const std::string& label) {
    Score score;
    const auto start = std::chrono::steady_clock::now();
    sr::tools::ProgressBar bar(label, data.size(), "images");
    for (int64_t i = 0; i < data.size(); ++i) {
        const sr::data::ImagePair pair = data.load(i);
        const sr::Tensor<float> sr_image = upscale(pair.lr);
        const sr::Tensor<float> hr = sr::io::image_to_tensor(pair.hr);
        SR_CHECK(sr_image.shape() == hr.shape(), data.name(i), ": SR result ", sr_image.shape(), " and HR ", hr.shape(),
                 " differ in size");
        const auto m = sr::metrics::evaluate_pair(sr_image, hr, protocol, true);
        score.per_image.push_back({data.name(i), m});
        score.psnr += m.psnr, score.ssim += m.ssim, ++score.images;
        bar.update(i + 1);
    }
    bar.finish();
    score.psnr /= static_cast<double>(score.images);
    score.ssim /= static_cast<double>(score.images);
    score.seconds = sr::tools::seconds_since(start);
    return score;
}

}  // namespace

int sr::tools::eval_main(int argc, char** argv) {
    CLI::App app{"sr-eval: PSNR and SSIM of super-resolution models on a test set (sr " SR_VERSION_STRING ")"};
    std::string model_arg, dataset, protocol_name = "paper", json_path, csv_path, images, device = "cpu";
    int scale = 0, threads = 0;
    int64_t tile = 0;
    bool ensemble = false;
    std::string shard_text;
    app.add_option("-m,--model", model_arg, "model file, or folder of model files (all are evaluated)")->required();
    app.add_option("-d,--dataset", dataset, "paired folder (HR/ + LR_bicubic/X<s>/), DIV2K root, or folder of HR "
                                            "images (LR made with MATLAB bicubic)")->required();
    app.add_option("-s,--scale", scale, "scale; must match the models")->check(CLI::IsMember({2, 3, 4}));
    app.add_option("--protocol", protocol_name, "paper (uint8, Y, border = scale, SSIM) or seed (RGB float, no border)")
        ->check(CLI::IsMember({"paper", "seed"}))->capture_default_str();
    app.add_option("--images", images, "image range of the test set, e.g. 801-900 (DIV2K default) or 1-5");
    app.add_flag("-x,--tta", ensemble, "8-way self-ensemble");
    app.add_option("-t,--tile", tile, "LR tile size (0: from memory, -1: whole image)");
    app.add_option("--shard", shard_text, "K/N: only part K (0..N-1) of N of the test set's sorted images (merge the "
                                          "shards' --csv rows, or weight each --json mean by its image count)");
    app.add_option("--json", json_path, "write {model: {psnr, ssim, ...}} here");
    app.add_option("--csv", csv_path, "write per-image results (model,image,psnr,ssim) here");
    app.add_option("-g,--device", device, "cpu or cuda:N (models run there; metrics on the CPU)");
    app.add_option("-j,--threads", threads, "CPU threads (default: all)");
    std::string precision = "fp32";
    app.add_option("--precision", precision, "CPU convolutions: fp32, or bf16 (AMX / AVX512-BF16: bf16 operands, float accumulation)")->capture_default_str();
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "print the device and its peak memory use");
    CLI11_PARSE(app, argc, argv);

    return sr::tools::run_tool("sr-eval", [&] {
        const sr::tools::DeviceChoice compute_device = sr::tools::parse_device(device);
        sr::tools::require_model_device(compute_device);
        if (verbose)
            std::fprintf(stderr, "sr-eval: device %s\n", sr::tools::describe_device(compute_device).c_str());
        sr::tools::set_threads(threads);
        sr::set_cpu_precision(sr::parse_precision(precision));
        // The tables are written after the evaluation: a folder that is not there should fail now,
        // not after minutes of work.
        for (const std::string& path : {json_path, csv_path}) {
            if (path.empty()) continue;
            const fs::path dir = fs::path(path).has_parent_path() ? fs::path(path).parent_path() : fs::path(".");
            SR_CHECK(fs::is_directory(dir), path, ": cannot write, directory '", dir.string(), "' ",
                     fs::exists(dir) ? "is not a folder" : "does not exist");
        }
        const auto model_files = find_models(model_arg);
        std::vector<std::pair<fs::path, sr::models::AnyModel<float>>> models;
        for (const auto& f : model_files) models.emplace_back(f, sr::models::load_model<float>(f));
        const int s = scale ? scale : models.front().second.scale();
        for (const auto& [file, model] : models)
            SR_CHECK(model.scale() == s, file.string(), ": the model upscales x", model.scale(), ", not x", s,
                     scale ? " (-s)" : " (the first model's scale; evaluate one scale at a time)");
        std::shared_ptr<const sr::data::PairDataset> data = open_test_set(dataset, s, images);
        if (!shard_text.empty()) {
            const sr::dist::Shard shard = sr::dist::parse_shard(shard_text, "--shard");
            const auto [first, end] = sr::dist::shard_range(data->size(), shard);
            SR_CHECK(end > first, "--shard ", shard_text, ": ", data->describe(), " has only ", data->size(),
                     " images, so this shard is empty");
            std::vector<int64_t> indices;
            for (int64_t i = first; i < end; ++i) indices.push_back(i);
            data = std::make_shared<sr::data::SubsetDataset>(data, std::move(indices), "shard " + shard_text);
        }
        const auto protocol = protocol_name == "paper" ? sr::metrics::MetricsProtocol::paper(s)
                                                       : sr::metrics::MetricsProtocol::seed();
        std::fprintf(stderr, "sr-eval: %zu model(s) on %s, protocol %s (%s)%s\n", models.size(), data->describe().c_str(),
                     protocol_name.c_str(), protocol.describe().c_str(), ensemble ? ", self-ensemble" : "");

        std::vector<std::pair<std::string, Score>> results;
        for (const auto& [file, model] : models) {
            const sr::infer::Upscaler upscaler(model, compute_device);
            sr::infer::UpscaleOptions options;
            options.tile = tile, options.ensemble = ensemble;
            results.push_back({file.string(), evaluate(*data, protocol,
                                                       [&](const sr::io::Image& lr) {
                                                           return upscaler.upscale(sr::io::image_to_tensor(lr), options);
                                                       },
                                                       file.filename().string())});
        }
        const Score bicubic = evaluate(*data, protocol, [&](const sr::io::Image& lr) {
            return sr::io::image_to_tensor(sr::data::bicubic_resize(lr, lr.height() * s, lr.width() * s));
        }, "bicubic");

        std::size_t width = 8;
        for (const auto& r : results) width = std::max(width, r.first.size());
        std::printf("%-*s %9s %8s %8s\n", static_cast<int>(width), "model", "PSNR", "SSIM", "seconds");
        for (const auto& [name, score] : results)
            std::printf("%-*s %9.4f %8.4f %8.1f\n", static_cast<int>(width), name.c_str(), score.psnr, score.ssim, score.seconds);
        std::printf("%-*s %9.4f %8.4f %8.1f\n", static_cast<int>(width), "bicubic", bicubic.psnr, bicubic.ssim, bicubic.seconds);
        const auto best = std::max_element(results.begin(), results.end(),
                                           [](const auto& a, const auto& b) { return a.second.psnr < b.second.psnr; });
        std::printf("best: %s (%.4f dB, %+.4f dB over bicubic) on %lld images, x%d, protocol %s\n", best->first.c_str(),
                    best->second.psnr, best->second.psnr - bicubic.psnr, static_cast<long long>(best->second.images), s,
                    protocol_name.c_str());

        if (verbose && compute_device.cuda)
            std::fprintf(stderr, "sr-eval: %s on %s\n", sr::tools::peak_device_memory(compute_device).c_str(),
                         sr::tools::describe_device(compute_device).c_str());

        if (!json_path.empty()) {
            nlohmann::json j;
            auto entry = [&](const Score& score) {
                return nlohmann::json{{"psnr", score.psnr}, {"ssim", score.ssim}, {"images", score.images},
                                      {"seconds", score.seconds}};
            };
            for (const auto& [name, score] : results) j[name] = entry(score);
            j["bicubic"] = entry(bicubic);
            j["__settings__"] = {{"dataset", data->describe()}, {"scale", s}, {"protocol", protocol_name},
                                 {"protocol_details", protocol.describe()}, {"self_ensemble", ensemble}};
            const std::string text = j.dump(2) + "\n";
            sr::io::write_file_atomically(json_path, text.data(), text.size());
        }
        if (!csv_path.empty()) {
            std::string text = "model,image,psnr,ssim\n";
            auto rows = [&](const std::string& name, const Score& score) {
                for (const auto& [image, m] : score.per_image) {
                    char line[64];
                    std::snprintf(line, sizeof line, ",%.6f,%.6f\n", m.psnr, m.ssim);
                    text += "\"" + name + "\",\"" + image + "\"" + line;
                }
            };
            for (const auto& [name, score] : results) rows(name, score);
            rows("bicubic", bicubic);
            sr::io::write_file_atomically(csv_path, text.data(), text.size());
        }
        return 0;
    });
}
