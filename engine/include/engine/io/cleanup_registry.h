// Files and folders to remove if the process is interrupted, and the watcher
// that removes them.
//
// Design (SIGINT / SIGTERM / SIGHUP): start_signal_watcher() installs a handler
// for the three signals that only write(2)s the signal's number into a pipe
// (a self-pipe: async-signal-safe, and it works whichever thread the kernel
// picks, including threads that libraries such as OpenBLAS start before main),
// and starts one thread that reads the pipe. When a signal arrives, the
// watcher takes the registry lock (it waits while a holder creates and
// registers a temporary, or moves a finished result into place: milliseconds),
// removes every registered path, newest first, and calls on_signal(sig), which
// either ends the process (e.g. _exit(128 + sig)) without releasing the lock,
// or returns: a command that stops by itself (sam serve: it stops listening and
// finishes the requests in flight) then gets the lock back and the watcher
// waits for the next signal. The computation is never polled: the answer comes
// within milliseconds even in the middle of a multi-second encoder run.
//
// Whoever creates a temporary registers it while holding hold(), in the same
// critical section as its creation, and unregisters it in the critical section
// that renames or removes it; so a temporary exists unregistered never, and a
// result is either all in place or all removed.
#pragma once

#include <functional>
#include <mutex>
#include <string>

namespace engine::cleanup {

enum class Kind {
  File,      // unlink
  Tree,      // remove recursively (a staging folder)
  EmptyDir,  // rmdir: only if empty (a folder this process created for its output)
};

// While held, no interrupt cleanup runs (recursive: commit code may nest it).
std::unique_lock<std::recursive_mutex> hold();

// Registers / unregisters `path` (the caller holds hold()).
void add(const std::string& path, Kind kind);
void remove(const std::string& path);

// Removes every registered path now (newest first) and forgets them.
void remove_all_registered();

// See above. `on_signal` runs on the watcher thread with the lock held.
void start_signal_watcher(std::function<void(int sig)> on_signal);

// "SIGINT", "SIGTERM", "SIGHUP" (else "signal N").
const char* signal_name(int sig);

// True if `name` is `<prefix><pid>-<suffix>` and no process `pid` exists: a
// temporary of a run that was killed (SIGKILL, power loss) and can be removed.
bool is_stale_temporary(const std::string& name, const std::string& prefix);

// The current process id as text, for temporary names (stale detection above).
std::string pid_tag();

}  // namespace engine::cleanup
