// mlx-sched: C++ API. Each op validates its arguments and builds the output
// array from the ScheduleEval primitive; nothing is evaluated here.
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

// One fused optimizer step (kind: SCHED_OPT_SGD/ADAM/ADAMW, math/optim.h).
// states: SGD's v per tensor, or Adam's m then v per tensor. Returns
// [step + 1, learning rates, new params..., new states...].
std::vector<mx::array> fused_step(
    int kind, const mx::array& step, const mx::array& programs, const std::vector<sched_opt_group>& groups,
    const std::vector<int>& group_of, const std::vector<mx::array>& params, const std::vector<mx::array>& grads,
    const std::vector<mx::array>& states, mx::StreamOrDevice s = {});

}  // namespace mlx_sched
