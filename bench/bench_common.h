// Shared helpers for the benchmarks: median timing and a measured bandwidth
// peak (a large memcpy), so that every number is reported against this
// machine (the FMA peak: fma_peak.h).
#pragma once

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <utility>
#include <cstdlib>
#include <new>
#include <exception>
#include <string>
#include <vector>

namespace bench {

// The command line of a bench binary, checked before it runs: `--name N`
// options (N a positive integer), `--name VALUE` options, flags, and the
// leading positional arguments. Unknown options, a missing or non-numeric
// value, or --help print one line (the usage) and give exit status 2; an
// exception from the benchmark itself prints one line and gives status 1.
struct CommandLine {
  std::vector<const char*> options;     // "--threads N", "--only NAME": N means a positive integer
  std::vector<const char*> flags;       // "--parallel"
  std::vector<const char*> positional;  // "MODEL.safetensors" (required, in order)
  bool extra_positional = false;        // more positional arguments allowed (e.g. files)
};

inline int guarded_main(int argc, char** argv, const CommandLine& cl, int (*body)(int, char**)) {
  const char* prog = std::strrchr(argv[0], '/') ? std::strrchr(argv[0], '/') + 1 : argv[0];
  std::string usage = std::string("usage: ") + prog;
  for (const char* p : cl.positional) usage += std::string(" ") + p;
  for (const char* o : cl.options) usage += std::string(" [") + o + "]";
  for (const char* f : cl.flags) usage += std::string(" [") + f + "]";
  if (cl.extra_positional) usage += " [FILE...]";
  auto bad = [&](const std::string& why) {
    std::fprintf(stderr, "%s: error: %s (%s)\n", prog, why.c_str(), usage.c_str());
    return 2;
  };
  size_t npos = 0;
  bool seen_option = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::printf("%s\n", usage.c_str());
      return 0;
    }
    if (a.rfind("--", 0) != 0) {
      if (npos >= cl.positional.size() && !cl.extra_positional) return bad("unexpected argument");
      if (npos < cl.positional.size() && seen_option) return bad(std::string(cl.positional[npos]) + " goes first");
      ++npos;
      continue;
    }
    seen_option = true;
    bool known = false;
    for (const char* f : cl.flags) known = known || a == f;
    if (known) continue;
    for (const char* o : cl.options) {
      const char* sp = std::strchr(o, ' ');
      if (a != std::string(o, sp ? static_cast<size_t>(sp - o) : std::strlen(o))) continue;
      known = true;
      if (i + 1 >= argc) return bad(a + " needs a value");
      const std::string v = argv[++i];
      if (sp && std::strcmp(sp + 1, "N") == 0) {
        char* end = nullptr;
        const long n = std::strtol(v.c_str(), &end, 10);
        if (v.empty() || *end != '\0' || n <= 0 || n > 2147483647L) return bad(a + " needs a positive integer");
      }
    }
    if (!known) return bad("unknown option " + a.substr(0, 40));
  }
  if (npos < cl.positional.size()) return bad(std::string("missing ") + cl.positional[npos]);
  try {
    return body(argc, argv);
  } catch (const std::exception& e) {
    std::string msg = e.what();
    for (char& c : msg)
      if (c == '\n' || c == '\r') c = ' ';
    std::fprintf(stderr, "%s: error: %s\n", prog, msg.c_str());
    return 1;
  }
}

// The integer value of `--name VALUE` among argv (the last one given), or `fallback`.
inline int int_option(int argc, char** argv, const char* name, int fallback) {
  int v = fallback;
  for (int i = 1; i + 1 < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) v = std::atoi(argv[i + 1]);
  return v;
}

// Median wall time in seconds of `runs` calls (after one warm-up call).
// std::vector storage on 64-byte boundaries, as the engine's tensors and arena
// are. (Large plain std::vector buffers start 16 bytes past a page boundary,
// so every 16-float row of a matrix would straddle two cache lines.)
template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) {}
  T* allocate(size_t n) {
    const size_t bytes = (n * sizeof(T) + 63) / 64 * 64;
    void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
    if (!p) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  template <class U>
  bool operator==(const CacheLineAllocator<U>&) const { return true; }
};
template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

inline double median_seconds(int runs, const std::function<void()>& fn) {
  fn();
  std::vector<double> t;
  for (int i = 0; i < runs; ++i) {
    const auto a = std::chrono::steady_clock::now();
    fn();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

// Medians of two functions timed in alternating rounds: each round runs a once
// untimed, then `per_round` timed calls of a back to back, then `between`,
// then the same for b. A slow spell of a noisy machine thus falls on both
// sides alike, while each side is still timed warm (its threads awake, its
// data in cache). `between` (optional) is e.g. a pause that lets a peer's
// spinning threads go to sleep.
inline std::pair<double, double> median_seconds_paired(int rounds, const std::function<void()>& a,
                                                       const std::function<void()>& b,
                                                       const std::function<void()>& between = {},
                                                       int per_round = 3) {
  std::vector<double> ta, tb;
  const auto timed = [&](const std::function<void()>& fn, std::vector<double>& out) {
    fn();
    for (int i = 0; i < per_round; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      fn();
      out.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    if (between) between();
  };
  for (int r = 0; r < rounds; ++r) {
    timed(a, ta);
    timed(b, tb);
  }
  std::sort(ta.begin(), ta.end());
  std::sort(tb.begin(), tb.end());
  return {ta[ta.size() / 2], tb[tb.size() / 2]};
}

// Single-thread copy bandwidth in GB/s (read + write bytes) over `bytes`.
inline double memcpy_peak_gbs(size_t bytes, int runs) {
  std::vector<char> a(bytes, 1), b(bytes, 0);
  const double s = median_seconds(runs, [&] { std::memcpy(b.data(), a.data(), bytes); });
  return 2.0 * static_cast<double>(bytes) / s / 1e9;
}

}  // namespace bench
