#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <random>
#include <string>
#include <vector>

#include "engine/error.h"
#include "weights_tools/pickle_reader.h"

using weights_tools::TensorRecord;
using weights_tools::TorchDType;

namespace {

// ---------------------------------------------------------------------------
// A pickle emitter: one method per opcode (numbers from Python's pickle.py /
// pickletools), so that tests can write exactly the bytes torch.save writes.
// ---------------------------------------------------------------------------
class Pickle {
 public:
  std::vector<uint8_t> bytes;

  Pickle& raw(std::initializer_list<uint8_t> b) {
    bytes.insert(bytes.end(), b);
    return *this;
  }
  Pickle& op(uint8_t c) {
    bytes.push_back(c);
    return *this;
  }
  Pickle& text(const std::string& s) {
    bytes.insert(bytes.end(), s.begin(), s.end());
    return *this;
  }
  Pickle& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) bytes.push_back(static_cast<uint8_t>(v >> (8 * i)));
    return *this;
  }

  Pickle& proto(int v) { return op(0x80).op(static_cast<uint8_t>(v)); }
  Pickle& frame(uint64_t n) { return op(0x95).le(n, 8); }
  Pickle& stop() { return op('.'); }
  Pickle& mark() { return op('('); }
  Pickle& empty_tuple() { return op(')'); }
  Pickle& empty_dict() { return op('}'); }
  Pickle& empty_list() { return op(']'); }
  Pickle& none() { return op('N'); }
  Pickle& newfalse() { return op(0x89); }
  Pickle& newtrue() { return op(0x88); }
  Pickle& tuple() { return op('t'); }
  Pickle& tuple1() { return op(0x85); }
  Pickle& tuple2() { return op(0x86); }
  Pickle& tuple3() { return op(0x87); }
  Pickle& reduce() { return op('R'); }
  Pickle& build() { return op('b'); }
  Pickle& setitem() { return op('s'); }
  Pickle& setitems() { return op('u'); }
  Pickle& append() { return op('a'); }
  Pickle& appends() { return op('e'); }
  Pickle& binpersid() { return op('Q'); }
  Pickle& stack_global() { return op(0x93); }
  Pickle& memoize() {
    ++memo_;
    return op(0x94);
  }
  Pickle& global(const std::string& module, const std::string& name) {
    return op('c').text(module + "\n" + name + "\n");
  }
  Pickle& binunicode(const std::string& s) { return op('X').le(s.size(), 4).text(s); }
  Pickle& short_binunicode(const std::string& s) { return op(0x8c).op(static_cast<uint8_t>(s.size())).text(s); }
  Pickle& binput(uint8_t i) { return op('q').op(i); }
  Pickle& long_binput(uint32_t i) { return op('r').le(i, 4); }
  Pickle& binget(uint8_t i) { return op('h').op(i); }
  Pickle& long_binget(uint32_t i) { return op('j').le(i, 4); }
  // Integers the way pickle picks the opcode: BININT1 / BININT2 / BININT / LONG1.
  Pickle& integer(int64_t v) {
    if (v >= 0 && v < 256) return op('K').op(static_cast<uint8_t>(v));
    if (v >= 0 && v < 65536) return op('M').le(static_cast<uint64_t>(v), 2);
    if (v >= INT32_MIN && v <= INT32_MAX) return op('J').le(static_cast<uint64_t>(static_cast<int32_t>(v)), 4);
    // LONG1: minimal little-endian two's complement.
    std::vector<uint8_t> b;
    int64_t x = v;
    for (;;) {
      b.push_back(static_cast<uint8_t>(x & 0xFF));
      const int64_t next = x >> 8;  // arithmetic shift
      const bool sign_ok = ((b.back() & 0x80) != 0) == (next < 0);
      if ((next == 0 || next == -1) && sign_ok) break;
      x = next;
    }
    op(0x8a).op(static_cast<uint8_t>(b.size()));
    bytes.insert(bytes.end(), b.begin(), b.end());
    return *this;
  }
  Pickle& int_tuple(const std::vector<int64_t>& v) {
    if (v.empty()) return empty_tuple();
    if (v.size() > 3) {
      mark();
      for (int64_t x : v) integer(x);
      return tuple();
    }
    for (int64_t x : v) integer(x);
    return op(static_cast<uint8_t>(0x84 + v.size()));
  }

  // Memo helpers: protocol 2 style numbers its entries explicitly.
  uint32_t put() {
    const uint32_t i = memo_++;
    if (i < 256) binput(static_cast<uint8_t>(i));
    else long_binput(i);
    return i;
  }
  Pickle& get(uint32_t i) { return i < 256 ? binget(static_cast<uint8_t>(i)) : long_binget(i); }
  uint32_t next_memo() const { return memo_; }

  std::vector<std::byte> data() const {
    std::vector<std::byte> out(bytes.size());
    for (size_t i = 0; i < bytes.size(); ++i) out[i] = static_cast<std::byte>(bytes[i]);
    return out;
  }

 private:
  uint32_t memo_ = 0;
};

