#pragma once
// BatchLoader: random aligned LR/HR crops of a PairDataset, batched as NHWC float tensors in
// pixel units (0..255), prepared ahead by a thread pool.
//
// Determinism and resume: batch k is a pure function of (dataset, options, k). Sample j of batch
// k is stream position p = k * batch_size + j; epoch e = p / N walks a permutation of the N
// images drawn from the seed and e, so every image appears once per epoch; the crop position and
// the dihedral transform come from a generator keyed by (seed, p). Threads only decide who
// computes a sample, never what it is: the same seed gives the same batches for any thread count,
// and a run resumed at step k sees exactly the batches an uninterrupted run would (seek(k)).
//
// Data-parallel training: with shard_count = N ranks, rank `shard_index` loads only its slots of
// each global batch of batch_size samples, slots [batch_size * r / N, batch_size * (r + 1) / N)
// (sr/dist/shard.hpp): the N shards are disjoint, together they are exactly the batch one process
// would load, and they follow from the seed alone.
//
// Memory: at most `prefetch` batches are in flight or waiting.
#include <algorithm>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <tuple>
#include <vector>

#include "sr/core/rng.hpp"
#include "sr/core/tensor.hpp"
#include "sr/core/thread_pool.hpp"
#include "sr/data/augment.hpp"
#include "sr/data/dataset.hpp"
#include "sr/dist/shard.hpp"

