// engine-internal: the kernel table, built only after the runtime options
// (and with them the SAM_ISA cap) are fixed. Every engine op reaches the
// kernels through this.
#pragma once

#include "kernels/table.h"

namespace engine {
const kernels::KernelTable& kernel_table();
}  // namespace engine