std::vector<TensorRecord> parse(const std::vector<uint8_t>& bytes) {
  // An exactly sized heap copy, so that ASan sees any read past the end.
  std::vector<std::byte> copy(bytes.size());
  for (size_t i = 0; i < bytes.size(); ++i) copy[i] = static_cast<std::byte>(bytes[i]);
  return weights_tools::read_state_dict_pickle(copy.data(), copy.size());
}

struct TensorSpec {
  std::string name;
  std::string storage_class;  // "FloatStorage", ...
  std::string key;
  int64_t numel;
  int64_t offset;
  std::vector<int64_t> shape, stride;
};

// The state_dict pickle torch.save writes with protocol 2: an OrderedDict
// built by REDUCE, its items in one SETITEMS batch, then BUILD with the
// _metadata attribute. `od` is the memo index of the OrderedDict global.
class StateDictP2 {
 public:
  Pickle p;
  uint32_t od = 0;

  void begin() {
    p.proto(2);
    p.global("collections", "OrderedDict");
    od = p.put();
    p.empty_tuple().reduce();
    p.put();
    p.mark();
  }
  // Emits key + _rebuild_tensor_v2(...); returns the memo index of the tensor.
  uint32_t tensor(const TensorSpec& t, int storage_memo = -1) {
    p.binunicode(t.name);
    p.put();
    p.global("torch._utils", "_rebuild_tensor_v2");
    p.put();
    p.mark();
    if (storage_memo >= 0) {
      p.get(static_cast<uint32_t>(storage_memo));
    } else {
      p.mark();
      p.binunicode("storage");
      p.put();
      p.global("torch", t.storage_class);
      p.put();
      p.binunicode(t.key);
      p.put();
      p.binunicode("cpu");
      p.put();
      p.integer(t.numel);
      p.tuple();
      p.put();
      p.binpersid();
      last_storage = static_cast<int>(p.put());
    }
    p.integer(t.offset);
    p.int_tuple(t.shape);
    p.put();
    p.int_tuple(t.stride);
    p.put();
    p.newfalse();
    p.binget(static_cast<uint8_t>(od));
    p.empty_tuple().reduce();
    p.put();
    p.tuple();
    p.put();
    p.reduce();
    return p.put();
  }
  void key_value_ref(const std::string& name, uint32_t memo) {
    p.binunicode(name);
    p.put();
    p.get(memo);
  }
  // SETITEMS, then BUILD({'_metadata': OrderedDict([('', {'version': 1})])}), STOP.
  void end() {
    p.setitems();
    p.empty_dict();
    p.put();
    p.binunicode("_metadata");
    p.put();
    p.binget(static_cast<uint8_t>(od));
    p.empty_tuple().reduce();
    p.put();
    p.binunicode("");
    p.put();
    p.empty_dict();
    p.put();
    p.binunicode("version");
    p.put();
    p.integer(1);
    p.setitem();
    p.setitem();
    p.setitem();
    p.build();
    p.stop();
  }
  int last_storage = -1;
};

const std::vector<TensorSpec> kSpecs = {
    {"image_encoder.pos_embed", "FloatStorage", "0", 6, 0, {2, 3}, {3, 1}},
    {"blocks.0.norm.bias", "HalfStorage", "1", 5, 2, {3}, {1}},
    {"scalar", "BFloat16Storage", "k_2", 1, 0, {}, {}},
    {"empty", "LongStorage", "3", 0, 0, {0, 4}, {4, 1}},
    {"big", "FloatStorage", "4", 70000, 300, {5, 7, 11, 13, 2}, {2002, 286, 26, 2, 1}},
};

