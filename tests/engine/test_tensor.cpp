#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <random>
#include <vector>
#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xview.hpp>

#include "engine/error.h"
#include "engine/tensor.h"
#include "kernels/convert.h"
#include "test_util.h"

using engine::DType;
using engine::Shape;
using engine::Tensor;

namespace {

// Reads every element of a (possibly strided) tensor in row-major logical order,
// addressing the buffer through the tensor's own shape and strides.
template <typename T>
std::vector<T> read_strided(const Tensor& t) {
  std::vector<T> out;
  const int r = t.rank();
  const int64_t n = t.numel();
  out.reserve(static_cast<size_t>(n));
  if (n == 0) return out;
  std::vector<int64_t> idx(static_cast<size_t>(r), 0);
  const auto* base = static_cast<const T*>(t.raw_data());
  for (int64_t k = 0; k < n; ++k) {
    int64_t off = 0;
    for (int d = 0; d < r; ++d) off += idx[static_cast<size_t>(d)] * t.strides()[d];
    out.push_back(base[off]);
    for (int d = r - 1; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < t.shape()[d]) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
  return out;
}

// A new f32 tensor whose element k (row-major) is value(k).
Tensor iota_f32(const Shape& shape) {
  Tensor t = Tensor::empty(DType::F32, shape);
  float* p = t.data<float>();
  for (int64_t k = 0; k < t.numel(); ++k) p[k] = static_cast<float>(k) * 0.5f - 3.0f;
  return t;
}

// Row-major strides computed the obvious way (reference for contiguous_strides).
std::vector<int64_t> ref_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * std::max<int64_t>(shape[i], 1);
  return s;
}

// Python slice semantics for a positive step: the selected indices.
std::vector<int64_t> py_slice(int64_t n, int64_t start, int64_t end, int64_t step) {
  auto norm = [n](int64_t v) {
    if (v < 0) v += n;
    return std::min(std::max<int64_t>(v, 0), n);
  };
  std::vector<int64_t> idx;
  for (int64_t i = norm(start); i < norm(end); i += step) idx.push_back(i);
  return idx;
}

bool is_aligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

}  // namespace

TEST_CASE("empty and zeros are 64-byte aligned with the right sizes", "[tensor]") {
  const std::vector<std::vector<int64_t>> shapes = {{}, {0}, {1}, {7}, {13, 17}, {3, 0, 5}, {2, 3, 5, 7}, {1, 1, 31}};
  for (const auto& dims : shapes) {
    for (DType dt : {DType::F32, DType::F16, DType::BF16, DType::I32, DType::U8}) {
      const Shape shape(dims);
      int64_t numel = 1;
      for (int64_t d : dims) numel *= d;
      INFO("shape " << shape.str() << " dtype " << engine::dtype_name(dt));
      Tensor e = Tensor::empty(dt, shape);
      Tensor z = Tensor::zeros(dt, shape);
      for (const Tensor* t : {&e, &z}) {
        REQUIRE(t->raw_data() != nullptr);
        CHECK(is_aligned(t->raw_data(), engine::kTensorAlignment));
        CHECK(t->shape() == shape);
        CHECK(t->rank() == static_cast<int>(dims.size()));
        CHECK(t->numel() == numel);
        CHECK(t->nbytes() == static_cast<size_t>(numel) * engine::dtype_size(dt));
        CHECK(t->element_size() == engine::dtype_size(dt));
        CHECK(t->dtype() == dt);
        CHECK(t->is_contiguous());
        CHECK(t->defined());
        CHECK(t->strides().to_vector() == ref_strides(dims));
      }
      const auto* bytes = static_cast<const unsigned char*>(z.raw_data());
      size_t nonzero = 0;
      for (size_t i = 0; i < z.nbytes(); ++i) nonzero += bytes[i] != 0;
      CHECK(nonzero == 0);
      CHECK(e.raw_data() != z.raw_data());
    }
  }
  CHECK(engine::kTensorAlignment == 64);
}

