// Compiles the kernel file named by SR_PER_ISA_FILE once per x86 instruction set the CPU kernels
// ship for: inside namespace sr::ops::direct::avx2 with target("avx2,fma") and SR_DIRECT_LANES 8,
// then inside sr::ops::direct::avx512 with the AVX-512 target and SR_DIRECT_LANES 16. Target
// pragmas rather than -march, so one binary carries every variant and picks one at run time
// (sr/ops/cpu/conv2d_direct.hpp). Nothing on other architectures.
//
// No include guard on purpose: each kernel family includes it with its own file, e.g.
//   #define SR_PER_ISA_FILE "sr/ops/cpu/conv2d_direct_kernels.hpp"
//   #include "sr/ops/cpu/per_isa.hpp"
// Needs SR_DIRECT_X86 (sr/ops/cpu/conv2d_direct.hpp); SR_PER_ISA_FILE is undefined afterwards.
#ifndef SR_PER_ISA_FILE
#error "sr/ops/cpu/per_isa.hpp: define SR_PER_ISA_FILE as the kernel file to compile per instruction set"
#endif
#if SR_DIRECT_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define SR_DIRECT_LANES 8
namespace sr::ops::direct::avx2 {
#include SR_PER_ISA_FILE
}  // namespace sr::ops::direct::avx2
#undef SR_DIRECT_LANES
#if defined(__clang__)
#pragma clang attribute pop
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma"))), apply_to = function)
#else
#pragma GCC pop_options
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx2,fma")
#endif
#define SR_DIRECT_LANES 16
namespace sr::ops::direct::avx512 {
#include SR_PER_ISA_FILE
}  // namespace sr::ops::direct::avx512
#undef SR_DIRECT_LANES
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
#undef SR_PER_ISA_FILE
