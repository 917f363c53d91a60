#pragma once
// Trainer: the training loop of sr-train (the seed's train.py), usable from C++ directly.
//
// A run lives in a directory <outdir>/<YYYYmmdd-HHMMSS>/:
//   args.json                 the TrainOptions (what --resume rebuilds the run from)
//   train.log                 one line per epoch and per event (start, resume, saves, interrupt)
//   logs/events.out.tfevents.* TensorBoard: train/loss, train/learning_rate, valid/psnr
//                             (valid/psnr_y with --benchmark) and a few SR images per epoch
//   models/epoch-NNN-psnr-XX.XXXX.safetensors   model files (sr-infer -m), per the save policy
//   checkpoint/last.safetensors                 weights + Adam state + counters, every epoch and
//                                               on interruption (sr/train/checkpoint.hpp)
// Each step: L1 loss (pixel units) of model(lr) against hr on a batch of random crops, Adam, the
// seed's step-decay learning rate. Batches depend only on (seed, step) and the kernels are
// deterministic for a given thread count, so a resumed run reproduces an uninterrupted one bit for
// bit (tests/test_train.cpp checks it).
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "sr/autograd/backward.hpp"
#include "sr/data/batch_loader.hpp"
#include "sr/data/validation.hpp"
#include "sr/infer/upscaler.hpp"
#include "sr/io/atomic_file.hpp"
#include "sr/io/tensorboard.hpp"
#include "sr/metrics/evaluate.hpp"
#include "sr/models/model_file.hpp"
#include "sr/ops/loss.hpp"
#include "sr/optim/adam.hpp"
#include "sr/optim/schedule.hpp"
#include "sr/train/checkpoint.hpp"
#include "sr/train/datasets.hpp"
#include "sr/train/options.hpp"

namespace sr::train {

// What the caller sees while a run progresses.
struct TrainerCallbacks {
    std::function<bool()> stop_requested;                          // polled between steps
    std::function<void(int64_t step, int64_t total, double loss, double lr)> on_step;
    std::function<void(const std::string& line)> on_message;       // the lines also written to train.log
};

struct EpochResult {
    int64_t epoch = 0;
    double psnr = 0, psnr_y = std::nan("");
    std::filesystem::path saved;  // empty when the policy saved nothing
};

class Trainer {
public:
    enum class Outcome { finished, interrupted };

    // A new run in <outdir>/<timestamp>/.
    static Trainer start(TrainOptions options, TrainerCallbacks callbacks = {}) {
        options.validate();
        const std::filesystem::path dir = new_run_directory(options.outdir);
        Trainer t(std::move(options), dir, std::move(callbacks));
        t.write_args();
        t.message("run " + dir.string() + " started: " + t.describe());
        if (!t.m_options.pretrained_model.empty()) t.load_pretrained();
        return t;
    }

    // Continues the run in `run_dir` from checkpoint/last.safetensors; `epochs` > 0 extends or
    // shortens the run (the seed's --epochs with --initial-epoch).
    static Trainer resume(const std::filesystem::path& run_dir_argument, int epochs = 0, TrainerCallbacks callbacks = {}) {
        std::error_code ec;
        const std::filesystem::path run_dir = std::filesystem::canonical(run_dir_argument, ec);  // no trailing '/'
        SR_CHECK(!ec, run_dir_argument.string(), ": no such run directory");
        const auto args_path = run_dir / "args.json";
        std::ifstream in(args_path);
        SR_CHECK(in, args_path.string(), ": cannot read (is ", run_dir.string(), " an sr-train run directory?)");
        nlohmann::json j;
        try {
            in >> j;
        } catch (const nlohmann::json::exception& e) {
            fail(args_path.string(), ": not valid JSON: ", e.what());
        }
        TrainOptions options = options_from_json(j, args_path.string());
        if (epochs > 0) options.epochs = epochs;
        options.validate();
        Trainer t(std::move(options), run_dir, std::move(callbacks));
        const auto state_path = run_dir / "checkpoint" / "last.safetensors";
        SR_CHECK(std::filesystem::exists(state_path), state_path.string(), ": no checkpoint to resume from");
        t.m_state = load_training_state(state_path, t.m_model, *t.m_optimizer);
        t.m_loader->seek(t.m_state.step);
        if (epochs > 0) t.write_args();
        t.message("resumed at step " + std::to_string(t.m_state.step) + " of " + std::to_string(t.m_options.total_steps()) +
                  ": " + t.describe());
        return t;
    }

