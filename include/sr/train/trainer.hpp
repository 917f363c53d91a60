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
//
// Crashes and divergence: every file of the run directory but the appended logs is written
// atomically and durably (io::AtomicFile), so kill -9 or a power cut at any moment leaves the last
// complete checkpoint; --resume deletes the temporary files a crash left and continues from it
// (from step 0 when the run died before its first checkpoint) to the same weights, Adam state and
// step count as an uninterrupted run (tests/test_crash_resume.cpp kills sr-train inside a step,
// during validation and between writing and renaming a checkpoint or model file). A non-finite
// loss or gradient stops the run with an error naming the step and the loss or the parameter,
// before the optimizer applies it, so the last checkpoint on disk stays the last good state. The
// data is checked before the first step (check_training_data: too few images, images smaller than
// the patch).
//
// Devices (TrainOptions::device, "cpu" or "cuda:N"): the loop is one template, TrainerImpl<D>,
// behind the Trainer facade. On a GPU, model and Adam moments live on the device; each batch is
// uploaded from pinned memory on the copy stream right after the previous step was enqueued, so
// the upload and the loader's work overlap that step; the loss is summed on the device and read
// only at log points (every log_every steps, epoch ends, interruption), where the divergence checks
// run (the loss, and the weights, which a non-finite gradient makes non-finite through Adam), so a
// step has no host wait and no checkpoint is written from a diverged state. Validation runs on the
// device; checkpoints and model files are downloaded for writing and uploaded when read. cuDNN picks its algorithms by timing, which can
// differ between processes: --deterministic restricts it to deterministic engines chosen by
// heuristics alone, so --resume on a GPU reproduces an uninterrupted run exactly. TF32 stays off
// unless --tf32.
//
// Data parallel (TrainerDistribution, sr/dist/): with a Communicator of N ranks, every rank runs
// this loop on its own device. Each global batch of batch_size samples is split into N shards
// (rank r loads only its own, BatchLoaderOptions::shard_*), each rank's loss is weighted by its
// shard's share so the mean of the ranks' gradients is the gradient of the whole batch, and
// GradientSync averages the gradients in buckets while backward still runs. Parameters are
// broadcast from rank 0 at the start and compared by checksum every check_every steps. Rank 0 is
// the one writer (train.log, events, checkpoints, models); every rank validates (identical
// weights give identical results, and no rank idles into the timeout), and a stop request
// (Ctrl-C, SIGTERM) on any rank is agreed in the step's allreduce, so all ranks stop after the
// same step.
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
#include <type_traits>
#include <variant>

#include "sr/autograd/backward.hpp"
#include "sr/config.hpp"
#include "sr/core/device_choice.hpp"
#include "sr/core/kill_point.hpp"
#include "sr/cuda/conv2d.hpp"
#include "sr/data/batch_loader.hpp"
#include "sr/data/validation.hpp"
#include "sr/dist/communicator.hpp"
#include "sr/dist/gradient_sync.hpp"
#include "sr/infer/upscaler.hpp"
#include "sr/io/atomic_file.hpp"
#include "sr/io/tensorboard.hpp"
#include "sr/metrics/evaluate.hpp"
#include "sr/models/model_file.hpp"
#include "sr/nn/finite_check.hpp"
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
    // After each step; `loss` is that step's on the CPU, and on a GPU the mean of the steps last
    // read (every log point; NaN before the first).
    std::function<void(int64_t step, int64_t total, double loss, double lr)> on_step;
    std::function<void(const std::string& line)> on_message;       // the lines also written to train.log
};

struct EpochResult {
    int64_t epoch = 0;
    double psnr = 0, psnr_y = std::nan("");
    std::filesystem::path saved;  // empty when the policy saved nothing
};

enum class TrainOutcome { finished, interrupted };

// The processes a run trains on (sr/dist/launch.hpp makes the communicator from the launcher).
struct TrainerDistribution {
    std::shared_ptr<dist::Communicator> communicator = std::make_shared<dist::SingleProcess>();
    int check_every = 100;                          // steps between parameter checksums across ranks
    std::size_t bucket_elements = std::size_t{1} << 18;  // floats per gradient allreduce
};