TEST_CASE("dims, strides and typed access are checked", "[tensor]") {
  Tensor t = Tensor::zeros(DType::F32, {3, 5, 7});
  CHECK(t.dim(0) == 3);
  CHECK(t.dim(-1) == 7);
  CHECK(t.dim(-3) == 3);
  CHECK(t.stride(-1) == 1);
  CHECK(t.stride(0) == 35);
  CHECK_THROWS_AS(t.dim(3), engine::Error);
  CHECK_THROWS_AS(t.dim(-4), engine::Error);
  CHECK_NOTHROW(t.data<float>());
  CHECK_THROWS_AS(t.data<int32_t>(), engine::Error);
  CHECK_THROWS_AS(t.data<uint8_t>(), engine::Error);
  CHECK_THROWS_AS(t.data<uint16_t>(), engine::Error);
  Tensor h = Tensor::zeros(DType::BF16, {2});
  CHECK_NOTHROW(h.data<uint16_t>());
  CHECK_THROWS_AS(h.data<float>(), engine::Error);
}

TEST_CASE("Shape validates rank, extents and overflow", "[tensor][shape]") {
  CHECK(Shape{}.numel() == 1);
  CHECK(Shape{0, 5}.numel() == 0);
  CHECK(Shape{2, 3, 5}.str() == "[2, 3, 5]");
  const int64_t big = int64_t{1} << 32;
  CHECK_THROWS_AS((Shape{big, big}.numel()), engine::Error);
  CHECK_THROWS_AS((Shape{INT64_MAX, 2}.numel()), engine::Error);
  CHECK_THROWS_AS((Shape{3, -1}.numel()), engine::Error);
  // A zero extent makes the product 0 whatever follows.
  CHECK(Shape{0, INT64_MAX, INT64_MAX}.numel() == 0);
  CHECK_THROWS_AS((Tensor::empty(DType::F32, {big, big})), engine::Error);
  // numel fits but numel * element size does not.
  CHECK_THROWS_AS((Tensor::empty(DType::F32, {INT64_MAX / 2})), engine::Error);
  const std::vector<int64_t> nine(9, 1);
  CHECK_THROWS_AS(Shape(std::span<const int64_t>(nine)), engine::Error);
  const std::vector<int64_t> eight(8, 2);
  CHECK(Shape(std::span<const int64_t>(eight)).numel() == 256);
  CHECK_THROWS_AS(engine::checked_mul(INT64_MAX, 2), engine::Error);
  CHECK_THROWS_AS(engine::checked_add(INT64_MAX, 1), engine::Error);
  CHECK(engine::checked_mul(-3, 7) == -21);
}

TEST_CASE("reshape is a view and refuses what it cannot do", "[tensor]") {
  Tensor t = iota_f32({2, 3, 5});
  const std::vector<float> flat = read_strided<float>(t);

  Tensor r = t.reshape({5, -1});
  CHECK(r.shape() == Shape{5, 6});
  CHECK(r.raw_data() == t.raw_data());
  CHECK(r.strides().to_vector() == ref_strides({5, 6}));
  CHECK(read_strided<float>(r) == flat);

  CHECK(t.reshape({-1}).shape() == Shape{30});
  CHECK(t.reshape({30, 1, -1}).shape() == Shape{30, 1, 1});
  CHECK(t.reshape({3, 10}).shape() == Shape{3, 10});
  CHECK(iota_f32({}).reshape({1, 1}).shape() == Shape{1, 1});
  CHECK(iota_f32({1}).reshape({}).shape() == Shape{});

  CHECK_THROWS_AS(t.reshape({7, -1}), engine::Error);   // 30 % 7 != 0
  CHECK_THROWS_AS(t.reshape({4, 8}), engine::Error);    // 32 != 30
  CHECK_THROWS_AS(t.reshape({29}), engine::Error);
  CHECK_THROWS_AS(t.reshape({-1, -1}), engine::Error);  // two unknowns
  CHECK_THROWS_AS(t.reshape({-2, -15}), engine::Error);  // negative extents
  CHECK_THROWS_AS(t.reshape({0, -1}), engine::Error);    // -1 is ambiguous next to 0

  Tensor empty = Tensor::empty(DType::F32, {0, 4});
  CHECK(empty.reshape({2, 0, 3}).numel() == 0);
  CHECK_THROWS_AS(empty.reshape({1}), engine::Error);

  // A non-contiguous view cannot be reshaped without a copy.
  Tensor p = t.permute({2, 0, 1});
  CHECK_FALSE(p.is_contiguous());
  try {
    (void)p.reshape({30});
    FAIL("reshape of a permuted tensor did not throw");
  } catch (const engine::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("contiguous"));
  }
  Tensor s = t.slice(2, 0, 5, 2);
  CHECK_FALSE(s.is_contiguous());
  CHECK_THROWS_AS(s.reshape({-1}), engine::Error);
  // After contiguous() it works and keeps the logical order.
  CHECK(read_strided<float>(p.contiguous().reshape({-1})) == read_strided<float>(p));
}

