#include "engine/io/cleanup_registry.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>
#include <utility>
#include <vector>

#include "engine/error.h"

namespace engine::cleanup {
namespace {

struct Registry {
  std::recursive_mutex mutex;
  std::vector<std::pair<std::string, Kind>> paths;  // in registration order
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: the watcher may use it during exit
  return *r;
}

void remove_path(const std::string& path, Kind kind) {
  std::error_code ec;
  switch (kind) {
    case Kind::File: ::unlink(path.c_str()); break;
    case Kind::EmptyDir: ::rmdir(path.c_str()); break;
    case Kind::Tree:
      // A file may still be appearing inside (the worker threads are not
      // stopped): try again if the folder was not empty yet.
      for (int attempt = 0; attempt < 5 && std::filesystem::exists(path, ec); ++attempt)
        std::filesystem::remove_all(path, ec);
      break;
  }
}

}  // namespace

std::unique_lock<std::recursive_mutex> hold() { return std::unique_lock<std::recursive_mutex>(registry().mutex); }

void add(const std::string& path, Kind kind) {
  auto lock = hold();
  registry().paths.emplace_back(path, kind);
}

void remove(const std::string& path) {
  auto lock = hold();
  auto& v = registry().paths;
  for (auto it = v.rbegin(); it != v.rend(); ++it)
    if (it->first == path) {
      v.erase(std::next(it).base());
      return;
    }
}

void remove_all_registered() {
  auto lock = hold();
  auto& v = registry().paths;
  for (auto it = v.rbegin(); it != v.rend(); ++it) remove_path(it->first, it->second);
  v.clear();
}

static int g_pipe[2] = {-1, -1};

// The only code in signal context: one write(2) of the signal number to the pipe.
static void forward_signal(int sig) {
  const int saved = errno;
  const unsigned char b = static_cast<unsigned char>(sig);
  [[maybe_unused]] const ssize_t n = ::write(g_pipe[1], &b, 1);
  errno = saved;
}

void start_signal_watcher(std::function<void(int)> on_signal) {
  // A self-pipe, not sigwait(): libraries start threads before main (OpenBLAS),
  // and a process-directed signal may go to any thread that does not block it.
  check(::pipe2(g_pipe, O_CLOEXEC) == 0, "cannot create the signal pipe: {}", std::strerror(errno));
  std::thread([on_signal = std::move(on_signal)] {
    for (;;) {
      unsigned char b = 0;
      while (::read(g_pipe[0], &b, 1) != 1) {
      }
      auto& r = registry();
      r.mutex.lock();  // kept until the process ends: nothing new is created or committed
      for (auto it = r.paths.rbegin(); it != r.paths.rend(); ++it) remove_path(it->first, it->second);
      r.paths.clear();
      on_signal(b);
      r.mutex.unlock();  // on_signal returned: the command stops by itself
    }
  }).detach();
  struct sigaction sa {};
  sa.sa_handler = forward_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGHUP: return "SIGHUP";
    default: return "signal";
  }
}

bool is_stale_temporary(const std::string& name, const std::string& prefix) {
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  size_t i = prefix.size();
  long long pid = 0;
  const size_t digits_begin = i;
  while (i < name.size() && name[i] >= '0' && name[i] <= '9' && i - digits_begin < 10)
    pid = pid * 10 + (name[i++] - '0');
  if (i == digits_begin || i >= name.size() || name[i] != '-' || pid <= 0) return false;
  if (pid == static_cast<long long>(::getpid())) return false;
  return ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

std::string pid_tag() { return std::to_string(static_cast<long long>(::getpid())); }

}  // namespace engine::cleanup
