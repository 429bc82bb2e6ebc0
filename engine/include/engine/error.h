// Error type used at every load / API boundary of sam-engine.
//
// Library code never calls exit(); it throws engine::Error with enough context
// (file name, tensor name, byte offset) that the CLI can print it as one line.
// The message is stored through printable() (engine/text.h): bytes from a file
// (a tensor name with ESC or a newline in it, a NUL) become \xNN escapes, so
// what() is one line of printable text, never cut short.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "engine/text.h"

namespace engine {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(printable(message)) {}

  // Returns a copy whose message is "context: message", e.g. the file name.
  Error with_context(const std::string& context) const {
    return Error(context + ": " + what());
  }
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Boundary check: throws engine::Error with a formatted message when `ok` is false.
template <typename... Args>
void check(bool ok, fmt::format_string<Args...> format, Args&&... args) {
  if (!ok) throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Runs `fn`; any engine::Error escaping it gets `context` prepended.
template <typename Fn>
decltype(auto) with_context(const std::string& context, Fn&& fn) {
  try {
    return std::forward<Fn>(fn)();
  } catch (const Error& e) {
    throw e.with_context(context);
  }
}

}  // namespace engine
