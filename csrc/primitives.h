// mlx-sched's primitives: ScheduleEval (schedule values), FusedStep (the fused
// optimizer step), FlatView and FloatBits (its helpers). Validation and shapes
// live in ops.cpp; each backend's eval_* in cpu/, cuda/, metal/, no_gpu/.
#pragma once

#include <cstdint>
#include <functional>

#include "math/kernel_args.h"
#include "math/optim.h"
#include "mlx/primitives.h"

namespace mlx_sched {

namespace mx = mlx::core;

// Evaluates a batch of compiled schedule programs (inputs[0], int32 (G, R, 16),
// see math/program.h) either at the steps of inputs[1] (Mode::Steps, any
// dtype but bool/complex, any strides) or at start, start+1, ..., start+n-1
// with start = inputs[1], an int64 scalar (Mode::Range). Output float32,
// (*step.shape) or (n,), with a leading G axis when batched.
class ScheduleEval : public mx::UnaryPrimitive {
 public:
  enum class Mode { Steps, Range };

  ScheduleEval(mx::Stream stream, Mode mode, bool batched, int n)
      : mx::UnaryPrimitive(stream), mode_(mode), batched_(batched), n_(n) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override;
  void eval_gpu(const std::vector<mx::array>& inputs, mx::array& out) override;

  std::pair<std::vector<mx::array>, std::vector<int>> vmap(
      const std::vector<mx::array>& inputs, const std::vector<int>& axes) override;
  std::vector<mx::array> jvp(
      const std::vector<mx::array>& primals,
      const std::vector<mx::array>& tangents,
      const std::vector<int>& argnums) override;
  std::vector<mx::array> vjp(
      const std::vector<mx::array>& primals,
      const std::vector<mx::array>& cotangents,
      const std::vector<int>& argnums,
      const std::vector<mx::array>& outputs) override;
  const char* name() const override { return "ScheduleEval"; }
  bool is_equivalent(const mx::Primitive& other) const override;
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& inputs) override;
  auto state() const { return std::make_tuple(mode_, batched_, n_); }

  Mode mode() const { return mode_; }
  bool batched() const { return batched_; }

  // What a GPU backend's kernel is told (math/kernel_args.h): the sizes and,
  // in Steps mode, the step array's layout. Throws for one it cannot walk.
  sched_eval_args gpu_args(const std::vector<mx::array>& inputs, const mx::array& out) const;
  // The GPU kernel for steps of dtype dt: its index in SCHED_STEP_TYPES.
  // Throws for a dtype the GPU kernels are not instantiated for.
  static int gpu_step_type(mx::Dtype dt);

 private:
  Mode mode_;
  bool batched_;
  int n_;  // Range mode: number of steps
};

// One optimizer step over n tensors kept in flat buffers, one per dtype
// ("bucket"; math/optim.h). Inputs: step (uint64 scalar), programs (int32
// (P, R, 16)), the n gradients (any layout), the parameter sources (the
// previous step's flat buffers, or the tensors themselves), then per bucket
// its flat states (v for SGD, m and v for Adam/AdamW). Outputs: step + 1, the
// groups' learning rates (scalar for one group, else (G,)), the new flat
// parameters per bucket, then the new flat states. Constant in the number of
// outputs: an MLX primitive with an output per tensor costs O(outputs x
// inputs) to build and to schedule (measured: benchmarks/gpu/LOG.md).
// Where each array sits among FusedStep's inputs and outputs: the op
// (ops.cpp) builds them in this order, the primitive and every backend read
// them through this map, never by index arithmetic of their own.
//   inputs:  step, programs, grads[n], sources[nsrc], states[nb][ns]
//   outputs: step + 1, learning rates, hypers (a view of the rates' buffer:
//            per group, weight decay and each hyperparameter slot), params[nb], states[nb][ns]
struct FusedIo {
  int n;     // tensors
  int nsrc;  // parameter sources
  int nb;    // buckets
  int ns;    // states per bucket (SGD 1, Adam/AdamW 2)
  static constexpr int step = 0, programs = 1;  // inputs
  static constexpr int step_out = 0, rates = 1, hypers = 2;  // outputs
  static constexpr int first_tensor_input = 2, first_tensor_output = 3;  // the tensors' data from here on
  int grad(int i) const { return 2 + i; }
  int source(int k) const { return 2 + n + k; }
  int state(int b, int k) const { return 2 + n + nsrc + b * ns + k; }
  int num_inputs() const { return 2 + n + nsrc + nb * ns; }
  int param_out(int b) const { return 3 + b; }
  int state_out(int b, int k) const { return 3 + nb + b * ns + k; }
  int num_outputs() const { return 3 + nb + nb * ns; }
};

// The GPU kernels and the fused step (every backend) read a program's words
// in order (the CPU's schedule evaluation also walks strides: a program is
// tiny): checked before anything is allocated.
void require_row_contiguous_program(const mx::array& program, const char* who);

