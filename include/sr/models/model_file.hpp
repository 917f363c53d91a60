#pragma once
// sr model files: safetensors (sr/io/safetensors.hpp) holding a model's state dict, with
// __metadata__ carrying everything needed to rebuild the network:
//   format = "sr-model", format_version = "1", arch (edsr | wdsr-a | wdsr-b), scale,
//   num_filters, num_blocks, expansion, res_scale, low_rank_ratio, weight_norm (true | false),
//   layout = "NHWC/OHWI", pixel_shuffle = "depth_to_space", normalization = "div2k-mean/127.5"
// plus free-form keys (profile, step, source, ...). load_model() builds the architecture the file
// names, never one guessed from the file name, and checks that every parameter is present with
// the right shape. docs/models.md documents the keys.
#include <charconv>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>

#include "sr/io/safetensors.hpp"
#include "sr/models/model.hpp"

namespace sr::models {

inline constexpr const char* k_model_format = "sr-model";
inline constexpr int k_model_format_version = 1;

namespace detail {
// The shortest text that reads back as exactly `value` ("0.8", not "0.80000000000000004").
inline std::string format_number(double value) {
    char buffer[64];
    const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
    return std::string(buffer, result.ptr);
}
}  // namespace detail

// The metadata describing `config`, merged with `extra` (which may not override the model keys).
inline std::map<std::string, std::string> model_metadata(const ModelConfig& config,
                                                         const std::map<std::string, std::string>& extra = {}) {
    std::map<std::string, std::string> m = extra;
    m["format"] = k_model_format;
    m["format_version"] = std::to_string(k_model_format_version);
    m["arch"] = architecture_name(config.architecture);
    m["scale"] = std::to_string(config.scale);
    m["num_filters"] = std::to_string(config.num_filters);
    m["num_blocks"] = std::to_string(config.num_blocks);
    m["expansion"] = std::to_string(config.expansion);
    m["res_scale"] = detail::format_number(config.res_scale);
    m["low_rank_ratio"] = detail::format_number(config.low_rank_ratio);
    m["weight_norm"] = config.architecture == Architecture::edsr ? "false" : "true";
    m["layout"] = "NHWC/OHWI";
    m["pixel_shuffle"] = "depth_to_space";
    m["normalization"] = "div2k-mean/127.5";
    return m;
}

// Rebuilds the ModelConfig from a file's metadata; `label` names the file in errors.
inline ModelConfig config_from_metadata(const std::string& label, const std::map<std::string, std::string>& m) {
    auto it = m.find("format");
    SR_CHECK(it != m.end() && it->second == k_model_format, label,
             ": not an sr model file (its metadata has no format = sr-model); import weights from other projects "
             "with sr-convert");
    auto get = [&](const char* key) -> const std::string& {
        auto found = m.find(key);
        SR_CHECK(found != m.end(), label, ": model metadata lacks '", key, "'");
        return found->second;
    };
    SR_CHECK(std::stoi(get("format_version")) <= k_model_format_version, label, ": model format version ",
             get("format_version"), " is newer than this sr understands (", k_model_format_version, ")");
    auto as_int = [&](const char* key) {
        try {
            std::size_t used = 0;
            const long long v = std::stoll(get(key), &used);
            SR_CHECK(used == get(key).size(), "");
            return static_cast<int64_t>(v);
        } catch (const std::exception&) {
            fail(label, ": model metadata '", key, "' = '", get(key), "' is not an integer");
        }
    };
    auto as_double = [&](const char* key, double fallback) {
        if (m.find(key) == m.end()) return fallback;
        try {
            return std::stod(get(key));
        } catch (const std::exception&) {
            fail(label, ": model metadata '", key, "' = '", get(key), "' is not a number");
        }
    };
    ModelConfig c;
    try {
        c.architecture = parse_architecture(get("arch"));
    } catch (const Error& e) {
        fail(label, ": ", e.what());
    }
    c.scale = static_cast<int>(as_int("scale"));
    c.num_filters = as_int("num_filters");
    c.num_blocks = as_int("num_blocks");
    c.expansion = m.count("expansion") ? as_int("expansion") : c.expansion;
    c.res_scale = as_double("res_scale", 1.0);
    c.low_rank_ratio = as_double("low_rank_ratio", 0.8);
    try {
        c.validate();
    } catch (const Error& e) {
        fail(label, ": ", e.what());
    }
    return c;
}

// Copies the file's tensors into the model's parameters by name; every parameter must be present
// with its shape (extra tensors in the file are ignored).
template <class T, class D>
void load_parameters(const io::SafetensorsFile& file, const nn::ParameterList<T, D>& parameters) {
    const std::string label = file.path().string();
    for (const auto& p : parameters) {
        SR_CHECK(file.contains(p.name), label, ": missing parameter '", p.name, "' of a ",
                 file.metadata().count("arch") ? file.metadata().at("arch") : std::string("model"),
                 " model (is the file complete and its metadata right?)");
        const auto& e = file.entry(p.name);
        const Shape stored = Shape::from_range(e.shape.begin(), e.shape.end());
        SR_CHECK(stored == p.tensor.shape(), label, ": parameter '", p.name, "' has shape ", stored,
                 ", the model described by the metadata needs ", p.tensor.shape());
        Tensor<float, Cpu> values = file.tensor_f32(p.name);
        // A NaN or infinity would not fail later: it silently turns every output pixel into NaN.
        const float* v = values.data();
        for (int64_t i = 0; i < values.numel(); ++i)
            SR_CHECK(std::isfinite(v[i]), label, ": parameter '", p.name, "' holds a non-finite value (", v[i],
                     " at index ", i, "); the file is corrupt or was saved from a diverged run");
        if constexpr (std::is_same_v<T, float>)
            values.template to<D>().copy_to(p.tensor);
        else
            values.template cast<T>().template to<D>().copy_to(p.tensor);
    }
}

// Refuses metadata naming a network larger than the file's tensors can hold, before it is built:
// a few bytes of edited JSON must not make load_model allocate gigabytes. Every parameter has to be
// in the file in at least 2 bytes (F16/BF16), the head convolution has 27 F weights and every
// residual block at least F^2 (EDSR 18 F^2, WDSR-A 18 r F^2, WDSR-B's 1x1 expansion alone r F^2).
inline void check_config_fits_file(const std::string& label, const ModelConfig& c, uint64_t tensor_bytes) {
    const double least_weights = double(c.num_blocks) * double(c.num_filters) * double(c.num_filters) + 27.0 * double(c.num_filters);
    SR_CHECK(2.0 * least_weights <= double(tensor_bytes), label, ": the metadata describes a ",
             architecture_name(c.architecture), " with ", c.num_filters, " filters and ", c.num_blocks,
             " blocks (at least ", least_weights, " weights), more than the file's ", tensor_bytes,
             " bytes of tensors can hold");
}

// Reads a model file and returns the network it describes, with its weights.
template <class T = float, class D = Cpu>
AnyModel<T, D> load_model(const std::filesystem::path& path) {
    const io::SafetensorsFile file = io::read_safetensors(path);
    const ModelConfig config = config_from_metadata(path.string(), file.metadata());
    uint64_t tensor_bytes = 0;
    for (const auto& e : file.entries()) tensor_bytes += e.byte_size();
    check_config_fits_file(path.string(), config, tensor_bytes);
    Rng rng(0);  // initial values are overwritten
    AnyModel<T, D> model(config, rng);
    load_parameters(file, model.parameters());
    return model;
}

// The metadata of a model file without loading its weights (for listings and checks).
inline std::map<std::string, std::string> read_model_metadata(const std::filesystem::path& path) {
    return io::read_safetensors_header(path).metadata;
}

// Writes the model's state dict and metadata atomically.
template <class T, class D>
void save_model(const std::filesystem::path& path, const AnyModel<T, D>& model,
                const std::map<std::string, std::string>& extra_metadata = {}) {
    io::save_state_dict(path, model.parameters(), model_metadata(model.config(), extra_metadata));
}

}  // namespace sr::models