TEST_CASE("permute reorders dimensions without copying", "[tensor]") {
  const int64_t A = 3, B = 5, C = 7;
  Tensor t = iota_f32({A, B, C});
  const float* src = t.data<float>();

  Tensor p = t.permute({2, 0, 1});  // p[k][i][j] = t[i][j][k]
  CHECK(p.raw_data() == t.raw_data());
  CHECK(p.shape() == Shape{C, A, B});
  CHECK(p.dim(0) == t.dim(2));
  std::vector<float> expected;
  for (int64_t k = 0; k < C; ++k)
    for (int64_t i = 0; i < A; ++i)
      for (int64_t j = 0; j < B; ++j) expected.push_back(src[(i * B + j) * C + k]);
  CHECK(read_strided<float>(p) == expected);

  // Negative indices in the order, and permute of a permute.
  Tensor q = t.permute({-1, 0, 1});
  CHECK(q.shape() == p.shape());
  CHECK(q.strides() == p.strides());
  Tensor back = p.permute({1, 2, 0});
  CHECK(back.shape() == t.shape());
  CHECK(back.strides() == t.strides());
  CHECK(back.is_contiguous());

  // Same result as xtensor's transpose of the same buffer.
  auto xa = xt::adapt(src, static_cast<size_t>(t.numel()), xt::no_ownership(),
                      std::vector<size_t>{size_t(A), size_t(B), size_t(C)});
  xt::xarray<float> xp = xt::transpose(xa, {1, 2, 0});
  Tensor p2 = t.permute({1, 2, 0});
  REQUIRE(p2.shape() == Shape{B, C, A});
  CHECK(read_strided<float>(p2) == std::vector<float>(xp.begin(), xp.end()));

  CHECK_THROWS_AS(t.permute({0, 1}), engine::Error);
  CHECK_THROWS_AS(t.permute({0, 1, 1}), engine::Error);
  CHECK_THROWS_AS(t.permute({0, 1, 3}), engine::Error);
  CHECK_THROWS_AS(t.permute({0, 1, 2, 0}), engine::Error);
}

TEST_CASE("slice with steps and negative indices follows Python semantics", "[tensor]") {
  const int64_t n = 17;
  Tensor t = iota_f32({n});
  const float* src = t.data<float>();
  struct Case {
    int64_t start, end, step;
  };
  const std::vector<Case> cases = {{0, 17, 1},   {2, 15, 3},    {-5, -1, 1},  {-100, 100, 1}, {5, 3, 1},
                                   {16, 17, 5},  {0, 17, 16},   {0, 17, 17},  {0, 17, 100},   {-1, 17, 2},
                                   {3, -3, 4},   {17, 17, 1},   {-17, 1, 1},  {1, 0, 2},      {6, 6, 3},
                                   {-3, 17, 2},  {0, -17, 1},   {4, 13, 2}};
  for (const Case& c : cases) {
    INFO("slice(" << c.start << ", " << c.end << ", " << c.step << ")");
    Tensor s = t.slice(0, c.start, c.end, c.step);
    const std::vector<int64_t> idx = py_slice(n, c.start, c.end, c.step);
    REQUIRE(s.dim(0) == static_cast<int64_t>(idx.size()));
    std::vector<float> expected;
    for (int64_t i : idx) expected.push_back(src[i]);
    CHECK(read_strided<float>(s) == expected);
    if (s.numel() > 0) CHECK(s.stride(0) == c.step);
  }
  CHECK_THROWS_AS(t.slice(0, 0, 5, 0), engine::Error);
  CHECK_THROWS_AS(t.slice(0, 0, 5, -1), engine::Error);
  CHECK_THROWS_AS(t.slice(1, 0, 5), engine::Error);

  // 3-D: slice along the middle and the last dimension, compared with xtensor views.
  const int64_t A = 4, B = 11, C = 13;
  Tensor u = iota_f32({A, B, C});
  auto xa = xt::adapt(u.data<float>(), static_cast<size_t>(u.numel()), xt::no_ownership(),
                      std::vector<size_t>{size_t(A), size_t(B), size_t(C)});
  Tensor s1 = u.slice(1, 1, -2, 3).slice(-1, -9, 12, 2);  // B: 1..8 step 3, C: 4..11 step 2
  xt::xarray<float> x1 = xt::view(xa, xt::all(), xt::range(1, B - 2, 3), xt::range(C - 9, 12, 2));
  REQUIRE(s1.shape().to_vector() == std::vector<int64_t>(x1.shape().begin(), x1.shape().end()));
  CHECK(read_strided<float>(s1) == std::vector<float>(x1.begin(), x1.end()));
  CHECK(s1.raw_data() != u.raw_data());  // offset view into the same buffer
  CHECK(static_cast<const float*>(s1.raw_data()) == u.data<float>() + 1 * C + (C - 9));
}

