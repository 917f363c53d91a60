// sr-train: train EDSR/WDSR with the options of krasserm/wdsr's train.py.
//
//   sr-train --profile wdsr-b-16 --scale 2 --dataset ../shared/data/train --validation-dataset \
//            ../shared/data/benchmark/Set5 --benchmark --epochs 20 --steps-per-epoch 500
//   sr-train --resume output/20261125-190000            # continue a run exactly where it stopped
//
// Ctrl-C saves a checkpoint and exits (status 130); --resume continues with the same batches
// and optimizer state as an uninterrupted run. See include/sr/train/trainer.hpp for the run
// directory's layout and docs/training.md for the options.
//
// Data parallel: `mpirun -np N sr-train ...` (or srun) trains one model on N processes; --batch-size
// stays the global batch. Rank 0 prints and writes; an error on any rank ends all of them
// (docs/training.md, "Many GPUs, many machines").
#include <CLI/CLI.hpp>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <string>

#include "sr/dist/launch.hpp"
#include "sr/train/trainer.hpp"
#include "sr/ops/cpu/precision.hpp"
#include "sr_tools.hpp"
#include "tool_support.hpp"

namespace {
std::atomic<bool> g_stop{false};
extern "C" void on_interrupt(int) {
    g_stop = true;
    std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C stops at once
}
}  // namespace