// The valid reference pickle: kSpecs, then a view sharing storage "0"
// (memoized storage object) and a key tied to the first tensor object.
std::vector<uint8_t> valid_pickle() {
  StateDictP2 s;
  s.begin();
  int storage0 = -1;
  uint32_t first = 0;
  for (size_t i = 0; i < kSpecs.size(); ++i) {
    const uint32_t m = s.tensor(kSpecs[i]);
    if (i == 0) {
      storage0 = s.last_storage;
      first = m;
    }
  }
  s.tensor({"transposed_view", "FloatStorage", "0", 6, 0, {3, 2}, {1, 3}}, storage0);
  s.key_value_ref("tied", first);
  s.end();
  return s.p.bytes;
}

void check_record(const TensorRecord& r, const TensorSpec& s, TorchDType dtype) {
  INFO("record " << s.name);
  CHECK(r.name == s.name);
  CHECK(r.storage_key == s.key);
  CHECK(r.dtype == dtype);
  CHECK(r.storage_numel == s.numel);
  CHECK(r.storage_offset == s.offset);
  CHECK(r.shape == s.shape);
  CHECK(r.strides == s.stride);
}

TorchDType dtype_of(const std::string& storage) {
  const auto d = weights_tools::torch_dtype_from_storage(storage);
  REQUIRE(d.has_value());
  return *d;
}

void require_refused(const std::vector<uint8_t>& bytes, const std::string& word) {
  INFO("expecting an engine::Error mentioning '" << word << "'");
  try {
    (void)parse(bytes);
    FAIL("accepted");
  } catch (const engine::Error& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains(word, Catch::CaseSensitive::No));
  }
}

// A pickle whose whole content is `body` after PROTO 2, with STOP appended.
std::vector<uint8_t> wrap(const Pickle& body) {
  Pickle p;
  p.proto(2);
  p.bytes.insert(p.bytes.end(), body.bytes.begin(), body.bytes.end());
  p.stop();
  return p.bytes;
}

// {name: _rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())}
std::vector<uint8_t> one_tensor(const TensorSpec& t) {
  StateDictP2 s;
  s.begin();
  s.tensor(t);
  s.end();
  return s.p.bytes;
}

}  // namespace

TEST_CASE("a protocol-2 state_dict pickle parses into tensor records", "[pickle]") {
  const std::vector<uint8_t> bytes = valid_pickle();
  const std::vector<TensorRecord> recs = parse(bytes);
  REQUIRE(recs.size() == kSpecs.size() + 2);
  for (size_t i = 0; i < kSpecs.size(); ++i) check_record(recs[i], kSpecs[i], dtype_of(kSpecs[i].storage_class));
  check_record(recs[kSpecs.size()], {"transposed_view", "", "0", 6, 0, {3, 2}, {1, 3}}, TorchDType::F32);
  TensorSpec tied = kSpecs[0];
  tied.name = "tied";
  check_record(recs[kSpecs.size() + 1], tied, TorchDType::F32);
}

TEST_CASE("SETITEM per key, _rebuild_parameter and large integers", "[pickle]") {
  StateDictP2 s;
  s.p.proto(2);
  s.p.global("collections", "OrderedDict");
  s.od = s.p.put();
  s.p.empty_tuple().reduce();
  s.p.put();
  // 'w': _rebuild_parameter(_rebuild_tensor_v2(...), True, OrderedDict()) with SETITEM.
  s.p.binunicode("w");
  s.p.put();
  s.p.global("torch._utils", "_rebuild_parameter");
  s.p.put();
  s.p.global("torch._utils", "_rebuild_tensor_v2");
  s.p.put();
  s.p.mark();
  s.p.mark().binunicode("storage").global("torch", "DoubleStorage").binunicode("x9").binunicode("cuda:0");
  const int64_t big = int64_t{3} << 33;  // needs LONG1
  s.p.integer(big).tuple().binpersid();
  s.p.integer(int64_t{1} << 32);  // offset via LONG1 (5 bytes)
  s.p.int_tuple({2}).int_tuple({1 << 20});
  s.p.newfalse().binget(static_cast<uint8_t>(s.od)).empty_tuple().reduce().tuple().reduce();
  s.p.newtrue().binget(static_cast<uint8_t>(s.od)).empty_tuple().reduce().tuple3().reduce();
  s.p.setitem();
  s.p.stop();
  const auto recs = parse(s.p.bytes);
  REQUIRE(recs.size() == 1);
  check_record(recs[0], {"w", "", "x9", big, int64_t{1} << 32, {2}, {1 << 20}}, TorchDType::F64);
}

