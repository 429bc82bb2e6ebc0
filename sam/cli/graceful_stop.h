// Commands that stop by themselves on SIGINT / SIGTERM / SIGHUP (sam serve:
// stop listening, finish the requests in flight, exit 0) instead of being
// ended by main's signal watcher with 128 + the signal's number.
#pragma once

#include <functional>

namespace sam::cli {

// While a command runs, its stop function (callable from the watcher thread);
// an empty function clears it (before whatever `stop` refers to goes away).
void set_graceful_stop(std::function<void()> stop);

// From the signal watcher: calls the stop function for the first signal and
// returns true; false when none is set or a stop was already requested (a
// second Ctrl-C ends the process at once).
bool request_graceful_stop(int sig);

// The signal that requested the stop, 0 if none did.
int graceful_stop_signal();

}  // namespace sam::cli
