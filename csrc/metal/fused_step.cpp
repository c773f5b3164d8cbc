// FusedStep::eval_gpu for MLX's Metal backend: allocate (donating), plan
// which arrays each dispatch binds (csrc/metal/batches.h), and dispatch one
// threadgroup per chunk of each batch's tensors. Every array the kernel
// reaches is bound with set_input_array / set_output_array, so Metal keeps
// it resident for the dispatch and MLX orders the dispatch after whatever
// wrote it (a barrier in this encoder, a fence across encoders) and later
// readers and writers after it. One dispatch when the step's arrays fit the
// 25 free buffer slots, a few otherwise.
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>
#include <unordered_map>

#include "metal/batches.h"
#include "metal/kernel_names.h"
#include "metal/library.h"
#include "mlx/backend/metal/device.h"
#include "mlx/backend/metal/utils.h"
#include "primitives.h"

namespace mlx_sched {

namespace {

// A host-written buffer for the dispatch, kept alive by the encoder.
mx::array upload(const std::vector<uint8_t>& bytes) {
  mx::array a({static_cast<int>(std::max<size_t>(bytes.size(), 1))}, mx::uint8, nullptr, {});
  a.set_data(mx::allocator::malloc(a.nbytes()));
  if (!bytes.empty()) std::memcpy(a.data<uint8_t>(), bytes.data(), bytes.size());
  return a;
}

}  // namespace

void FusedStep::eval_gpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) {
  // Host addresses (MLX's Metal buffers are shared storage), only to find
  // which array holds each tensor's data and where: the GPU gets slots and offsets.
  auto host = [](const mx::array& a) -> sched_u8* {
    return a.size() == 0 ? nullptr : const_cast<sched_u8*>(a.data<sched_u8>());
  };
  Table table = prepare(inputs, outputs, [](size_t n) { return mx::allocator::malloc(n); }, host);

  // The arrays the step may reach (all but step and programs, step_out and
  // the rates), one per Metal buffer; an output wins over an input that
  // shares its buffer (donation), so that it is bound as written.
  std::vector<metal_batches::Buffer> buffers;
  std::vector<const mx::array*> reads;
  std::vector<mx::array*> writes;
  std::unordered_map<const void*, size_t> index;
  auto add = [&](const mx::array& a, mx::array* out) {
    if (a.size() == 0) return;
    auto [it, fresh] = index.try_emplace(a.buffer().ptr(), buffers.size());
    if (fresh) {
      auto* buf = static_cast<const MTL::Buffer*>(a.buffer().ptr());
      buffers.push_back({a.data<sched_u8>() - a.offset(), static_cast<int64_t>(buf->length()), false});
      reads.push_back(&a);
      writes.push_back(nullptr);
    }
    if (out != nullptr) {
      buffers[it->second].written = true;
      writes[it->second] = out;
    }
  };
  for (size_t k = FusedIo::first_tensor_input; k < inputs.size(); ++k) add(inputs[k], nullptr);
  for (size_t k = FusedIo::first_tensor_output; k < outputs.size(); ++k) add(outputs[k], &outputs[k]);
  metal_batches::Plan plan = metal_batches::plan(table.tensors, table.layouts, groups_, buffers);
  plan.args.R = inputs[FusedIo::programs].shape(1);

  auto& s = stream();
  auto& d = mx::metal::device(s.device);
  auto* lib = d.get_library(SCHED_METAL_LIBRARY, metallib_path());
  std::string name = SCHED_METAL_FUSED_PREFIX;
#define SCHED_OPT_NAME(opt, k, ns) \
  if (kind_ == k) name += #opt;
  SCHED_OPTIMIZERS(SCHED_OPT_NAME)
#undef SCHED_OPT_NAME
  auto* kernel = d.get_kernel(name, lib);
  // A chunk is SCHED_OPT_LANES threads of one threadgroup: the pipeline must take that many.
  if (kernel->maxTotalThreadsPerThreadgroup() < SCHED_OPT_LANES) {
    throw std::runtime_error("[FusedStep::eval_gpu] " + name + " runs at most " +
                             std::to_string(kernel->maxTotalThreadsPerThreadgroup()) + " threads per threadgroup, " +
                             "it needs " + std::to_string(SCHED_OPT_LANES) + ".");
  }
  auto& enc = mx::metal::get_command_encoder(s);
  auto tab = upload(plan.table);
  for (size_t b = 0; b < plan.batches.size(); ++b) {
    const auto& batch = plan.batches[b];
    if (b > 0 && batch.nchunks == 0) continue;  // only empty tensors: nothing to do
    const SchedMetalOptArgs a = metal_batches::args_of(plan, b);
    enc.set_compute_pipeline_state(kernel);
    enc.set_input_array(inputs[FusedIo::step], 0);
    enc.set_input_array(inputs[FusedIo::programs], 1);
    enc.set_input_array(tab, 2);
    enc.set_output_array(outputs[FusedIo::step_out], 3);
    enc.set_output_array(outputs[FusedIo::rates], 4);
    enc.set_bytes(a, 5);
    for (int k = 0; k < SCHED_METAL_OPT_SLOTS; ++k) {
      const int idx = SCHED_METAL_OPT_FIXED + k;
      if (k >= static_cast<int>(batch.buffers.size())) {
        enc.set_input_array(tab, idx);  // an unused slot still has a buffer (never read)
      } else if (auto* w = writes[batch.buffers[k]]) {
        enc.set_output_array(*w, idx, -w->offset());  // the whole buffer: offset 0
      } else {
        const auto* r = reads[batch.buffers[k]];
        enc.set_input_array(*r, idx, -r->offset());
      }
    }
    enc.dispatch_threadgroups(MTL::Size(std::max(batch.nchunks, 1), 1, 1), MTL::Size(SCHED_OPT_LANES, 1, 1));
  }
  enc.add_temporary(tab);
}

}  // namespace mlx_sched