TEST_CASE("a protocol-4 style pickle (STACK_GLOBAL, MEMOIZE, FRAME, LONG_BINGET)", "[pickle]") {
  Pickle p;
  p.proto(4);
  p.frame(1000);  // a length hint only
  p.short_binunicode("collections").memoize().short_binunicode("OrderedDict").memoize().stack_global();
  const uint32_t od = p.next_memo();
  p.memoize();
  p.empty_tuple().reduce().memoize();
  p.mark();
  uint32_t storage_memo = 0;
  uint32_t tensor_memo = 0;
  const std::vector<TensorSpec> specs = {{"a.weight", "HalfStorage", "0", 12, 0, {3, 4}, {4, 1}},
                                         {"a.bias", "IntStorage", "1", 3, 1, {2}, {1}}};
  for (size_t i = 0; i < specs.size(); ++i) {
    const TensorSpec& t = specs[i];
    p.short_binunicode(t.name).memoize();
    p.short_binunicode("torch._utils").memoize().short_binunicode("_rebuild_tensor_v2").memoize().stack_global();
    p.memoize();
    p.mark();  // arguments of _rebuild_tensor_v2
    p.mark();  // the persistent id tuple
    p.short_binunicode("storage").memoize();
    p.short_binunicode("torch").memoize().short_binunicode(t.storage_class).memoize().stack_global().memoize();
    p.short_binunicode(t.key).memoize().short_binunicode("cpu").memoize().integer(t.numel);
    p.tuple().memoize().binpersid();
    if (i == 0) storage_memo = p.next_memo();
    p.memoize();
    p.integer(t.offset).int_tuple(t.shape).memoize().int_tuple(t.stride).memoize();
    p.newfalse().long_binget(od).empty_tuple().reduce().memoize();
    p.tuple().memoize().reduce();
    if (i == 0) tensor_memo = p.next_memo();
    p.memoize();
  }
  // A view of the first storage (LONG_BINGET of the memoized storage) and a tied key.
  p.short_binunicode("a.weight_t").memoize();
  p.short_binunicode("torch._utils").memoize().short_binunicode("_rebuild_tensor_v2").memoize().stack_global();
  p.memoize().mark().long_binget(storage_memo).integer(2).int_tuple({2, 3}).int_tuple({1, 4});
  p.newfalse().long_binget(od).empty_tuple().reduce().tuple().reduce().memoize();
  p.short_binunicode("tied").memoize().long_binget(tensor_memo);
  p.setitems();
  p.empty_dict().memoize().short_binunicode("_metadata").memoize().long_binget(od).empty_tuple().reduce();
  p.memoize().setitem().build();
  p.stop();

  const auto recs = parse(p.bytes);
  REQUIRE(recs.size() == 4);
  check_record(recs[0], specs[0], TorchDType::F16);
  check_record(recs[1], specs[1], TorchDType::I32);
  check_record(recs[2], {"a.weight_t", "", "0", 12, 2, {2, 3}, {1, 4}}, TorchDType::F16);
  TensorSpec tied = specs[0];
  tied.name = "tied";
  check_record(recs[3], tied, TorchDType::F16);
}

