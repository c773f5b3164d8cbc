// mlx-sched: the one primitive. Validation and shapes live in ops.cpp.
#pragma once

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

 private:
  Mode mode_;
  bool batched_;
  int n_;  // Range mode: number of steps
};

}  // namespace mlx_sched
