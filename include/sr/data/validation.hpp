#pragma once
// ValidationSet: the pairs a trainer evaluates on, in one of two modes.
// - full_image (the seed's --benchmark): item i is the whole pair i as a batch of one,
//   LR [1, h, w, 3] and HR [1, h*s, w*s, 3] (HR cropped top-left to LR x scale).
// - random_crop (the seed's default validation): item i is a batch of crops of images
//   [i*B, (i+1)*B) (the last batch smaller), one crop per image. The crops are drawn once from the
//   seed, so every evaluation sees the same patches and PSNR is comparable across epochs (the seed
//   re-drew them, and randomly flipped and rotated them; augment reproduces the latter).
#include <algorithm>
#include <memory>

#include "sr/data/batch_loader.hpp"

namespace sr::data {

struct ValidationOptions {
    enum class Mode { full_image, random_crop };
    Mode mode = Mode::full_image;
    int lr_patch_size = 48;  // random_crop
    int batch_size = 16;     // random_crop
    uint64_t seed = 0;
    bool augment = false;    // random_crop: random dihedral transforms as the seed's validation had
    int64_t max_images = 0;  // evaluate only the first max_images pairs; 0: all
};

class ValidationSet {
public:
    ValidationSet(std::shared_ptr<const PairDataset> dataset, const ValidationOptions& options)
        : m_dataset(std::move(dataset)), m_options(options) {
        SR_CHECK(m_dataset, "ValidationSet: no dataset");
        SR_CHECK(options.batch_size >= 1 && options.lr_patch_size >= 1, "ValidationSet: batch_size ",
                 options.batch_size, " and lr_patch_size ", options.lr_patch_size, " must be positive");
        m_images = options.max_images > 0 ? std::min(options.max_images, m_dataset->size()) : m_dataset->size();
    }

    const PairDataset& dataset() const { return *m_dataset; }
    int64_t images() const { return m_images; }
    // Batches: one per image (full_image) or ceil(images / batch_size) (random_crop).
    int64_t size() const {
        return m_options.mode == ValidationOptions::Mode::full_image ? m_images
                                                                     : (m_images + m_options.batch_size - 1) / m_options.batch_size;
    }

    Batch get(int64_t index) const {
        SR_CHECK(index >= 0 && index < size(), "ValidationSet: batch ", index, " is outside 0..", size() - 1);
        Batch b;
        b.step = index;
        if (m_options.mode == ValidationOptions::Mode::full_image) {
            const ImagePair pair = m_dataset->load(index);
            b.lr = io::image_to_tensor(pair.lr);
            b.hr = io::image_to_tensor(pair.hr);
            b.items = {index};
            return b;
        }
        const int64_t first = index * m_options.batch_size;
        const int64_t count = std::min<int64_t>(m_options.batch_size, m_images - first);
        const int64_t p = m_options.lr_patch_size, hp = p * m_dataset->scale();
        b.lr = Tensor<float>::empty({count, p, p, 3});
        b.hr = Tensor<float>::empty({count, hp, hp, 3});
        for (int64_t slot = 0; slot < count; ++slot) {
            const SampleSpec spec = detail::draw_sample(*m_dataset, first + slot, m_options.seed, first + slot,
                                                        m_options.lr_patch_size, m_options.augment);
            detail::fill_sample(*m_dataset, spec, b.lr, b.hr, slot);
            b.items.push_back(first + slot);
        }
        return b;
    }

private:
    std::shared_ptr<const PairDataset> m_dataset;
    ValidationOptions m_options;
    int64_t m_images = 0;
};

}  // namespace sr::data