namespace detail {

// What the Trainer facade needs of a run, whatever device it trains on.
class TrainerLoop {
public:
    virtual ~TrainerLoop() = default;
    virtual void begin_new_run() = 0;
    virtual void resume_from_checkpoint(bool rewrite_args) = 0;
    virtual TrainOutcome run() = 0;
    virtual const std::filesystem::path& run_dir() const = 0;
    virtual models::AnyModel<float, Cpu> host_model() const = 0;
    virtual const TrainOptions& options() const = 0;
    virtual int64_t step() const = 0;
    virtual const std::optional<EpochResult>& last_epoch() const = 0;
};

// The training loop on device D: model, optimizer state and the forward/backward of every step
// live there; data loading, metrics and files stay on the host.
template <class D>
class TrainerImpl final : public TrainerLoop {
public:
    TrainerImpl(TrainOptions options, std::filesystem::path dir, TrainerCallbacks callbacks,
                TrainerDistribution distribution)
        : m_options(std::move(options)), m_dir(std::move(dir)), m_callbacks(std::move(callbacks)),
          m_distribution(std::move(distribution)), m_comm(*m_distribution.communicator),
          m_model(configure_device_and_make_model(m_options)) {
        SR_CHECK(m_distribution.check_every >= 1, "--dist-check-every must be at least 1");
        m_ranks_before = m_options.ranks;
        m_options.ranks = m_comm.size();
        initialise();
    }

    void begin_new_run() override {
        write_args();
        message("run " + m_dir.string() + " started: " + describe());
        if (!m_options.pretrained_model.empty()) load_pretrained();
        broadcast_parameters();
    }

    void resume_from_checkpoint(bool rewrite_args) override {
        // A crash between writing and renaming leaves a temporary file; it is never read.
        int removed = 0;
        if (m_comm.is_writer())
            for (const auto& dir : {m_dir, m_dir / "checkpoint", m_dir / "models"}) removed += io::remove_stale_temporaries(dir);
        if (removed > 0) message("removed " + std::to_string(removed) + " temporary file(s) an interrupted write left");
        const auto state_path = m_dir / "checkpoint" / "last.safetensors";
        if (std::filesystem::exists(state_path)) {
            m_state = load_training_state(state_path, m_model, *m_optimizer);
            m_loader->seek(m_state.step);
        } else {
            // Killed before its first checkpoint: the run's initial state is a function of args.json.
            message("no checkpoint yet in " + (m_dir / "checkpoint").string() + ": starting over from step 0");
            if (!m_options.pretrained_model.empty()) load_pretrained();
        }
        if (std::filesystem::exists(state_path)) m_checkpoint_step = m_state.step;
        const bool ranks_changed = m_ranks_before != m_comm.size();
        if (rewrite_args || ranks_changed) write_args();
        message("resumed at step " + std::to_string(m_state.step) + " of " + std::to_string(m_options.total_steps()) +
                ": " + describe());
        if (ranks_changed)
            message("the run trained on " + std::to_string(m_ranks_before) + " process(es) and continues on " +
                    std::to_string(m_comm.size()) + ": the global batch stays " + std::to_string(m_options.batch_size) +
                    " (" + describe_shards() + ")");
        // Every rank read the same file; the broadcast makes sure they hold the same weights.
        broadcast_parameters();
    }