class FusedStep : public mx::Primitive {
 public:
  // The learning rates output: () for one group, (G,) for G groups, and
  // (K, M) for K groups of M members each (a sweep with parameter groups).
  static mx::Shape rates_shape(int groups, int members) {
    if (groups == 1) return {};
    if (members > 1 && groups > members) return {groups / members, members};
    return {groups};
  }
  // The hypers output: the rates' shape, then REPORTED values each.
  static mx::Shape hypers_shape(int groups, int members) {
    mx::Shape s = rates_shape(groups, members);
    s.push_back(SCHED_OPT_REPORTED);
    return s;
  }
  struct Layout {
    std::vector<int16_t> group_of;   // per tensor
    std::vector<int32_t> param_src;  // per tensor: which parameter source
    std::vector<int64_t> param_off;  // per tensor: element offset in it
    std::vector<int32_t> bucket_of;  // per tensor
    std::vector<int64_t> offset;     // per tensor: element offset in its bucket
    std::vector<int64_t> size;       // per tensor: elements (a shapeless trace must keep them)
    std::vector<int64_t> bucket_size;
    int32_t members = 1;  // > 1: each tensor is that many members along axis 0, member m in group group_of + m
    bool operator==(const Layout&) const = default;
  };

  FusedStep(mx::Stream stream, int kind, std::vector<sched_opt_group> groups, Layout layout)
      : mx::Primitive(stream), kind_(kind), groups_(std::move(groups)), layout_(std::move(layout)) {}

  void eval_cpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) override;
  void eval_gpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) override;

  const char* name() const override { return "FusedStep"; }
  bool is_equivalent(const mx::Primitive& other) const override;
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& inputs) override;

  int num_tensors() const { return static_cast<int>(layout_.group_of.size()); }
  int num_buckets() const { return static_cast<int>(layout_.bucket_size.size()); }
  int num_states() const { return sched_opt_num_states(kind_); }
  // The map of this step's inputs and outputs (the sources are what the
  // other inputs leave).
  FusedIo io(size_t num_inputs) const {
    const int n = num_tensors(), nb = num_buckets(), ns = num_states();
    return {n, static_cast<int>(num_inputs) - 2 - n - nb * ns, nb, ns};
  }

  // What every backend does before binding: outputs allocated (flat
  // parameters and states donated when nothing else holds their input), and
  // one table entry per tensor with the addresses `address` gives (then
  // offset). Strided gradients and parameters get a layout.
  struct Table {
    std::vector<sched_opt_tensor> tensors;
    std::vector<sched_opt_layout> layouts;
    int64_t chunks = 0;
  };
  using Malloc = std::function<mx::allocator::Data(size_t)>;
  using Address = std::function<sched_u8*(const mx::array&)>;
  Table prepare(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs, const Malloc& malloc,
                const Address& address);
  // prepare's three parts. The CPU backend validates and allocates when the
  // step is encoded, and makes the table in its task, on the CPU stream's
  // thread: on a CUDA build, array::data() moves a device buffer into unified
  // memory, which must happen once, after the stream waited for the array's
  // producer, and never on two threads at once (cpu/host_data.h).
  void validate(const std::vector<mx::array>& inputs) const;  // throws what the step cannot walk
  void allocate(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs, const Malloc& malloc);
  Table make_table(const std::vector<mx::array>& inputs, const std::vector<mx::array>& outputs,
                   const Address& address) const;

 private:
  int kind_;
  std::vector<sched_opt_group> groups_;
  Layout layout_;
};

// Row-contiguous views of a flat buffer, output i at element offsets[i]:
// how a fused step hands out its parameters (no copy, no kernel). Several
// views per node (up to 32: MLX's siblings make a node of n outputs cost
// O(n^2)), because MLX's eval pays a few microseconds per node.
class FlatView : public mx::Primitive {
 public:
  FlatView(mx::Stream stream, std::vector<int64_t> offsets, std::vector<mx::Shape> shapes)
      : mx::Primitive(stream), offsets_(std::move(offsets)), shapes_(std::move(shapes)) {}
  void eval_cpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) override {
    eval(inputs, outputs);
  }
  void eval_gpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) override {
    eval(inputs, outputs);
  }
  const char* name() const override { return "FlatView"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    return offsets_ == static_cast<const FlatView&>(other).offsets_ && shapes_ == static_cast<const FlatView&>(other).shapes_;
  }
  // Shapeless compile: the views a step hands out keep their shapes (the
  // step that makes them checks its inputs still have them).
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>&) override { return shapes_; }

 private:
  void eval(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs);
  std::vector<int64_t> offsets_;
  std::vector<mx::Shape> shapes_;
};

// The bits of a float32 array as int32 (no copy): a float learning rate read
// from the optimizer state becomes a word of a constant schedule program.
// MLX's own View would do, but it cannot infer its shape under a shapeless
// mx.compile; this one can.
class FloatBits : public mx::UnaryPrimitive {
 public:
  explicit FloatBits(mx::Stream stream) : mx::UnaryPrimitive(stream) {}
  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override { out.copy_shared_buffer(inputs[0]); }
  void eval_gpu(const std::vector<mx::array>& inputs, mx::array& out) override { out.copy_shared_buffer(inputs[0]); }
  const char* name() const override { return "FloatBits"; }
  bool is_equivalent(const mx::Primitive&) const override { return true; }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& inputs) override { return {inputs[0].shape()}; }
};

}  // namespace mlx_sched
