// Image-to-token cross attention core on the device
// (kernels/cuda/two_way_attention.h): each image token attends to the J =
// heads x T prompt-token columns, softmax within each head's T columns, the
// result (already through out_proj: the rows of u) added to the residual
// stream x, then optionally LayerNorm (the decoder's norm4).
//
// Block = 32 image tokens, 256 threads. Dynamic shared memory, in floats:
//   Qt [32][36]      (q + qpe) slice transposed: Dq in 32-wide slices
//   Bt [32][68]      bt slice: 64 score columns
//   S  [32][LSJ]     scores -> probabilities of the block's tokens, all J columns
//   R  [32][D + 1]   x + attention + ob: the rows LayerNorm reads
// Scores: thread (ty = tid / 32, tx = tid % 32) owns tokens ty*4 .. +4 and
// columns tx*2 .. +2 of a 64-column group. The residual: tokens ty*4 .. +4,
// columns tx and tx + 32 of a 64-column slice of D, u read from global memory
// (J x D floats, shared by every block: L1 / L2 resident). LayerNorm: one warp
// per row, two-pass.
#include <string>

#include "device_math.cuh"
#include "kernels/cuda/two_way_attention.h"
#include "launch_check.h"

namespace kernels::cuda {
namespace {

constexpr int kPB = 32;  // image tokens per block
constexpr int kKC = 32;  // Dq slice
constexpr int kJB = 64;  // score columns per pass
constexpr int kThreads = 256;
constexpr int kLQ = kPB + 4, kLB = kJB + 4;

struct Layout {
  int lsj, lr;  // row strides of S and R
  size_t floats;
};

Layout layout(int j, int d) {
  Layout l;
  l.lsj = (j + kJB - 1) / kJB * kJB + 1;
  l.lr = d + 1;
  l.floats = size_t{kKC} * kLQ + size_t{kKC} * kLB + size_t{kPB} * l.lsj + size_t{kPB} * l.lr;
  return l;
}

__global__ void __launch_bounds__(kThreads) image_to_tokens_kernel(ImageToTokensArgs a, int lsj, int lr) {
  extern __shared__ float4 smem4[];
  float* Qt = reinterpret_cast<float*>(smem4);
  float* Bt = Qt + kKC * kLQ;
  float* S = Bt + kKC * kLB;
  float* R = S + kPB * lsj;

  const int tid = threadIdx.x, tx = tid & 31, ty = tid >> 5, lane = tx, warp = ty;
  const int J = a.heads * a.t;
  const int64_t p0 = int64_t{blockIdx.x} * kPB;
  const int np = static_cast<int>(a.p - p0 < kPB ? a.p - p0 : kPB);

  // Scores S[pp][j] = (q + qpe)[p0 + pp] . bt[:, j] + cb[j].
  for (int j0 = 0; j0 < J; j0 += kJB) {
    float s[4][2] = {};
    for (int c0 = 0; c0 < a.dq; c0 += kKC) {
      for (int i = tid; i < kPB * kKC; i += kThreads) {
        const int pp = i / kKC, cc = i % kKC, c = c0 + cc;
        float val = 0.f;
        if (pp < np && c < a.dq) {
          const int64_t pr = p0 + pp;
          val = a.q[pr * a.ldq + c] + (a.qpe ? a.qpe[pr * a.ldqpe + c] : 0.f);
        }
        Qt[cc * kLQ + pp] = val;
      }
      for (int i = tid; i < kKC * kJB; i += kThreads) {
        const int cc = i / kJB, jj = i % kJB, c = c0 + cc, j = j0 + jj;
        Bt[cc * kLB + jj] = (c < a.dq && j < J) ? a.bt[int64_t{c} * a.jp + j] : 0.f;
      }
      __syncthreads();
#pragma unroll 8
      for (int cc = 0; cc < kKC; ++cc) {
        const float4 qv = *reinterpret_cast<const float4*>(Qt + cc * kLQ + ty * 4);
        const float2 bv = *reinterpret_cast<const float2*>(Bt + cc * kLB + tx * 2);
        const float qr[4] = {qv.x, qv.y, qv.z, qv.w};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          s[i][0] = fmaf(qr[i], bv.x, s[i][0]);
          s[i][1] = fmaf(qr[i], bv.y, s[i][1]);
        }
      }
      __syncthreads();  // Qt / Bt are reloaded
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int k = 0; k < 2; ++k) {
        const int j = j0 + tx * 2 + k;
        if (j < J) S[(ty * 4 + i) * lsj + j] = s[i][k] + a.cb[j];
      }
  }
  __syncthreads();