    TrainOutcome run() override {
        const int64_t total = m_options.total_steps(), per_epoch = m_options.steps_per_epoch;
        // An interruption during validation leaves an epoch end not yet validated.
        if (m_state.step % per_epoch == 0 && m_state.step / per_epoch > m_state.last_validated_epoch) end_epoch();
        m_loss_sum = 0, m_loss_count = 0;
        std::optional<DeviceBatch> next;  // the batch of step m_state.step, already on its way to the device
        while (m_state.step < total) {
            if (m_sync ? m_stop_agreed : (m_callbacks.stop_requested && m_callbacks.stop_requested())) {
                read_loss();  // never checkpoint weights a diverged step produced
                save_checkpoint();
                message("interrupted at step " + std::to_string(m_state.step) + "; checkpoint saved, continue with "
                        "sr-train --resume " + m_dir.string());
                return TrainOutcome::interrupted;
            }
            const double lr = optim::learning_rate_at(m_schedule, m_state.step);
            m_optimizer->set_learning_rate(lr);
            const DeviceBatch batch = next ? std::move(*next) : upload(m_loader->next());
            next.reset();
            m_optimizer->zero_grad();
            Tensor<float, D> loss = l1_loss(m_model(batch.lr), batch.hr);
            // A shard's share of the global batch: the mean over ranks of the weighted shard losses
            // (and of their gradients) is the loss of the whole batch. 1 for even shards.
            if (m_shard_weight != 1.f) loss = loss * m_shard_weight;
            if constexpr (is_cpu_v<D>) {
                // On the CPU the values are at hand: check before the update, so a diverged step
                // never reaches the weights or the Adam moments.
                double value = loss.item();
                check_finite(value, m_state.step + 1, m_state.step + 1);
                backward(loss, value);
                check_gradients();
                testing::kill_point("step");
                m_optimizer->step();
                record_loss(value, 1);
            } else {
                double unused = 0;
                backward(loss, unused);
                testing::kill_point("step");
                m_optimizer->step();
                accumulate_loss(loss);
                // Enqueued work runs on; meanwhile the host prepares and uploads the next batch.
                if (m_state.step + 1 < total) next = upload(m_loader->next());
            }
            ++m_state.step;
            const bool log_point = m_state.step % m_options.log_every == 0 || m_state.step == total;
            if (log_point || m_state.step % per_epoch == 0) read_loss();
            if (log_point && m_loss_count > 0) {
                if (m_events) m_events->add_scalar("train/loss", m_loss_sum / static_cast<double>(m_loss_count), m_state.step);
                if (m_events) m_events->add_scalar("train/learning_rate", lr, m_state.step);
                m_loss_sum = 0, m_loss_count = 0;
            }
            if (m_callbacks.on_step) m_callbacks.on_step(m_state.step, total, m_last_loss, lr);
            if (m_sync && (m_state.step % m_distribution.check_every == 0 || m_state.step == total)) check_replicas();
            if (m_state.step % per_epoch == 0) end_epoch();
        }
        std::string line = "finished " + std::to_string(total) + " steps; best validation PSNR " +
                           format_psnr(m_state.best_psnr) + " dB";
        if constexpr (is_cuda_v<D>) line += "; peak device memory " + format_mib(cuda::memory_stats().peak_in_use);
        message(line);
        return TrainOutcome::finished;
    }

    const std::filesystem::path& run_dir() const override { return m_dir; }
    models::AnyModel<float, Cpu> host_model() const override {
        if constexpr (is_cpu_v<D>)
            return m_model;
        else
            return m_model.template to<Cpu>();
    }
    const TrainOptions& options() const override { return m_options; }
    int64_t step() const override { return m_state.step; }
    const std::optional<EpochResult>& last_epoch() const override { return m_last_epoch; }

private:
    struct DeviceBatch {
        Tensor<float, D> lr, hr;
    };

    // loss.backward(), with the gradients averaged over the ranks when there are several; then
    // `loss_value` (this rank's) becomes the mean over ranks, and the stop requests of all ranks
    // are agreed.
    void backward(const Tensor<float, D>& loss, double& loss_value) {
        if (!m_sync) {
            loss.backward();
            return;
        }
        const bool stop = m_callbacks.stop_requested && m_callbacks.stop_requested();
        std::vector<double> extras{loss_value, stop ? 1.0 : 0.0};
        m_sync->backward_and_average([&] { loss.backward(); }, extras);
        loss_value = extras[0];
        m_stop_agreed = extras[1] > 0;
    }

