// sam-convert IN.pth|IN.pt|IN.safetensors OUT.safetensors [--dtype f32|f16|bf16]
// IN: an official checkpoint, an Ultralytics sam_b.pt / sam_l.pt (the same state_dict),
// a Hugging Face SamModel model.safetensors (config.json beside it is read) or a
// converted file.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>

#include "converter.h"
#include "random_checkpoint.h"
#include "sam/modeling/config.h"
#include "sam/modeling/variants.h"
#include "engine/error.h"
#include "engine/io/cleanup_registry.h"
#include "engine/text.h"

namespace {

// The variant registry (sam/modeling/variants.cpp) is the one list of variants.
std::vector<std::string> registered_variants() {
  std::vector<std::string> names;
  for (const sam::SamVariant& v : sam::variants()) names.push_back(v.name);
  return names;
}

std::string official_checkpoints() {
  std::string out;
  for (const sam::SamVariant& v : sam::variants())
    if (!v.official_checkpoint.empty()) out += (out.empty() ? "" : ", ") + v.official_checkpoint;
  return out;
}

std::string human_bytes(uint64_t b) {
  if (b >= (1ull << 30)) return fmt::format("{:.2f} GiB", static_cast<double>(b) / (1ull << 30));
  if (b >= (1ull << 20)) return fmt::format("{:.1f} MiB", static_cast<double>(b) / (1ull << 20));
  return fmt::format("{} bytes", b);
}

std::string grouped(int64_t n) {
  std::string s = std::to_string(n), out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0) out += ',';
    out += s[i];
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  // A file-size limit must surface as a write error, not kill us mid-file.
  std::signal(SIGXFSZ, SIG_IGN);
  // SIGINT / SIGTERM / SIGHUP: the watcher thread removes the temporary output
  // (engine/io/cleanup_registry.h) and ends the process with 128 + the signal.
  engine::cleanup::start_signal_watcher([](int sig) {
    const std::string line =
        std::string("sam-convert: interrupted (") + engine::cleanup::signal_name(sig) + "); unfinished output removed\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
    ::_exit(128 + sig);
  });
  CLI::App app{"Convert an official SAM checkpoint (.pth, or Ultralytics' sam_b.pt / sam_l.pt), a Hugging Face "
               "SamModel model.safetensors or a converted safetensors file into sam-engine's format",
               "sam-convert"};
  weights_tools::ConvertOptions options;
  std::string dtype = "f32";
  bool quiet = false;
  std::vector<std::string> files;
  std::string random_variant;
  uint64_t seed = 0;
  app.add_option("files", files,
                 "IN OUT: IN is an official checkpoint (" + official_checkpoints() +
                     "), Ultralytics' sam_b.pt / sam_l.pt, a Hugging Face model.safetensors (facebook/sam-vit-*; "
                     "config.json beside it is read) or a converted .safetensors; OUT the .safetensors to write "
                     "(with --random: OUT only)")
      ->required()
      ->expected(1, 2);
  app.add_option("--random", random_variant,
                 "write seeded random weights at the real shapes of VARIANT instead of converting (meaningless masks; "
                 "for benchmarks and demos)")
      ->check(CLI::IsMember(registered_variants()));
  app.add_option("--seed", seed, "seed for --random (default 0)");
  app.add_option("--dtype", dtype, "dtype of the large weight matrices (biases, norms, embeddings stay f32)")
      ->check(CLI::IsMember({"f32", "f16", "bf16"}));
  app.add_flag("-q,--quiet", quiet, "print nothing but errors");
  app.add_flag("--overwrite", options.overwrite, "replace an existing OUT (only a safetensors file)");
  app.set_version_flag("--version", std::string("sam-convert ") + weights_tools::kConverterVersion);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    engine::print_line(stderr, std::string("sam-convert: error: ") + e.what() + " (see --help)");
    return 2;
  }
  if (random_variant.empty() != (files.size() == 2)) {
    std::fprintf(stderr, "sam-convert: error: %s (see --help)\n",
                 random_variant.empty() ? "expected IN and OUT" : "with --random give only OUT");
    return 2;
  }
  options.input = files.size() == 2 ? files[0] : "";
  options.output = files.back();
  options.dtype = *engine::parse_dtype(dtype);
  options.show_progress = !quiet;
  try {
    if (!random_variant.empty()) weights_tools::check_output(options.output, options.overwrite);
    const weights_tools::ConvertSummary s =
        random_variant.empty() ? weights_tools::convert_checkpoint(options)
                               : weights_tools::write_random_checkpoint(*sam::find_config(random_variant), seed,
                                                                        options.output, options.dtype, !quiet);
    if (!quiet) {
      fmt::print("wrote {}\n", engine::printable(options.output));
      fmt::print("  variant     {}\n", s.variant);
      fmt::print("  tensors     {} ({} as {}, {} as f32)\n", s.tensors, s.tensors_16bit,
                 options.dtype == engine::DType::F32 ? "16-bit" : dtype, s.tensors - s.tensors_16bit);
      fmt::print("  parameters  {}\n", grouped(s.parameters));
      fmt::print("  size        {}\n", human_bytes(s.output_bytes));
      if (random_variant.empty())
        fmt::print("  source      {} ({}), sha256 {}\n", engine::printable(options.input), s.source_format,
                   s.source_sha256);
      else
        fmt::print("  source      seeded random weights (seed {}): the masks will be meaningless\n", seed);
      fmt::print("  time        {:.2f} s\n", s.seconds);
    }
    return 0;
  } catch (const std::exception& e) {
    engine::print_line(stderr, std::string("sam-convert: error: ") + e.what());  // escapes control bytes: one line
    return 1;
  }
}