TEST_CASE("select drops a dimension", "[tensor]") {
  const int64_t A = 3, B = 5, C = 7;
  Tensor t = iota_f32({A, B, C});
  const float* src = t.data<float>();
  for (int64_t j : {int64_t{0}, int64_t{2}, int64_t{4}, int64_t{-1}, int64_t{-5}}) {
    Tensor s = t.select(1, j);
    REQUIRE(s.shape() == Shape{A, C});
    const int64_t jj = j < 0 ? j + B : j;
    std::vector<float> expected;
    for (int64_t i = 0; i < A; ++i)
      for (int64_t k = 0; k < C; ++k) expected.push_back(src[(i * B + jj) * C + k]);
    CHECK(read_strided<float>(s) == expected);
  }
  Tensor last = t.select(-1, 6);
  REQUIRE(last.shape() == Shape{A, B});
  std::vector<float> expected;
  for (int64_t i = 0; i < A; ++i)
    for (int64_t j = 0; j < B; ++j) expected.push_back(src[(i * B + j) * C + 6]);
  CHECK(read_strided<float>(last) == expected);
  // Down to a scalar.
  Tensor scalar = t.select(0, 2).select(0, 3).select(0, 4);
  CHECK(scalar.rank() == 0);
  CHECK(scalar.numel() == 1);
  CHECK(read_strided<float>(scalar) == std::vector<float>{src[(2 * B + 3) * C + 4]});

  CHECK_THROWS_AS(t.select(1, 5), engine::Error);
  CHECK_THROWS_AS(t.select(1, -6), engine::Error);
  CHECK_THROWS_AS(t.select(3, 0), engine::Error);
  CHECK_THROWS_AS(Tensor::empty(DType::F32, {0}).select(0, 0), engine::Error);
}

TEST_CASE("contiguous and clone of permuted, sliced views gather the right elements", "[tensor]") {
  const int64_t A = 4, B = 6, C = 5;
  Tensor t = iota_f32({A, B, C});
  auto xa = xt::adapt(t.data<float>(), static_cast<size_t>(t.numel()), xt::no_ownership(),
                      std::vector<size_t>{size_t(A), size_t(B), size_t(C)});

  // permute to [B, C, A], then B: 1..5 step 2, A: -3..4 (1..3)
  Tensor v = t.permute({1, 2, 0}).slice(0, 1, 6, 2).slice(2, -3, 4);
  xt::xarray<float> xv = xt::view(xt::transpose(xa, {1, 2, 0}), xt::range(1, 6, 2), xt::all(), xt::range(1, 4));
  const std::vector<float> ref(xv.begin(), xv.end());
  REQUIRE(v.shape().to_vector() == std::vector<int64_t>(xv.shape().begin(), xv.shape().end()));
  CHECK_FALSE(v.is_contiguous());
  CHECK(read_strided<float>(v) == ref);

  for (const Tensor& c : {v.contiguous(), v.clone()}) {
    CHECK(c.is_contiguous());
    CHECK(c.shape() == v.shape());
    CHECK(c.strides().to_vector() == ref_strides(v.shape().to_vector()));
    CHECK(c.raw_data() != t.raw_data());
    CHECK(is_aligned(c.raw_data(), 64));
    const float* p = c.data<float>();
    CHECK(std::vector<float>(p, p + c.numel()) == ref);
  }

  // contiguous() of a contiguous tensor is the same tensor; clone() always copies.
  CHECK(t.contiguous().raw_data() == t.raw_data());
  Tensor cl = t.clone();
  CHECK(cl.raw_data() != t.raw_data());
  CHECK(read_strided<float>(cl) == read_strided<float>(t));

  // Other dtypes: an i32 and a u8 tensor, transposed, through clone().
  for (DType dt : {DType::I32, DType::U8, DType::F16}) {
    Tensor x = Tensor::empty(dt, {7, 3});
    auto* b = static_cast<unsigned char*>(x.raw_data());
    for (size_t i = 0; i < x.nbytes(); ++i) b[i] = static_cast<unsigned char>(i * 37 + 11);
    Tensor y = x.permute({1, 0}).clone();
    const size_t es = engine::dtype_size(dt);
    const auto* yb = static_cast<const unsigned char*>(y.raw_data());
    for (int64_t i = 0; i < 3; ++i)
      for (int64_t j = 0; j < 7; ++j)
        CHECK(std::memcmp(yb + static_cast<size_t>(i * 7 + j) * es, b + static_cast<size_t>(j * 3 + i) * es, es) == 0);
  }

  // 0-element and rank-0 tensors clone fine.
  CHECK(Tensor::empty(DType::F32, {3, 0, 2}).permute({2, 1, 0}).clone().shape() == Shape{2, 0, 3});
  Tensor s0 = iota_f32({});
  CHECK(read_strided<float>(s0.clone()) == read_strided<float>(s0));
}