TEST_CASE("forbidden globals are refused before anything is called", "[pickle]") {
  const std::vector<std::pair<std::string, std::string>> forbidden = {
      {"os", "system"},        {"builtins", "eval"},        {"posix", "system"},
      {"torch", "load"},       {"subprocess", "Popen"},     {"torch", "ComplexFloatStorage"},
      {"__builtin__", "exec"}, {"torch._utils", "_rebuild_tensor"}, {"collections", "OrderedDict "},
      {"nt", "system"},        {"torch.storage", "_load_from_bytes"}};
  for (const auto& [module, name] : forbidden) {
    INFO(module << "." << name);
    // As GLOBAL, at the top of an otherwise reasonable call ...
    Pickle g;
    g.global(module, name).mark().binunicode("echo hi").tuple().reduce();
    require_refused(wrap(g), "forbidden");
    // ... and through STACK_GLOBAL.
    Pickle s;
    s.short_binunicode(module).short_binunicode(name).stack_global().empty_tuple().reduce();
    require_refused(wrap(s), "forbidden");
  }
  // Inside an otherwise valid state_dict: a storage of an unknown class.
  TensorSpec t = kSpecs[0];
  t.storage_class = "ComplexFloatStorage";
  require_refused(one_tensor(t), "forbidden");
}

TEST_CASE("malformed pickles are refused with a reason", "[pickle]") {
  // Unknown / unsupported opcodes.
  for (uint8_t bad : {uint8_t{0xFF}, uint8_t{'i'}, uint8_t{'o'}, uint8_t{'I'}, uint8_t{'V'}, uint8_t{'P'},
                      uint8_t{0x82}, uint8_t{0x96}}) {
    Pickle p;
    p.op(bad);
    require_refused(wrap(p), "opcode");
  }
  {
    Pickle p;
    p.proto(6).empty_dict().stop();
    require_refused(p.bytes, "protocol");
  }
  // STOP with extra stack items, with an open MARK, on an empty stack.
  {
    Pickle p;
    p.empty_dict().empty_dict();
    require_refused(wrap(p), "stack");
    Pickle q;
    q.mark().empty_dict();
    require_refused(wrap(q), "stack");
    require_refused(wrap(Pickle()), "stack");
  }
  // SETITEMS / TUPLE / APPENDS without MARK.
  {
    Pickle p;
    p.empty_dict().binunicode("a").integer(1).setitems();
    require_refused(wrap(p), "MARK");
    Pickle t;
    t.integer(1).tuple();
    require_refused(wrap(t), "MARK");
    Pickle a;
    a.empty_list().integer(1).appends();
    require_refused(wrap(a), "MARK");
  }
  // Pops below the MARK or from an empty stack.
  {
    Pickle p;
    p.empty_dict().mark().setitem();
    require_refused(wrap(p), "stack");
    Pickle r;
    r.reduce();
    require_refused(wrap(r), "stack");
    Pickle t;
    t.integer(1).tuple2();
    require_refused(wrap(t), "stack");
  }
  // Memo: get of an unset index, LONG_BINGET far out, put on an empty stack.
  {
    Pickle p;
    p.empty_dict().binput(0).binget(5);
    require_refused(wrap(p), "memo");
    Pickle q;
    q.empty_dict().long_binget(0xFFFFFFFFu);
    require_refused(wrap(q), "memo");
    Pickle r;
    r.empty_dict().long_binput(0xFFFFFFFFu);
    require_refused(wrap(r), "memo");
    Pickle s;
    s.binput(0);
    require_refused(wrap(s), "stack");
  }
  // Lengths past the end of the data.
  {
    Pickle p;
    p.op('X').le(0xFFFFFFFFu, 4).text("abc");
    require_refused(wrap(p), "past the end");
    Pickle q;
    q.op(0x8d).le(uint64_t{1} << 63, 8).text("abc");
    require_refused(wrap(q), "past the end");
    Pickle r;
    r.op(0x8c).op(200).text("short");
    require_refused(r.bytes, "past the end");
    Pickle f;
    f.proto(4).op(0x95).le(5, 4);  // FRAME with a cut length
    require_refused(f.bytes, "ends early");
  }
  // LONG1 with 200 bytes.
  {
    Pickle p;
    p.op(0x8a).op(200);
    for (int i = 0; i < 200; ++i) p.op(0x7F);
    require_refused(wrap(p), "too large");
  }
  // A GLOBAL line that never ends.
  {
    Pickle p;
    p.op('c').text(std::string(1000, 'a'));
    require_refused(wrap(p), "too long");
  }
}

