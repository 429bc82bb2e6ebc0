// The mask decoder's fused upscaling on the device (kernels/cuda/mask_upscale.h):
// ConvT 2x2/s2 -> LayerNorm2d -> GELU -> ConvT 2x2/s2 -> GELU -> hypernetwork
// product, for 8 neighbouring input pixels (i, j0 .. j0+7) per block.
//
// A 2x2 stride-2 transposed convolution has no overlap: input pixel (i, j)
// alone makes output pixels (2i + a, 2j + b), each a [C] = W[:, :, a, b]^T x + bias.
// So per input pixel everything below it is independent of its neighbours.
//
// Dynamic shared memory, in floats (PX = 8 pixels):
//   Xs [PX][D]            the pixels' tokens
//   Y1 [PX * 4][C1]       ConvT1 output, row px*4 + (2a+b); LayerNorm2d + GELU in place
//   U  [PX * 4][4C2 + 1]  ConvT2 + GELU, row px*4 + s1, column s2*C2 + co
//   Hs [M][C2]            hypernetwork vectors
// Phase 1: thread per ConvT1 channel n (w1t column: coalesced), PX accumulators.
// Phase 2: warp per Y1 row (mean, centred variance over C1).
// Phase 3: thread per (ConvT2 channel, 8-row group), 8 accumulators.
// Phase 4: thread per mask pixel, consecutive threads along an output row.
#include <string>

#include "device_math.cuh"
#include "kernels/cuda/mask_upscale.h"
#include "launch_check.h"

