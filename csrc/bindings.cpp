// mlx-sched: the compiled module (_ext). Thin: the public API is Python.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <initializer_list>
#include <tuple>
#include <utility>
#include <vector>

#include "math/optim.h"
#include "math/program.h"
#include "mlx/version.h"
#include "ops.h"
#if defined(MLX_SCHED_CUDA)
#include "cuda/launch.h"
#endif

namespace nb = nanobind;
namespace mx = mlx::core;
using namespace nb::literals;

namespace {

// A name -> constant dict of the C++ header, for the Python layer.
nb::dict table(std::initializer_list<std::pair<const char*, int>> entries) {
  nb::dict d;
  for (const auto& [name, value] : entries) d[name] = value;
  return d;
}

}  // namespace

NB_MODULE(_ext, m) {
  // mlx.core owns mx.array's binding: imported first, also when _ext is
  // imported on its own (nanobind's stubgen does).
  nb::module_::import_("mlx.core");
  m.doc() = "mlx-sched compiled core: the MLX primitives ScheduleEval (schedule programs at steps or over a range), FusedStep (the fused optimizer step), and its helpers FlatView and FloatBits.";

  m.def("schedule_eval", &mlx_sched::schedule_eval, "program"_a, "step"_a, "batched"_a,
        nb::kw_only(), "stream"_a = nb::none(),
        R"(Values of compiled schedule programs at the steps of ``step``.

Args:
    program (array): int32 program of shape (G, R, 16) built by mlx_sched.
    step (array): steps, any integer or floating point dtype, any shape.
    batched (bool): prepend the G axis to the output (else G must be 1).

Returns:
    array: float32 of shape ``step.shape`` or ``(G, *step.shape)``.)");

  m.def("schedule_values", &mlx_sched::schedule_values, "program"_a, "start"_a, "n"_a,
        "batched"_a, nb::kw_only(), "stream"_a = nb::none(),
        R"(Values at steps ``start .. start + n - 1`` without reading a step array.

Args:
    program (array): int32 program of shape (G, R, 16) built by mlx_sched.
    start (array): int64 scalar, the first step.
    n (int): number of steps.
    batched (bool): prepend the G axis to the output (else G must be 1).

Returns:
    array: float32 of shape ``(n,)`` or ``(G, n)``.)");

  using GroupTuple = std::tuple<int, int, int, float, float, float, float, float, float, float>;
  m.def(
      "fused_step",
      [](int kind, const mx::array& step, const mx::array& programs, const std::vector<GroupTuple>& groups,
         const std::vector<int>& group_of, const std::vector<mx::array>& grads,
         const std::vector<mx::array>& param_sources, const std::vector<int>& param_src,
         const std::vector<int64_t>& param_off, const std::vector<int>& bucket_of,
         const std::vector<int64_t>& offset, const std::vector<mx::array>& states, mx::StreamOrDevice s) {
        std::vector<sched_opt_group> gs;
        for (const auto& g : groups) {
          gs.push_back({std::get<0>(g), std::get<1>(g), std::get<2>(g), std::get<3>(g), std::get<4>(g),
                        std::get<5>(g), std::get<6>(g), std::get<7>(g), std::get<8>(g), std::get<9>(g)});
        }
        return mlx_sched::fused_step(kind, step, programs, gs, group_of, grads, param_sources, param_src, param_off,
                                     bucket_of, offset, states, s);
      },
      "kind"_a, "step"_a, "programs"_a, "groups"_a, "group_of"_a, "grads"_a, "param_sources"_a, "param_src"_a,
      "param_off"_a, "bucket_of"_a, "offset"_a, "states"_a, nb::kw_only(), "stream"_a = nb::none(),
      R"(One fused optimizer step over every tensor, in one FusedStep node.

One kernel launch on CUDA; on Metal, one dispatch per batch of 25 arrays.

Args:
    kind (int): OPTIMIZERS["sgd"|"adam"|"adamw"].
    step (array): uint64 scalar, the counter before this step.
    programs (array): int32 (P, R, 16), the groups' schedule programs.
    groups (list[tuple]): per group (lr_prog, wd_prog, flags, momentum,
        1 - dampening, b1, 1 - b1, b2, 1 - b2, eps).
    group_of (list[int]): the group of each tensor.
    grads (list[array]): the gradients (any layout).
    param_sources (list[array]): the parameters: previous flat buffers, or
        the tensors themselves.
    param_src, param_off (list[int]): each tensor's source and element offset in it.
    bucket_of, offset (list[int]): each tensor's bucket (flat buffer) and element offset in it.
    states (list[array]): per bucket, flat states (SGD: v; Adam/AdamW: m, v).

Returns:
    list[array]: [step + 1, learning rates, flat params per bucket, flat states].)");

  m.def(
      "flat_view",
      [](const mx::array& flat, int64_t offset, const std::vector<int>& shape, mx::StreamOrDevice s) {
        return mlx_sched::flat_views(flat, {offset}, {mx::Shape(shape.begin(), shape.end())}, s)[0];
      },
      "flat"_a, "offset"_a, "shape"_a, nb::kw_only(), "stream"_a = nb::none(),
      "A row-contiguous view of ``shape`` at element ``offset`` of a flat array (no copy).");

  m.def("float_bits", &mlx_sched::float_bits, "a"_a, nb::kw_only(), "stream"_a = nb::none(),
        "The bits of a float32 array as int32 (no copy; shapeless-compile friendly).");

  m.def(
      "flat_views",
      [](const std::vector<mx::array>& flats, const std::vector<int>& bucket_of, const std::vector<int64_t>& offset,
         const std::vector<std::vector<int>>& shapes) {
        if (bucket_of.size() != offset.size() || offset.size() != shapes.size()) {
          throw std::invalid_argument("[flat_views] bucket_of, offset and shapes must have the same length.");
        }
        // Views of one flat buffer, 32 to a node, back in the tensors' order.
        constexpr size_t kPerNode = 32;
        std::vector<mx::array> out(shapes.size(), mx::array(0.0f));
        for (size_t b = 0; b < flats.size(); ++b) {
          std::vector<size_t> members;
          for (size_t i = 0; i < shapes.size(); ++i) {
            if (bucket_of[i] < 0 || bucket_of[i] >= static_cast<int>(flats.size())) {
              throw std::invalid_argument("[flat_views] bucket_of names no flat array.");
            }
            if (static_cast<size_t>(bucket_of[i]) == b) members.push_back(i);
          }
          for (size_t k = 0; k < members.size(); k += kPerNode) {
            std::vector<int64_t> offs;
            std::vector<mx::Shape> shps;
            for (size_t q = k; q < std::min(members.size(), k + kPerNode); ++q) {
              offs.push_back(offset[members[q]]);
              shps.emplace_back(shapes[members[q]].begin(), shapes[members[q]].end());
            }
            auto views = mlx_sched::flat_views(flats[b], offs, shps);
            for (size_t q = 0; q < views.size(); ++q) out[members[k + q]] = views[q];
          }
        }
        return out;
      },
      "flats"_a, "bucket_of"_a, "offset"_a, "shapes"_a,
      "Views of the flat buffers for many tensors (one FlatView node per 32 of a buffer).");

  m.attr("OPTIMIZERS") =
      table({{"sgd", SCHED_OPT_SGD}, {"adam", SCHED_OPT_ADAM}, {"adamw", SCHED_OPT_ADAMW}});
  m.attr("OPT_FLAGS") = table({{"momentum", SCHED_OPT_MOMENTUM}, {"nesterov", SCHED_OPT_NESTEROV},
                               {"weight_decay", SCHED_OPT_WEIGHT_DECAY},
                               {"bias_correction", SCHED_OPT_BIAS_CORRECTION}});

  // What the Python layer checks against at import and mirrors in _program.py.
  m.attr("MLX_VERSION") = std::to_string(MLX_VERSION_MAJOR) + "." +
      std::to_string(MLX_VERSION_MINOR) + "." + std::to_string(MLX_VERSION_PATCH);
  m.attr("PROGRAM_MAGIC") = SCHED_MAGIC;
  m.attr("PROGRAM_VERSION") = SCHED_VERSION;
  m.attr("PROGRAM_WORDS") = SCHED_WORDS;
  m.attr("PROGRAM_MAX_FACTORS") = SCHED_MAX_FACTORS;
#define SCHED_KIND_ENTRY(name, value) {#name, value},
  m.attr("KINDS") = table({SCHED_KINDS(SCHED_KIND_ENTRY)});
#undef SCHED_KIND_ENTRY
  m.attr("FLAGS") = table({{"staircase", SCHED_FLAG_STAIRCASE}, {"neg_rate", SCHED_FLAG_NEG_RATE},
                           {"zero_rate", SCHED_FLAG_ZERO_RATE}, {"shape_cos2", SCHED_FLAG_SHAPE_COS2},
                           {"shape_sin2", SCHED_FLAG_SHAPE_SIN2}, {"halving", SCHED_FLAG_HALVING},
                           {"exp_range", SCHED_FLAG_EXP_RANGE}, {"periodic", SCHED_FLAG_PERIODIC},
                           {"unclamped", SCHED_FLAG_UNCLAMPED}});
#if defined(MLX_SCHED_CUDA)
  m.attr("GPU_BACKEND") = "cuda";
  // Load the kernels now, before any MLX work is in flight (launch.h).
  nb::list kernels;
  for (const auto& k : mlx_sched::cuda::load_kernels()) {
    kernels.append(nb::make_tuple(k.name, k.num_regs, k.local_bytes));
  }
  m.attr("CUDA_KERNELS") = kernels;  // (name, registers, local bytes per thread)
#elif defined(MLX_SCHED_METAL)
  m.attr("GPU_BACKEND") = "metal";
#else
  m.attr("GPU_BACKEND") = nb::none();
#endif
}