    Outcome run() {
        const int64_t total = m_options.total_steps(), per_epoch = m_options.steps_per_epoch;
        // An interruption during validation leaves an epoch end not yet validated.
        if (m_state.step % per_epoch == 0 && m_state.step / per_epoch > m_state.last_validated_epoch) end_epoch();
        double loss_sum = 0;
        int64_t loss_count = 0;
        while (m_state.step < total) {
            if (m_callbacks.stop_requested && m_callbacks.stop_requested()) {
                save_checkpoint();
                message("interrupted at step " + std::to_string(m_state.step) + "; checkpoint saved, continue with "
                        "sr-train --resume " + m_dir.string());
                return Outcome::interrupted;
            }
            const double lr = optim::learning_rate_at(m_schedule, m_state.step);
            m_optimizer->set_learning_rate(lr);
            const data::Batch batch = m_loader->next();
            m_optimizer->zero_grad();
            Tensor<float> loss = l1_loss(m_model(batch.lr), batch.hr);
            const double value = loss.item();
            SR_CHECK(std::isfinite(value), "training diverged at step ", m_state.step, " (loss ", value,
                     "); lower --learning-rate or resume from the last checkpoint");
            loss.backward();
            m_optimizer->step();
            ++m_state.step;
            loss_sum += value, ++loss_count, m_epoch_loss += value, ++m_epoch_steps;
            if (m_state.step % m_options.log_every == 0 || m_state.step == total) {
                m_events->add_scalar("train/loss", loss_sum / loss_count, m_state.step);
                m_events->add_scalar("train/learning_rate", lr, m_state.step);
                loss_sum = 0, loss_count = 0;
            }
            if (m_callbacks.on_step) m_callbacks.on_step(m_state.step, total, value, lr);
            if (m_state.step % per_epoch == 0) end_epoch();
        }
        message("finished " + std::to_string(total) + " steps; best validation PSNR " + format_psnr(m_state.best_psnr) +
                " dB");
        return Outcome::finished;
    }

    const std::filesystem::path& run_dir() const { return m_dir; }
    const models::AnyModel<float>& model() const { return m_model; }
    const TrainOptions& options() const { return m_options; }
    int64_t step() const { return m_state.step; }
    const std::optional<EpochResult>& last_epoch() const { return m_last_epoch; }

private:
    Trainer(TrainOptions options, std::filesystem::path dir, TrainerCallbacks callbacks)
        : m_options(std::move(options)), m_dir(std::move(dir)), m_callbacks(std::move(callbacks)),
          m_model(make_model(m_options)) {
        if (m_options.threads > 0) set_num_threads(m_options.threads);
        std::filesystem::create_directories(m_dir / "models");
        std::filesystem::create_directories(m_dir / "checkpoint");
        m_log.open(m_dir / "train.log", std::ios::app);
        SR_CHECK(m_log, (m_dir / "train.log").string(), ": cannot write the training log");
        m_events = std::make_unique<io::EventWriter>(m_dir / "logs");
        m_data = open_training_data(m_options);
        SR_CHECK(m_data.train->scale() == m_options.scale, "internal: dataset scale mismatch");
        data::BatchLoaderOptions loader;
        loader.lr_patch_size = m_options.lr_patch_size, loader.batch_size = m_options.batch_size;
        loader.seed = m_options.seed, loader.threads = std::max(1, m_options.loader_threads);
        loader.skip_small_images = true;
        m_loader = std::make_unique<data::BatchLoader>(m_data.train, loader);
        data::ValidationOptions validation;
        validation.mode = m_options.benchmark ? data::ValidationOptions::Mode::full_image
                                              : data::ValidationOptions::Mode::random_crop;
        validation.lr_patch_size = m_options.lr_patch_size, validation.batch_size = m_options.batch_size;
        validation.seed = m_options.seed + 1;
        m_validation = std::make_unique<data::ValidationSet>(m_data.valid, validation);
        m_optimizer = std::make_unique<optim::Adam<float, Cpu>>(m_model.parameters(),
                                                                optim::AdamOptions{m_options.base_learning_rate()});
        m_schedule = optim::step_decay(m_options.base_learning_rate(),
                                       static_cast<int64_t>(m_options.learning_rate_step_size) * m_options.steps_per_epoch,
                                       m_options.learning_rate_decay, m_options.total_steps());
    }