    // Rank 0's parameters to every rank (a new run's initialisation, a resumed checkpoint).
    void broadcast_parameters() {
        if (m_comm.size() == 1) return;
        NoGradGuard no_grad;
        for (const auto& p : m_model.parameters()) {
            Tensor<float, Cpu> host = p.tensor.template to<Cpu>().contiguous();
            if (host.data() == p.tensor.data()) host = host.clone();  // a private buffer to receive into
            m_comm.broadcast(host.data(), static_cast<std::size_t>(host.numel()) * sizeof(float), 0,
                             "the parameter broadcast");
            host.template to<D>().copy_to(p.tensor);
        }
    }

    // Every rank's parameters must be bit-identical (same averaged gradients, same update); a
    // difference means a rank computed something else (a different build, a hardware fault).
    void check_replicas() {
        uint64_t hash = 1469598103934665603ull;  // FNV-1a over the bytes of every parameter
        for (const auto& p : m_model.parameters()) {
            const Tensor<float, Cpu> host = p.tensor.template to<Cpu>().contiguous();
            const auto* bytes = reinterpret_cast<const unsigned char*>(host.data());
            for (std::size_t i = 0; i < static_cast<std::size_t>(host.numel()) * sizeof(float); ++i)
                hash = (hash ^ bytes[i]) * 1099511628211ull;
        }
        uint64_t reference = hash;
        m_comm.broadcast(&reference, sizeof reference, 0, "the parameter checksum");
        std::vector<double> differs(static_cast<std::size_t>(m_comm.size()), 0.0);
        differs[static_cast<std::size_t>(m_comm.rank())] = reference != hash ? 1.0 : 0.0;
        m_comm.allreduce_sum(differs.data(), differs.size(), "the parameter checksum");
        std::string ranks;
        for (std::size_t r = 0; r < differs.size(); ++r)
            if (differs[r] > 0) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
        SR_CHECK(ranks.empty(), "parameters differ across ranks at step ", m_state.step, ": rank(s) ", ranks,
                 " hold other weights than rank 0 (checked every ", m_distribution.check_every,
                 " steps); resume from the last checkpoint");
    }

    std::string describe_shards() const {
        const auto [first, end] = dist::shard_range(m_options.batch_size, {m_comm.rank(), m_comm.size()});
        return std::to_string(m_comm.size()) + " processes of " + m_comm.describe() + ", " +
               std::to_string(end - first) + " samples on rank 0";
    }

    // Applies the run's device settings (process-wide for cuDNN) before anything is allocated.
    static models::AnyModel<float, D> configure_device_and_make_model(const TrainOptions& o) {
        if constexpr (is_cuda_v<D>) {
            select_device(parse_device(o.device), "--device");
            cuda::ConvSettings settings;
            settings.deterministic = o.deterministic;
            settings.allow_tf32 = o.tf32;
            // Timed algorithm searches may pick differently in a resumed process; heuristics don't.
            settings.measure = !o.deterministic;
            cuda::set_conv_settings(settings);
        } else {
            // Process-wide, like the GPU settings: every convolution of this run, its validation included.
            set_cpu_precision(parse_precision(o.precision));
        }
        // Initial values are drawn on the host and uploaded (nn::Conv2d), so a seed gives the
        // same initial model on every device.
        Rng rng(o.seed);
        return models::AnyModel<float, D>(o.model_config(), rng);
    }

    DeviceBatch upload(const data::Batch& batch) {
        if constexpr (is_cpu_v<D>) {
            return {batch.lr, batch.hr};
        } else {
            return {upload_tensor(batch.lr), upload_tensor(batch.hr)};
        }
    }

    Tensor<float, D> upload_tensor(const Tensor<float, Cpu>& host_tensor) {
        static_assert(is_cuda_v<D>);
        const Tensor<float, Cpu> host = host_tensor.contiguous();
        const std::size_t bytes = static_cast<std::size_t>(host.numel()) * sizeof(float);
        auto* device_data = static_cast<float*>(m_uploader->upload(host.data(), bytes));
        return Tensor<float, D>::adopt_device_memory(host.shape(), device_data, m_uploader->device());
    }

