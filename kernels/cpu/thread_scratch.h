// Per-thread scratch memory for kernels (e.g. a GEMM's packed A blocks).
//
// Defined in a translation unit compiled without ISA flags on purpose: an ISA
// translation unit that instantiated a std container itself would emit weak
// copies of its inline members (~vector, ...) compiled with AVX-512 flags, and
// the linker may keep that copy for the whole program, which would then run
// AVX-512 instructions on a CPU without them. tests/kernels/check_isa_symbols.py
// guards against such symbols.
#pragma once

#include <cstddef>

namespace kernels::detail {

// At least `floats` floats, 64-byte aligned, owned by the calling thread and
// valid until its next call on this thread (grows, never shrinks).
float* thread_scratch_floats(size_t floats);

}  // namespace kernels::detail
