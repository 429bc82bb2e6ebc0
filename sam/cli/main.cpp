// sam: the command-line front end. One file per subcommand; this file only
// wires them up and turns exceptions into one-line errors.
#include <CLI/CLI.hpp>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <string>

#include "cli/commands.h"
#include "cli/graceful_stop.h"
#include "engine/io/cleanup_registry.h"
#include "engine/text.h"

int main(int argc, char** argv) {
  std::signal(SIGXFSZ, SIG_IGN);  // a file-size limit must surface as a write error
  // SIGINT / SIGTERM / SIGHUP: the watcher thread removes every staging and
  // temporary file (engine/io/cleanup_registry.h; results already moved into
  // place stay) and ends the process with 128 + the signal's number, unless
  // the command stops by itself (sam serve, cli/graceful_stop.h).
  engine::cleanup::start_signal_watcher([](int sig) {
    if (sam::cli::request_graceful_stop(sig)) return;
    const std::string line =
        std::string("sam: interrupted (") + engine::cleanup::signal_name(sig) + "); unfinished output removed\n";
    [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
    ::_exit(128 + sig);
  });
  CLI::App app{"sam-engine: Segment Anything in C++", "sam"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "sam-engine 0.1.0");
  const sam::cli::Command commands[] = {sam::cli::add_segment_command(app), sam::cli::add_trace_command(app),
                                        sam::cli::add_info_command(app), sam::cli::add_bench_command(app),
                                        sam::cli::add_demo_image_command(app),
                                        sam::cli::add_everything_command(app),
                                        sam::cli::add_serve_command(app),
                                        sam::cli::add_annotate_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    engine::print_line(stderr, std::string("sam: error: ") + e.what() + " (see sam --help)");
    return 2;
  }
  try {
    for (const sam::cli::Command& c : commands)
      if (c.sub->parsed()) return c.run();
    return 2;
  } catch (const std::exception& e) {
    engine::print_line(stderr, std::string("sam: error: ") + e.what());  // escapes control bytes: one line
    return 1;
  }
}
