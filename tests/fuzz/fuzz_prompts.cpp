// libFuzzer target: the command line of `sam` (CLI11 with the real subcommands,
// parsed but not run) and the prompt options (-p / -b / --single-mask) through
// PromptArgs::build, which validates them against an image size. One argument
// per line of the input. --mask-input is cleared before build(): .npy reading
// has its own target.
#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/prompt_args.h"

namespace {

std::vector<std::string> split_lines(const uint8_t* data, size_t size) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(data[i]));
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

// Parses `args` (without the program name) with `app`; false on a CLI11 error.
bool parse(CLI::App& app, const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"sam"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
    return true;
  } catch (const CLI::Error&) {
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 4096) return 0;
  const std::vector<std::string> args = split_lines(data, size);
  {
    // Exactly the `sam` front end (sam/cli/main.cpp), without running anything.
    CLI::App app{"sam-engine: Segment Anything in C++", "sam"};
    app.require_subcommand(1);
    // The Commands own the option storage (as in main.cpp): keep them alive.
    const sam::cli::Command commands[] = {sam::cli::add_segment_command(app), sam::cli::add_trace_command(app),
                                          sam::cli::add_info_command(app),
                                          sam::cli::add_demo_image_command(app)};
    parse(app, args);
    (void)commands;
  }
  {
    CLI::App app{"prompts", "sam"};
    app.allow_extras();
    sam::cli::PromptArgs prompts;
    prompts.add_to(&app);
    if (parse(app, args)) {
      prompts.mask_input.clear();
      for (const auto& [w, h, grid] : {std::tuple{640, 480, 64}, std::tuple{1, 1, 16}, std::tuple{20000, 3, 64}}) {
        try {
          const auto sets = prompts.build(w, h, grid);
          for (const sam::PromptSet& s : sets)
            for (const auto& p : s.points)
              if (!(p[0] >= 0 && p[0] <= w && p[1] >= 0 && p[1] <= h)) __builtin_trap();
        } catch (const std::exception&) {
        }
      }
    }
  }
  return 0;
}
