#include "engine/io/mapped_file.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "engine/error.h"

namespace engine {
namespace {

// A file truncated while mapped raises SIGBUS on the next read of a page past
// its new end. The handler below turns that into a recorded fact: it maps zero
// pages over the rest of the mapping (so the reading code goes on with zeros)
// and marks the file as changed; check_unchanged() then refuses to let any
// result computed from it be committed. Only mmap() and atomics run in signal
// context. A SIGBUS outside every mapping goes to the previous disposition.
struct Slot {
  std::atomic<uintptr_t> begin{0}, end{0};
  std::atomic<int> faulted{0};
};
constexpr size_t kSlots = 256;
std::array<Slot, kSlots> g_slots;
struct sigaction g_previous {};
std::atomic<bool> g_previous_valid{false};

void on_sigbus(int sig, siginfo_t* info, void* context) {
  const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (Slot& s : g_slots) {
    const uintptr_t b = s.begin.load(std::memory_order_acquire), e = s.end.load(std::memory_order_acquire);
    if (b == 0 || addr < b || addr >= e) continue;
    const uintptr_t from = addr / page * page;
    void* p = ::mmap(reinterpret_cast<void*>(from), e - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                     -1, 0);
    if (p != MAP_FAILED) {
      s.faulted.store(1, std::memory_order_release);
      return;  // the faulting read runs again and finds zeros
    }
  }
  // Not one of ours: what would have happened without this handler.
  if (g_previous_valid.load() && (g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_sigaction) {
    g_previous.sa_sigaction(sig, info, context);
    return;
  }
  if (g_previous_valid.load() && g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN &&
      g_previous.sa_handler) {
    g_previous.sa_handler(sig);
    return;
  }
  ::signal(SIGBUS, SIG_DFL);  // returning re-executes the faulting access: the default action
}

void install_sigbus_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    if (::sigaction(SIGBUS, &sa, &g_previous) == 0) g_previous_valid.store(true);
  });
}

std::mutex g_live_mutex;
std::set<const MappedFile*>& live_files() {
  static auto* s = new std::set<const MappedFile*>();
  return *s;
}

}  // namespace

size_t check_regular_file(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) fail("{}: no such file", path);
    fail("{}: {}", path, std::strerror(errno));
  }
  if (S_ISDIR(st.st_mode)) fail("{}: is a directory, expected a file", path);
  if (!S_ISREG(st.st_mode)) fail("{}: not a regular file", path);
  return static_cast<size_t>(st.st_size);
}

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  check_regular_file(path);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    fail("{}: cannot stat: {}", path, std::strerror(e));
  }
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  m->fd_ = fd;  // kept open: check_unchanged() compares its size and mtime
  m->size_ = static_cast<size_t>(st.st_size);
  m->mtime_ns_ = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  if (m->size_ > 0) {
    install_sigbus_handler();
    void* p = ::mmap(nullptr, m->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) fail("{}: cannot map: {}", path, std::strerror(errno));  // ~MappedFile closes fd
    m->data_ = static_cast<std::byte*>(p);
    const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto b = reinterpret_cast<uintptr_t>(p);
    for (size_t i = 0; i < kSlots; ++i) {
      uintptr_t expected = 0;
      if (g_slots[i].begin.compare_exchange_strong(expected, b)) {
        g_slots[i].faulted.store(0);
        g_slots[i].end.store(b + (m->size_ + page - 1) / page * page, std::memory_order_release);
        m->slot_ = static_cast<int>(i);
        break;
      }
    }
  }
  std::lock_guard<std::mutex> lock(g_live_mutex);
  live_files().insert(m.get());
  return m;
}

void MappedFile::check_unchanged() const {
  bool changed = slot_ >= 0 && g_slots[static_cast<size_t>(slot_)].faulted.load(std::memory_order_acquire) != 0;
  struct stat st {};
  if (!changed && fd_ >= 0 && ::fstat(fd_, &st) == 0)
    changed = static_cast<size_t>(st.st_size) != size_ ||
              static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec != mtime_ns_;
  if (changed) fail("{}: changed while in use (truncated or rewritten in place); no result is kept", path_);
}

void MappedFile::check_all_unchanged() {
  std::lock_guard<std::mutex> lock(g_live_mutex);
  for (const MappedFile* f : live_files()) f->check_unchanged();
}

void MappedFile::release(const void* p, size_t bytes) const {
  const auto page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const auto begin = reinterpret_cast<uintptr_t>(p), end = begin + bytes;
  const uintptr_t lo = (begin + page - 1) / page * page, hi = end / page * page;
  const auto base = reinterpret_cast<uintptr_t>(data_);
  if (hi <= lo || lo < base || hi > base + size_) return;
  ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTNEED);
}

MappedFile::~MappedFile() {
  {
    std::lock_guard<std::mutex> lock(g_live_mutex);
    live_files().erase(this);
  }
  if (slot_ >= 0) {
    g_slots[static_cast<size_t>(slot_)].end.store(0, std::memory_order_release);
    g_slots[static_cast<size_t>(slot_)].begin.store(0, std::memory_order_release);
  }
  if (data_) ::munmap(data_, size_);
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace engine
