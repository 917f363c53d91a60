// sr-infer: upscale images or folders with an EDSR/WDSR model.
//
//   sr-infer -i photo.jpg -o photo-x4.png                      bundled default model, x4
//   sr-infer -i in/ -o out/ -r -s 2 -f png -x                  a folder tree, x2, self-ensemble
//   sr-infer -i lr.png -o sr.png -m model.safetensors --compare hr.png
//
// The options follow the ncnn upscalers (-i -o -m -s -t -x -f -g -j). Images of any size are
// processed in tiles that overlap by the model's receptive radius, so the output equals a
// whole-image pass. Alpha is enlarged with bicubic, gray stays gray, 16-bit PNG stays 16-bit.
// Each failure prints one line naming the file and the problem; the exit status is 1 if any
// image failed. Outputs are written atomically (never a partial file).
#include <CLI/CLI.hpp>
#include <stb/stb_easy_font.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sr/data/bicubic.hpp"
#include "sr/dist/shard.hpp"
#include "sr/infer/upscaler.hpp"
#include "sr/io/image.hpp"
#include "sr/models/model_file.hpp"
#include "sr/ops/cpu/precision.hpp"
#include "sr_tools.hpp"
#include "tool_support.hpp"

namespace fs = std::filesystem;

namespace {

struct Job {
    fs::path input, output, hr;  // hr empty: no ground truth for --compare
};

sr::io::ImageFormat parse_format(const std::string& name) {
    if (name == "png") return sr::io::ImageFormat::png;
    if (name == "jpg" || name == "jpeg") return sr::io::ImageFormat::jpeg;
    if (name == "bmp") return sr::io::ImageFormat::bmp;
    sr::fail("-f ", name, ": expected png, jpg or bmp");
}

const char* extension_of(sr::io::ImageFormat format) {
    switch (format) {
        case sr::io::ImageFormat::jpeg: return ".jpg";
        case sr::io::ImageFormat::bmp: return ".bmp";
        default: return ".png";
    }
}

// Inputs and where their outputs go: a file to a file (or into a folder), a folder to a folder.
std::vector<Job> plan_jobs(const fs::path& input, const fs::path& output, bool recursive,
                           std::optional<sr::io::ImageFormat> format, const std::string& compare) {
    std::vector<Job> jobs;
    auto output_name = [&](const fs::path& relative) {
        fs::path out = relative;
        if (format) out.replace_extension(extension_of(*format));
        else if (!sr::io::is_image_file(out) || sr::io::format_from_extension(out) == sr::io::ImageFormat::tga ||
                 sr::io::format_from_extension(out) == sr::io::ImageFormat::npy)
            out.replace_extension(".png");  // formats we read but do not write
        return out;
    };
    const bool compare_files = !compare.empty() && compare != "none";
    if (fs::is_directory(input)) {
        SR_CHECK(!fs::exists(output) || fs::is_directory(output), output.string(),
                 ": the input is a folder, so the output must be a folder too");
        std::vector<fs::path> files;
        auto add = [&](const fs::directory_entry& e) {
            if (e.is_regular_file() && sr::io::is_image_file(e.path())) files.push_back(e.path());
        };
        if (recursive)
            for (const auto& e : fs::recursive_directory_iterator(input)) add(e);
        else
            for (const auto& e : fs::directory_iterator(input)) add(e);
        std::sort(files.begin(), files.end());
        SR_CHECK(!files.empty(), input.string(), ": no images found (.png, .jpg, .jpeg, .bmp, .tga)",
                 recursive ? "" : "; use -r to search subfolders");
        for (const auto& f : files) {
            const fs::path relative = fs::relative(f, input);
            Job job{f, output / output_name(relative), {}};
            if (compare_files) job.hr = fs::path(compare) / relative;
            jobs.push_back(job);
        }
    } else {
        SR_CHECK(fs::exists(input), input.string(), ": no such file or folder");
        fs::path out = output;
        if (fs::is_directory(output)) out = output / output_name(input.filename());
        else if (format && sr::io::format_from_extension(out) != *format)
            out.replace_extension(extension_of(*format));
        jobs.push_back({input, out, compare_files ? fs::path(compare) : fs::path()});
    }
    return jobs;
}

// Draws text with stb_easy_font's segment font, `zoom` pixels per font unit, into an RGB8 image.
void draw_text(sr::io::Image& image, int x0, int y0, const std::string& text, int zoom) {
    static char vertices[64 * 1024];
    std::string copy = text;
    unsigned char color[4] = {0, 0, 0, 255};
    const int quads = stb_easy_font_print(0, 0, copy.data(), color, vertices, sizeof vertices);
    for (int q = 0; q < quads; ++q) {
        const float* v = reinterpret_cast<const float*>(vertices + q * 4 * 16);  // 4 vertices of 16 bytes
        const int x1 = x0 + static_cast<int>(v[0] * zoom), y1 = y0 + static_cast<int>(v[1] * zoom);
        const int x2 = x0 + static_cast<int>(v[8] * zoom), y2 = y0 + static_cast<int>(v[9] * zoom);
        for (int y = std::max(0, y1); y < std::min(image.height(), y2); ++y)
            for (int x = std::max(0, x1); x < std::min(image.width(), x2); ++x)
                for (int c = 0; c < 3; ++c) image.set(y, x, c, 0);
    }
}

// The seed's demo figure: LR enlarged with nearest neighbour, bicubic, SR, and HR when given,
// side by side with labels.
sr::io::Image compare_figure(const sr::io::Image& lr_in, const sr::io::Image& sr_in, const sr::io::Image* hr_in,
                             int scale) {
    const sr::io::Image lr = sr::io::to_rgb8(lr_in), sr_image = sr::io::to_rgb8(sr_in);
    const int h = sr_image.height(), w = sr_image.width();
    sr::io::Image nearest(h, w, 3, 8);
    for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x)
            for (int c = 0; c < 3; ++c) nearest.set(y, x, c, lr.at(y / scale, x / scale, c));
    std::vector<std::pair<std::string, sr::io::Image>> panels;
    panels.push_back({"LR (nearest)", nearest});
    panels.push_back({"bicubic", sr::data::bicubic_resize(lr, h, w)});
    panels.push_back({"SR", sr_image});
    if (hr_in) {
        const sr::io::Image hr = sr::io::to_rgb8(*hr_in);
        SR_CHECK(hr.height() >= h && hr.width() >= w, "--compare: the HR image (", hr.width(), "x", hr.height(),
                 ") is smaller than the SR result (", w, "x", h, ")");
        panels.push_back({"HR", sr::io::crop(hr, sr::io::Window{0, 0, h, w})});
    }
    const int gap = 8, zoom = std::max(1, std::min(4, w / 160)), label = 14 * zoom;
    sr::io::Image figure(h + label, static_cast<int>(panels.size()) * (w + gap) - gap, 3, 8);
    std::fill(figure.data8(), figure.data8() + figure.sample_count(), uint8_t{255});
    for (std::size_t i = 0; i < panels.size(); ++i) {
        const int x0 = static_cast<int>(i) * (w + gap);
        for (int y = 0; y < h; ++y)
            for (int x = 0; x < w; ++x)
                for (int c = 0; c < 3; ++c) figure.set(y + label, x0 + x, c, panels[i].second.at(y, x, c));
        draw_text(figure, x0 + 2 * zoom, 3 * zoom, panels[i].first, zoom);
    }
    return figure;
}

