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

// One fused optimizer step (kind: SCHED_OPT_SGD/ADAM/ADAMW, math/optim.h)
// over n tensors held in flat buffers per bucket (primitives.h: FusedStep).
// Returns [step + 1, learning rates, flat params per bucket, flat states].
std::vector<mx::array> fused_step(
    int kind, const mx::array& step, const mx::array& programs, const std::vector<sched_opt_group>& groups,
    const std::vector<int>& group_of, const std::vector<mx::array>& grads,
    const std::vector<mx::array>& param_sources, const std::vector<int>& param_src,
    const std::vector<int64_t>& param_off, const std::vector<int>& bucket_of, const std::vector<int64_t>& offset,
    const std::vector<mx::array>& states, mx::StreamOrDevice s = {});

// The arrays of `shapes` at element `offsets` of the flat buffer `flat`
// (one FlatView node for all of them: keep them few, see primitives.h).
std::vector<mx::array> flat_views(
    const mx::array& flat, const std::vector<int64_t>& offsets, const std::vector<mx::Shape>& shapes,
    mx::StreamOrDevice s = {});

// The bits of a float32 array as int32, without a copy (FloatBits).
mx::array float_bits(const mx::array& a, mx::StreamOrDevice s = {});

}  // namespace mlx_sched