namespace kernels::cuda {
namespace {

constexpr int kPX = 8;  // input pixels per block
constexpr int kThreads = 256;
constexpr int kRows = kPX * 4;  // ConvT1 output pixels per block
constexpr int kRowGroup = 8;    // rows per phase-3 work item

size_t smem_floats(const MaskUpscaleArgs& a) {
  return size_t{kPX} * a.d + size_t{kRows} * a.c1 + size_t{kRows} * (4 * a.c2 + 1) + size_t(a.m) * a.c2;
}

__global__ void __launch_bounds__(kThreads) mask_upscale_kernel(MaskUpscaleArgs a) {
  extern __shared__ float4 smem4[];
  const int d = a.d, c1 = a.c1, c2 = a.c2, n1 = 4 * c1, n2 = 4 * c2, lu = n2 + 1;
  float* Xs = reinterpret_cast<float*>(smem4);
  float* Y1 = Xs + kPX * d;
  float* U = Y1 + kRows * c1;
  float* Hs = U + kRows * lu;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int i = blockIdx.y, j0 = blockIdx.x * kPX;
  const int npx = a.g - j0 < kPX ? a.g - j0 : kPX;

  for (int e = tid; e < kPX * d; e += kThreads) {
    const int px = e / d, k = e % d;
    Xs[e] = px < npx ? a.x[(int64_t{i} * a.g + j0 + px) * a.ldx + k] : 0.f;
  }
  for (int e = tid; e < a.m * c2; e += kThreads) Hs[e] = a.hyper[int64_t{e / c2} * a.ldh + e % c2];
  __syncthreads();

  // Phase 1: Y1[px*4 + s][co] = b1[co] + sum_k x[px][k] w1t[k][s*C1 + co]  (n = s*C1 + co)
  for (int n = tid; n < n1; n += kThreads) {
    float acc[kPX];
    const float bias = a.b1[n % c1];
#pragma unroll
    for (int px = 0; px < kPX; ++px) acc[px] = bias;
    for (int k = 0; k < d; ++k) {
      const float wv = __ldg(a.w1t + int64_t{k} * n1 + n);
#pragma unroll
      for (int px = 0; px < kPX; ++px) acc[px] = fmaf(Xs[px * d + k], wv, acc[px]);
    }
#pragma unroll
    for (int px = 0; px < kPX; ++px) Y1[px * n1 + n] = acc[px];  // = row px*4 + s, column co
  }
  __syncthreads();

  // Phase 2: LayerNorm2d over the C1 channels of each ConvT1 output pixel, then GELU.
  const float inv_c1 = 1.f / static_cast<float>(c1);
  for (int r = warp; r < kRows; r += kThreads / 32) {
    float* y = Y1 + r * c1;
    float s = 0.f;
    for (int c = lane; c < c1; c += 32) s += y[c];
    const float mean = detail::warp_sum(s) * inv_c1;
    float v = 0.f;
    for (int c = lane; c < c1; c += 32) {
      const float dl = y[c] - mean;
      v += dl * dl;
    }
    const float rstd = rsqrtf(detail::warp_sum(v) * inv_c1 + a.ln_eps);
    for (int c = lane; c < c1; c += 32) y[c] = detail::gelu_erf((y[c] - mean) * rstd * a.ln_weight[c] + a.ln_bias[c]);
  }
  __syncthreads();

  // Phase 3: U[r][s2*C2 + co] = GELU(b2[co] + sum_k Y1[r][k] w2t[k][s2*C2 + co]).
  for (int e = tid; e < n2 * (kRows / kRowGroup); e += kThreads) {
    const int n = e % n2, r0 = (e / n2) * kRowGroup;
    float acc[kRowGroup];
    const float bias = a.b2[n % c2];
#pragma unroll
    for (int r = 0; r < kRowGroup; ++r) acc[r] = bias;
    for (int k = 0; k < c1; ++k) {
      const float wv = __ldg(a.w2t + int64_t{k} * n2 + n);
#pragma unroll
      for (int r = 0; r < kRowGroup; ++r) acc[r] = fmaf(Y1[(r0 + r) * c1 + k], wv, acc[r]);
    }
#pragma unroll
    for (int r = 0; r < kRowGroup; ++r) U[(r0 + r) * lu + n] = detail::gelu_erf(acc[r]);
  }
  __syncthreads();

  // Phase 4: masks. Local column xx = 4 px + 2 b1 + b2, row yy = 2 a1 + a2 under
  // input pixel (i, j0 + px); ConvT1 sub-pixel s1 = 2 a1 + b1, ConvT2's s2 = 2 a2 + b2.
  const int side = 4 * a.g, width = 4 * kPX;
  for (int e = tid; e < a.m * 4 * width; e += kThreads) {
    const int xx = e % width, yy = (e / width) % 4, mm = e / (4 * width);
    const int px = xx >> 2;
    if (px >= npx) continue;
    const int s1 = 2 * (yy >> 1) + ((xx >> 1) & 1), s2 = 2 * (yy & 1) + (xx & 1);
    const float* u = U + (px * 4 + s1) * lu + s2 * c2;
    const float* hv = Hs + mm * c2;
    float acc = 0.f;
    for (int c = 0; c < c2; ++c) acc = fmaf(hv[c], u[c], acc);
    a.out[int64_t{mm} * a.out_plane + int64_t{4 * i + yy} * side + 4 * j0 + xx] = acc;
  }
}

}  // namespace

void mask_upscale(const MaskUpscaleArgs& a, cudaStream_t stream) {
  const char* op = "mask_upscale";
  detail::require(a.g >= 1 && a.g <= 65535 && a.d >= 1 && a.c1 >= 1 && a.c2 >= 1 && a.m >= 1, op,
                  "G " + std::to_string(a.g) + " D " + std::to_string(a.d) + " C1 " + std::to_string(a.c1) + " C2 " +
                      std::to_string(a.c2) + " M " + std::to_string(a.m));
  detail::require(a.ldx >= a.d && a.ldh >= a.c2 && a.out_plane >= int64_t{16} * a.g * a.g, op,
                  "strides x " + std::to_string(a.ldx) + " hyper " + std::to_string(a.ldh) + " plane " +
                      std::to_string(a.out_plane) + " below the sizes");
  detail::require(a.x && a.w1t && a.b1 && a.ln_weight && a.ln_bias && a.w2t && a.b2 && a.hyper && a.out, op,
                  "null pointer");
  const size_t bytes = smem_floats(a) * sizeof(float), limit = detail::max_smem_per_block();
  detail::require(bytes <= limit, op,
                  "D " + std::to_string(a.d) + ", C1 " + std::to_string(a.c1) + ", C2 " + std::to_string(a.c2) +
                      ", M " + std::to_string(a.m) + " need " + std::to_string(bytes) +
                      " bytes of shared memory per block, the device allows " + std::to_string(limit));
  if (bytes > 48 * 1024)
    detail::check(cudaFuncSetAttribute(mask_upscale_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(bytes)),
                  op, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
  const dim3 grid(static_cast<unsigned>((a.g + kPX - 1) / kPX), static_cast<unsigned>(a.g));
  mask_upscale_kernel<<<grid, kThreads, bytes, stream>>>(a);
  detail::check_launch(op);
}

}  // namespace kernels::cuda