fs::path compare_path(const fs::path& output) {
    fs::path p = output;
    p.replace_filename(output.stem().string() + "-compare.png");
    return p;
}

}  // namespace

int sr::tools::infer_main(int argc, char** argv) {
    CLI::App app{"sr-infer: upscale images with an EDSR/WDSR model (sr " SR_VERSION_STRING ")"};
    std::string input, output, model_path, format_name, device = "cpu", compare;
    int scale = 0, quality = 95, threads = 0;
    int64_t tile = 0;
    bool ensemble = false, recursive = false, overwrite = false, verbose = false;
    std::string shard_text;
    app.add_option("-i,--input", input, "input image or folder")->required();
    app.add_option("-o,--output", output, "output image or folder")->required();
    app.add_option("-m,--model", model_path, "sr model file (.safetensors); default: the bundled model for -s");
    app.add_option("-s,--scale", scale, "upscale factor: 2, 3 or 4 (default: the model's, or 4 for the bundled "
                                        "models); must match -m")
        ->check(CLI::IsMember({2, 3, 4}));
    app.add_option("-t,--tile", tile, "LR tile size in pixels; 0 = from available memory (default), -1 = whole image");
    app.add_flag("-x,--tta", ensemble, "8-way self-ensemble (flips and rotations; 8x slower, slightly better)");
    app.add_option("-f,--format", format_name, "output format png, jpg or bmp (default: the output name's, or the "
                                               "input's)");
    app.add_option("-q,--quality", quality, "JPEG quality 1-100")->check(CLI::Range(1, 100));
    app.add_option("-g,--device", device, "cpu or cuda:N (a CUDA GPU: tiles are uploaded, results downloaded)");
    app.add_option("-j,--threads", threads, "CPU threads (default: all)")->check(CLI::NonNegativeNumber);
    std::string precision = "fp32";
    app.add_option("--precision", precision, "CPU convolutions: fp32, or bf16 (AMX / AVX512-BF16: bf16 operands, float accumulation)")->capture_default_str();
    app.add_flag("-r,--recursive", recursive, "process subfolders of an input folder");
    app.add_flag("--overwrite", overwrite, "replace existing outputs (default: skip them)");
    app.add_option("--compare", compare, "also write <output>-compare.png (nearest | bicubic | SR | HR): the HR "
                                         "image (a folder of them for folder input) or 'none'");
    app.add_flag("-v,--verbose", verbose, "print every file");
    app.add_option("--shard", shard_text, "K/N: only part K (0..N-1) of N of the sorted input list, for Slurm array "
                                          "jobs or one process per GPU (e.g. --shard $SLURM_ARRAY_TASK_ID/8)");
    CLI11_PARSE(app, argc, argv);

    return sr::tools::run_tool("sr-infer", [&] {
        const auto start = std::chrono::steady_clock::now();
        const sr::tools::DeviceChoice compute_device = sr::tools::parse_device(device);
        sr::tools::require_model_device(compute_device);
        sr::tools::set_threads(threads);
        sr::set_cpu_precision(sr::parse_precision(precision));
        std::optional<sr::io::ImageFormat> format;
        if (!format_name.empty()) format = parse_format(format_name);

        const fs::path model_file = model_path.empty() ? sr::tools::default_model(scale ? scale : 4) : fs::path(model_path);
        const auto model = sr::models::load_model<float>(model_file);
        SR_CHECK(scale == 0 || scale == model.scale(), model_file.string(), ": the model upscales x", model.scale(),
                 ", not x", scale, " (-s); pick a model for x", scale);
        const sr::infer::Upscaler upscaler(model, compute_device);
        const int s = upscaler.scale();

        auto jobs = plan_jobs(input, output, recursive, format, compare);
        if (!shard_text.empty()) {
            const sr::dist::Shard shard = sr::dist::parse_shard(shard_text, "--shard");
            const auto [first, end] = sr::dist::shard_range(static_cast<int64_t>(jobs.size()), shard);
            std::fprintf(stderr, "sr-infer: shard %d/%d: images %lld-%lld of %zu\n", shard.index, shard.count,
                         static_cast<long long>(first + 1), static_cast<long long>(end), jobs.size());
            jobs = decltype(jobs)(jobs.begin() + first, jobs.begin() + end);
            if (jobs.empty()) return 0;  // more shards than images: this one has nothing to do
        }
        if (verbose || jobs.size() > 1)
            std::fprintf(stderr, "sr-infer: %zu image(s), model %s (%s x%d), device %s\n", jobs.size(),
                         model_file.string().c_str(), sr::models::architecture_name(model.config().architecture), s,
                         sr::tools::describe_device(compute_device).c_str());
        int64_t done = 0, skipped = 0, failed = 0;
        double in_pixels = 0, out_pixels = 0, compute_seconds = 0;
        sr::tools::ProgressBar images("sr-infer", static_cast<int64_t>(jobs.size()), "images");
        for (const Job& job : jobs) {
            try {
                if (!overwrite && fs::exists(job.output)) {
                    ++skipped;
                    if (verbose) std::fprintf(stderr, "sr-infer: %s exists, skipped (--overwrite replaces it)\n",
                                              job.output.string().c_str());
                    images.update(done + skipped + failed);
                    continue;
                }
                const sr::io::Image image = sr::io::read_image(job.input);
                if (job.output.has_parent_path()) {
                    std::error_code ec;
                    fs::create_directories(job.output.parent_path(), ec);
                    SR_CHECK(!ec, job.output.parent_path().string(), ": cannot create the output folder (", ec.message(),
                             ")");
                }
                sr::io::WriteOptions write;
                write.jpeg_quality = quality;
                write.format = sr::io::format_from_extension(job.output);
                const auto t0 = std::chrono::steady_clock::now();
                sr::infer::UpscaleOptions options;
                options.tile = tile;
                options.ensemble = ensemble;
                options.progress = [&](int64_t tiles_done, int64_t tiles) {
                    if (tiles > 1) images.update(done + skipped + failed, job.input.filename().string() + " tile " +
                                                                             std::to_string(tiles_done) + "/" +
                                                                             std::to_string(tiles));
                };
                sr::io::Image result = upscaler.upscale(image, options);
                compute_seconds += sr::tools::seconds_since(t0);
                fs::path out = job.output;
                if (write.format != sr::io::ImageFormat::png && result.bit_depth() == 16)
                    result = sr::io::to_bit_depth(result, 8);  // JPEG and BMP hold 8 bits
                if (write.format == sr::io::ImageFormat::jpeg && sr::io::has_alpha(result.layout())) {
                    out.replace_extension(".png");
                    write.format = sr::io::ImageFormat::png;
                    std::fprintf(stderr, "sr-infer: %s has alpha, which JPEG cannot hold: writing %s instead\n",
                                 job.input.string().c_str(), out.string().c_str());
                }
                sr::io::write_image(out, result, write);
                if (!compare.empty()) {
                    std::optional<sr::io::Image> hr;
                    if (!job.hr.empty()) hr = sr::io::read_image(job.hr);
                    sr::io::write_image(compare_path(out), compare_figure(image, result, hr ? &*hr : nullptr, s));
                }
                in_pixels += static_cast<double>(image.pixel_count());
                out_pixels += static_cast<double>(result.pixel_count());
                ++done;
                if (verbose)
                    std::fprintf(stderr, "sr-infer: %s -> %s (%dx%d -> %dx%d)\n", job.input.string().c_str(),
                                 out.string().c_str(), image.width(), image.height(), result.width(), result.height());
            } catch (const std::exception& e) {
                ++failed;
                images.finish();
                std::fprintf(stderr, "sr-infer: %s\n", e.what());
            }
            images.update(done + skipped + failed);
        }
        images.finish();
        const double seconds = sr::tools::seconds_since(start);
        std::printf("sr-infer: %lld upscaled, %lld skipped, %lld failed in %.1f s; %.2f Mpixel in, %.2f Mpixel out, "
                    "%.3f output Mpixel/s\n",
                    static_cast<long long>(done), static_cast<long long>(skipped), static_cast<long long>(failed),
                    seconds, in_pixels / 1e6, out_pixels / 1e6, compute_seconds > 0 ? out_pixels / 1e6 / compute_seconds : 0.0);
        if (verbose && compute_device.cuda)
            std::fprintf(stderr, "sr-infer: %s on %s\n", sr::tools::peak_device_memory(compute_device).c_str(),
                         sr::tools::describe_device(compute_device).c_str());
        return failed > 0 ? 1 : 0;
    });
}
