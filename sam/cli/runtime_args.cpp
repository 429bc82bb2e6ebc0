// Command-line choices that go to the engine's RuntimeOptions.
#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "engine/runtime.h"

namespace sam::cli {

void set_threads(int threads) {
  if (threads <= 0) return;
  engine::RuntimeOptions o = engine::runtime_options_to_edit();
  o.threads = threads;
  engine::set_runtime_options(o);
}

void add_precision_option(CLI::App* sub, std::string& precision) {
  sub->add_option("--precision", precision,
                  "image encoder GEMMs in f32 or bf16 (AMX / AVX512-BF16 where the CPU has them; default f32)")
      ->check(CLI::IsMember({"f32", "bf16"}));
}

void set_runtime(int threads, const std::string& precision) {
  engine::RuntimeOptions o = engine::runtime_options_to_edit();
  if (threads > 0) o.threads = threads;
  if (!precision.empty()) o.precision = engine::parse_precision(precision);
  engine::set_runtime_options(o);
}

}  // namespace sam::cli
