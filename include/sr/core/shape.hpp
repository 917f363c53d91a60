#pragma once
// Shapes: up to k_max_rank dimensions, row-major. Activations are NHWC, conv weights OHWI.
#include <array>
#include <cstdint>
#include <initializer_list>
#include <ostream>
#include <sstream>
#include <string>

#include "sr/core/error.hpp"

namespace sr {

inline constexpr int k_max_rank = 6;

class Shape {
public:
    Shape() = default;
    Shape(std::initializer_list<int64_t> dims) {
        SR_CHECK(dims.size() <= k_max_rank, "Shape: rank ", dims.size(), " exceeds the maximum ", k_max_rank);
        for (int64_t d : dims) {
            SR_CHECK(d >= 0, "Shape: negative dimension ", d);
            m_dims[m_rank++] = d;
        }
    }
    template <class It>
    static Shape from_range(It begin, It end) {
        Shape s;
        for (It it = begin; it != end; ++it) {
            SR_CHECK(s.m_rank < k_max_rank, "Shape: rank exceeds the maximum ", k_max_rank);
            SR_CHECK(*it >= 0, "Shape: negative dimension ", *it);
            s.m_dims[s.m_rank++] = static_cast<int64_t>(*it);
        }
        return s;
    }

    int rank() const { return m_rank; }
    int64_t operator[](int i) const { return m_dims[normalize(i)]; }
    int64_t& operator[](int i) { return m_dims[normalize(i)]; }
    int64_t numel() const {
        int64_t n = 1;
        for (int i = 0; i < m_rank; ++i) n *= m_dims[i];
        return n;
    }
    const int64_t* begin() const { return m_dims.data(); }
    const int64_t* end() const { return m_dims.data() + m_rank; }

    friend bool operator==(const Shape& a, const Shape& b) {
        if (a.m_rank != b.m_rank) return false;
        for (int i = 0; i < a.m_rank; ++i)
            if (a.m_dims[i] != b.m_dims[i]) return false;
        return true;
    }
    std::string str() const {
        std::ostringstream out;
        out << '[';
        for (int i = 0; i < m_rank; ++i) out << (i ? ", " : "") << m_dims[i];
        out << ']';
        return out.str();
    }
    friend std::ostream& operator<<(std::ostream& out, const Shape& s) { return out << s.str(); }

private:
    int normalize(int i) const {
        int j = i < 0 ? i + m_rank : i;
        SR_CHECK(j >= 0 && j < m_rank, "Shape ", str(), ": dimension index ", i, " out of range");
        return j;
    }
    std::array<int64_t, k_max_rank> m_dims{};
    int m_rank = 0;
};

// Row-major strides (in elements) of a contiguous tensor of this shape.
inline std::array<int64_t, k_max_rank> contiguous_strides(const Shape& shape) {
    std::array<int64_t, k_max_rank> strides{};
    int64_t s = 1;
    for (int i = shape.rank() - 1; i >= 0; --i) {
        strides[i] = s;
        s *= shape[i];
    }
    return strides;
}

}  // namespace sr
