#include "pickle_reader.h"

#include <cstring>
#include <map>
#include <memory>
#include <set>

#include "engine/error.h"
#include "engine/shape.h"

namespace weights_tools {
namespace {

using engine::check;

constexpr size_t kMaxStackDepth = 1u << 20;
constexpr size_t kMaxMemo = 1u << 20;
// Items in all tuples, lists and dicts together.
constexpr size_t kMaxContainerItems = 1u << 22;
// Objects built in all (each a few hundred bytes): vit_h's state_dict needs
// about 20 thousand; this bounds memory at a few hundred MB whatever the input.
constexpr size_t kMaxObjects = 1u << 20;

struct Value;
using ValuePtr = std::shared_ptr<Value>;

// The kinds of object a state_dict pickle can build.
enum class Kind { None, Bool, Int, Float, String, Tuple, List, Dict, Global, Storage, Tensor };

struct Value {
  Kind kind = Kind::None;
  bool boolean = false;
  int64_t integer = 0;
  double real = 0;
  std::string text;                  // String; Global: "module.name"
  std::vector<ValuePtr> items;       // Tuple, List
  std::vector<std::pair<ValuePtr, ValuePtr>> entries;  // Dict
  TensorRecord tensor;               // Storage (storage fields) and Tensor
  bool tracked = false;              // container registered with its Unpickler
};

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::None: return "None";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::Tuple: return "tuple";
    case Kind::List: return "list";
    case Kind::Dict: return "dict";
    case Kind::Global: return "global";
    case Kind::Storage: return "storage";
    case Kind::Tensor: return "tensor";
  }
  return "?";
}

ValuePtr new_value(Kind k) {
  auto v = std::make_shared<Value>();
  v->kind = k;
  return v;
}

// The globals torch.save emits for a state_dict; everything else is refused.
const std::set<std::string>& allowed_globals() {
  static const std::set<std::string> allowed = [] {
    std::set<std::string> s = {"collections.OrderedDict", "torch._utils._rebuild_tensor_v2",
                               "torch._utils._rebuild_parameter"};
    for (const char* st : {"FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage", "LongStorage",
                           "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage"})
      s.insert(std::string("torch.") + st);
    return s;
  }();
  return allowed;
}

class Unpickler {
 public:
  Unpickler(const std::byte* data, size_t size) : p_(reinterpret_cast<const uint8_t*>(data)), size_(size) {}
  Unpickler(const Unpickler&) = delete;
  Unpickler& operator=(const Unpickler&) = delete;
  // Containers may nest as deep as the stack allows, or contain themselves
  // through the memo. Drop their children while containers_ still holds every
  // one of them: nothing is freed recursively and reference cycles are broken.
  ~Unpickler() {
    for (const ValuePtr& c : containers_) {
      c->items.clear();
      c->entries.clear();
    }
  }

