// Included before a .metal file compiled as C++ (g++ -include shim.h):
// the Metal compiler's predefined macro, and a kernel registry in place of the
// metallib's function table (instantiate_kernel records name -> function).
#pragma once

#include <map>
#include <string>

#define __METAL_VERSION__ 310

#include "metal_stdlib"

namespace sched_emu {
// Every kernel has the shape (program, input buffer, output buffer, args, gid);
// pointers and references share one calling convention on the host.
using Kernel = void (*)(const int32_t*, const void*, void*, const void*, uint2);
inline std::map<std::string, Kernel>& registry() {
  static std::map<std::string, Kernel> r;
  return r;
}
}  // namespace sched_emu

#define SCHED_EMU_CAT2(a, b) a##b
#define SCHED_EMU_CAT(a, b) SCHED_EMU_CAT2(a, b)
#define instantiate_kernel(name, func, ...)          \
  static int SCHED_EMU_CAT(sched_emu_reg_, __COUNTER__) = \
      (sched_emu::registry()[name] = reinterpret_cast<sched_emu::Kernel>(&func<__VA_ARGS__>), 0);
