#include "cli/graceful_stop.h"

#include <mutex>

namespace sam::cli {
namespace {

std::mutex g_mutex;
std::function<void()> g_stop;  // guarded by g_mutex
int g_signal = 0;              // guarded by g_mutex

}  // namespace

void set_graceful_stop(std::function<void()> stop) {
  std::lock_guard<std::mutex> lock(g_mutex);
  g_stop = std::move(stop);
}

bool request_graceful_stop(int sig) {
  std::lock_guard<std::mutex> lock(g_mutex);  // held while stopping: the command cannot clear it meanwhile
  if (!g_stop || g_signal != 0) return false;
  g_signal = sig;
  g_stop();
  return true;
}

int graceful_stop_signal() {
  std::lock_guard<std::mutex> lock(g_mutex);
  return g_signal;
}

}  // namespace sam::cli
