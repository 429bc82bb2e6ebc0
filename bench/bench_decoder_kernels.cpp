// The mask decoder's dedicated kernels on vit_b's shapes (P = 64 x 64 image
// tokens, D = 256, Di = 128, 8 heads, T = 7 tokens: one point + pad):
//   tokens_to_image / image_to_tokens (kernels/two_way_attention.h): the folded
//     cross attentions. Peer: the two [P, D] x [D, Di] projection GEMMs the
//     unfolded form needs before any attention work (a lower bound of its cost).
//   mask_upscale (kernels/mask_upscale.h): ConvT -> LN2d -> GELU -> ConvT -> GELU
//     -> hyper product, fused. Peer: the same stages unfused (packed GEMMs over
//     the whole grid, LayerNorm / GELU passes, OpenBLAS for the mask product),
//     as the decoder ran them before. Its bf16 form (--precision bf16: the two
//     ConvT products through the table's gemm_bf16): peer, the f32 kernel. Its
//     factored-ConvT1 form (K = 2J + 5, as the decoder folds it): peer, the f32 kernel.
//   resample_row / blend_rows_threshold (kernels/resample.h): the rows of one
//     mask's upscaling to a 1800x1200 image (683 rows 1024 -> 1800 wide, then
//     1200 blended + thresholded rows). Peer: the plain loops (kernels::ref::,
//     what sam/postprocess.cpp ran before). One thread (the predictor splits
//     masks and row blocks over the threads); GB/s of output written.
// Each kernel is first checked against its double-precision reference on the
// same inputs; then median ms over --runs, GFLOP/s, share of the measured FMA
// peak, and the ratio to the peer (all on --threads threads).
//   bench_decoder_kernels [--threads N] [--runs N]
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "bench_common.h"
#include "fma_peak.h"
#include "engine/ops/blas.h"
#include "engine/runtime.h"
#include "engine/thread_pool.h"
#include "kernels/eltwise.h"
#include "kernels/gemm.h"
#include "kernels/mask_upscale.h"
#include "kernels/norm.h"
#include "kernels/resample.h"
#include "kernels/table.h"
#include "kernels/two_way_attention.h"

namespace {

constexpr int G = 64, P = G * G, D = 256, DI = 128, HEADS = 8, T = 7, J = HEADS * T, M = 3;

std::vector<float> random_vec(size_t n, float sd, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.f, sd);
  std::vector<float> v(n);
  for (float& x : v) x = nd(rng);
  return v;
}

double rel_l2(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) num += (double(a[i]) - b[i]) * (double(a[i]) - b[i]), den += double(b[i]) * b[i];
  return std::sqrt(num / std::max(den, 1e-300));
}

// y [rows, n] = x [rows, k] @ W^T through the packed GEMM on the pool.
void packed_linear(const kernels::KernelTable& t, const float* x, int rows, int k, const float* wp, int n, float* y,
                   const float* bias = nullptr) {
  kernels::PackedGemmArgs g;
  g.m = rows;
  g.n = n;
  g.k = k;
  g.a = x;
  g.lda = k;
  g.b_packed = wp;
  g.c = y;
  g.ldc = n;
  g.epilogue.bias = bias;
  const int threads = engine::thread_pool().num_threads();
  const int64_t jobs = t.gemm_jobs(g, threads);
  engine::thread_pool().parallel_for(0, jobs, 1, [&](int64_t a, int64_t b) { t.gemm_run(g, threads, a, b); });
}

std::vector<float> pack(const kernels::KernelTable& t, const std::vector<float>& w, int n, int k) {
  std::vector<float> p(t.gemm_packed_b_floats(n, k));
  t.gemm_pack_b_nk(w.data(), n, k, k, p.data());
  return p;
}

struct Row {
  std::string name;
  double flops, ms, peer_ms, err;
  const char* peer;
};

}  // namespace

