// mlx-sched Metal backend: where the shaders are. mlx_sched.metallib sits
// next to this extension binary (not next to libmlx, MLX issue 2436), found
// once with dladdr.
#include "metal/library.h"

#include <dlfcn.h>

#include <filesystem>
#include <stdexcept>

#include "metal/kernel_names.h"

namespace mlx_sched {

const std::string& metallib_path() {
  static const std::string path = [] {
    Dl_info info;
    if (dladdr(reinterpret_cast<void*>(&metallib_path), &info) == 0 || info.dli_fname == nullptr) {
      throw std::runtime_error("[metallib_path] cannot locate the mlx_sched extension binary.");
    }
    return (std::filesystem::path(info.dli_fname).parent_path() / (SCHED_METAL_LIBRARY ".metallib")).string();
  }();
  return path;
}

}  // namespace mlx_sched
