#pragma once
// The complete state of a training run in one safetensors file (checkpoint/last.safetensors of a
// run directory), written atomically, so a resumed run continues exactly where it stopped:
//   model.<parameter>                  the weights
//   optimizer.<parameter>.exp_avg(_sq) Adam's moments
//   metadata: format = sr-training-state, step (optimizer steps done), last_validated_epoch,
//             best_psnr, plus the model metadata (arch, scale, ...)
// Batches and learning rates are functions of (seed, step), so nothing else is needed.
// Model and optimizer may live on any device: tensors are downloaded for writing and uploaded
// onto the model's device when read, so a run can be resumed on another device.
#include <filesystem>
#include <limits>
#include <map>
#include <string>

#include "sr/io/safetensors.hpp"
#include "sr/models/model_file.hpp"
#include "sr/optim/adam.hpp"

namespace sr::train {

struct TrainingState {
    int64_t step = 0;
    int64_t last_validated_epoch = 0;
    double best_psnr = -std::numeric_limits<double>::infinity();
};

template <class D>
void save_training_state(const std::filesystem::path& path, const models::AnyModel<float, D>& model,
                         const optim::Adam<float, D>& optimizer, const TrainingState& state) {
    io::SafetensorsWriter writer;
    for (const auto& p : model.parameters()) writer.add("model." + p.name, p.tensor);
    for (const auto& p : optimizer.state()) writer.add("optimizer." + p.name, p.tensor);
    auto metadata = models::model_metadata(model.config());
    metadata["format"] = "sr-training-state";
    metadata["step"] = std::to_string(state.step);
    metadata["last_validated_epoch"] = std::to_string(state.last_validated_epoch);
    metadata["best_psnr"] = models::detail::format_number(state.best_psnr);
    for (const auto& [key, value] : metadata) writer.set_metadata(key, value);
    writer.write(path);
}

// Loads weights and moments into `model` and `optimizer` (built from the run's options) and
// returns the counters. Fails naming the file when it is not a training state of this model.
template <class D>
TrainingState load_training_state(const std::filesystem::path& path, const models::AnyModel<float, D>& model,
                                  optim::Adam<float, D>& optimizer) {
    const io::SafetensorsFile file = io::read_safetensors(path);
    const auto& m = file.metadata();
    auto it = m.find("format");
    SR_CHECK(it != m.end() && it->second == "sr-training-state", path.string(), ": not a training state of sr-train");
    auto number = [&](const char* key) {
        auto found = m.find(key);
        SR_CHECK(found != m.end(), path.string(), ": training state lacks '", key, "'");
        return std::stod(found->second);
    };
    for (const auto& p : model.parameters()) {
        const std::string name = "model." + p.name;
        SR_CHECK(file.contains(name), path.string(), ": no weights for '", p.name, "': the run's options describe another model");
        auto values = file.tensor_f32(name);
        SR_CHECK(values.shape() == p.tensor.shape(), path.string(), ": '", p.name, "' has shape ", values.shape(),
                 ", the model needs ", p.tensor.shape());
        values.template to<D>().copy_to(p.tensor);
    }
    nn::ParameterList<float, D> moments;
    for (const auto& p : optimizer.parameters())
        for (const char* suffix : {".exp_avg", ".exp_avg_sq"}) {
            const std::string name = "optimizer." + p.name + suffix;
            SR_CHECK(file.contains(name), path.string(), ": no optimizer state for '", p.name, "'");
            moments.push_back({p.name + suffix, file.tensor_f32(name).template to<D>()});
        }
    TrainingState state;
    state.step = static_cast<int64_t>(number("step"));
    state.last_validated_epoch = static_cast<int64_t>(number("last_validated_epoch"));
    state.best_psnr = number("best_psnr");
    optimizer.load_state(moments, state.step);
    return state;
}

}  // namespace sr::train
