// What the CPU we run on can do, read once with cpuid (and xgetbv for the OS
// side of AVX / AVX-512 state).
#pragma once

#include <string>

namespace kernels {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512dq = false;
  bool avx512_bf16 = false;
  bool avx512_vnni = false;

  bool has_avx2_fma() const { return avx2 && fma && f16c; }
  bool has_avx512() const { return avx512f && avx512bw && avx512vl && avx512dq; }
  std::string str() const;  // "avx2 fma f16c avx512f ..."
};

const CpuFeatures& cpu_features();

}  // namespace kernels
