// mlx-sched: C++ API. Each op validates its arguments and builds its output
// arrays from its primitive (primitives.h); nothing is evaluated here.
#pragma once

#include "mlx/array.h"
#include "math/optim.h"
#include "mlx/utils.h"

namespace mlx_sched {

namespace mx = mlx::core;

// Values of the programs at each step of `step`: shape (*step.shape), or
// (G, *step.shape) when batched.
mx::array schedule_eval(
    const mx::array& program, const mx::array& step, bool batched, mx::StreamOrDevice s = {});

// Values at steps start, ..., start + n - 1 without a step array: shape (n,) or (G, n).
mx::array schedule_values(
    const mx::array& program, const mx::array& start, int n, bool batched, mx::StreamOrDevice s = {});

// Where each of a fused step's n tensors sits (one entry per tensor): its
// group, its bucket and element offset in that bucket's flat buffers, and
// its parameter: a source (one of the step's parameter sources) and an
// element offset in it (0 for a tensor that is its own source). `members`
// > 1: every tensor is that many models stacked along its axis 0 (a sweep),
// member m of a tensor in group k updated with group k + m's hyperparameters.
struct FusedTensors {
  std::vector<int> group_of;
  std::vector<int> bucket_of;
  std::vector<int64_t> offset;
  std::vector<int> param_src;
  std::vector<int64_t> param_off;
  int members = 1;
};

// What a fused step returns: the counter after it, each group's learning
// rate (a scalar for one group), and per bucket the flat parameters and
// the flat states (SGD: v; Adam/AdamW: m, v).
struct FusedStepResult {
  mx::array step;
  mx::array learning_rate;
  mx::array hypers;  // per group: weight decay, then each hyperparameter slot (OPT_HP) at the step
  std::vector<mx::array> params;
  std::vector<std::vector<mx::array>> states;
};

// One fused optimizer step (kind: SCHED_OPT_SGD/ADAM/ADAMW, math/optim.h)
// over the tensors of `grads`, held in flat buffers per bucket (states: per
// bucket, its flat state arrays), as one FusedStep primitive (primitives.h).
FusedStepResult fused_step(
    int kind, const mx::array& step, const mx::array& programs, const std::vector<sched_opt_group>& groups,
    const FusedTensors& tensors, const std::vector<mx::array>& grads, const std::vector<mx::array>& param_sources,
    const std::vector<std::vector<mx::array>>& states, mx::StreamOrDevice s = {});

// The arrays of `shapes` at element `offsets` of the flat buffer `flat`
// (one FlatView node for all of them: keep them few, see primitives.h).
std::vector<mx::array> flat_views(
    const mx::array& flat, const std::vector<int64_t>& offsets, const std::vector<mx::Shape>& shapes,
    mx::StreamOrDevice s = {});

// The bits of a float32 array as int32, without a copy (FloatBits).
mx::array float_bits(const mx::array& a, mx::StreamOrDevice s = {});

}  // namespace mlx_sched