    // Steps are counted from 1 here (step n is the one after n - 1 completed steps).
    std::string diverged_at(int64_t first_step, int64_t last_step) const {
        return first_step == last_step ? "training diverged at step " + std::to_string(first_step)
                                       : "training diverged between steps " + std::to_string(first_step) + " and " +
                                             std::to_string(last_step);
    }
    std::string divergence_advice() const {
        if (m_checkpoint_step < 0) return "no checkpoint was written yet; lower --learning-rate";
        return "the last checkpoint (step " + std::to_string(m_checkpoint_step) +
               ") is kept; lower --learning-rate, or resume from it";
    }

    void check_finite(double value, int64_t first_step, int64_t last_step) const {
        if (std::isfinite(value)) return;
        const char* text = std::isnan(value) ? "NaN" : value > 0 ? "+inf" : "-inf";
        fail(diverged_at(first_step, last_step), ": the loss", first_step == last_step ? " is " : " sum is ", text, "; ",
             divergence_advice());
    }

    // CPU, every step: one read of the gradients, before the optimizer would spread a NaN into
    // the weights and moments.
    void check_gradients() const {
        if (const auto name = nn::first_non_finite_gradient(m_optimizer->parameters()))
            fail(diverged_at(m_state.step + 1, m_state.step + 1), ": the gradient of '", *name,
                 "' is not finite (the loss is); ", divergence_advice());
    }

    // GPU, at read points: a non-finite gradient made the weights non-finite through Adam.
    void check_weights(int64_t first_step, int64_t last_step) const {
        if (const auto name = nn::first_non_finite_value(m_optimizer->parameters()))
            fail(diverged_at(first_step, last_step), ": parameter '", *name,
                 "' is not finite (a non-finite gradient reached it); ", divergence_advice());
    }

    void record_loss(double sum, int64_t count) {
        m_loss_sum += sum, m_loss_count += count, m_epoch_loss += sum, m_epoch_steps += count;
        m_last_loss = sum / static_cast<double>(count);
    }

    // GPU: adds the step's loss to a device scalar; nothing reaches the host.
    void accumulate_loss(const Tensor<float, D>& loss) {
        NoGradGuard no_grad;
        if (!m_device_loss_sum.defined()) m_device_loss_sum = Tensor<float, D>::zeros(loss.shape());
        ops::add_scaled_into(m_device_loss_sum, m_device_loss_sum, loss.detach(), 1.f);
        ++m_device_loss_count;
    }

    // GPU: reads the losses summed since the last read (waits for the steps to finish) and checks
    // them; on the CPU every step was recorded already.
    void read_loss() {
        if constexpr (is_cuda_v<D>) {
            if (m_device_loss_count == 0) return;
            double sum = m_device_loss_sum.item();
            const int64_t count = m_device_loss_count;
            m_comm.allreduce_sum(&sum, 1, "the loss allreduce");  // every rank reads at the same steps
            sum /= static_cast<double>(m_comm.size());
            m_device_loss_sum.fill_zero_();
            m_device_loss_count = 0;
            check_finite(sum, m_state.step - count + 1, m_state.step);
            check_weights(m_state.step - count + 1, m_state.step);
            record_loss(sum, count);
        }
    }

    static std::string format_mib(std::size_t bytes) {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.1f MiB", static_cast<double>(bytes) / (1024.0 * 1024.0));
        return buffer;
    }

    std::string device_description() const {
        if constexpr (is_cuda_v<D>) {
            const int index = cuda::current_device();
            return "cuda:" + std::to_string(index) + " (" + cuda::device_properties(index).name + ")" +
                   (m_options.deterministic ? ", deterministic" : "") + (m_options.tf32 ? ", TF32" : "");
        } else {
            return m_options.precision == "fp32" ? std::string("cpu")
                                                 : "cpu, " + m_options.precision + " convolutions (" + cpu_bf16_unit() + ")";
        }
    }

