// Fused attention with decomposed rel-pos bias on the device
// (kernels/cuda/attention.h). Flash-style, fp32 on the CUDA cores.
//
// Block = 64 queries (a query tile) of one (window, head), 256 threads viewed
// as a 16 x 16 grid (tx = tid % 16, ty = tid / 16). Shared memory, in floats:
//
//   Qt   [HD][68]   the query tile transposed (d-major: a float4 holds 4 queries)
//   Kt   [HD][68]   the current key tile transposed
//   Vs   [64][HD]   the current value tile
//   S    [64][68]   scores, then probabilities, of the 64 x 64 (query, key) tile
//   rel  [64][RL]   per query: q . rel_pos_h[th - uh + h - 1] for uh < h, then
//                   q . rel_pos_w[tw - uw + w - 1] for uw < w (RL = (h + w) | 1)
//   m, l, alpha [64] running max, running sum, this tile's rescaling factor
//
// (HD = 64 or 128: the head dim padded with zeros, which changes no dot
// product.) Per key tile: S = scale * Q K^T (each thread a 4 x 4 sub-tile), the
// bias gathered from `rel` and the online-softmax update (4 threads per query
// row), then O += P V (each thread 4 rows x HD/16 columns, kept in registers
// for the whole pass). Every shared-memory read in the two products is a
// float4, broadcast across the 16 lanes that share ty.
#include <string>

#include "device_math.cuh"
#include "kernels/cuda/attention.h"
#include "launch_check.h"

