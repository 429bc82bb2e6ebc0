// Command-line choices that go to the engine's RuntimeOptions.
#include "cli/commands.h"
#include "engine/runtime.h"

namespace sam::cli {

void set_threads(int threads) {
  if (threads <= 0) return;
  engine::RuntimeOptions o = engine::runtime_options();
  o.threads = threads;
  engine::set_runtime_options(o);
}

}  // namespace sam::cli
