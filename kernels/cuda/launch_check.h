// Host-side helpers shared by the CUDA kernels' launch functions (private to
// kernels/cuda). The kernels library sits below engine/, so errors are the
// standard exceptions (as kernels::table_for throws); the engine's device layer
// adds its own context when it wraps them.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <string>

namespace kernels::cuda::detail {

// Throws std::invalid_argument("cuda <op>: <message>") unless ok.
void require(bool ok, const char* op, const std::string& message);
// After a launch: throws std::runtime_error("cuda <op>: launch failed: <name>: <text>")
// if cudaGetLastError() reports one (bad configuration, too much shared memory...).
void check_launch(const char* op);
// Throws std::runtime_error("cuda <op>: <what>: <name>: <text>") unless e == cudaSuccess.
void check(cudaError_t e, const char* op, const char* what);
// The current device's opt-in shared memory per block (cached per device).
size_t max_smem_per_block();

}  // namespace kernels::cuda::detail