namespace kernels::cuda {
namespace {

constexpr int kBQ = 64, kBK = 64, kThreads = 256;
constexpr int kLQ = kBQ + 4, kLK = kBK + 4, kLS = kBK + 4;  // row strides: float4-aligned

struct Params {
  AttentionRelPosArgs a;
  int t_len;   // T = h * w
  int qtiles;  // ceil(T / 64)
  int rl;      // row stride of rel
};

int rel_stride(int h, int w) { return (h + w) | 1; }  // odd: rows start in different banks

template <int HD>
size_t smem_floats(int rl) {
  return size_t{HD} * kLQ + size_t{HD} * kLK + size_t{kBK} * HD + size_t{kBQ} * kLS + size_t{kBQ} * rl + 3 * kBQ;
}

template <int HD>
__global__ void __launch_bounds__(kThreads) attention_relpos_kernel(Params p) {
  constexpr int NG = HD / 64;  // float4 column groups of O per thread (64 columns apart)
  extern __shared__ float4 smem4[];
  float* Qt = reinterpret_cast<float*>(smem4);
  float* Kt = Qt + HD * kLQ;
  float* Vs = Kt + HD * kLK;
  float* S = Vs + kBK * HD;
  float* rel = S + kBQ * kLS;
  float* mrow = rel + kBQ * p.rl;
  float* lrow = mrow + kBQ;
  float* arow = lrow + kBQ;

  const AttentionRelPosArgs& a = p.a;
  const int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  const int T = p.t_len, h = a.h, w = a.w, hd = a.hd;
  const int qt = static_cast<int>(blockIdx.x % p.qtiles);
  const int wh = static_cast<int>(blockIdx.x / p.qtiles);
  const int win = wh / a.heads, head = wh % a.heads;
  const int q0 = qt * kBQ;
  const float* q = a.q + win * a.q_window_stride + head * a.q_head_stride;
  const float* k = a.k + win * a.k_window_stride + head * a.k_head_stride;
  const float* v = a.v + win * a.v_window_stride + head * a.v_head_stride;
  float* out = a.out + win * a.out_window_stride + head * a.out_head_stride;

  // Query tile, transposed, zero past T and past hd.
  for (int i = tid; i < kBQ * HD; i += kThreads) {
    const int r = i / HD, d = i % HD, t = q0 + r;
    Qt[d * kLQ + r] = (t < T && d < hd) ? q[int64_t{t} * a.ldq + d] : 0.f;
  }
  if (tid < kBQ) {
    mrow[tid] = -INFINITY;
    lrow[tid] = 0.f;
  }
  __syncthreads();

  // Bias terms of the tile's queries: rel[r][j], j < h: q . Rh[th - j + h - 1];
  // j = h + j' (j' < w): q . Rw[tw - j' + w - 1]. Consecutive threads take
  // consecutive queries (conflict-free Qt reads); the tables stay in L1.
  const int nrel = kBQ * (h + w);
  for (int i = tid; i < nrel; i += kThreads) {
    const int r = i % kBQ, j = i / kBQ, t = q0 + r;
    float acc = 0.f;
    if (t < T) {
      const int th = t / w, tw = t - th * w;
      const float* tab = j < h ? a.rel_pos_h + int64_t{th - j + h - 1} * hd
                               : a.rel_pos_w + int64_t{tw - (j - h) + w - 1} * hd;
      for (int d = 0; d < hd; ++d) acc = fmaf(Qt[d * kLQ + r], __ldg(tab + d), acc);
    }
    rel[r * p.rl + j] = acc;
  }

  float o[4][4 * NG];
#pragma unroll
  for (int i = 0; i < 4; ++i)
#pragma unroll
    for (int c = 0; c < 4 * NG; ++c) o[i][c] = 0.f;
  const int hd8 = (hd + 7) & ~7;  // the S loop's length: the zero padding past it adds nothing

  for (int k0 = 0; k0 < T; k0 += kBK) {
    __syncthreads();  // the previous tile's P V is done with Kt, Vs and S (and rel is complete)
    for (int i = tid; i < kBK * HD; i += kThreads) {
      const int r = i / HD, d = i % HD, u = k0 + r;
      const bool ok = u < T && d < hd;  // zeros, not garbage: 0 * NaN would poison O
      Kt[d * kLK + r] = ok ? k[int64_t{u} * a.ldk + d] : 0.f;
      Vs[r * HD + d] = ok ? v[int64_t{u} * a.ldv + d] : 0.f;
    }
    __syncthreads();

    // S[ty*4 + i][tx*4 + j] = scale * q . k
    float s[4][4];
#pragma unroll
    for (int i = 0; i < 4; ++i)
#pragma unroll
      for (int j = 0; j < 4; ++j) s[i][j] = 0.f;
#pragma unroll 8
    for (int d = 0; d < hd8; ++d) {
      const float4 qa = *reinterpret_cast<const float4*>(Qt + d * kLQ + ty * 4);
      const float4 kb = *reinterpret_cast<const float4*>(Kt + d * kLK + tx * 4);
      const float qv[4] = {qa.x, qa.y, qa.z, qa.w}, kv[4] = {kb.x, kb.y, kb.z, kb.w};
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) s[i][j] = fmaf(qv[i], kv[j], s[i][j]);
    }
#pragma unroll
    for (int i = 0; i < 4; ++i)
      *reinterpret_cast<float4*>(S + (ty * 4 + i) * kLS + tx * 4) =
          make_float4(s[i][0] * a.scale, s[i][1] * a.scale, s[i][2] * a.scale, s[i][3] * a.scale);
    __syncthreads();

    // Online softmax: row r by the 4 lanes 4r .. 4r+3, columns part, part+4, ...
    {
      const int r = tid >> 2, part = tid & 3;
      float* sr = S + r * kLS;
      const float* rr = rel + r * p.rl;
      float mx = -INFINITY;
      for (int c = part; c < kBK; c += 4) {
        const int u = k0 + c;
        float val = -INFINITY;  // keys past T get probability 0
        if (u < T) {
          const int uh = u / w, uw = u - uh * w;
          val = sr[c] + rr[uh] + rr[h + uw];
        }
        sr[c] = val;
        mx = fmaxf(mx, val);
      }
      mx = detail::group_max(mx, 4);
      const float m_old = mrow[r], m_new = fmaxf(m_old, mx);  // finite: the tile has a key < T
      float sum = 0.f;
      for (int c = part; c < kBK; c += 4) {
        const float e = expf(sr[c] - m_new);
        sr[c] = e;
        sum += e;
      }
      sum = detail::group_sum(sum, 4);
      __syncwarp();  // all four lanes have read mrow[r] before lane 0 of the group writes it
      if (part == 0) {
        const float alpha = expf(m_old - m_new);  // 0 on the first tile (m_old = -inf)
        mrow[r] = m_new;
        lrow[r] = lrow[r] * alpha + sum;
        arow[r] = alpha;
      }
    }
    __syncthreads();

    // O = alpha O + P V for rows ty*4 + i, columns g*64 + tx*4 + j.
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const float al = arow[ty * 4 + i];
#pragma unroll
      for (int c = 0; c < 4 * NG; ++c) o[i][c] *= al;
    }
#pragma unroll 2
    for (int c = 0; c < kBK; c += 4) {
      float pr[4][4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const float4 pv = *reinterpret_cast<const float4*>(S + (ty * 4 + i) * kLS + c);
        pr[i][0] = pv.x;
        pr[i][1] = pv.y;
        pr[i][2] = pv.z;
        pr[i][3] = pv.w;
      }
#pragma unroll
      for (int cc = 0; cc < 4; ++cc)
#pragma unroll
        for (int g = 0; g < NG; ++g) {
          const float4 vv = *reinterpret_cast<const float4*>(Vs + (c + cc) * HD + g * 64 + tx * 4);
#pragma unroll
          for (int i = 0; i < 4; ++i) {
            o[i][g * 4 + 0] = fmaf(pr[i][cc], vv.x, o[i][g * 4 + 0]);
            o[i][g * 4 + 1] = fmaf(pr[i][cc], vv.y, o[i][g * 4 + 1]);
            o[i][g * 4 + 2] = fmaf(pr[i][cc], vv.z, o[i][g * 4 + 2]);
            o[i][g * 4 + 3] = fmaf(pr[i][cc], vv.w, o[i][g * 4 + 3]);
          }
        }
    }
  }