TEST_CASE("copy_from writes through strides and checks shape and dtype", "[tensor]") {
  Tensor src = iota_f32({3, 7});
  // Destination: a transposed view of a [7, 3] buffer poisoned with NaN.
  Tensor buf = Tensor::empty(DType::F32, {7, 3});
  std::fill_n(buf.data<float>(), 21, std::numeric_limits<float>::quiet_NaN());
  Tensor dst = buf.permute({1, 0});
  dst.copy_from(src);
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 7; ++j) CHECK(buf.data<float>()[j * 3 + i] == src.data<float>()[i * 7 + j]);

  Tensor wrong_shape = Tensor::zeros(DType::F32, {7, 3});
  Tensor wrong_dtype = Tensor::zeros(DType::I32, {3, 7});
  try {
    wrong_shape.copy_from(src);
    FAIL("shape mismatch accepted");
  } catch (const engine::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("shape"));
  }
  try {
    wrong_dtype.copy_from(src);
    FAIL("dtype mismatch accepted");
  } catch (const engine::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("dtype"));
  }
  CHECK_THROWS_AS(Tensor::zeros(DType::F32, {21}).copy_from(src), engine::Error);
  // Nothing was written by the refused copies.
  const float* ws = wrong_shape.data<float>();
  CHECK(std::all_of(ws, ws + 21, [](float f) { return f == 0.0f; }));
  // Empty copies are fine.
  Tensor e1 = Tensor::empty(DType::F32, {0, 3});
  CHECK_NOTHROW(e1.copy_from(Tensor::empty(DType::F32, {0, 3})));
}