    static models::AnyModel<float> make_model(const TrainOptions& o) {
        Rng rng(o.seed);
        return models::AnyModel<float>(o.model_config(), rng);
    }

    static std::filesystem::path new_run_directory(const std::filesystem::path& outdir) {
        const std::time_t now = std::time(nullptr);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
        std::filesystem::create_directories(outdir);
        std::filesystem::path dir = outdir / stamp;
        for (int i = 1; std::filesystem::exists(dir); ++i) dir = outdir / (std::string(stamp) + "-" + std::to_string(i));
        std::filesystem::create_directories(dir);
        return dir;
    }

    std::string describe() const {
        const auto& c = m_model.config();
        std::ostringstream out;
        out << m_options.profile << " (" << models::architecture_name(c.architecture) << ", " << c.num_filters
            << " filters, " << c.num_blocks << " blocks) x" << c.scale << ", " << nn::count_elements(m_model.parameters())
            << " parameters; training on " << m_data.train->describe() << "; validating on " << m_data.valid->describe()
            << "; " << m_options.epochs << " epochs of " << m_options.steps_per_epoch << " steps, batch "
            << m_options.batch_size << ", learning rate " << m_options.base_learning_rate();
        return out.str();
    }

    void message(const std::string& line) {
        const std::time_t now = std::time(nullptr);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
        m_log << stamp << "  " << line << std::endl;
        if (m_callbacks.on_message) m_callbacks.on_message(line);
    }

    void write_args() {
        const std::string text = to_json(m_options).dump(2) + "\n";
        io::write_file_atomically(m_dir / "args.json", text.data(), text.size());
    }

    void load_pretrained() {
        const auto source = models::load_model<float>(m_options.pretrained_model);
        const auto report = nn::copy_matching(source.parameters(), m_model.parameters());
        std::string kept;
        for (const auto& name : report.kept) kept += (kept.empty() ? "" : ", ") + name;
        message("pretrained model " + m_options.pretrained_model + ": copied " + std::to_string(report.copied.size()) +
                " parameters, freshly initialised " + std::to_string(report.kept.size()) +
                (kept.empty() ? "" : " (" + kept + ")"));
        SR_CHECK(!report.copied.empty(), m_options.pretrained_model, ": no parameter matches the model being trained "
                 "(different architecture or filters?)");
    }

    void save_checkpoint() {
        save_training_state(m_dir / "checkpoint" / "last.safetensors", m_model, *m_optimizer, m_state);
    }

    static std::string format_psnr(double psnr) {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.4f", psnr);
        return buffer;
    }

