#pragma once
// Training augmentation: the 8 dihedral transforms (sr/io/image_transform.hpp), one drawn per
// sample and applied identically to its LR and HR crops. A left-right flip with probability 1/2
// followed by k ~ U{0..3} quarter turns, the seed's recipe, is the uniform draw over the 8.
#include <cstdint>

#include "sr/core/rng.hpp"
#include "sr/data/dataset.hpp"
#include "sr/io/image_transform.hpp"

namespace sr::data {

inline int draw_dihedral(Rng& rng) { return static_cast<int>(rng.below(io::k_dihedral_count)); }

inline ImagePair dihedral(const ImagePair& pair, int t) { return {io::dihedral(pair.lr, t), io::dihedral(pair.hr, t)}; }

// Writes dihedral t of an 8-bit HWC image into dst as float pixel units (0..255), HWC of the
// transformed size: the batch assembly's one pass over each crop.
inline void write_transformed(const Image& image, int t, float* dst) {
    io::dihedral_copy(image.data8(), image.height(), image.width(), image.channels(), t, dst,
                      [](uint8_t v) { return static_cast<float>(v); });
}

}  // namespace sr::data