  // Softmax within each head's t columns: one thread per (token, head).
  for (int i = tid; i < kPB * a.heads; i += kThreads) {
    float* sr = S + (i / a.heads) * lsj + (i % a.heads) * a.t;
    float mx = -INFINITY;
    for (int k = 0; k < a.t; ++k) mx = fmaxf(mx, sr[k]);
    float sum = 0.f;
    for (int k = 0; k < a.t; ++k) {
      const float e = expf(sr[k] - mx);
      sr[k] = e;
      sum += e;
    }
    const float inv = 1.f / sum;
    for (int k = 0; k < a.t; ++k) sr[k] *= inv;
  }
  __syncthreads();

  // R[pp][c] = x[p0 + pp][c] + ob[c] + sum_j S[pp][j] u[j][c]. Every read of q
  // (which may be x) happened before the barrier above; x is written last.
  for (int c0 = 0; c0 < a.d; c0 += 64) {
    const int ca = c0 + tx, cb = c0 + tx + 32;
    float acc[4][2] = {};
    for (int j = 0; j < J; ++j) {
      const float* ur = a.u + int64_t{j} * a.d;
      const float ua = ca < a.d ? __ldg(ur + ca) : 0.f, ub = cb < a.d ? __ldg(ur + cb) : 0.f;
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float pv = S[(ty * 4 + i) * lsj + j];  // the same for the whole warp: a broadcast
        acc[i][0] = fmaf(pv, ua, acc[i][0]);
        acc[i][1] = fmaf(pv, ub, acc[i][1]);
      }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int pp = ty * 4 + i;
      if (pp >= np) continue;
      const float* xr = a.x + (p0 + pp) * a.ldx;
      if (ca < a.d) R[pp * lr + ca] = xr[ca] + acc[i][0] + a.ob[ca];
      if (cb < a.d) R[pp * lr + cb] = xr[cb] + acc[i][1] + a.ob[cb];
    }
  }
  __syncthreads();

  // x = LayerNorm(R) (or R): warp `warp` writes rows warp*4 .. +4.
  const float inv_d = 1.f / static_cast<float>(a.d);
  for (int i = 0; i < kPB / (kThreads / 32); ++i) {
    const int pp = warp * (kPB / (kThreads / 32)) + i;
    if (pp >= np) break;
    const float* rr = R + pp * lr;
    float* xr = a.x + (p0 + pp) * a.ldx;
    if (!a.ln_weight) {
      for (int c = lane; c < a.d; c += 32) xr[c] = rr[c];
      continue;
    }
    float sum = 0.f;
    for (int c = lane; c < a.d; c += 32) sum += rr[c];
    const float mean = detail::warp_sum(sum) * inv_d;
    float var = 0.f;
    for (int c = lane; c < a.d; c += 32) {
      const float dl = rr[c] - mean;
      var += dl * dl;
    }
    const float rstd = rsqrtf(detail::warp_sum(var) * inv_d + a.ln_eps);
    for (int c = lane; c < a.d; c += 32) xr[c] = (rr[c] - mean) * rstd * a.ln_weight[c] + a.ln_bias[c];
  }
}

}  // namespace

void image_to_tokens(const ImageToTokensArgs& a, cudaStream_t stream) {
  const char* op = "image_to_tokens";
  const int64_t J = int64_t{a.heads} * a.t;
  detail::require(a.heads >= 1 && a.t >= 1 && a.jp >= J && a.dq >= 1 && a.d >= 1 && a.p >= 1 &&
                      a.p < (int64_t{1} << 31) * kPB,
                  op,
                  "heads " + std::to_string(a.heads) + " t " + std::to_string(a.t) + " jp " + std::to_string(a.jp) +
                      " Dq " + std::to_string(a.dq) + " D " + std::to_string(a.d) + " P " + std::to_string(a.p));
  detail::require(a.ldq >= a.dq && (!a.qpe || a.ldqpe >= a.dq) && a.ldx >= a.d, op,
                  "row strides q " + std::to_string(a.ldq) + " qpe " + std::to_string(a.ldqpe) + " x " +
                      std::to_string(a.ldx) + " below the widths");
  detail::require(a.bt && a.cb && a.q && a.u && a.ob && a.x && (!a.ln_weight || a.ln_bias), op,
                  "null pointer (LayerNorm needs weight and bias)");
  const Layout l = layout(static_cast<int>(J), a.d);
  const size_t bytes = l.floats * sizeof(float), limit = detail::max_smem_per_block();
  detail::require(bytes <= limit, op,
                  "J " + std::to_string(J) + " and D " + std::to_string(a.d) + " need " + std::to_string(bytes) +
                      " bytes of shared memory per block, the device allows " + std::to_string(limit));
  if (bytes > 48 * 1024)
    detail::check(cudaFuncSetAttribute(image_to_tokens_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(bytes)),
                  op, "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
  const unsigned blocks = static_cast<unsigned>((a.p + kPB - 1) / kPB);
  image_to_tokens_kernel<<<blocks, kThreads, bytes, stream>>>(a, l.lsj, l.lr);
  detail::check_launch(op);
}

}  // namespace kernels::cuda
