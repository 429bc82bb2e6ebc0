#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sam::cli {

// A registered subcommand: its CLI11 node and what to run when it was chosen.
struct Command {
  CLI::App* sub = nullptr;
  std::function<int()> run;
};

// sam info -m MODEL.safetensors: variant, tensors, parameters, dtypes, provenance.
Command add_info_command(CLI::App& app);

}  // namespace sam::cli
