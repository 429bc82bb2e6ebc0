// Token-to-image cross attention core on the device
// (kernels/cuda/two_way_attention.h): J score columns (heads x prompt tokens)
// against P image tokens, softmax over the image tokens.
//
// Kernel 1, grid (ceil(P / 64) chunks, ceil(J / 64) column groups), 256
// threads as a 16 x 16 grid (tx = tid % 16, ty = tid / 16):
//   S[j][p] = sum_c at[c][j] (q + qpe)[p][c]   for 64 columns x 64 tokens,
//             Dq in 32-wide slices through shared memory (At, Qt tiles)
//   per column j: m = max_p S, S <- exp(S - m), l = sum_p S
//   Y[j][:] = sum_p S[j][p] x[p][:]            D in 64-wide slices (X tile)
// and writes the chunk's (Y, m, l) to the workspace.
// Kernel 2, one block per column j: the log-sum-exp merge of the chunks,
//   M = max_k m_k, L = sum_k l_k e^{m_k - M}, y = sum_k Y_k e^{m_k - M} / L.
#include <string>

#include "device_math.cuh"
#include "kernels/cuda/two_way_attention.h"
#include "launch_check.h"

namespace kernels::cuda {
namespace {

constexpr int kPC = 64;   // image tokens per chunk
constexpr int kJB = 64;   // score columns per block
constexpr int kKC = 32;   // Dq slice
constexpr int kXC = 64;   // D slice
constexpr int kThreads = 256;
constexpr int kLT = 68;   // row stride of the At / Qt / S tiles (float4-aligned)

// Workspace: Y [chunks][J][D], then m [chunks][J], then l [chunks][J].
struct Partials {
  float* y;
  float* m;
  float* l;
};

Partials partials(float* ws, int chunks, int j, int d) {
  float* y = ws;
  float* m = y + int64_t{chunks} * j * d;
  return {y, m, m + int64_t{chunks} * j};
}

__global__ void __launch_bounds__(kThreads) partial_kernel(TokensToImageArgs a, Partials part) {
  // At [kKC][kLT] + Qt [kKC][kLT] during the scores; the X tile [kPC][kXC] reuses them afterwards.
  __shared__ float4 tiles4[(2 * kKC * kLT) / 4];
  __shared__ float4 s4[(kJB * kLT) / 4];
  float* At = reinterpret_cast<float*>(tiles4);
  float* Qt = At + kKC * kLT;
  float* Xs = At;
  float* S = reinterpret_cast<float*>(s4);

  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int chunk = blockIdx.x, j0 = blockIdx.y * kJB;
  const int64_t p0 = int64_t{chunk} * kPC;
  const int np = static_cast<int>(a.p - p0 < kPC ? a.p - p0 : kPC);  // >= 1

  float s[4][4] = {};
  for (int c0 = 0; c0 < a.dq; c0 += kKC) {
    for (int i = tid; i < kKC * kJB; i += kThreads) {
      const int cc = i / kJB, jj = i % kJB, c = c0 + cc, j = j0 + jj;
      At[cc * kLT + jj] = (c < a.dq && j < a.j) ? a.at[int64_t{c} * a.jp + j] : 0.f;
    }
    for (int i = tid; i < kPC * kKC; i += kThreads) {
      const int pp = i / kKC, cc = i % kKC, c = c0 + cc;
      float val = 0.f;
      if (pp < np && c < a.dq) {
        const int64_t pr = p0 + pp;
        val = a.q[pr * a.ldq + c] + (a.qpe ? a.qpe[pr * a.ldqpe + c] : 0.f);
      }
      Qt[cc * kLT + pp] = val;
    }
    __syncthreads();
#pragma unroll 8
    for (int cc = 0; cc < kKC; ++cc) {
      const float4 av = *reinterpret_cast<const float4*>(At + cc * kLT + ty * 4);
      const float4 qv = *reinterpret_cast<const float4*>(Qt + cc * kLT + tx * 4);
      const float ar[4] = {av.x, av.y, av.z, av.w}, qr[4] = {qv.x, qv.y, qv.z, qv.w};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int k = 0; k < 4; ++k) s[i][k] = fmaf(ar[i], qr[k], s[i][k]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i)
    *reinterpret_cast<float4*>(S + (ty * 4 + i) * kLT + tx * 4) = make_float4(s[i][0], s[i][1], s[i][2], s[i][3]);
  __syncthreads();

  // Softmax partials of row jj: the 4 lanes 4jj .. 4jj+3, columns quarter, quarter+4, ...
  {
    const int jj = tid >> 2, quarter = tid & 3, j = j0 + jj;
    float* sr = S + jj * kLT;
    float mx = -INFINITY;
    for (int c = quarter; c < kPC; c += 4) {
      if (c >= np) sr[c] = -INFINITY;  // tokens past P weigh nothing
      mx = fmaxf(mx, sr[c]);
    }
    mx = detail::group_max(mx, 4);
    float sum = 0.f;
    for (int c = quarter; c < kPC; c += 4) {
      const float e = expf(sr[c] - mx);
      sr[c] = e;
      sum += e;
    }
    sum = detail::group_sum(sum, 4);
    if (quarter == 0 && j < a.j) {
      part.m[int64_t{chunk} * a.j + j] = mx;
      part.l[int64_t{chunk} * a.j + j] = sum;
    }
  }
  __syncthreads();

  // Y[j0 + ty*4 + i][c0 + tx*4 + k] = sum_p S[.][p] x[p][.]
  for (int c0 = 0; c0 < a.d; c0 += kXC) {
    for (int i = tid; i < kPC * kXC; i += kThreads) {
      const int pp = i / kXC, cc = i % kXC, c = c0 + cc;
      Xs[pp * kXC + cc] = (pp < np && c < a.d) ? a.x[(p0 + pp) * a.ldx + c] : 0.f;
    }
    __syncthreads();
    float y[4][4] = {};
#pragma unroll 2
    for (int pp = 0; pp < kPC; pp += 4) {
      float pr[4][4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float4 pv = *reinterpret_cast<const float4*>(S + (ty * 4 + i) * kLT + pp);
        pr[i][0] = pv.x;
        pr[i][1] = pv.y;
        pr[i][2] = pv.z;
        pr[i][3] = pv.w;
      }
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const float4 xv = *reinterpret_cast<const float4*>(Xs + (pp + k) * kXC + tx * 4);
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          y[i][0] = fmaf(pr[i][k], xv.x, y[i][0]);
          y[i][1] = fmaf(pr[i][k], xv.y, y[i][1]);
          y[i][2] = fmaf(pr[i][k], xv.z, y[i][2]);
          y[i][3] = fmaf(pr[i][k], xv.w, y[i][3]);
        }
      }
    }
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int j = j0 + ty * 4 + i;
      if (j >= a.j) continue;
      float* yr = part.y + (int64_t{chunk} * a.j + j) * a.d;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const int c = c0 + tx * 4 + k;
        if (c < a.d) yr[c] = y[i][k];
      }
    }
    __syncthreads();  // Xs is reloaded for the next slice
  }
}

