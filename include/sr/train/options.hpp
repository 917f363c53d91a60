#pragma once
// TrainOptions: everything that defines a training run, with the seed's option names and defaults
// (krasserm/wdsr train.py, reference-behaviour.md §1.9). A run directory's args.json holds them,
// so --resume rebuilds the same run.
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "sr/core/device_choice.hpp"
#include "sr/core/error.hpp"
#include "sr/models/profiles.hpp"
#include "sr/ops/cpu/precision.hpp"

namespace sr::train {

struct TrainOptions {
    std::string profile = "wdsr-b-8";
    int scale = 2;
    std::string dataset = "./DIV2K";        // DIV2K root, paired folder, or any folder of HR images
    std::string validation_dataset;          // empty: validate on part of `dataset`
    std::string cache;                       // optional .npy mirror of `dataset` (sr-data convert)
    std::string downgrade = "bicubic";       // bicubic | unknown | bicubic_jpeg_75 | bicubic_jpeg_90
    std::string outdir = "./output";
    std::string pretrained_model;            // weights copied by name and shape (scale transfer)
    int epochs = 300;
    int steps_per_epoch = 1000;
    int batch_size = 16;
    int lr_patch_size = 48;
    double learning_rate = 0;                // 0: the profile's (1e-3 WDSR, 1e-4 EDSR)
    int learning_rate_step_size = 200;       // epochs
    double learning_rate_decay = 0.5;
    std::optional<int64_t> num_filters, num_res_blocks, res_expansion;
    std::optional<double> res_scaling;
    std::string training_images;             // "1-800"; empty: 1-800 for DIV2K, all but the validation images otherwise
    std::string validation_images;           // "801-900"; empty: 801-900 for DIV2K, the last 5 % otherwise
    int validation_steps = 100;              // validation batches per epoch
    bool benchmark = false;                  // validate on full images instead of random crops
    bool save_best_models_only = false;
    int save_models_after_epoch = 0;
    uint64_t seed = 0;
    std::string device = "cpu";              // cpu | cuda:N
    bool deterministic = false;              // GPU: deterministic convolutions (exact --resume); the CPU always is
    bool tf32 = false;                       // GPU: TF32 tensor cores for float convolutions (faster, ~1e-3 relative)
    std::string precision = "fp32";          // CPU convolutions: fp32 | bf16 (bf16 operands, float accumulation,
                                             // float master weights and Adam state); a CUDA run takes fp32 only
    int threads = 0;                         // compute threads; 0: all
    int loader_threads = 2;
    int log_every = 10;                      // steps between loss scalars in the event file
    int sample_images = 3;                   // validation images logged as pictures each epoch
    int ranks = 1;                           // processes the run trains on (set by the Trainer; batch_size is global)

    models::ModelConfig model_config() const {
        models::ProfileOverrides overrides;
        overrides.num_filters = num_filters;
        overrides.num_blocks = num_res_blocks;
        overrides.expansion = res_expansion;
        overrides.res_scale = res_scaling;
        return models::make_config(profile, scale, overrides);
    }
    double base_learning_rate() const {
        return learning_rate > 0 ? learning_rate : models::find_profile(profile).learning_rate;
    }
    int64_t total_steps() const { return static_cast<int64_t>(epochs) * steps_per_epoch; }