namespace sr::data {

struct Batch {
    Tensor<float> lr;             // [N, P, P, 3], pixel units 0..255
    Tensor<float> hr;             // [N, P*s, P*s, 3]
    int64_t step = 0;             // which batch of the stream this is
    std::vector<int64_t> items;   // dataset index of each sample
};

struct BatchLoaderOptions {
    int lr_patch_size = 48;  // LR crop side; the HR crop is lr_patch_size * scale
    int batch_size = 16;
    uint64_t seed = 0;
    int threads = 2;         // worker threads preparing samples
    int prefetch = 4;        // batches prepared ahead of next()
    bool augment = true;     // random dihedral transform per sample
    bool shuffle = true;     // a new image order every epoch; false: 0, 1, 2, ... every epoch
    // Leave out images whose LR is smaller than the patch (T91 has some at x4) instead of failing.
    bool skip_small_images = false;
    // This process's part of each global batch (data-parallel training); 0 of 1: all of it.
    int shard_index = 0;
    int shard_count = 1;
};

// Where one sample comes from.
struct SampleSpec {
    int64_t item = 0;
    Window lr_window;
    int transform = 0;  // dihedral 0..7
};

namespace detail {

// Crop and transform of `item` for the sample at stream position `position`.
inline SampleSpec draw_sample(const PairDataset& dataset, int64_t item, uint64_t seed, int64_t position, int patch,
                              bool augment) {
    Rng rng = Rng(seed).split(2).split(static_cast<uint64_t>(position));
    const ImageSize lr = dataset.lr_size(item);
    SR_CHECK(lr.height >= patch && lr.width >= patch, dataset.describe(), ": ", dataset.name(item), " has a ", lr.width,
             "x", lr.height, " LR image, smaller than the ", patch, "x", patch,
             " LR patch (use a smaller patch, or skip such images: skip_small_images / --skip-small-images)");
    SampleSpec spec;
    spec.item = item;
    spec.lr_window.top = static_cast<int>(rng.below(static_cast<uint64_t>(lr.height - patch + 1)));
    spec.lr_window.left = static_cast<int>(rng.below(static_cast<uint64_t>(lr.width - patch + 1)));
    spec.lr_window.height = spec.lr_window.width = patch;
    spec.transform = augment ? draw_dihedral(rng) : 0;
    return spec;
}

// Loads the sample and writes it, transformed, into slot `slot` of the batch tensors.
inline void fill_sample(const PairDataset& dataset, const SampleSpec& spec, const Tensor<float>& lr,
                        const Tensor<float>& hr, int64_t slot) {
    const ImagePair pair = dataset.load_window(spec.item, spec.lr_window);
    SR_CHECK(pair.lr.height() == lr.dim(1) && pair.lr.width() == lr.dim(2) && pair.hr.height() == hr.dim(1) &&
                 pair.hr.width() == hr.dim(2),
             dataset.describe(), ": ", dataset.name(spec.item), " gave a ", pair.lr.describe(), " / ", pair.hr.describe(),
             " crop, expected ", lr.dim(2), "x", lr.dim(1), " / ", hr.dim(2), "x", hr.dim(1));
    write_transformed(pair.lr, spec.transform, lr.data() + slot * lr.dim(1) * lr.dim(2) * lr.dim(3));
    write_transformed(pair.hr, spec.transform, hr.data() + slot * hr.dim(1) * hr.dim(2) * hr.dim(3));
}

}  // namespace detail

class BatchLoader {
public:
    BatchLoader(std::shared_ptr<const PairDataset> dataset, const BatchLoaderOptions& options)
        : m_dataset(std::move(dataset)), m_options(options) {
        SR_CHECK(m_dataset, "BatchLoader: no dataset");
        SR_CHECK(options.lr_patch_size >= 1, "BatchLoader: lr_patch_size ", options.lr_patch_size, " must be positive");
        SR_CHECK(options.batch_size >= 1, "BatchLoader: batch_size ", options.batch_size, " must be positive");
        SR_CHECK(options.threads >= 1, "BatchLoader: threads ", options.threads, " must be at least 1");
        SR_CHECK(options.prefetch >= 1, "BatchLoader: prefetch ", options.prefetch, " must be at least 1");
        SR_CHECK(options.shard_count >= 1 && options.shard_index >= 0 && options.shard_index < options.shard_count &&
                     options.batch_size >= options.shard_count,
                 "BatchLoader: shard ", options.shard_index, " of ", options.shard_count, " of a batch of ",
                 options.batch_size, " (every shard needs at least one sample)");
        std::tie(m_first_slot, m_end_slot) =
            dist::shard_range(options.batch_size, {options.shard_index, options.shard_count});
        for (int64_t i = 0; i < m_dataset->size(); ++i) {
            const ImageSize lr = options.skip_small_images ? m_dataset->lr_size(i) : ImageSize{};
            if (!options.skip_small_images || (lr.height >= options.lr_patch_size && lr.width >= options.lr_patch_size))
                m_items.push_back(i);
        }
        SR_CHECK(!m_items.empty(), m_dataset->describe(), ": no image has an LR of at least ", options.lr_patch_size, "x",
                 options.lr_patch_size, " pixels");
        m_pool = std::make_unique<ThreadPool>(options.threads);
    }
    ~BatchLoader() { drain(); }
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    const PairDataset& dataset() const { return *m_dataset; }
    const BatchLoaderOptions& options() const { return m_options; }
    // Images sampled from (all, or those large enough with skip_small_images).
    int64_t images() const { return static_cast<int64_t>(m_items.size()); }
    // Batches that visit every image once (the last may straddle into the next epoch).
    int64_t steps_per_epoch() const { return (images() + m_options.batch_size - 1) / m_options.batch_size; }
    // The step next() returns.
    int64_t step() const { return m_step; }
    // The slots of each global batch this loader produces: [first_slot, end_slot).
    int first_slot() const { return static_cast<int>(m_first_slot); }
    int end_slot() const { return static_cast<int>(m_end_slot); }

    // Where sample `slot` of batch `step` comes from.
    SampleSpec sample_spec(int64_t step, int slot) const {
        SR_CHECK(step >= 0 && slot >= 0 && slot < m_options.batch_size, "BatchLoader: sample ", slot, " of step ", step,
                 " does not exist");
        const int64_t position = step * m_options.batch_size + slot;
        const int64_t n = images();
        const int64_t epoch = position / n, within = position % n;
        const int64_t order = m_options.shuffle ? (*permutation(epoch))[static_cast<std::size_t>(within)] : within;
        const int64_t item = m_items[static_cast<std::size_t>(order)];
        return detail::draw_sample(*m_dataset, item, m_options.seed, position, m_options.lr_patch_size, m_options.augment);
    }

    // Batch `step` (this shard's samples of it), computed on the calling thread (independent of
    // next()'s position).
    Batch batch(int64_t step) const {
        Batch b = allocate(step);
        for (int64_t slot = m_first_slot; slot < m_end_slot; ++slot) {
            const SampleSpec spec = sample_spec(step, static_cast<int>(slot));
            b.items[static_cast<std::size_t>(slot - m_first_slot)] = spec.item;
            detail::fill_sample(*m_dataset, spec, b.lr, b.hr, slot - m_first_slot);
        }
        return b;
    }