TEST_CASE("structures that are not a state_dict of tensors are refused", "[pickle]") {
  {
    Pickle p;
    p.empty_list();
    require_refused(wrap(p), "state_dict");
    Pickle n;
    n.none();
    require_refused(wrap(n), "state_dict");
    Pickle t;
    t.integer(7).tuple1();
    require_refused(wrap(t), "state_dict");
  }
  {
    Pickle p;  // {'a': 1}
    p.empty_dict().binunicode("a").integer(1).setitem();
    require_refused(wrap(p), "not a tensor");
  }
  {
    Pickle p;  // {1: {}}: non-string key
    p.empty_dict().integer(1).empty_dict().setitem();
    require_refused(wrap(p), "key");
  }
  {
    // A wrapped state_dict: {'model': OrderedDict(...tensors...), 'epoch': 3} gives the
    // inner tensors; with a tensor of its own at the top level it stays a nested dict.
    StateDictP2 inner;
    inner.begin();
    inner.tensor(kSpecs[0]);
    inner.p.setitems();  // the inner dict is complete; no BUILD, no STOP
    Pickle outer;
    outer.proto(2).empty_dict().mark().binunicode("model");
    outer.bytes.insert(outer.bytes.end(), inner.p.bytes.begin() + 2, inner.p.bytes.end());  // skip its PROTO
    outer.binunicode("epoch").integer(3).setitems().stop();
    const std::vector<TensorRecord> recs = parse(outer.bytes);
    REQUIRE(recs.size() == 1);
    check_record(recs[0], kSpecs[0], dtype_of(kSpecs[0].storage_class));
    Pickle other;  // the same dict under another key is not a state_dict
    other.proto(2).empty_dict().mark().binunicode("optimizer");
    other.bytes.insert(other.bytes.end(), inner.p.bytes.begin() + 2, inner.p.bytes.end());
    other.setitems().stop();
    require_refused(other.bytes, "nested dict");
  }
  {
    // Duplicate key, the second one a BINGET of the first tensor.
    StateDictP2 s;
    s.begin();
    const uint32_t m = s.tensor(kSpecs[0]);
    s.key_value_ref(kSpecs[0].name, m);
    s.end();
    require_refused(s.p.bytes, "twice");
  }
  // Views outside their storage, negative strides and offsets.
  {
    TensorSpec t{"w", "FloatStorage", "0", 6, 0, {3, 3}, {3, 1}};  // needs 9 elements
    require_refused(one_tensor(t), "storage");
    t = {"w", "FloatStorage", "0", 6, 1, {2, 3}, {3, 1}};  // offset pushes the last element to 6
    require_refused(one_tensor(t), "storage");
    t = {"w", "FloatStorage", "0", 6, 0, {2, 3}, {3, -1}};
    require_refused(one_tensor(t), "negative");
    t = {"w", "FloatStorage", "0", 6, -1, {2, 3}, {3, 1}};
    require_refused(one_tensor(t), "negative");
    t = {"w", "FloatStorage", "0", 6, 0, {-2, 3}, {3, 1}};
    require_refused(one_tensor(t), "negative");
    t = {"w", "FloatStorage", "0", -6, 0, {2, 3}, {3, 1}};
    require_refused(one_tensor(t), "negative");
    t = {"w", "FloatStorage", "0", INT64_MAX, 0, {INT64_MAX / 2, 3}, {3, 1}};  // bounds overflow
    require_refused(one_tensor(t), "overflow");
    t = {"w", "FloatStorage", "0", 6, 0, {2, 3}, {3}};
    require_refused(one_tensor(t), "rank");
    // Exactly at the end of the storage is fine.
    t = {"w", "FloatStorage", "0", 7, 1, {2, 3}, {3, 1}};
    CHECK(parse(one_tensor(t)).size() == 1);
  }
  {
    // Storage keys must be plain names (they become archive paths).
    TensorSpec t{"w", "FloatStorage", "../../etc/passwd", 6, 0, {2, 3}, {3, 1}};
    require_refused(one_tensor(t), "plain name");
    t.key = "";
    require_refused(one_tensor(t), "plain name");
  }
  {
    // Persistent id tuples of the wrong arity / kind.
    Pickle p;
    p.mark().binunicode("storage").global("torch", "FloatStorage").binunicode("0").binunicode("cpu").tuple();
    p.binpersid();
    require_refused(wrap(p), "persistent id");
    Pickle q;
    q.mark().binunicode("storage").global("torch", "FloatStorage").binunicode("0").binunicode("cpu").integer(6);
    q.integer(7).tuple().binpersid();
    require_refused(wrap(q), "persistent id");
    Pickle r;
    r.mark().binunicode("module").global("torch", "FloatStorage").binunicode("0").binunicode("cpu").integer(6);
    r.tuple().binpersid();
    require_refused(wrap(r), "persistent id");
    Pickle s;
    s.binunicode("storage").binpersid();
    require_refused(wrap(s), "persistent id");
  }
  {
    // Calls that torch.save never writes.
    Pickle p;
    p.global("collections", "OrderedDict").mark().integer(1).tuple().reduce();
    require_refused(wrap(p), "arguments");
    Pickle q;
    q.global("torch._utils", "_rebuild_tensor_v2").mark().integer(1).integer(2).tuple().reduce();
    require_refused(wrap(q), "_rebuild_tensor_v2");
    Pickle r;
    r.global("torch", "FloatStorage").empty_tuple().reduce();
    require_refused(wrap(r), "cannot be called");
    Pickle s;
    s.binunicode("x").empty_tuple().reduce();
    require_refused(wrap(s), "REDUCE");
  }
}

