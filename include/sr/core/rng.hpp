#pragma once
// Deterministic random numbers: the same seed gives the same stream on every platform and standard
// library (std:: distributions are implementation-defined, so we do not use them).
#include <cmath>
#include <cstdint>

namespace sr {

// SplitMix64: a tiny, well-mixed 64-bit generator. Seeds derived with split() are independent
// enough for data sampling and initialisation.
class Rng {
public:
    explicit Rng(uint64_t seed = 0) : m_state(seed) {}

    uint64_t next_u64() {
        uint64_t z = (m_state += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
    // Uniform in [low, high).
    double uniform(double low, double high) { return low + (high - low) * uniform(); }
    // Uniform integer in [0, bound), without modulo bias.
    uint64_t below(uint64_t bound) {
        if (bound <= 1) return 0;
        const uint64_t limit = ~uint64_t{0} - (~uint64_t{0} % bound);
        uint64_t x;
        do {
            x = next_u64();
        } while (x >= limit);
        return x % bound;
    }
    // Standard normal (Box-Muller; one value per call for simplicity of state).
    double normal() {
        double u1 = uniform();
        double u2 = uniform();
        if (u1 < 1e-300) u1 = 1e-300;
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }
    // A new generator whose stream depends on this one's seed and the given key (e.g. an index).
    Rng split(uint64_t key) const {
        Rng r(m_state ^ (key * 0xD1B54A32D192ED03ull + 0x8CB92BA72F3D8DD7ull));
        r.next_u64();
        return r;
    }
    uint64_t state() const { return m_state; }
    void set_state(uint64_t state) { m_state = state; }

private:
    uint64_t m_state;
};

}  // namespace sr
