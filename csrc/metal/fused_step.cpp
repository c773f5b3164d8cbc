// FusedStep::eval_gpu for MLX's Metal backend: allocate (donating), write
// the tensor table with each buffer's device address (Metal 3 gpuAddress;
// MLX keeps its buffers resident through its residency set), bind the few
// fixed buffers and dispatch one threadgroup per chunk: one dispatch for any
// number of tensors.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "metal/kernel_names.h"
#include "metal/library.h"
#include "mlx/backend/metal/device.h"
#include "mlx/backend/metal/utils.h"
#include "primitives.h"

namespace mlx_sched {

namespace {

// A host-written buffer for the dispatch, kept alive by the encoder.
template <typename T>
mx::array upload(const std::vector<T>& v) {
  mx::array a({static_cast<int>(std::max<size_t>(v.size(), 1) * sizeof(T))}, mx::uint8, nullptr, {});
  a.set_data(mx::allocator::malloc(a.nbytes()));
  if (!v.empty()) std::memcpy(a.data<uint8_t>(), v.data(), v.size() * sizeof(T));
  return a;
}

}  // namespace

void FusedStep::eval_gpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) {
  auto address = [](const mx::array& a) -> sched_u8* {
    if (a.size() == 0) return nullptr;
    auto* buf = static_cast<const MTL::Buffer*>(a.buffer().ptr());
    return reinterpret_cast<sched_u8*>(buf->gpuAddress() + a.offset());
  };
  Table table = prepare(inputs, outputs, [](size_t n) { return mx::allocator::malloc(n); }, address);

  auto& s = stream();
  auto& d = mx::metal::device(s.device);
  auto* lib = d.get_library(SCHED_METAL_LIBRARY, metallib_path());
  const char* kinds[] = {"sgd", "adam", "adamw"};
  auto* kernel = d.get_kernel(std::string(SCHED_METAL_FUSED_PREFIX) + kinds[kind_], lib);
  auto& enc = mx::metal::get_command_encoder(s);

  auto tensors = upload(table.tensors);
  auto layouts = upload(table.layouts);
  auto groups = upload(groups_);
  SchedMetalOptArgs a = {inputs[1].shape(1), static_cast<int32_t>(groups_.size()),
                         static_cast<int32_t>(table.tensors.size()), static_cast<int32_t>(table.chunks)};
  // Arrays reached through the table are not bound: order this dispatch
  // after whatever produced them, and let later ones wait for its outputs.
  enc.barrier();
  enc.set_compute_pipeline_state(kernel);
  enc.set_input_array(inputs[0], 0);
  enc.set_input_array(inputs[1], 1);
  enc.set_input_array(tensors, 2);
  enc.set_input_array(layouts, 3);
  enc.set_input_array(groups, 4);
  enc.set_output_array(outputs[0], 5);
  enc.set_output_array(outputs[1], 6);
  enc.set_bytes(a, 7);
  for (size_t i = 2; i < outputs.size(); ++i) enc.register_output_array(outputs[i]);
  enc.add_temporaries({tensors, layouts, groups});
  enc.dispatch_threadgroups(MTL::Size(std::max<int64_t>(table.chunks, 1), 1, 1), MTL::Size(SCHED_OPT_LANES, 1, 1));
}

}  // namespace mlx_sched
