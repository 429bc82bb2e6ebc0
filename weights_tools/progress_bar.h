// A one-line progress bar on stderr, drawn only when stderr is a terminal.
#pragma once

#include <cstddef>
#include <string>

namespace weights_tools {

class ProgressBar {
 public:
  ProgressBar(std::string label, size_t total, bool enabled = true);
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;
  ~ProgressBar();
  void update(size_t done);
  void finish();

 private:
  std::string label_;
  size_t total_;
  bool enabled_;
  int last_percent_ = -1;
  bool finished_ = false;
};

}  // namespace weights_tools
