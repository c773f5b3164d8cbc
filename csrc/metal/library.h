// mlx-sched Metal backend: where the shaders are (mlx_sched.metallib, next
// to the extension binary, not next to libmlx; found with dladdr).
#pragma once

#include <string>

namespace mlx_sched {

// The metallib's path, computed on the first call (library.cpp).
const std::string& metallib_path();

}  // namespace mlx_sched