// Block-wide max / sum of one value per thread (kThreads threads).
__device__ float block_max(float v, float* red) {
  v = detail::warp_max(v);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  float r = red[0];
  for (int i = 1; i < kThreads / 32; ++i) r = fmaxf(r, red[i]);
  __syncthreads();  // red is reused by the next reduction
  return r;
}
__device__ float block_sum(float v, float* red) {
  v = detail::warp_sum(v);
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  float r = 0.f;
  for (int i = 0; i < kThreads / 32; ++i) r += red[i];
  __syncthreads();
  return r;
}

__global__ void __launch_bounds__(kThreads) merge_kernel(TokensToImageArgs a, Partials part, int chunks) {
  __shared__ float red[kThreads / 32];
  const int j = blockIdx.x;
  float mx = -INFINITY;
  for (int k = threadIdx.x; k < chunks; k += kThreads) mx = fmaxf(mx, part.m[int64_t{k} * a.j + j]);
  const float M = block_max(mx, red);
  float sum = 0.f;
  for (int k = threadIdx.x; k < chunks; k += kThreads)
    sum += part.l[int64_t{k} * a.j + j] * expf(part.m[int64_t{k} * a.j + j] - M);
  const float L = block_sum(sum, red);
  const float inv = 1.f / L;
  for (int c = threadIdx.x; c < a.d; c += kThreads) {
    float acc = 0.f;
    for (int k = 0; k < chunks; ++k)
      acc = fmaf(part.y[(int64_t{k} * a.j + j) * a.d + c], expf(part.m[int64_t{k} * a.j + j] - M), acc);
    a.y[int64_t{j} * a.ldy + c] = acc * inv;
  }
  if (threadIdx.x == 0) {
    a.m[j] = M;
    a.l[j] = L;
  }
}

int chunks_for(int64_t p) { return static_cast<int>((p + kPC - 1) / kPC); }

}  // namespace

size_t tokens_to_image_workspace_floats(int j, int d, int64_t p) {
  if (j < 1 || d < 1 || p < 1) return 0;
  return static_cast<size_t>(chunks_for(p)) * static_cast<size_t>(j) * (static_cast<size_t>(d) + 2);
}

void tokens_to_image(const TokensToImageArgs& a, cudaStream_t stream) {
  const char* op = "tokens_to_image";
  detail::require(a.j >= 1 && a.jp >= a.j && a.dq >= 1 && a.d >= 1 && a.p >= 1 && a.p < (int64_t{1} << 31) * kPC,
                  op,
                  "J " + std::to_string(a.j) + " jp " + std::to_string(a.jp) + " Dq " + std::to_string(a.dq) + " D " +
                      std::to_string(a.d) + " P " + std::to_string(a.p));
  detail::require(a.ldq >= a.dq && (!a.qpe || a.ldqpe >= a.dq) && a.ldx >= a.d && a.ldy >= a.d, op,
                  "row strides q " + std::to_string(a.ldq) + " qpe " + std::to_string(a.ldqpe) + " x " +
                      std::to_string(a.ldx) + " y " + std::to_string(a.ldy) + " below the widths");
  detail::require(a.at && a.q && a.x && a.y && a.m && a.l, op, "null pointer");
  const size_t need = tokens_to_image_workspace_floats(a.j, a.d, a.p);
  detail::require(a.workspace && a.workspace_floats >= need, op,
                  "workspace of " + std::to_string(a.workspace_floats) + " floats, " + std::to_string(need) +
                      " needed");
  const int chunks = chunks_for(a.p);
  const Partials part = partials(a.workspace, chunks, a.j, a.d);
  const dim3 grid(static_cast<unsigned>(chunks), static_cast<unsigned>((a.j + kJB - 1) / kJB));
  detail::require(grid.y <= 65535, op, "J " + std::to_string(a.j) + " too large");
  partial_kernel<<<grid, kThreads, 0, stream>>>(a, part);
  detail::check_launch(op);
  merge_kernel<<<static_cast<unsigned>(a.j), kThreads, 0, stream>>>(a, part, chunks);
  detail::check_launch(op);
}

}  // namespace kernels::cuda