    // Mean PSNR over the validation batches (the seed's protocol: RGB, float output, no border);
    // with --benchmark also the papers' Y-PSNR (uint8, Y, border = scale).
    EpochResult validate(int64_t epoch) {
        NoGradGuard no_grad;
        EpochResult r;
        r.epoch = epoch;
        const int64_t batches = std::min<int64_t>(m_validation->size(), std::max(1, m_options.validation_steps));
        double psnr_sum = 0, psnr_y_sum = 0;
        int64_t images = 0;
        const infer::Upscaler upscaler(m_model);
        for (int64_t b = 0; b < batches; ++b) {
            const data::Batch batch = m_validation->get(b);
            const Tensor<float> sr_batch = m_options.benchmark ? upscaler.upscale(batch.lr) : m_model(batch.lr);
            for (int64_t i = 0; i < sr_batch.dim(0); ++i) {
                const Tensor<float> sr_image = sr_batch.slice_batch(i, i + 1), hr = batch.hr.slice_batch(i, i + 1);
                psnr_sum += metrics::evaluate_pair(sr_image, hr, metrics::MetricsProtocol::seed(), false).psnr;
                if (m_options.benchmark)
                    psnr_y_sum +=
                        metrics::evaluate_pair(sr_image, hr, metrics::MetricsProtocol::paper(m_options.scale), false).psnr;
                ++images;
            }
            if (b < m_options.sample_images)
                m_events->add_image("valid/sr_" + std::to_string(b), quantized(sr_batch.slice_batch(0, 1)),
                                    m_state.step);
        }
        r.psnr = psnr_sum / static_cast<double>(images);
        if (m_options.benchmark) r.psnr_y = psnr_y_sum / static_cast<double>(images);
        return r;
    }

    static Tensor<float> quantized(const Tensor<float>& image) {
        Tensor<float> q = image.clone();
        for (int64_t i = 0; i < q.numel(); ++i) q.data()[i] = static_cast<float>(io::quantize_u8(q.data()[i]));
        return q;
    }

    void end_epoch() {
        const int64_t epoch = m_state.step / m_options.steps_per_epoch;
        const auto start = std::chrono::steady_clock::now();
        EpochResult r = validate(epoch);
        const double validation_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        m_events->add_scalar("valid/psnr", r.psnr, m_state.step);
        if (m_options.benchmark) m_events->add_scalar("valid/psnr_y", r.psnr_y, m_state.step);
        const bool best = r.psnr > m_state.best_psnr;
        if (best) m_state.best_psnr = r.psnr;
        const bool policy = epoch >= m_options.save_models_after_epoch &&
                            (!(m_options.save_best_models_only || m_options.benchmark) || best);
        if (policy) {
            char name[64];
            std::snprintf(name, sizeof name, "epoch-%03lld-psnr-%.4f.safetensors", static_cast<long long>(epoch), r.psnr);
            r.saved = m_dir / "models" / name;
            models::save_model(r.saved, m_model,
                               {{"profile", m_options.profile}, {"step", std::to_string(m_state.step)},
                                {"epoch", std::to_string(epoch)}, {"valid_psnr", format_psnr(r.psnr)},
                                {"source", "sr-train " + m_dir.filename().string()}});
        }
        m_state.last_validated_epoch = epoch;
        save_checkpoint();
        std::ostringstream line;
        line << "epoch " << epoch << "/" << m_options.epochs << " step " << m_state.step << " loss "
             << (m_epoch_steps ? m_epoch_loss / static_cast<double>(m_epoch_steps) : std::nan("")) << " lr "
             << m_optimizer->learning_rate() << " valid psnr " << format_psnr(r.psnr);
        if (m_options.benchmark) line << " (Y " << format_psnr(r.psnr_y) << ")";
        line << " best " << format_psnr(m_state.best_psnr) << " (validation " << std::fixed;
        line.precision(1);
        line << validation_seconds << " s)";
        if (!r.saved.empty()) line << " saved " << r.saved.filename().string();
        message(line.str());
        m_epoch_loss = 0, m_epoch_steps = 0;
        m_last_epoch = r;
    }

    TrainOptions m_options;
    std::filesystem::path m_dir;
    TrainerCallbacks m_callbacks;
    models::AnyModel<float> m_model;
    TrainingData m_data;
    std::unique_ptr<data::BatchLoader> m_loader;
    std::unique_ptr<data::ValidationSet> m_validation;
    std::unique_ptr<optim::Adam<float, Cpu>> m_optimizer;
    optim::Schedule m_schedule;
    std::unique_ptr<io::EventWriter> m_events;
    std::ofstream m_log;
    TrainingState m_state;
    double m_epoch_loss = 0;
    int64_t m_epoch_steps = 0;
    std::optional<EpochResult> m_last_epoch;
};

}  // namespace sr::train
