// mlx-sched: the compiled module (_ext). Thin: the public API is Python.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/variant.h>

#include "math/program.h"
#include "mlx/version.h"
#include "ops.h"
#if defined(MLX_SCHED_CUDA)
#include "cuda/launch.h"
#endif

namespace nb = nanobind;
using namespace nb::literals;

NB_MODULE(_ext, m) {
  m.doc() = "mlx-sched compiled core: one MLX primitive that evaluates schedule programs.";

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

  // What the Python layer checks against at import and mirrors in _program.py.
  m.attr("MLX_VERSION") = std::to_string(MLX_VERSION_MAJOR) + "." +
      std::to_string(MLX_VERSION_MINOR) + "." + std::to_string(MLX_VERSION_PATCH);
  m.attr("PROGRAM_MAGIC") = SCHED_MAGIC;
  m.attr("PROGRAM_VERSION") = SCHED_VERSION;
  m.attr("PROGRAM_WORDS") = SCHED_WORDS;
  nb::dict kinds;
  kinds["constant"] = SCHED_KIND_CONSTANT;
  kinds["linear"] = SCHED_KIND_LINEAR;
  kinds["cosine"] = SCHED_KIND_COSINE;
  kinds["exponential"] = SCHED_KIND_EXPONENTIAL;
  kinds["power"] = SCHED_KIND_POWER;
  kinds["triangle"] = SCHED_KIND_TRIANGLE;
  m.attr("KINDS") = kinds;
  nb::dict flags;
  flags["staircase"] = SCHED_FLAG_STAIRCASE;
  flags["neg_rate"] = SCHED_FLAG_NEG_RATE;
  flags["zero_rate"] = SCHED_FLAG_ZERO_RATE;
  flags["shape_cos2"] = SCHED_FLAG_SHAPE_COS2;
  flags["shape_sin2"] = SCHED_FLAG_SHAPE_SIN2;
  flags["halving"] = SCHED_FLAG_HALVING;
  flags["exp_range"] = SCHED_FLAG_EXP_RANGE;
  flags["periodic"] = SCHED_FLAG_PERIODIC;
  flags["unclamped"] = SCHED_FLAG_UNCLAMPED;
  m.attr("FLAGS") = flags;
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
