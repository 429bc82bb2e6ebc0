#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace sam::cli {

// --threads N (N > 0) into the runtime options (engine/runtime.h); 0 keeps them.
void set_threads(int threads);
// --precision f32|bf16 (engine::RuntimeOptions::precision); "" keeps the default.
void add_precision_option(CLI::App* sub, std::string& precision);
// Threads (when > 0) and precision (when not empty) into the runtime options.
void set_runtime(int threads, const std::string& precision);

// A registered subcommand: its CLI11 node and what to run when it was chosen.
struct Command {
  CLI::App* sub = nullptr;
  std::function<int()> run;
};

// sam info -m MODEL.safetensors: variant, tensors, parameters, dtypes, provenance.
Command add_info_command(CLI::App& app);

// sam segment -m MODEL -i IMAGE [-p X,Y[,L]]... [-b X0,Y0,X1,Y1]... -o OUTDIR ...
Command add_segment_command(CLI::App& app);

// sam everything -m MODEL --input IMAGE|DIR --output DIR [amg.py options]
Command add_everything_command(CLI::App& app);

// sam bench -m MODEL [--runs N] [--json]
Command add_bench_command(CLI::App& app);

// sam demo-image OUT.png [--width W --height H]
Command add_demo_image_command(CLI::App& app);

// sam trace -m MODEL -i IMAGE [prompts] -o DIR [--compare REF_DIR]
Command add_trace_command(CLI::App& app);

// sam serve -m MODEL [--host H] [--port P] [--threads N] [--max-images N] [--max-upload-mb N]
Command add_serve_command(CLI::App& app);

// sam annotate -m MODEL --images DIR --boxes DIR|FILE [-o OUT] [--format yolo-seg|coco|labelme|png]
Command add_annotate_command(CLI::App& app);

}  // namespace sam::cli