  ValuePtr run() {
    for (;;) {
      op_offset_ = pos_;
      const uint8_t op = u8();
      switch (op) {
        case 0x80: {  // PROTO
          const uint8_t version = u8();
          check(version >= 2 && version <= 5, "unsupported pickle protocol {}", version);
          break;
        }
        case 0x95: skip(8); break;  // FRAME: a length hint only
        case '.': {                 // STOP
          check(stack_.size() == 1 && marks_.empty(), "malformed pickle: {} values left on the stack at STOP",
                stack_.size());
          return stack_.back();
        }
        case '(':  // MARK
          if (marks_.size() >= kMaxStackDepth) bad("pickle marks nested too deep");
          marks_.push_back(stack_.size());
          break;
        case '}': push(make(Kind::Dict)); break;
        case ']': push(make(Kind::List)); break;
        case ')': push(make(Kind::Tuple)); break;
        case 'N': push(make(Kind::None)); break;
        case 0x88: push_bool(true); break;   // NEWTRUE
        case 0x89: push_bool(false); break;  // NEWFALSE
        case 'J': push_int(static_cast<int32_t>(le(4))); break;  // BININT
        case 'K': push_int(u8()); break;                         // BININT1
        case 'M': push_int(static_cast<int64_t>(le(2))); break;  // BININT2
        case 0x8a: {                                             // LONG1
          const uint8_t n = u8();
          check(n <= 8, "pickle integer of {} bytes is too large", n);
          uint64_t v = n ? le(n) : 0;
          if (n > 0 && n < 8 && (v >> (8 * n - 1)) & 1) v |= ~uint64_t{0} << (8 * n);  // sign-extend
          push_int(static_cast<int64_t>(v));
          break;
        }
        case 'G': {  // BINFLOAT (big-endian double)
          uint64_t bits = 0;
          for (int i = 0; i < 8; ++i) bits = (bits << 8) | u8();
          auto v = make(Kind::Float);
          std::memcpy(&v->real, &bits, 8);
          push(v);
          break;
        }
        case 'X': push_string(le(4)); break;     // BINUNICODE
        case 0x8c: push_string(u8()); break;     // SHORT_BINUNICODE
        case 0x8d: push_string(le(8)); break;    // BINUNICODE8
        case 't': {                               // TUPLE
          auto t = make(Kind::Tuple);
          t->items = pop_to_mark();
          count_items(t->items.size());
          push(t);
          break;
        }
        case 0x85: case 0x86: case 0x87: {  // TUPLE1..3
          const size_t n = static_cast<size_t>(op - 0x84);
          check(stack_.size() >= base() + n, "malformed pickle: TUPLE{} on a short stack", n);
          auto t = make(Kind::Tuple);
          t->items.assign(stack_.end() - static_cast<long>(n), stack_.end());
          stack_.resize(stack_.size() - n);
          push(t);
          break;
        }
        case 'q': memo_put(u8()); break;                 // BINPUT
        case 'r': memo_put(le(4)); break;                // LONG_BINPUT
        case 0x94: memo_put(memo_.size()); break;        // MEMOIZE
        case 'h': memo_get(u8()); break;                 // BINGET
        case 'j': memo_get(le(4)); break;                // LONG_BINGET
        case 'c': {                                      // GLOBAL "module\nname\n"
          const std::string module = line();
          const std::string name = line();
          push_global(module, name);
          break;
        }
        case 0x93: {  // STACK_GLOBAL
          ValuePtr name = pop();
          ValuePtr module = pop();
          check(module->kind == Kind::String && name->kind == Kind::String, "malformed pickle: STACK_GLOBAL");
          push_global(module->text, name->text);
          break;
        }
        case 'Q': {  // BINPERSID
          push(persistent_load(pop()));
          break;
        }
        case 'R': {  // REDUCE
          ValuePtr args = pop();
          ValuePtr callable = pop();
          push(reduce(callable, args));
          break;
        }
        case 0x81: {  // NEWOBJ: cls.__new__(cls, *args); only OrderedDict is allowed
          ValuePtr args = pop();
          ValuePtr cls = pop();
          push(reduce(cls, args));
          break;
        }
        case 'b': {  // BUILD: only an OrderedDict's __dict__ (the state_dict's _metadata)
          ValuePtr state = pop();
          ValuePtr obj = top();
          check(obj->kind == Kind::Dict, "malformed pickle: BUILD on a {}", kind_name(obj->kind));
          (void)state;  // module versions of the state_dict; not needed
          break;
        }
        case 's': {  // SETITEM
          ValuePtr value = pop();
          ValuePtr key = pop();
          dict_insert(top(), key, value);
          break;
        }
        case 'u': {  // SETITEMS
          std::vector<ValuePtr> kv = pop_to_mark();
          check(kv.size() % 2 == 0, "malformed pickle: SETITEMS with an odd number of items");
          ValuePtr d = top();
          for (size_t i = 0; i < kv.size(); i += 2) dict_insert(d, kv[i], kv[i + 1]);
          break;
        }
        case 'a': {  // APPEND
          ValuePtr v = pop();
          list_append(top(), {v});
          break;
        }
        case 'e': {  // APPENDS
          std::vector<ValuePtr> items = pop_to_mark();
          list_append(top(), items);
          break;
        }
        default:
          engine::fail("unsupported pickle opcode 0x{:02x} at offset {} (not something torch.save writes for a "
                       "state_dict)",
                       op, op_offset_);
      }
    }
  }

 private:
  template <typename... Args>
  [[noreturn]] void bad(fmt::format_string<Args...> f, Args&&... args) {
    engine::fail("{} (pickle offset {})", fmt::format(f, std::forward<Args>(args)...), op_offset_);
  }

