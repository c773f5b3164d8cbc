// mlx-sched: C++ API. Each op validates its arguments and builds the output
// array from the ScheduleEval primitive; nothing is evaluated here.
#pragma once

#include "mlx/array.h"
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

}  // namespace mlx_sched