    void initialise() {
        if (m_options.threads > 0) set_num_threads(m_options.threads);
        if (m_comm.is_writer()) {
            std::filesystem::create_directories(m_dir / "models");
            std::filesystem::create_directories(m_dir / "checkpoint");
            m_log.open(m_dir / "train.log", std::ios::app);
            SR_CHECK(m_log, (m_dir / "train.log").string(), ": cannot write the training log");
            m_events = std::make_unique<io::EventWriter>(m_dir / "logs");
        }
        m_data = open_training_data(m_options);
        SR_CHECK(m_data.train->scale() == m_options.scale, "internal: dataset scale mismatch");
        if (const std::string note = check_training_data(m_data, m_options); !note.empty()) message(note);
        data::BatchLoaderOptions loader;
        loader.lr_patch_size = m_options.lr_patch_size, loader.batch_size = m_options.batch_size;
        loader.seed = m_options.seed, loader.threads = std::max(1, m_options.loader_threads);
        loader.skip_small_images = true;
        SR_CHECK(m_options.batch_size >= m_comm.size(), "--batch-size ", m_options.batch_size, " is the global batch and "
                 "must be at least the number of processes (", m_comm.size(), ")");
        loader.shard_index = m_comm.rank(), loader.shard_count = m_comm.size();
        m_loader = std::make_unique<data::BatchLoader>(m_data.train, loader);
        data::ValidationOptions validation;
        validation.mode = m_options.benchmark ? data::ValidationOptions::Mode::full_image
                                              : data::ValidationOptions::Mode::random_crop;
        validation.lr_patch_size = m_options.lr_patch_size, validation.batch_size = m_options.batch_size;
        validation.seed = m_options.seed + 1;
        m_validation = std::make_unique<data::ValidationSet>(m_data.valid, validation);
        m_optimizer = std::make_unique<optim::Adam<float, D>>(m_model.parameters(),
                                                              optim::AdamOptions{m_options.base_learning_rate()});
        const int64_t shard_samples = m_loader->end_slot() - m_loader->first_slot();
        m_shard_weight = static_cast<float>(static_cast<double>(shard_samples) * m_comm.size() / m_options.batch_size);
        if (m_comm.size() > 1)
            m_sync = std::make_unique<dist::GradientSync<D>>(m_comm, m_model.parameters(), m_distribution.bucket_elements);
        m_schedule = optim::step_decay(m_options.base_learning_rate(),
                                       static_cast<int64_t>(m_options.learning_rate_step_size) * m_options.steps_per_epoch,
                                       m_options.learning_rate_decay, m_options.total_steps());
        // Four slots: a batch is two uploads (LR, HR), and the next batch's must not wait for the
        // slots of the one the device is still reading.
        if constexpr (is_cuda_v<D>) m_uploader = std::make_unique<cuda::PinnedUpload>(4);
    }

    std::string describe() const {
        const auto& c = m_model.config();
        std::ostringstream out;
        out << m_options.profile << " (" << c.architecture.name() << ", " << c.num_filters
            << " filters, " << c.num_blocks << " blocks) x" << c.scale << ", " << nn::count_elements(m_model.parameters())
            << " parameters; training on " << m_data.train->describe() << "; validating on " << m_data.valid->describe()
            << "; " << m_options.epochs << " epochs of " << m_options.steps_per_epoch << " steps, batch "
            << m_options.batch_size << ", learning rate " << m_options.base_learning_rate() << "; device "
            << device_description();
        if (m_comm.size() > 1) out << "; data parallel on " << describe_shards();
        return out.str();
    }

    void message(const std::string& line) {
        if (!m_comm.is_writer()) return;
        const std::time_t now = std::time(nullptr);
        char stamp[32];
        std::strftime(stamp, sizeof stamp, "%Y-%m-%d %H:%M:%S", std::localtime(&now));
        m_log << stamp << "  " << line << std::endl;
        if (m_callbacks.on_message) m_callbacks.on_message(line);
    }