  uint8_t u8() {
    if (pos_ >= size_) bad("pickle data ends early");
    return p_[pos_++];
  }
  void skip(size_t n) {
    if (n > size_ - pos_) bad("pickle data ends early");
    pos_ += n;
  }
  uint64_t le(int n) {
    if (static_cast<size_t>(n) > size_ - pos_) bad("pickle data ends early");
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; --i) v = (v << 8) | p_[pos_ + static_cast<size_t>(i)];
    pos_ += static_cast<size_t>(n);
    return v;
  }
  std::string line() {
    const size_t start = pos_;
    while (pos_ < size_ && p_[pos_] != '\n') {
      if (pos_ - start > 256) bad("pickle GLOBAL name too long");
      ++pos_;
    }
    if (pos_ >= size_) bad("pickle data ends early");
    return std::string(reinterpret_cast<const char*>(p_ + start), pos_++ - start);
  }

  ValuePtr make(Kind k) {
    if (++objects_ > kMaxObjects) bad("pickle builds more than {} objects", kMaxObjects);
    return new_value(k);
  }
  void count_items(size_t n) {
    items_ += n;
    if (items_ > kMaxContainerItems) bad("pickle containers hold more than {} items", kMaxContainerItems);
  }
  size_t base() const { return marks_.empty() ? 0 : marks_.back(); }
  void push(ValuePtr v) {
    if (stack_.size() >= kMaxStackDepth) bad("pickle stack too deep");
    if (!v->tracked && (v->kind == Kind::Tuple || v->kind == Kind::List || v->kind == Kind::Dict)) {
      v->tracked = true;
      containers_.push_back(v);
    }
    stack_.push_back(std::move(v));
  }
  ValuePtr pop() {
    if (stack_.size() <= base()) bad("malformed pickle: pop from an empty stack");
    ValuePtr v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  ValuePtr top() {
    if (stack_.size() <= base()) bad("malformed pickle: empty stack");
    return stack_.back();
  }
  std::vector<ValuePtr> pop_to_mark() {
    if (marks_.empty()) bad("malformed pickle: no MARK");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<ValuePtr> items(stack_.begin() + static_cast<long>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  void push_bool(bool b) {
    auto v = make(Kind::Bool);
    v->boolean = b;
    push(v);
  }
  void push_int(int64_t i) {
    auto v = make(Kind::Int);
    v->integer = i;
    push(v);
  }
  void push_string(uint64_t n) {
    if (n > size_ - pos_) bad("pickle string of {} bytes runs past the end of the data", n);
    auto v = make(Kind::String);
    v->text.assign(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    push(v);
  }
  void push_global(const std::string& module, const std::string& name) {
    const std::string full = module + "." + name;
    if (!allowed_globals().count(full)) {
      engine::fail("forbidden pickle global '{}' at offset {}: only the globals torch.save writes for a state_dict "
                   "are allowed; nothing from the file was executed",
                   full, op_offset_);
    }
    auto v = make(Kind::Global);
    v->text = full;
    push(v);
  }
  void memo_put(uint64_t index) {
    if (index >= kMaxMemo) bad("pickle memo index {} too large", index);
    memo_[static_cast<uint32_t>(index)] = top();
  }
  void memo_get(uint64_t index) {
    auto it = memo_.find(static_cast<uint32_t>(index));
    if (index >= kMaxMemo || it == memo_.end()) bad("pickle refers to memo entry {} that was never stored", index);
    push(it->second);
  }
  void dict_insert(const ValuePtr& d, const ValuePtr& key, const ValuePtr& value) {
    if (d->kind != Kind::Dict) bad("malformed pickle: SETITEM on a {}", kind_name(d->kind));
    count_items(1);
    d->entries.emplace_back(key, value);
  }
  void list_append(const ValuePtr& l, const std::vector<ValuePtr>& items) {
    if (l->kind != Kind::List) bad("malformed pickle: APPEND on a {}", kind_name(l->kind));
    count_items(items.size());
    l->items.insert(l->items.end(), items.begin(), items.end());
  }

  static int64_t as_int(const ValuePtr& v, const char* what, size_t offset) {
    if (v->kind != Kind::Int) engine::fail("malformed tensor record: {} is a {}, not an int (pickle offset {})", what,
                                           kind_name(v->kind), offset);
    return v->integer;
  }
  std::vector<int64_t> int_tuple(const ValuePtr& v, const char* what) {
    if (v->kind != Kind::Tuple) bad("malformed tensor record: {} is a {}, not a tuple", what, kind_name(v->kind));
    if (v->items.size() > 16) bad("tensor with {} dimensions", v->items.size());
    std::vector<int64_t> out;
    for (const ValuePtr& x : v->items) out.push_back(as_int(x, what, op_offset_));
    return out;
  }

  // ('storage', torch.FloatStorage, '<key>', '<location>', numel)
  ValuePtr persistent_load(const ValuePtr& pid) {
    if (pid->kind != Kind::Tuple || pid->items.size() != 5 || pid->items[0]->kind != Kind::String ||
        pid->items[0]->text != "storage")
      bad("unsupported persistent id (expected a torch storage reference)");
    const ValuePtr& type = pid->items[1];
    if (type->kind != Kind::Global || type->text.rfind("torch.", 0) != 0) bad("persistent id without a storage type");
    const auto dtype = torch_dtype_from_storage(type->text.substr(6));
    if (!dtype) bad("unknown storage type '{}'", type->text);
    const ValuePtr& key = pid->items[2];
    if (key->kind != Kind::String || key->text.empty() || key->text.size() > 64 ||
        key->text.find_first_not_of("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_") !=
            std::string::npos)
      bad("storage key is not a plain name");
    if (pid->items[3]->kind != Kind::String) bad("storage location is not a string");
    const int64_t numel = as_int(pid->items[4], "storage size", op_offset_);
    if (numel < 0) bad("negative storage size {}", numel);
    auto v = make(Kind::Storage);
    v->tensor.storage_key = key->text;
    v->tensor.dtype = *dtype;
    v->tensor.storage_numel = numel;
    return v;
  }

  ValuePtr reduce(const ValuePtr& callable, const ValuePtr& args) {
    if (callable->kind != Kind::Global) bad("malformed pickle: REDUCE on a {}", kind_name(callable->kind));
    if (args->kind != Kind::Tuple) bad("malformed pickle: REDUCE arguments are not a tuple");
    const std::string& fn = callable->text;
    if (fn == "collections.OrderedDict") {
      if (!args->items.empty()) bad("OrderedDict called with arguments");
      return make(Kind::Dict);
    }
    if (fn == "torch._utils._rebuild_parameter") {
      if (args->items.size() != 3 || args->items[0]->kind != Kind::Tensor) bad("malformed _rebuild_parameter call");
      return args->items[0];
    }
    if (fn == "torch._utils._rebuild_tensor_v2") {
      // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
      if (args->items.size() < 6 || args->items.size() > 7 || args->items[0]->kind != Kind::Storage)
        bad("malformed _rebuild_tensor_v2 call");
      auto t = make(Kind::Tensor);
      t->tensor = args->items[0]->tensor;
      t->tensor.storage_offset = as_int(args->items[1], "storage offset", op_offset_);
      t->tensor.shape = int_tuple(args->items[2], "size");
      t->tensor.strides = int_tuple(args->items[3], "stride");
      if (t->tensor.shape.size() != t->tensor.strides.size()) bad("tensor size and stride differ in rank");
      return t;
    }
    bad("'{}' cannot be called", fn);
  }

  const uint8_t* p_;
  size_t size_;
  size_t pos_ = 0;
  size_t op_offset_ = 0;
  std::vector<ValuePtr> stack_;
  std::vector<size_t> marks_;
  std::map<uint32_t, ValuePtr> memo_;
  std::vector<ValuePtr> containers_;  // every tuple, list and dict built so far
  size_t objects_ = 0;                 // values built (make)
  size_t items_ = 0;                   // container items in all
};

// Checks that the view (offset, shape, strides) stays inside its storage.
void check_bounds(const TensorRecord& t) {
  engine::check(t.storage_offset >= 0, "tensor '{}': negative storage offset", t.name);
  int64_t last = t.storage_offset;
  bool empty = false;
  for (size_t i = 0; i < t.shape.size(); ++i) {
    engine::check(t.shape[i] >= 0 && t.strides[i] >= 0, "tensor '{}': negative size or stride", t.name);
    if (t.shape[i] == 0) empty = true;
    else last = engine::checked_add(last, engine::checked_mul(t.shape[i] - 1, t.strides[i]));
  }
  if (!empty)
    engine::check(last < t.storage_numel, "tensor '{}' reads element {} of a storage of {} elements", t.name, last,
                  t.storage_numel);
}

// Some redistributions wrap the state_dict: {'model': state_dict, 'epoch': ...}
// (or 'state_dict'). A top-level dict without tensors of its own that holds
// such a dict gives that dict; whatever else it holds is ignored.
ValuePtr unwrap_state_dict(const ValuePtr& root) {
  ValuePtr inner;
  for (const auto& [key, value] : root->entries) {
    if (value->kind == Kind::Tensor) return root;
    if (key->kind == Kind::String && (key->text == "model" || key->text == "state_dict") &&
        value->kind == Kind::Dict && value != root)
      inner = value;
  }
  return inner ? inner : root;
}

}  // namespace

std::vector<TensorRecord> read_state_dict_pickle(const std::byte* data, size_t size) {
  Unpickler u(data, size);
  const ValuePtr top = u.run();
  if (top->kind != Kind::Dict)
    engine::fail("the checkpoint holds a {}, not a state_dict (a dict of tensors)", kind_name(top->kind));
  const ValuePtr root = unwrap_state_dict(top);
  std::vector<TensorRecord> out;
  std::set<std::string> seen;
  for (const auto& [key, value] : root->entries) {
    if (key->kind != Kind::String) engine::fail("state_dict key is a {}, not a string", kind_name(key->kind));
    if (value->kind != Kind::Tensor) {
      if (value->kind == Kind::Dict)
        engine::fail("'{}' is a nested dict, not a tensor: this looks like a training checkpoint, not a state_dict",
                     key->text);
      engine::fail("state_dict entry '{}' is a {}, not a tensor", key->text, kind_name(value->kind));
    }
    engine::check(seen.insert(key->text).second, "state_dict key '{}' appears twice", key->text);
    TensorRecord r = value->tensor;
    r.name = key->text;
    check_bounds(r);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace weights_tools
