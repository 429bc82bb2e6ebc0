// sam: the command-line front end. One file per subcommand; this file only
// wires them up and turns exceptions into one-line errors.
#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>

#include "cli/commands.h"

int main(int argc, char** argv) {
  std::signal(SIGXFSZ, SIG_IGN);  // a file-size limit must surface as a write error
  CLI::App app{"sam-engine: Segment Anything in C++", "sam"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sam-engine 0.1.0");
  const sam::cli::Command commands[] = {sam::cli::add_segment_command(app), sam::cli::add_trace_command(app),
                                        sam::cli::add_info_command(app), sam::cli::add_bench_command(app),
                                        sam::cli::add_demo_image_command(app),
                                        sam::cli::add_everything_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "sam: error: %s (see sam --help)\n", e.what());
    return 2;
  }
  try {
    for (const sam::cli::Command& c : commands)
      if (c.sub->parsed()) return c.run();
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sam: error: %s\n", e.what());
    return 1;
  }
}
