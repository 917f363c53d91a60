#pragma once
// SubsetDataset: a view of some pairs of another dataset, by index (the train/validation split of
// a folder of images: --training-images 1-271 --validation-images 272-291).
#include <memory>
#include <string>
#include <vector>

#include "sr/data/dataset.hpp"

namespace sr::data {

class SubsetDataset : public PairDataset {
public:
    SubsetDataset(std::shared_ptr<const PairDataset> base, std::vector<int64_t> indices, std::string label)
        : m_base(std::move(base)), m_indices(std::move(indices)), m_label(std::move(label)) {
        SR_CHECK(m_base, "SubsetDataset: no dataset");
        SR_CHECK(!m_indices.empty(), m_base->describe(), ": the selection ", m_label, " is empty");
        for (int64_t i : m_indices)
            SR_CHECK(i >= 0 && i < m_base->size(), m_base->describe(), ": selection ", m_label, " asks for image ", i + 1,
                     " but there are only ", m_base->size());
    }

    int64_t size() const override { return static_cast<int64_t>(m_indices.size()); }
    int scale() const override { return m_base->scale(); }
    std::string name(int64_t index) const override { return m_base->name(base_index(index)); }
    std::string describe() const override {
        return m_base->describe() + ", images " + m_label + " (" + std::to_string(size()) + ")";
    }
    ImagePair load(int64_t index) const override { return m_base->load(base_index(index)); }
    ImagePair load_window(int64_t index, const Window& lr_window) const override {
        return m_base->load_window(base_index(index), lr_window);
    }

protected:
    ImageSize compute_lr_size(int64_t index) const override { return m_base->lr_size(base_index(index)); }

private:
    int64_t base_index(int64_t index) const {
        check_index(index);
        return m_indices[static_cast<std::size_t>(index)];
    }
    std::shared_ptr<const PairDataset> m_base;
    std::vector<int64_t> m_indices;
    std::string m_label;
};

// Pairs first..last (1-based, inclusive) of `base`.
inline std::shared_ptr<const PairDataset> select_range(std::shared_ptr<const PairDataset> base, int first, int last) {
    std::vector<int64_t> indices;
    for (int i = first; i <= last; ++i) indices.push_back(i - 1);
    return std::make_shared<SubsetDataset>(std::move(base), std::move(indices),
                                           std::to_string(first) + "-" + std::to_string(last));
}

}  // namespace sr::data