static int bench_main(int argc, char** argv) {
  const int threads = bench::int_option(argc, argv, "--threads", 2), runs = bench::int_option(argc, argv, "--runs", 21);
  engine::runtime_options();  // SAM_ISA caps the kernel table (engine/runtime.h)
  engine::set_num_threads(threads);
  // One CPU per thread: otherwise the scheduler may put two of them on one CPU now and then
  // (beside OpenBLAS's pool), which halves the measured peak or a timed run.
  engine::thread_pool().pin_threads();
  engine::ops::set_blas_threads(1);
  engine::ThreadPool& pool = engine::thread_pool();
  const kernels::KernelTable& t = kernels::table();
  const double peak = bench::fma_peak_gflops(threads);
  std::mt19937 rng(7);
  const std::vector<float> x = random_vec(size_t{P} * D, 1.f, rng), pe = random_vec(size_t{P} * D, 1.f, rng);
  const int jp = t.tw_columns(J);
  std::vector<float> fac = random_vec(size_t{D} * jp, 3.f / 16.f, rng);
  for (int c = 0; c < D; ++c) std::fill(fac.begin() + c * jp + J, fac.begin() + (c + 1) * jp, 0.f);
  const std::vector<float> wproj = random_vec(size_t{DI} * D, 1.f / 16.f, rng);
  const std::vector<float> wproj_p = pack(t, wproj, DI, D);
  std::vector<float> proj_out(size_t{P} * DI);
  const size_t kern_floats = t.tw_scratch_floats(D, jp);
  std::vector<float> scratch(kern_floats * static_cast<size_t>(threads));
  std::vector<Row> rows;
  auto projections = [&] {  // the unfolded form's two image-side projections
    packed_linear(t, x.data(), P, D, wproj_p.data(), DI, proj_out.data());
    packed_linear(t, pe.data(), P, D, wproj_p.data(), DI, proj_out.data());
  };
  const double proj_ms = 1e3 * bench::median_seconds(runs, projections);

  {  // token-to-image
    std::vector<float> part(static_cast<size_t>(threads) * (J * D + 2 * J)), want(size_t{J} * D), wm(J), wl(J);
    kernels::TokensToImageArgs base;  // the whole problem; calls differ in range and outputs
    base.at = fac.data();
    base.j = J;
    base.jp = jp;
    base.q = x.data();
    base.ldq = D;
    base.qpe = pe.data();
    base.ldqpe = D;
    base.dq = D;
    base.x = x.data();
    base.ldx = D;
    base.d = D;
    base.ldy = D;
    auto run = [&] {
      pool.run([&](int w, int n) {
        float* pp = part.data() + static_cast<size_t>(w) * (J * D + 2 * J);
        kernels::TokensToImageArgs a = base;
        a.p0 = int64_t{P} * w / n;
        a.p1 = int64_t{P} * (w + 1) / n;
        a.y = pp;
        a.m = pp + J * D;
        a.l = pp + J * D + J;
        a.scratch = scratch.data() + static_cast<size_t>(w) * kern_floats;
        t.tokens_to_image(a);
      });
      for (int w = 1; w < threads; ++w) {
        const float* pw = part.data() + static_cast<size_t>(w) * (J * D + 2 * J);
        kernels::tokens_to_image_merge(J, D, part.data(), D, part.data() + J * D, part.data() + J * D + J, pw, D,
                                       pw + J * D, pw + J * D + J);
      }
      kernels::tokens_to_image_normalize(J, D, part.data(), D, part.data() + J * D + J);
    };
    run();
    kernels::TokensToImageArgs r = base;
    r.p0 = 0;
    r.p1 = P;
    r.y = want.data();
    r.m = wm.data();
    r.l = wl.data();
    kernels::ref::tokens_to_image(r);
    const double err = rel_l2(part.data(), want.data(), want.size());
    rows.push_back({"tokens_to_image", 4.0 * P * D * J, 1e3 * bench::median_seconds(runs, run), proj_ms, err,
                    "k/v projections"});
  }
  {  // image-to-token (+ residual, LayerNorm)
    std::vector<float> cb(static_cast<size_t>(jp), 0.f), u = random_vec(size_t{J} * D, 1.f, rng);
    const std::vector<float> ob = random_vec(D, 0.1f, rng), lw = random_vec(D, 1.f, rng), lb = random_vec(D, 0.1f, rng);
    std::vector<float> keys = x, want = x;
    auto args = [&](float* dst) {
      kernels::ImageToTokensArgs a;
      a.bt = fac.data();
      a.cb = cb.data();
      a.heads = HEADS;
      a.t = T;
      a.jp = jp;
      a.q = dst;
      a.ldq = D;
      a.qpe = pe.data();
      a.ldqpe = D;
      a.dq = D;
      a.u = u.data();
      a.ob = ob.data();
      a.x = dst;
      a.ldx = D;
      a.d = D;
      a.p0 = 0;
      a.p1 = P;
      a.ln_weight = lw.data();
      a.ln_bias = lb.data();
      return a;
    };
    auto run = [&] {
      pool.run([&](int w, int n) {
        kernels::ImageToTokensArgs a = args(keys.data());
        a.p0 = int64_t{P} * w / n;
        a.p1 = int64_t{P} * (w + 1) / n;
        a.scratch = scratch.data() + static_cast<size_t>(w) * kern_floats;
        t.image_to_tokens(a);
      });
    };
    run();
    kernels::ref::image_to_tokens(args(want.data()));
    const double err = rel_l2(keys.data(), want.data(), want.size());
    auto timed = [&] {
      std::copy(x.begin(), x.end(), keys.begin());  // (the copy, ~1% of the time, is in both columns' budget)
      run();
    };
    rows.push_back({"image_to_tokens (+res, LN)", 4.0 * P * D * J, 1e3 * bench::median_seconds(runs, timed), proj_ms,
                    err, "q/out projections"});
  }
  {  // fused mask upscaling
    const int c1 = D / 4, c2 = D / 8;
    const std::vector<float> w1 = random_vec(size_t{4} * c1 * D, 1.f / 16.f, rng), b1 = random_vec(4 * c1, 0.1f, rng);
    const std::vector<float> lw = random_vec(c1, 1.f, rng), lb = random_vec(c1, 0.3f, rng);
    const std::vector<float> w2 = random_vec(size_t{4} * c2 * c1, 1.f / 8.f, rng), b2 = random_vec(c2, 0.1f, rng);
    const std::vector<float> hyper = random_vec(size_t{M} * c2, 1.f, rng);
    const std::vector<float> w1p = pack(t, w1, 4 * c1, D), w2p = pack(t, w2, 4 * c2, c1);
    std::vector<float> out(size_t{M} * 16 * P), want(out.size());
    const size_t sf = (t.mask_upscale_scratch_floats(G, D, c1, c2, M) + 15) / 16 * 16;
    std::vector<float> us(sf * static_cast<size_t>(threads));
    kernels::MaskUpscaleArgs a;
    a.g = G;
    a.d = D;
    a.c1 = c1;
    a.c2 = c2;
    a.x = x.data();
    a.ldx = D;
    a.w1_packed = w1p.data();
    a.w1 = w1.data();
    a.b1 = b1.data();
    a.ln_weight = lw.data();
    a.ln_bias = lb.data();
    a.w2 = w2.data();
    a.b2 = b2.data();
    a.hyper = hyper.data();
    a.ldh = c2;
    a.m = M;
    a.out_plane = 16 * P;
    // args over the pool's workers, each on its share of the grid rows and its own scratch.
    const auto split_rows = [&](const kernels::MaskUpscaleArgs& args, void (*kernel)(const kernels::MaskUpscaleArgs&),
                                float* scratch, size_t floats) {
      pool.run([&](int w, int n) {
        kernels::MaskUpscaleArgs c = args;
        c.out = out.data();
        c.row0 = G * w / n;
        c.row1 = G * (w + 1) / n;
        c.scratch = scratch + static_cast<size_t>(w) * floats;
        if (c.row0 < c.row1) kernel(c);
      });
    };
    auto fused = [&] { split_rows(a, t.mask_upscale, us.data(), sf); };
    fused();
    kernels::MaskUpscaleArgs r = a;
    r.out = want.data();
    r.row0 = 0;
    r.row1 = G;
    kernels::ref::mask_upscale(r);
    const double err = rel_l2(out.data(), want.data(), want.size());
    // The unfused stages (sub-pixel row order; the final scatter is left out: it only flatters the peer).
    std::vector<float> up1(size_t{P} * 4 * c1), up2(size_t{P} * 16 * c2), b2x4(4 * c2), masks(size_t{M} * 16 * P);
    for (int s = 0; s < 4; ++s) std::copy(b2.begin(), b2.end(), b2x4.begin() + s * c2);
    auto unfused = [&] {
      packed_linear(t, x.data(), P, D, w1p.data(), 4 * c1, up1.data(), b1.data());
      pool.parallel_for(0, 4 * P, 256, [&](int64_t lo, int64_t hi) {
        kernels::LayerNormArgs ln;
        ln.x = up1.data() + lo * c1;
        ln.ldx = c1;
        ln.y = up1.data() + lo * c1;
        ln.ldy = c1;
        ln.weight = lw.data();
        ln.bias = lb.data();
        ln.rows = hi - lo;
        ln.cols = c1;
        ln.eps = 1e-6f;
        t.layer_norm(ln);
        t.gelu(up1.data() + lo * c1, (hi - lo) * c1);
      });
      packed_linear(t, up1.data(), 4 * P, c1, w2p.data(), 4 * c2, up2.data(), b2x4.data());
      pool.parallel_for(0, 16 * P, 1024, [&](int64_t lo, int64_t hi) { t.gelu(up2.data() + lo * c2, (hi - lo) * c2); });
      engine::ops::gemm_blas(/*trans_b=*/true, M, 16 * P, c2, 1.f, hyper.data(), c2, up2.data(), c2, masks.data(),
                             16 * P);
    };
    const double flops = 2.0 * P * D * 4 * c1 + 2.0 * 4 * P * c1 * 4 * c2 + 2.0 * 16 * P * c2 * M;
    const double fused_ms = 1e3 * bench::median_seconds(runs, fused);
    rows.push_back({"mask_upscale (M = 3)", flops, fused_ms, 1e3 * bench::median_seconds(runs, unfused), err,
                    "unfused stages"});

    // ConvT1 in factored form (what the decoder runs, mask_decoder.h): x_scale x +
    // fa fb^T with K = 2 J + 5 coefficients per token (one point); peer, the f32
    // kernel above with ConvT1 as such.
    {
      const int fk = 2 * J + 5;
      const std::vector<float> fa = random_vec(size_t{P} * fk, 1.f / std::sqrt(float(fk)), rng),
                               fb = random_vec(size_t{4} * c1 * fk, 1.f, rng);
      std::vector<float> xs = random_vec(P, 0.1f, rng);
      for (float& v : xs) v += 1.f;
      const std::vector<float> fbp = pack(t, fb, 4 * c1, fk);
      kernels::MaskUpscaleArgs af = a;
      af.x_scale = xs.data();
      af.fa = fa.data();
      af.ldfa = fk;
      af.fb = fb.data();
      af.ldfb = fk;
      af.fb_packed = fbp.data();
      af.fk = fk;
      auto factored = [&] { split_rows(af, t.mask_upscale, us.data(), sf); };
      factored();
      kernels::MaskUpscaleArgs rf = af;
      rf.out = want.data();
      rf.row0 = 0;
      rf.row1 = G;
      kernels::ref::mask_upscale(rf);
      const double fflops = 2.0 * P * fk * 4 * c1 + 2.0 * 4 * P * c1 * 4 * c2 + 2.0 * 16 * P * c2 * M;
      rows.push_back({fmt::format("mask_upscale factored K={}", fk), fflops, 1e3 * bench::median_seconds(runs, factored),
                      fused_ms, rel_l2(out.data(), want.data(), want.size()), "ConvT1 as such"});
    }

    // The same with the two ConvT products in bf16 (--precision bf16), through
    // this table's gemm_bf16; its peer is the f32 kernel above. The error is
    // against the reference on the same bf16-rounded operands.
    std::vector<uint16_t> w1b(t.gemm_bf16_packed_b_elems(4 * c1, D));
    t.gemm_bf16_pack_b_nk(w1.data(), 4 * c1, D, D, w1b.data());
    const size_t sfb = (t.mask_upscale_bf16_scratch_floats(G, D, c1, c2, M, t) + 15) / 16 * 16;
    std::vector<float> usb(sfb * static_cast<size_t>(threads));
    kernels::MaskUpscaleArgs ab = a;
    ab.gemm_bf16 = &t;
    ab.w1_packed_bf16 = w1b.data();
    auto fused_bf16 = [&] { split_rows(ab, t.mask_upscale_bf16, usb.data(), sfb); };
    fused_bf16();
    kernels::ref::mask_upscale(r, /*bf16=*/true);
    rows.push_back({"mask_upscale bf16 (M = 3)", flops, 1e3 * bench::median_seconds(runs, fused_bf16), fused_ms,
                    rel_l2(out.data(), want.data(), want.size()), "f32 fused"});
  }

  fmt::print("mask decoder kernels ({}), vit_b shapes (P {}, D {}, J {}), {} threads, median of {}; FMA peak {:.0f} GFLOP/s\n",
             kernels::isa_name(t.isa), P, D, J, threads, runs, peak);
  fmt::print("{:<28} | {:>8} {:>8} {:>6} | {:<18} {:>8} | {:>6} | {:>8}\n", "kernel", "ms", "GFLOP/s", "%peak", "peer",
             "peer ms", "ratio", "rel err");
  for (const Row& r : rows) {
    const double gf = r.flops / (r.ms * 1e-3) / 1e9;
    fmt::print("{:<28} | {:8.3f} {:8.1f} {:5.0f}% | {:<18} {:8.3f} | {:5.2f}x | {:8.1e}\n", r.name, r.ms, gf,
               peak > 0 ? 100 * gf / peak : 0.0, r.peer, r.peer_ms, r.peer_ms / r.ms, r.err);
  }

  // Mask upscaling rows (one thread).
  {
    const int in_w = 1024, out_w = 1800, out_h = 1200, wide_rows = 683;
    std::vector<int32_t> i0(out_w), i1(out_w);
    std::vector<float> w0(out_w), w1(out_w);
    kernels::bilinear_taps(in_w, out_w, i0.data(), i1.data(), w0.data(), w1.data());
    const std::vector<float> src = random_vec(size_t{in_w} * wide_rows, 3.f, rng);
    std::vector<float> wide(size_t{out_w} * wide_rows), wide_ref(wide.size());
    std::vector<uint8_t> bits(size_t{out_w} * out_h), bits_ref(bits.size());
    const auto resample_all = [&](void (*fn)(const kernels::ResampleRowArgs&), float* out) {
      kernels::ResampleRowArgs a;
      a.in_size = in_w;
      a.i0 = i0.data(), a.i1 = i1.data(), a.w0 = w0.data(), a.w1 = w1.data();
      a.n = out_w;
      for (int r = 0; r < wide_rows; ++r) {
        a.row = src.data() + size_t{in_w} * r;
        a.out = out + size_t{out_w} * r;
        fn(a);
      }
    };
    const auto blend_all = [&](void (*fn)(const float*, const float*, float, float, int, float, uint8_t*),
                               const float* rows, uint8_t* out) {
      for (int y = 0; y < out_h; ++y) {
        const int r = static_cast<int>(int64_t{y} * (wide_rows - 1) / out_h);
        fn(rows + size_t{out_w} * r, rows + size_t{out_w} * (r + 1), 0.375f, 0.625f, out_w, 0.f, out + size_t{out_w} * y);
      }
    };
    const auto ours = [&] {
      resample_all(t.resample_row, wide.data());
      blend_all(t.blend_rows_threshold, wide.data(), bits.data());
    };
    const auto plain = [&] {
      resample_all(kernels::ref::resample_row, wide_ref.data());
      blend_all(kernels::ref::blend_rows_threshold, wide_ref.data(), bits_ref.data());
    };
    ours();
    plain();
    const bool same = wide == wide_ref && bits == bits_ref;
    const double ms = 1e3 * bench::median_seconds(runs, ours), peer_ms = 1e3 * bench::median_seconds(runs, plain);
    const double bytes = 4.0 * out_w * wide_rows + 1.0 * out_w * out_h;  // floats + mask bytes written
    fmt::print("\nmask upscaling rows, one mask to 1800x1200 ({} rows 1024 -> 1800, {} blended + thresholded), 1 thread\n",
               wide_rows, out_h);
    fmt::print("  kernel table {:7.3f} ms ({:5.2f} GB/s written) | plain loops {:7.3f} ms | {:5.2f}x | {}\n", ms,
               bytes / (ms * 1e-3) / 1e9, peer_ms, peer_ms / ms, same ? "bit-identical" : "MISMATCH");
    if (!same) return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  return bench::guarded_main(argc, argv, {{"--threads N", "--runs N"}, {}, {}}, bench_main);
}