    void validate() const {
        model_config();
        SR_CHECK(epochs >= 1 && steps_per_epoch >= 1 && batch_size >= 1, "--epochs, --steps-per-epoch and --batch-size must be "
                 "at least 1 (got ", epochs, ", ", steps_per_epoch, ", ", batch_size, ")");
        SR_CHECK(lr_patch_size >= 4, "--lr-patch-size must be at least 4, got ", lr_patch_size);
        SR_CHECK(learning_rate >= 0 && learning_rate_decay > 0 && learning_rate_step_size >= 1,
                 "--learning-rate must be >= 0, --learning-rate-decay > 0 and --learning-rate-step-size >= 1");
        SR_CHECK(validation_steps >= 0, "--validation-steps must be >= 0, got ", validation_steps);
        const DeviceChoice chosen = parse_device(device, "--device");
        const Precision p = parse_precision(precision);
        SR_CHECK(p == Precision::fp32 || !chosen.cuda, "--precision ", precision, " is for training on the CPU; on ",
                 device, " use --precision fp32 (with --tf32 for tensor cores)");
        if (p == Precision::bf16) sr::detail::require_bf16_cpu();
    }
};

inline nlohmann::json to_json(const TrainOptions& o) {
    nlohmann::json j;
    j["profile"] = o.profile, j["scale"] = o.scale, j["dataset"] = o.dataset;
    j["validation_dataset"] = o.validation_dataset, j["cache"] = o.cache, j["downgrade"] = o.downgrade;
    j["outdir"] = o.outdir, j["pretrained_model"] = o.pretrained_model, j["epochs"] = o.epochs;
    j["steps_per_epoch"] = o.steps_per_epoch, j["batch_size"] = o.batch_size, j["lr_patch_size"] = o.lr_patch_size;
    j["learning_rate"] = o.learning_rate, j["learning_rate_step_size"] = o.learning_rate_step_size;
    j["learning_rate_decay"] = o.learning_rate_decay;
    j["num_filters"] = o.num_filters ? nlohmann::json(*o.num_filters) : nlohmann::json(nullptr);
    j["num_res_blocks"] = o.num_res_blocks ? nlohmann::json(*o.num_res_blocks) : nlohmann::json(nullptr);
    j["res_expansion"] = o.res_expansion ? nlohmann::json(*o.res_expansion) : nlohmann::json(nullptr);
    j["res_scaling"] = o.res_scaling ? nlohmann::json(*o.res_scaling) : nlohmann::json(nullptr);
    j["training_images"] = o.training_images, j["validation_images"] = o.validation_images;
    j["validation_steps"] = o.validation_steps, j["benchmark"] = o.benchmark;
    j["save_best_models_only"] = o.save_best_models_only, j["save_models_after_epoch"] = o.save_models_after_epoch;
    j["seed"] = o.seed, j["device"] = o.device, j["threads"] = o.threads, j["loader_threads"] = o.loader_threads;
    j["deterministic"] = o.deterministic, j["tf32"] = o.tf32, j["precision"] = o.precision;
    j["log_every"] = o.log_every, j["sample_images"] = o.sample_images;
    j["ranks"] = o.ranks;
    return j;
}

inline TrainOptions options_from_json(const nlohmann::json& j, const std::string& label) {
    TrainOptions o;
    SR_CHECK(j.is_object(), label, ": invalid training options: expected a JSON object of option names and values, got ",
             j.type_name());
    try {
        auto get = [&](const char* key, auto& field) {
            if (j.contains(key) && !j.at(key).is_null()) field = j.at(key).get<std::decay_t<decltype(field)>>();
        };
        auto get_optional = [&](const char* key, auto& field) {
            if (j.contains(key) && !j.at(key).is_null()) field = j.at(key).get<typename std::decay_t<decltype(field)>::value_type>();
        };
        get("profile", o.profile), get("scale", o.scale), get("dataset", o.dataset);
        get("validation_dataset", o.validation_dataset), get("cache", o.cache), get("downgrade", o.downgrade);
        get("outdir", o.outdir), get("pretrained_model", o.pretrained_model), get("epochs", o.epochs);
        get("steps_per_epoch", o.steps_per_epoch), get("batch_size", o.batch_size), get("lr_patch_size", o.lr_patch_size);
        get("learning_rate", o.learning_rate), get("learning_rate_step_size", o.learning_rate_step_size);
        get("learning_rate_decay", o.learning_rate_decay);
        get_optional("num_filters", o.num_filters), get_optional("num_res_blocks", o.num_res_blocks);
        get_optional("res_expansion", o.res_expansion), get_optional("res_scaling", o.res_scaling);
        get("training_images", o.training_images), get("validation_images", o.validation_images);
        get("validation_steps", o.validation_steps), get("benchmark", o.benchmark);
        get("save_best_models_only", o.save_best_models_only), get("save_models_after_epoch", o.save_models_after_epoch);
        get("seed", o.seed), get("device", o.device), get("threads", o.threads), get("loader_threads", o.loader_threads);
        get("deterministic", o.deterministic), get("tf32", o.tf32), get("precision", o.precision);
        get("log_every", o.log_every), get("sample_images", o.sample_images);
        get("ranks", o.ranks);
    } catch (const nlohmann::json::exception& e) {
        fail(label, ": invalid training options: ", e.what());
    }
    return o;
}

}  // namespace sr::train