TEST_CASE("to(f16/bf16) and back matches the scalar reference", "[tensor]") {
  // Length 2053 crosses the 1024-element blocks of the f16 <-> bf16 path.
  const int64_t n = 2053;
  Tensor t = Tensor::empty(DType::F32, {n});
  float* x = t.data<float>();
  std::mt19937 rng(7);
  std::uniform_int_distribution<uint32_t> bits;
  std::normal_distribution<float> normal(0.0f, 300.0f);
  for (int64_t i = 0; i < n; ++i) x[i] = (i % 3 == 0) ? test_util::bits_f32(bits(rng)) : normal(rng);
  const float specials[] = {0.0f, -0.0f, 65504.0f, 65520.0f, -1e-8f, std::numeric_limits<float>::infinity(),
                            std::numeric_limits<float>::quiet_NaN(), 3.0e38f};
  for (size_t i = 0; i < std::size(specials); ++i) x[i * 5] = specials[i];

  Tensor h = t.to(DType::F16);
  Tensor b = t.to(DType::BF16);
  REQUIRE(h.dtype() == DType::F16);
  REQUIRE(b.dtype() == DType::BF16);
  CHECK(h.shape() == t.shape());
  const uint16_t* hp = h.data<uint16_t>();
  const uint16_t* bp = b.data<uint16_t>();
  for (int64_t i = 0; i < n; ++i) {
    INFO("i=" << i << " bits " << std::hex << test_util::f32_bits(x[i]));
    if (std::isnan(x[i])) {
      CHECK(std::isnan(kernels::ref::f16_to_f32(hp[i])));
      CHECK(std::isnan(kernels::ref::bf16_to_f32(bp[i])));
    } else {
      REQUIRE(hp[i] == kernels::ref::f32_to_f16(x[i]));
      REQUIRE(bp[i] == kernels::ref::f32_to_bf16(x[i]));
    }
  }
  Tensor h32 = h.to(DType::F32);
  Tensor b32 = b.to(DType::F32);
  for (int64_t i = 0; i < n; ++i) {
    const float eh = kernels::ref::f16_to_f32(hp[i]);
    const float eb = kernels::ref::bf16_to_f32(bp[i]);
    REQUIRE(test_util::f32_bits(h32.data<float>()[i]) == test_util::f32_bits(eh));
    REQUIRE(test_util::f32_bits(b32.data<float>()[i]) == test_util::f32_bits(eb));
  }
  // f16 -> bf16 and bf16 -> f16 go through f32 (each rounding once).
  Tensor hb = h.to(DType::BF16);
  Tensor bh = b.to(DType::F16);
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t want_hb = kernels::ref::f32_to_bf16(kernels::ref::f16_to_f32(hp[i]));
    const uint16_t want_bh = kernels::ref::f32_to_f16(kernels::ref::bf16_to_f32(bp[i]));
    if (std::isnan(x[i])) {
      CHECK(std::isnan(kernels::ref::bf16_to_f32(hb.data<uint16_t>()[i])));
      CHECK(std::isnan(kernels::ref::f16_to_f32(bh.data<uint16_t>()[i])));
    } else {
      REQUIRE(hb.data<uint16_t>()[i] == want_hb);
      REQUIRE(bh.data<uint16_t>()[i] == want_bh);
    }
  }
  // Same dtype: the same tensor.
  CHECK(t.to(DType::F32).raw_data() == t.raw_data());
  // A non-contiguous source converts in logical order.
  Tensor m = t.slice(0, 0, 2052).reshape({4, 513}).permute({1, 0});
  Tensor mh = m.to(DType::F16);
  CHECK(mh.is_contiguous());
  const std::vector<float> logical = read_strided<float>(m);
  for (size_t i = 0; i < logical.size(); ++i) {
    if (!std::isnan(logical[i])) REQUIRE(mh.data<uint16_t>()[i] == kernels::ref::f32_to_f16(logical[i]));
  }
  // Integer tensors are not converted.
  CHECK_THROWS_AS(Tensor::zeros(DType::I32, {3}).to(DType::F16), engine::Error);
  CHECK_THROWS_AS(t.to(DType::U8), engine::Error);
}

TEST_CASE("from_blob borrows memory and keeps its owner alive", "[tensor]") {
  auto owner = std::make_shared<std::vector<float>>(35);
  std::iota(owner->begin(), owner->end(), 1.0f);
  std::weak_ptr<std::vector<float>> watch = owner;
  float* raw = owner->data();
  {
    Tensor t = Tensor::from_blob(raw, DType::F32, {5, 7}, owner);
    CHECK(t.raw_data() == raw);
    CHECK(t.is_contiguous());
    CHECK(t.strides().to_vector() == ref_strides({5, 7}));
    CHECK(owner.use_count() == 2);
    Tensor v = t.permute({1, 0}).slice(0, 1, 6, 2);
    CHECK(owner.use_count() == 3);
    owner.reset();
    CHECK_FALSE(watch.expired());
    // Still readable through the views.
    CHECK(read_strided<float>(t)[34] == 35.0f);
    std::vector<float> expected;
    for (int64_t j = 1; j < 6; j += 2)
      for (int64_t i = 0; i < 5; ++i) expected.push_back(static_cast<float>(i * 7 + j + 1));
    CHECK(read_strided<float>(v) == expected);
    t = Tensor();
    CHECK_FALSE(watch.expired());
  }
  CHECK(watch.expired());

  // Without an owner the caller keeps the memory; explicit strides are used as given.
  std::vector<int32_t> local(12);
  std::iota(local.begin(), local.end(), 0);
  Tensor s = Tensor::from_blob(local.data(), DType::I32, {4, 3}, {1, 4});  // column-major view
  CHECK_FALSE(s.is_contiguous());
  std::vector<int32_t> expected;
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) expected.push_back(local[static_cast<size_t>(j * 4 + i)]);
  CHECK(read_strided<int32_t>(s) == expected);
  CHECK_THROWS_AS(Tensor::from_blob(local.data(), DType::I32, {4, 3}, {1}), engine::Error);
  CHECK_THROWS_AS(Tensor::from_blob(local.data(), DType::I32, {4, -3}), engine::Error);
}

TEST_CASE("a default tensor is empty and undefined", "[tensor]") {
  Tensor t;
  CHECK(t.rank() == 0);
  CHECK(t.numel() == 1);
  CHECK_FALSE(t.defined());
  CHECK(t.raw_data() == nullptr);
}
