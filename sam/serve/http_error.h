// Errors that become HTTP answers: HttpError carries the status (4xx for a bad
// request, 503 when the server is busy); anything else thrown while a request
// is handled is a fault and answers 500. Every error body is {"error": "..."}.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace sam::serve {

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const { return status_; }

 private:
  int status_;
};

template <typename... Args>
[[noreturn]] void http_fail(int status, fmt::format_string<Args...> format, Args&&... args) {
  throw HttpError(status, fmt::format(format, std::forward<Args>(args)...));
}

// 400 Bad Request when `ok` is false.
template <typename... Args>
void require(bool ok, fmt::format_string<Args...> format, Args&&... args) {
  if (!ok) throw HttpError(400, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace sam::serve
