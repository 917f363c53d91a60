// What `sr-train --resume <run>` reads before training continues: the run's args.json (JSON ->
// TrainOptions -> validate -> model config) and checkpoint/last.safetensors (training state loaded
// into the model and Adam). Input: [2-byte little-endian length L][L bytes of args.json][the
// checkpoint file]. The dataset folders named in args.json are not opened: that is the loader's
// own input, fuzzed through fuzz_image.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "sr/train/checkpoint.hpp"
#include "sr/train/options.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::size_t json_size = std::min<std::size_t>(data[0] | (std::size_t{data[1]} << 8), size - 2);
    const std::string args_text(reinterpret_cast<const char*>(data + 2), json_size);
    // The model of the test runs: what the checkpoint seeds were written for.
    sr::models::ModelConfig config = sr::models::make_config("wdsr-b-8", 2, {.num_filters = 8, .num_blocks = 2});
    try {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(args_text);
        } catch (const nlohmann::json::exception& e) {
            sr::fail("args.json: not valid JSON: ", e.what());  // as Trainer::resume reports it
        }
        sr::train::TrainOptions options = sr::train::options_from_json(j, "args.json");
        options.validate();
        const sr::models::ModelConfig described = options.model_config();
        // Building a model of any size the file names is the trainer's job, not the parser's; keep
        // the ones a fuzzing process can hold.
        if (described.num_filters <= 64 && described.num_blocks <= 8 && described.expansion <= 8) config = described;
    } catch (const sr::Error&) {
    }
    const auto path = sr::fuzz::scratch_file("last.safetensors", data + 2 + json_size, size - 2 - json_size);
    try {
        sr::Rng rng(0);
        sr::models::AnyModel<float> model(config, rng);
        sr::optim::Adam<float, sr::Cpu> optimizer(model.parameters(), {});
        const sr::train::TrainingState state = sr::train::load_training_state(path, model, optimizer);
        (void)state;
    } catch (const sr::Error&) {
    }
    return 0;
}