  // out = O / l, columns < hd of rows < T only.
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int r = ty * 4 + i, t = q0 + r;
    if (t >= T) continue;
    const float inv = 1.f / lrow[r];
    float* orow = out + int64_t{t} * a.ldo;
#pragma unroll
    for (int g = 0; g < NG; ++g)
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int col = g * 64 + tx * 4 + j;
        if (col < hd) orow[col] = o[i][g * 4 + j] * inv;
      }
  }
}

template <int HD>
void launch(const Params& p, cudaStream_t stream) {
  const size_t bytes = smem_floats<HD>(p.rl) * sizeof(float);
  const size_t limit = detail::max_smem_per_block();
  detail::require(bytes <= limit, "attention_relpos",
                  "a " + std::to_string(p.a.h) + " x " + std::to_string(p.a.w) + " grid with head dim " +
                      std::to_string(p.a.hd) + " needs " + std::to_string(bytes) +
                      " bytes of shared memory per block, the device allows " + std::to_string(limit));
  if (bytes > 48 * 1024)
    detail::check(cudaFuncSetAttribute(attention_relpos_kernel<HD>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(bytes)),
                  "attention_relpos", "cudaFuncSetAttribute(MaxDynamicSharedMemorySize)");
  const int64_t blocks = int64_t{p.qtiles} * p.a.windows * p.a.heads;
  attention_relpos_kernel<HD><<<static_cast<unsigned>(blocks), kThreads, bytes, stream>>>(p);
  detail::check_launch("attention_relpos");
}

}  // namespace

int attention_relpos_max_head_dim() { return 128; }

size_t attention_relpos_smem_bytes(int h, int w, int hd) {
  const int rl = rel_stride(h, w);
  return (hd <= 64 ? smem_floats<64>(rl) : smem_floats<128>(rl)) * sizeof(float);
}

void attention_relpos(const AttentionRelPosArgs& a, cudaStream_t stream) {
  const int64_t t_len = int64_t{a.h} * a.w;
  detail::require(a.h >= 1 && a.w >= 1 && t_len <= (int64_t{1} << 24) && a.hd >= 1 &&
                      a.hd <= attention_relpos_max_head_dim() && a.windows >= 1 && a.heads >= 1,
                  "attention_relpos",
                  "grid " + std::to_string(a.h) + " x " + std::to_string(a.w) + ", head dim " + std::to_string(a.hd) +
                      " (1.." + std::to_string(attention_relpos_max_head_dim()) + "), " + std::to_string(a.windows) +
                      " windows x " + std::to_string(a.heads) + " heads");
  detail::require(a.ldq >= a.hd && a.ldk >= a.hd && a.ldv >= a.hd && a.ldo >= a.hd, "attention_relpos",
                  "row strides q " + std::to_string(a.ldq) + " k " + std::to_string(a.ldk) + " v " +
                      std::to_string(a.ldv) + " out " + std::to_string(a.ldo) + " below the head dim " +
                      std::to_string(a.hd));
  detail::require(a.q && a.k && a.v && a.out && a.rel_pos_h && a.rel_pos_w, "attention_relpos", "null pointer");
  Params p{a, static_cast<int>(t_len), static_cast<int>((t_len + kBQ - 1) / kBQ), rel_stride(a.h, a.w)};
  detail::require(int64_t{p.qtiles} * a.windows * a.heads < (int64_t{1} << 31), "attention_relpos",
                  "too many blocks");
  if (a.hd <= 64) launch<64>(p, stream);
  else launch<128>(p, stream);
}

}  // namespace kernels::cuda