int sr::tools::train_main(int argc, char** argv) {
    CLI::App app{"sr-train: train EDSR / WDSR super-resolution models (sr " SR_VERSION_STRING ")"};
    sr::train::TrainOptions o;
    std::string resume;
    int64_t num_filters = 0, num_blocks = 0, expansion = 0;
    double res_scaling = 0;
    bool quiet = false;
    double dist_timeout = 300;
    int dist_check_every = 100;
    app.add_option("--profile", o.profile, "model profile: " + sr::models::profile_names())->capture_default_str();
    app.add_option("--scale", o.scale, "upscale factor")->check(CLI::IsMember({2, 3, 4}))->capture_default_str();
    app.add_option("--dataset", o.dataset, "DIV2K root, paired folder (HR/ + LR_bicubic/X<s>/) or folder of HR "
                                           "images")->capture_default_str();
    app.add_option("--validation-dataset", o.validation_dataset, "separate validation set (paired folder such as "
                                                                 "Set5, DIV2K root, or HR folder)");
    app.add_option("--cache", o.cache, ".npy mirror of --dataset made by sr-data convert");
    app.add_option("--downgrade", o.downgrade, "bicubic | unknown | bicubic_jpeg_75 | bicubic_jpeg_90")->capture_default_str();
    app.add_option("--outdir", o.outdir, "where run directories are created")->capture_default_str();
    app.add_option("--pretrained-model", o.pretrained_model, "copy matching weights from this model (e.g. x2 -> x4)");
    app.add_option("--epochs", o.epochs, "epochs")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--steps-per-epoch", o.steps_per_epoch, "optimizer steps per epoch")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--batch-size", o.batch_size, "patches per step")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--lr-patch-size", o.lr_patch_size, "LR patch side")->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--learning-rate", o.learning_rate, "initial learning rate (default: the profile's, 1e-3 WDSR, 1e-4 EDSR)");
    app.add_option("--learning-rate-step-size", o.learning_rate_step_size, "epochs between decays")->capture_default_str();
    app.add_option("--learning-rate-decay", o.learning_rate_decay, "decay factor")->capture_default_str();
    app.add_option("--num-filters", num_filters, "override the profile's filters");
    app.add_option("--num-res-blocks", num_blocks, "override the profile's residual blocks");
    app.add_option("--res-expansion", expansion, "override WDSR's expansion");
    app.add_option("--res-scaling", res_scaling, "residual scaling (e.g. 0.1)");
    app.add_option("--training-images", o.training_images, "image range, e.g. 1-800 (default: 1-800 for DIV2K, all but "
                                                           "the validation images for folders)");
    app.add_option("--validation-images", o.validation_images, "image range, e.g. 801-900 (default: 801-900 for DIV2K, "
                                                               "the last 5% for folders)");
    app.add_option("--validation-steps", o.validation_steps, "validation batches per epoch")->capture_default_str();
    app.add_flag("--benchmark", o.benchmark, "validate on full images (slow) instead of random crops");
    app.add_flag("--save-best-models-only", o.save_best_models_only, "save a model only when validation PSNR improves");
    app.add_option("--save-models-after-epoch", o.save_models_after_epoch, "save no model before this epoch")->capture_default_str();
    app.add_option("--seed", o.seed, "random seed (initialisation, crops, augmentation)")->capture_default_str();
    app.add_option("--device", o.device, "cpu or cuda:N (with --resume: move the run to this device)")->capture_default_str();
    app.add_flag("--deterministic", o.deterministic, "GPU: deterministic convolutions, so --resume continues exactly "
                                                     "(slower; the CPU always is)");
    app.add_flag("--tf32", o.tf32, "GPU: TF32 tensor cores for float convolutions (faster, about 1e-3 relative error)");
    app.add_option("--threads", o.threads, "compute threads (0: all)")->capture_default_str();
    app.add_option("--loader-threads", o.loader_threads, "data loading threads")->capture_default_str();
    app.add_option("--precision", o.precision, "CPU convolutions: fp32, or bf16 (AMX / AVX512-BF16: bf16 operands, float "
                                               "accumulation); master weights and Adam state stay float (with --resume: "
                                               "change the run's)")->capture_default_str();
    app.add_option("--resume", resume, "continue the run in this directory (its args.json; --epochs may extend it)");
    app.add_flag("-q,--quiet", quiet, "no progress bar");
    app.add_option("--dist-timeout", dist_timeout, "several processes: seconds a rank waits for the others before "
                                                   "ending all ranks (a rank died or hangs)")
        ->check(CLI::PositiveNumber)->capture_default_str();
    app.add_option("--dist-check-every", dist_check_every, "several processes: steps between checks that all ranks "
                                                           "hold the same parameters")
        ->check(CLI::PositiveNumber)->capture_default_str();
    CLI11_PARSE(app, argc, argv);

    // Errors of rank r > 0 say so (every rank prints its own; rank 0 alone prints progress).
    const int launcher_rank = sr::dist::launcher_rank();
    const std::string tool_name = launcher_rank > 0 ? "sr-train (rank " + std::to_string(launcher_rank) + ")" : "sr-train";
    std::shared_ptr<sr::dist::Communicator> communicator;
    const int status = sr::tools::run_tool(tool_name.c_str(), [&] {
        if (num_filters) o.num_filters = num_filters;
        if (num_blocks) o.num_res_blocks = num_blocks;
        if (expansion) o.res_expansion = expansion;
        if (res_scaling > 0) o.res_scaling = res_scaling;
        // With --resume the run's args.json names the device unless --device is given.
        if (resume.empty() || app.count("--device"))
            sr::tools::require_model_device(sr::parse_device(o.device, "--device"), "--device");
        // Several ranks on GPUs: --device cuda:N gives the rank with local index L the GPU N + L.
        if (sr::dist::launcher_world_size() > 1 && (resume.empty() || app.count("--device"))) {
            const sr::DeviceChoice device = sr::parse_device(o.device, "--device");
            if (device.cuda) o.device = "cuda:" + std::to_string(device.index + sr::dist::launcher_local_rank());
            sr::select_device(sr::parse_device(o.device, "--device"), "--device");
        }
        communicator = sr::dist::make_communicator(dist_timeout, sr::parse_device(o.device, "--device").cuda);
        sr::train::TrainerDistribution distribution;
        distribution.communicator = communicator;
        distribution.check_every = dist_check_every;
        if (!communicator->is_writer()) quiet = true;
        std::signal(SIGINT, on_interrupt);
        // mpirun sends SIGTERM when it ends a job (a rank died): then this rank must end now, not
        // finish the step (its peers are gone) and linger in the run directory.
        std::signal(SIGTERM, communicator->size() > 1 ? SIG_DFL : on_interrupt);

        std::unique_ptr<sr::tools::ProgressBar> bar;
        double loss_average = 0;
        sr::train::TrainerCallbacks callbacks;
        callbacks.stop_requested = [] { return g_stop.load(); };
        callbacks.on_message = [&](const std::string& line) {
            if (bar) bar->finish();
            std::fprintf(stderr, "sr-train: %s\n", line.c_str());
        };
        int64_t first_step = -1;
        callbacks.on_step = [&](int64_t step, int64_t total, double loss, double lr) {
            if (quiet) return;
            if (!bar || first_step < 0) {
                first_step = step - 1;
                bar = std::make_unique<sr::tools::ProgressBar>("train", total - first_step, "steps");
            }
            // On a GPU the loss is read every few steps; before the first read it is NaN.
            if (std::isfinite(loss)) loss_average = loss_average == 0 ? loss : 0.98 * loss_average + 0.02 * loss;
            char note[96];
            std::snprintf(note, sizeof note, "step %lld loss %.4f lr %.2e", static_cast<long long>(step), loss_average, lr);
            bar->update(step - first_step, note);
        };
        auto trainer = resume.empty() ? sr::train::Trainer::start(o, callbacks, distribution)
                                       : sr::train::Trainer::resume(resume, app.count("--epochs") ? o.epochs : 0, callbacks,
                                                                    app.count("--device") ? o.device : "", distribution,
                                                                    app.count("--precision") ? o.precision : "");
        const auto outcome = trainer.run();
        if (bar) bar->finish();
        if (outcome == sr::train::Trainer::Outcome::interrupted) return 130;
        if (communicator->is_writer())
            std::printf("sr-train: run %s finished at step %lld\n", trainer.run_dir().string().c_str(),
                    static_cast<long long>(trainer.step()));
        return 0;
    });
    // An error on one rank (the others cannot see it) ends all of them now rather than at the timeout.
    if (status != 0 && status != 130 && communicator && communicator->size() > 1) communicator->abort(status);
    return status;
}