    void write_args() {
        if (!m_comm.is_writer()) return;
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
        if (m_comm.is_writer())
            save_training_state(m_dir / "checkpoint" / "last.safetensors", m_model, *m_optimizer, m_state);
        m_checkpoint_step = m_state.step;
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
            testing::kill_point("validation");
            const data::Batch batch = m_validation->get(b);
            const Tensor<float> sr_batch = m_options.benchmark ? upscaler.upscale(batch.lr) : forward_on_host(batch.lr);
            for (int64_t i = 0; i < sr_batch.dim(0); ++i) {
                const Tensor<float> sr_image = sr_batch.slice_batch(i, i + 1), hr = batch.hr.slice_batch(i, i + 1);
                psnr_sum += metrics::evaluate_pair(sr_image, hr, metrics::MetricsProtocol::seed(), false).psnr;
                if (m_options.benchmark)
                    psnr_y_sum +=
                        metrics::evaluate_pair(sr_image, hr, metrics::MetricsProtocol::paper(m_options.scale), false).psnr;
                ++images;
            }
            if (b < m_options.sample_images)
                if (m_events) m_events->add_image("valid/sr_" + std::to_string(b), quantized(sr_batch.slice_batch(0, 1)),
                                    m_state.step);
        }
        r.psnr = psnr_sum / static_cast<double>(images);
        if (m_options.benchmark) r.psnr_y = psnr_y_sum / static_cast<double>(images);
        return r;
    }

    // The model on a host batch, result on the host (validation: metrics run on the CPU).
    Tensor<float> forward_on_host(const Tensor<float>& lr) const {
        if constexpr (is_cpu_v<D>)
            return m_model(lr);
        else
            return m_model(lr.template to<D>()).template to<Cpu>();
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
        if (m_events) m_events->add_scalar("valid/psnr", r.psnr, m_state.step);
        if (m_options.benchmark && m_events) m_events->add_scalar("valid/psnr_y", r.psnr_y, m_state.step);
        const bool best = r.psnr > m_state.best_psnr;
        if (best) m_state.best_psnr = r.psnr;
        const bool policy = epoch >= m_options.save_models_after_epoch &&
                            (!(m_options.save_best_models_only || m_options.benchmark) || best);
        if (policy && m_comm.is_writer()) {
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
    TrainerDistribution m_distribution;
    dist::Communicator& m_comm;
    int m_ranks_before = 1;               // the processes the run trained on before (args.json)
    float m_shard_weight = 1.f;           // this rank's shard size * ranks / global batch
    std::unique_ptr<dist::GradientSync<D>> m_sync;  // with several ranks
    bool m_stop_agreed = false;           // some rank was asked to stop at the last step
    models::AnyModel<float, D> m_model;
    TrainingData m_data;
    std::unique_ptr<data::BatchLoader> m_loader;
    std::unique_ptr<data::ValidationSet> m_validation;
    std::unique_ptr<optim::Adam<float, D>> m_optimizer;
    optim::Schedule m_schedule;
    std::unique_ptr<io::EventWriter> m_events;
    std::ofstream m_log;
    TrainingState m_state;
    int64_t m_checkpoint_step = -1;  // the step checkpoint/last.safetensors holds; -1: none yet
    double m_loss_sum = 0;     // losses read since the last train/loss event
    int64_t m_loss_count = 0;
    double m_last_loss = std::nan("");  // the latest value read (the mean of the last read)
    double m_epoch_loss = 0;
    int64_t m_epoch_steps = 0;
    std::optional<EpochResult> m_last_epoch;
    // GPU only: staging for batch uploads, and the losses enqueued since the last read.
    std::conditional_t<is_cuda_v<D>, std::unique_ptr<cuda::PinnedUpload>, std::monostate> m_uploader{};
    Tensor<float, D> m_device_loss_sum;
    int64_t m_device_loss_count = 0;
};

inline std::filesystem::path new_run_directory(const std::filesystem::path& outdir) {
    const std::time_t now = std::time(nullptr);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
    std::filesystem::create_directories(outdir);
    std::filesystem::path dir = outdir / stamp;
    for (int i = 1; std::filesystem::exists(dir); ++i) dir = outdir / (std::string(stamp) + "-" + std::to_string(i));
    std::filesystem::create_directories(dir);
    return dir;
}

// The loop for the options' device; fails with one line when that device cannot be used.
inline std::unique_ptr<TrainerLoop> make_loop(TrainOptions options, std::filesystem::path dir, TrainerCallbacks callbacks,
                                              TrainerDistribution distribution) {
    const DeviceChoice device = parse_device(options.device, "--device");
    if (!device.cuda)
        return std::make_unique<TrainerImpl<Cpu>>(std::move(options), std::move(dir), std::move(callbacks),
                                                  std::move(distribution));
#if SR_WITH_CUDA
    return std::make_unique<TrainerImpl<Cuda>>(std::move(options), std::move(dir), std::move(callbacks),
                                               std::move(distribution));
#else
    select_device(device, "--device");  // throws: this build has no CUDA
    return nullptr;
#endif
}

}  // namespace detail

class Trainer {
public:
    using Outcome = TrainOutcome;

