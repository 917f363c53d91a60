#pragma once
// Arithmetic precision of float convolutions on the CPU: fp32, or bf16 operands with float
// accumulation.
//
// Why bf16: on CPUs with AMX (Sapphire Rapids and later) or AVX512-BF16, oneDNN's bf16
// convolutions run 3-4x faster than fp32 (996 vs 285 GFLOP/s for a 3x3 64->64 on 2 AMX cores,
// issue 11). Only the convolution operands are rounded to bf16 (8-bit mantissa); products are
// exact in float and accumulate in float, outputs and everything else (activations between
// layers, master weights, gradients, Adam state) stay float. The official WDSR-B x4 loses under
// 0.02 dB on Set5/Set14 this way (tests/test_conv2d_bf16.cpp).
#include <cstdlib>
#include <string>

#include "sr/core/error.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace sr {

enum class Precision { fp32, bf16 };

inline const char* precision_name(Precision p) { return p == Precision::bf16 ? "bf16" : "fp32"; }

// "fp32" or "bf16" (as the tools' --precision takes it); anything else is an error naming it.
inline Precision parse_precision(const std::string& name) {
    if (name == "fp32") return Precision::fp32;
    if (name == "bf16") return Precision::bf16;
    fail("precision '", name, "': expected fp32 or bf16");
}

namespace detail {
// CPUID leaf 7: sub-leaf 0 EDX bit 22 = AMX-BF16, sub-leaf 1 EAX bit 5 = AVX512_BF16. Both also
// need the OS to enable the register state; oneDNN requests AMX's from Linux itself and refuses
// (an error at primitive creation, reported by conv2d) when it cannot.
inline bool cpu_has_amx_bf16() {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    return (d >> 22) & 1u;
#else
    return false;
#endif
}
inline bool cpu_has_avx512_bf16() {
#if defined(__x86_64__) || defined(__i386__)
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid_count(7, 1, &a, &b, &c, &d)) return false;
    return ((a >> 5) & 1u) && __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}
}  // namespace detail

// Whether this CPU has bf16 dot-product instructions (AMX-BF16 or AVX512-BF16). Without them
// oneDNN would emulate bf16 at well below fp32 speed, so bf16 is refused instead.
inline bool cpu_supports_bf16() { return detail::cpu_has_amx_bf16() || detail::cpu_has_avx512_bf16(); }

// "AMX-BF16", "AVX512-BF16" or "none": what bf16 convolutions would run on (for logs and errors).
inline const char* cpu_bf16_unit() {
    if (detail::cpu_has_amx_bf16()) return "AMX-BF16";
    if (detail::cpu_has_avx512_bf16()) return "AVX512-BF16";
    return "none";
}

namespace detail {
inline void require_bf16_cpu() {
    SR_CHECK(cpu_supports_bf16(), "precision bf16: this CPU has neither AMX-BF16 nor AVX512-BF16, so bf16 "
             "convolutions would be slower than fp32; use precision fp32");
}
inline Precision& cpu_precision_setting() {
    static Precision p = [] {
        const char* env = std::getenv("SR_PRECISION");
        if (!env || !*env) return Precision::fp32;
        const Precision chosen = parse_precision(env);
        if (chosen == Precision::bf16) require_bf16_cpu();
        return chosen;
    }();
    return p;
}
}  // namespace detail

// Precision of every float convolution on the CPU in this process (fp32 by default, or the
// environment's SR_PRECISION). bf16 needs cpu_supports_bf16(); asking for it elsewhere is an error.
inline void set_cpu_precision(Precision p) {
    if (p == Precision::bf16) detail::require_bf16_cpu();
    detail::cpu_precision_setting() = p;
}
inline Precision cpu_precision() { return detail::cpu_precision_setting(); }

}  // namespace sr
