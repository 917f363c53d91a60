#pragma once
// sr model files: safetensors (sr/io/safetensors.hpp) holding a model's state dict, with
// __metadata__ carrying everything needed to rebuild the network:
//   format = "sr-model", format_version = "1", arch (a registered architecture: edsr | wdsr-a |
//   wdsr-b | an application's), scale, the keys of the architecture's schema (built-ins:
//   num_filters, num_blocks, expansion, res_scale, low_rank_ratio) and fixed keys (built-ins:
//   weight_norm = true | false), layout = "NHWC/OHWI", pixel_shuffle = "depth_to_space",
//   normalization = "div2k-mean/127.5"
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

namespace detail {
// The ModelConfig field a schema key names, if any (the keys sr model files have always used).
inline int64_t* int_field(ModelConfig& c, const std::string& key) {
    if (key == "num_filters") return &c.num_filters;
    if (key == "num_blocks") return &c.num_blocks;
    if (key == "expansion") return &c.expansion;
    return nullptr;
}
inline double* double_field(ModelConfig& c, const std::string& key) {
    if (key == "res_scale") return &c.res_scale;
    if (key == "low_rank_ratio") return &c.low_rank_ratio;
    return nullptr;
}
}  // namespace detail

// The metadata describing `config` (its architecture's schema, sr/models/registry.hpp), merged
// with `extra` (which may not override the model keys).
inline std::map<std::string, std::string> model_metadata(const ModelConfig& config,
                                                         const std::map<std::string, std::string>& extra = {}) {
    const ModelInfo& info = model_info(config.architecture);
    std::map<std::string, std::string> m = extra;
    m["format"] = k_model_format;
    m["format_version"] = std::to_string(k_model_format_version);
    m["arch"] = config.architecture.name();
    m["scale"] = std::to_string(config.scale);
    ModelConfig fields = config;
    for (const ConfigKey& key : info.schema) {
        if (const int64_t* v = detail::int_field(fields, key.name))
            m[key.name] = std::to_string(*v);
        else if (const double* d = detail::double_field(fields, key.name))
            m[key.name] = detail::format_number(*d);
        else if (config.options.count(key.name))
            m[key.name] = config.options.at(key.name);
        else {
            SR_CHECK(key.default_value, "model_metadata: the ", config.architecture.name(), " config has no '",
                     key.name, "' and its schema gives no default");
            m[key.name] = *key.default_value;
        }
    }
    for (const auto& [key, value] : info.fixed_metadata) m[key] = value;
    m["layout"] = "NHWC/OHWI";
    m["pixel_shuffle"] = "depth_to_space";
    m["normalization"] = "div2k-mean/127.5";
    return m;
}

// Rebuilds the ModelConfig from a file's metadata; `label` names the file in errors. The
// architecture must be registered; its schema says which keys are read (missing ones take the
// schema's default, or are an error without one).
inline ModelConfig config_from_metadata(const std::string& label, const std::map<std::string, std::string>& m) {
    auto it = m.find("format");
    SR_CHECK(it != m.end() && it->second == k_model_format, label,
             ": not an sr model file (its metadata has no format = sr-model); import weights from other projects "
             "with sr-convert");
    auto get = [&](const std::string& key) -> const std::string& {
        auto found = m.find(key);
        SR_CHECK(found != m.end(), label, ": model metadata lacks '", key, "'");
        return found->second;
    };
    auto as_int = [&](const std::string& key, const std::string& text) {
        try {
            std::size_t used = 0;
            const long long v = std::stoll(text, &used);
            SR_CHECK(used == text.size(), "");
            return static_cast<int64_t>(v);
        } catch (const std::exception&) {
            fail(label, ": model metadata '", key, "' = '", text, "' is not an integer");
        }
    };
    auto as_double = [&](const std::string& key, const std::string& text) {
        try {
            return std::stod(text);
        } catch (const std::exception&) {
            fail(label, ": model metadata '", key, "' = '", text, "' is not a number");
        }
    };
    SR_CHECK(as_int("format_version", get("format_version")) <= k_model_format_version, label,
             ": model format version ", get("format_version"), " is newer than this sr understands (",
             k_model_format_version, ")");
    ModelConfig c;
    c.architecture = Architecture(get("arch"));
    const ModelInfo* info = nullptr;
    try {
        info = &model_info(c.architecture);
    } catch (const Error& e) {
        fail(label, ": ", e.what());
    }
    c.scale = static_cast<int>(as_int("scale", get("scale")));
    for (const ConfigKey& key : info->schema) {
        const auto found = m.find(key.name);
        if (found == m.end() && !key.default_value) get(key.name);  // the error naming the key
        const std::string& text = found != m.end() ? found->second : *key.default_value;
        if (int64_t* v = detail::int_field(c, key.name))
            *v = as_int(key.name, text);
        else if (double* d = detail::double_field(c, key.name))
            *d = as_double(key.name, text);
        else
            c.options[key.name] = text;
    }
    try {
        validate_config(c);
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
// residual block at least F^2 (the architecture's ModelInfo::least_weights; none: no check).
inline void check_config_fits_file(const std::string& label, const ModelConfig& c, uint64_t tensor_bytes) {
    const ModelInfo& info = model_info(c.architecture);
    if (!info.least_weights) return;
    const double least_weights = info.least_weights(c);
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