    // A new run in <outdir>/<timestamp>/ (made by rank 0; every rank of `distribution` trains it).
    static Trainer start(TrainOptions options, TrainerCallbacks callbacks = {}, TrainerDistribution distribution = {}) {
        options.validate();
        select_device(parse_device(options.device, "--device"), "--device");  // before a run directory exists
        const std::shared_ptr<dist::Communicator> communicator = distribution.communicator;  // outlives a failed start
        dist::Communicator& comm = *communicator;
        std::string dir = comm.is_writer() ? detail::new_run_directory(options.outdir).string() : std::string();
        uint64_t length = dir.size();
        comm.broadcast(&length, sizeof length, 0, "the run directory's name");
        dir.resize(length);
        comm.broadcast(dir.data(), dir.size(), 0, "the run directory's name");
        try {
            Trainer t(detail::make_loop(std::move(options), dir, std::move(callbacks), std::move(distribution)));
            t.m_loop->begin_new_run();
            return t;
        } catch (...) {
            // Refused before its first step (data, model, pretrained weights): leave no empty run.
            std::error_code ec;
            if (comm.is_writer()) std::filesystem::remove_all(dir, ec);
            throw;
        }
    }

    // Continues the run in `run_dir` from checkpoint/last.safetensors; `epochs` > 0 extends or
    // shortens the run (the seed's --epochs with --initial-epoch); a non-empty `device` moves it
    // to another device ("cpu", "cuda:N"; exact continuation needs the same device and settings).
    // Every rank of `distribution` reads the same run directory (a shared file system). A non-empty
    // `precision` ("fp32", "bf16") changes the CPU convolutions' precision from the run's.
    static Trainer resume(const std::filesystem::path& run_dir_argument, int epochs = 0, TrainerCallbacks callbacks = {},
                          const std::string& device = "", TrainerDistribution distribution = {},
                          const std::string& precision = "") {
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
        const bool device_changed = !device.empty() && device != options.device;
        if (device_changed) options.device = device;
        const bool precision_changed = !precision.empty() && precision != options.precision;
        if (precision_changed) options.precision = precision;
        try {
            options.validate();
            if (!device_changed) select_device(parse_device(options.device, "--device"), "--device");
        } catch (const Error& e) {
            fail(args_path.string(), ": ", e.what());  // an edited args.json: say which file to fix
        }
        if (device_changed) select_device(parse_device(options.device, "--device"), "--device");
        Trainer t(detail::make_loop(std::move(options), run_dir, std::move(callbacks), std::move(distribution)));
        t.m_loop->resume_from_checkpoint(epochs > 0 || device_changed || precision_changed);
        return t;
    }

    Outcome run() { return m_loop->run(); }

    const std::filesystem::path& run_dir() const { return m_loop->run_dir(); }
    // The model being trained, on the host: the trained model itself on the CPU (sharing its
    // weights), a downloaded copy when training runs on a GPU.
    models::AnyModel<float> model() const { return m_loop->host_model(); }
    const TrainOptions& options() const { return m_loop->options(); }
    int64_t step() const { return m_loop->step(); }
    const std::optional<EpochResult>& last_epoch() const { return m_loop->last_epoch(); }

private:
    explicit Trainer(std::unique_ptr<detail::TrainerLoop> loop) : m_loop(std::move(loop)) {}
    std::unique_ptr<detail::TrainerLoop> m_loop;
};

}  // namespace sr::train