    // The batch at step(), prepared ahead by the pool; advances step(). When a sample fails
    // (an unreadable file), the error propagates, step() stays, and a later next() retries it.
    Batch next() {
        refill();
        Pending pending = std::move(m_queue.front());
        m_queue.pop_front();
        try {
            wait_all(pending);
        } catch (...) {
            drain();
            throw;
        }
        ++m_step;
        refill();
        return std::move(pending.batch);
    }

    // Makes next() continue at `step` (e.g. when resuming a run); drops prepared batches.
    void seek(int64_t step) {
        SR_CHECK(step >= 0, "BatchLoader: cannot seek to step ", step);
        drain();
        m_step = step;
    }

private:
    struct Pending {
        Batch batch;
        std::vector<std::future<void>> samples;
    };

    Batch allocate(int64_t step) const {
        const int64_t p = m_options.lr_patch_size, hp = p * m_dataset->scale(), n = m_end_slot - m_first_slot;
        Batch b;
        b.lr = Tensor<float>::empty({n, p, p, 3});
        b.hr = Tensor<float>::empty({n, hp, hp, 3});
        b.step = step;
        b.items.resize(static_cast<std::size_t>(n));
        return b;
    }

    void refill() {
        while (static_cast<int>(m_queue.size()) < m_options.prefetch) enqueue(m_step + static_cast<int64_t>(m_queue.size()));
    }

    void enqueue(int64_t step) {
        Pending pending{allocate(step), {}};
        for (int64_t global_slot = m_first_slot; global_slot < m_end_slot; ++global_slot) {
            const SampleSpec spec = sample_spec(step, static_cast<int>(global_slot));
            const int64_t slot = global_slot - m_first_slot;
            pending.batch.items[static_cast<std::size_t>(slot)] = spec.item;
            pending.samples.push_back(m_pool->submit(
                [dataset = m_dataset, spec, lr = pending.batch.lr, hr = pending.batch.hr, slot] {
                    detail::fill_sample(*dataset, spec, lr, hr, slot);
                }));
        }
        m_queue.push_back(std::move(pending));
    }

    // Waits for every sample of the batch, then rethrows the first failure.
    static void wait_all(Pending& pending) {
        std::exception_ptr first_error;
        for (auto& sample : pending.samples) {
            try {
                sample.get();
            } catch (...) {
                if (!first_error) first_error = std::current_exception();
            }
        }
        if (first_error) std::rethrow_exception(first_error);
    }

    void drain() {
        for (auto& pending : m_queue)
            for (auto& sample : pending.samples)
                if (sample.valid()) sample.wait();
        m_queue.clear();
    }

    // The image order of `epoch`: a Fisher-Yates shuffle driven by (seed, epoch). Recent epochs are kept.
    std::shared_ptr<const std::vector<int64_t>> permutation(int64_t epoch) const {
        std::lock_guard lock(m_permutation_mutex);
        if (auto it = m_permutations.find(epoch); it != m_permutations.end()) return it->second;
        std::vector<int64_t> order(m_items.size());
        std::iota(order.begin(), order.end(), int64_t{0});
        Rng rng = Rng(m_options.seed).split(1).split(static_cast<uint64_t>(epoch));
        for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
        auto shared = std::make_shared<const std::vector<int64_t>>(std::move(order));
        if (m_permutations.size() >= 4) m_permutations.erase(m_permutations.begin());
        m_permutations[epoch] = shared;
        return shared;
    }

    std::shared_ptr<const PairDataset> m_dataset;
    BatchLoaderOptions m_options;
    std::vector<int64_t> m_items;  // dataset indices sampled from
    int64_t m_first_slot = 0, m_end_slot = 0;  // this shard's slots of every batch
    std::unique_ptr<ThreadPool> m_pool;
    std::deque<Pending> m_queue;
    int64_t m_step = 0;
    mutable std::mutex m_permutation_mutex;
    mutable std::map<int64_t, std::shared_ptr<const std::vector<int64_t>>> m_permutations;
};

}  // namespace sr::data