TEST_CASE("every truncation of a valid pickle is refused", "[pickle]") {
  const std::vector<uint8_t> bytes = valid_pickle();
  REQUIRE(parse(bytes).size() == kSpecs.size() + 2);
  for (size_t len = 0; len < bytes.size(); ++len) {
    const std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<long>(len));
    try {
      (void)parse(prefix);
      FAIL("prefix of " << len << " bytes accepted");
    } catch (const engine::Error&) {
    } catch (const std::exception& e) {
      FAIL("prefix of " << len << " bytes: not an engine::Error: " << e.what());
    }
  }
}

TEST_CASE("randomly mutated pickles either parse or throw engine::Error", "[pickle]") {
  const std::vector<uint8_t> bytes = valid_pickle();
  std::mt19937 rng(20240601);
  size_t accepted = 0, refused = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    std::vector<uint8_t> m = bytes;
    const int n_mut = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n_mut; ++k) {
      const size_t pos = rng() % m.size();
      switch (rng() % 4) {
        case 0: m[pos] = static_cast<uint8_t>(rng()); break;                    // random byte
        case 1: m[pos] ^= static_cast<uint8_t>(1u << (rng() % 8)); break;       // bit flip
        case 2: m[pos] = static_cast<uint8_t>(m[pos] + 1); break;               // off by one
        default: m.erase(m.begin() + static_cast<long>(pos)); break;           // deletion
      }
      if (m.empty()) m.push_back('.');
    }
    try {
      (void)parse(m);
      ++accepted;
    } catch (const engine::Error&) {
      ++refused;
    } catch (const std::exception& e) {
      FAIL("iteration " << iter << ": " << e.what());
    } catch (...) {
      FAIL("iteration " << iter << ": unknown exception");
    }
  }
  CHECK(accepted + refused == 20000);
  CHECK(refused > 10000);
}

// Under ASan, LeakSanitizer checks that the reference cycles were broken.
TEST_CASE("self-referencing containers are refused without leaking", "[pickle]") {
  {
    // A list that contains itself, a dict that contains itself.
    Pickle p;
    p.empty_list().binput(0).binget(0).append();
    require_refused(wrap(p), "state_dict");
    Pickle d;
    d.empty_dict().binput(0).binunicode("self").binget(0).setitem();
    require_refused(wrap(d), "nested dict");
    Pickle c;  // a two-element cycle
    c.empty_list().binput(0).empty_list().binput(1).binget(0).append().append();
    c.binget(1).binget(0).append();
    require_refused(wrap(c), "stack");
  }
}

TEST_CASE("deeply nested containers are refused without exhausting the C++ stack", "[pickle]") {
  {
    // Lists nested a few hundred thousand deep: [[[[...]]]].
    const int depth = 400000;
    Pickle p;
    for (int i = 0; i < depth; ++i) p.empty_list();
    for (int i = 1; i < depth; ++i) p.append();
    require_refused(wrap(p), "state_dict");
  }
}
