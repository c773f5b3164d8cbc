// mlx-sched: the compiled module (_ext). Thin: the public API is Python.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/variant.h>
#include <nanobind/stl/array.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <array>
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

  using Slots = std::array<float, SCHED_OPT_HPS>;
  using Rows = std::array<int, SCHED_OPT_HPS>;
  nb::class_<sched_opt_group>(m, "FusedGroup", "A parameter group's hyperparameters (math/optim.h: sched_opt_group).")
      .def(
          "__init__",
          [](sched_opt_group* g, int lr_prog, int wd_prog, int flags, const Rows& hp_prog, const Slots& hp,
             const Slots& hp_1m) {
            new (g) sched_opt_group{};
            g->lr_prog = lr_prog;
            g->wd_prog = wd_prog;
            g->flags = flags;
            for (int k = 0; k < SCHED_OPT_HPS; ++k) {
              if (hp_prog[k] < -1 || hp_prog[k] > 32767) throw nb::value_error("hp_prog: a row, or -1 for a number.");
              g->hp_prog[k] = static_cast<sched_i16>(hp_prog[k]);
              g->hp[k] = hp[k];
              g->hp_1m[k] = hp_1m[k];
            }
          },
          nb::kw_only(), "lr_prog"_a, "wd_prog"_a, "flags"_a = 0, "hp_prog"_a = Rows{-1, -1, -1},
          "hp"_a = Slots{0.0f, 0.0f, 0.0f}, "hp_1m"_a = Slots{1.0f, 1.0f, 1.0f},
          "Program rows and numbers of a group: hp_prog/hp/hp_1m per slot (OPT_HP names the slots).")
      .def_rw("lr_prog", &sched_opt_group::lr_prog, "Row of the programs input: the learning rate.")
      .def_rw("wd_prog", &sched_opt_group::wd_prog, "Row of the programs input: the weight decay.")
      .def_rw("flags", &sched_opt_group::flags, "OPT_FLAGS bits.")
      .def_prop_ro("hp_prog", [](const sched_opt_group& g) { return Rows{g.hp_prog[0], g.hp_prog[1], g.hp_prog[2]}; },
                   "Each slot's program row (-1: the number in hp).")
      .def_prop_ro("hp", [](const sched_opt_group& g) { return Slots{g.hp[0], g.hp[1], g.hp[2]}; },
                   "Each slot's number (float32).")
      .def_prop_ro("hp_1m", [](const sched_opt_group& g) { return Slots{g.hp_1m[0], g.hp_1m[1], g.hp_1m[2]}; },
                   "1 - each slot's number (from double).")
      // copy.deepcopy and pickle of an optimizer (its built groups) go through these
      .def("__getstate__",
           [](const sched_opt_group& g) {
             return std::make_tuple(g.lr_prog, g.wd_prog, g.flags, Rows{g.hp_prog[0], g.hp_prog[1], g.hp_prog[2]},
                                    Slots{g.hp[0], g.hp[1], g.hp[2]}, Slots{g.hp_1m[0], g.hp_1m[1], g.hp_1m[2]});
           })
      .def("__setstate__", [](sched_opt_group& g, const std::tuple<int, int, int, Rows, Slots, Slots>& t) {
        new (&g) sched_opt_group{};
        g.lr_prog = std::get<0>(t);
        g.wd_prog = std::get<1>(t);
        g.flags = std::get<2>(t);
        for (int k = 0; k < SCHED_OPT_HPS; ++k) {
          g.hp_prog[k] = static_cast<sched_i16>(std::get<3>(t)[k]);
          g.hp[k] = std::get<4>(t)[k];
          g.hp_1m[k] = std::get<5>(t)[k];
        }
      });

  nb::class_<mlx_sched::FusedTensors>(m, "FusedTensors",
                                      "Where each tensor of a fused step sits, one entry per tensor (ops.h).")
      .def(
          "__init__",
          [](mlx_sched::FusedTensors* t, std::vector<int> group_of, std::vector<int> bucket_of,
             std::vector<int64_t> offset, std::vector<int> param_src, std::vector<int64_t> param_off, int members) {
            new (t) mlx_sched::FusedTensors{std::move(group_of), std::move(bucket_of), std::move(offset),
                                            std::move(param_src), std::move(param_off), members};
          },
          nb::kw_only(), "group_of"_a, "bucket_of"_a, "offset"_a, "param_src"_a, "param_off"_a, "members"_a = 1)
      .def_rw("group_of", &mlx_sched::FusedTensors::group_of, "Each tensor's parameter group.")
      .def_rw("bucket_of", &mlx_sched::FusedTensors::bucket_of, "Each tensor's bucket (its flat buffers).")
      .def_rw("offset", &mlx_sched::FusedTensors::offset, "Each tensor's element offset in its bucket.")
      .def_rw("param_src", &mlx_sched::FusedTensors::param_src, "Each tensor's parameter source.")
      .def_rw("param_off", &mlx_sched::FusedTensors::param_off, "Each tensor's element offset in its source.")
      .def_rw("members", &mlx_sched::FusedTensors::members,
              "Models stacked along every tensor's axis 0 (a sweep): member m of a tensor in group k uses group k + m.")
      .def("__getstate__",
           [](const mlx_sched::FusedTensors& t) {
             return std::make_tuple(t.group_of, t.bucket_of, t.offset, t.param_src, t.param_off, t.members);
           })
      .def("__setstate__",
           [](mlx_sched::FusedTensors& t, const std::tuple<std::vector<int>, std::vector<int>, std::vector<int64_t>,
                                                           std::vector<int>, std::vector<int64_t>, int>& s) {
             new (&t) mlx_sched::FusedTensors{std::get<0>(s), std::get<1>(s), std::get<2>(s), std::get<3>(s),
                                              std::get<4>(s), std::get<5>(s)};
           });

  m.def(
      "fused_step",
      [](int kind, const mx::array& step, const mx::array& programs, const std::vector<sched_opt_group>& groups,
         const mlx_sched::FusedTensors& tensors, const std::vector<mx::array>& grads,
         const std::vector<mx::array>& param_sources, const std::vector<std::vector<mx::array>>& states,
         mx::StreamOrDevice s) {
        auto r = mlx_sched::fused_step(kind, step, programs, groups, tensors, grads, param_sources, states, s);
        nb::dict d;
        d["step"] = r.step;
        d["learning_rate"] = r.learning_rate;
        d["hypers"] = r.hypers;
        d["params"] = r.params;
        d["states"] = r.states;
        return d;
      },
      nb::kw_only(), "kind"_a, "step"_a, "programs"_a, "groups"_a, "tensors"_a, "grads"_a, "param_sources"_a,
      "states"_a, "stream"_a = nb::none(),
      R"(One fused optimizer step over every tensor, in one FusedStep node.

One kernel launch on CUDA; on Metal, one dispatch per batch of 25 arrays.

Args:
    kind (int): OPTIMIZERS[name] (sgd, adam, adamw, rmsprop, adagrad,
        adadelta, adamax, lion).
    step (array): uint64 scalar, the counter before this step.
    programs (array): int32 (P, R, 16), the groups' schedule programs.
    groups (list[FusedGroup]): each group's hyperparameters and program rows.
    tensors (FusedTensors): where each tensor sits (group, bucket, offset,
        parameter source and offset in it), one entry per gradient; with
        ``members`` > 1 each tensor's axis 0 holds that many models, member
        m in group ``group_of + m``.
    grads (list[array]): the gradients (any layout).
    param_sources (list[array]): the parameters: previous flat buffers, or
        the tensors themselves.
    states (list[list[array]]): per bucket, its flat states (SGD: [v];
        Adam/AdamW: [m, v]).

Returns:
    dict: ``step`` (the counter after the step), ``learning_rate`` (each
    group's rate), ``hypers`` (each group's weight decay and slot values,
    ``(1 + OPT_HPS,)`` or ``(G, 1 + OPT_HPS)``), ``params`` (per bucket, the flat parameters) and
    ``states`` (per bucket, the flat states).)");

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

#define SCHED_OPT_ENTRY(name, k, ns) {#name, k},
  m.attr("OPTIMIZERS") = table({SCHED_OPTIMIZERS(SCHED_OPT_ENTRY)});
#undef SCHED_OPT_ENTRY
  m.attr("OPT_HP") = table({{"momentum", SCHED_OPT_HP_MOMENTUM}, {"dampening", SCHED_OPT_HP_DAMPENING},
                            {"b1", SCHED_OPT_HP_B1}, {"b2", SCHED_OPT_HP_B2}, {"rho", SCHED_OPT_HP_RHO},
                            {"eps", SCHED_OPT_HP_EPS}});
  m.attr("OPT_HPS") = SCHED_OPT_HPS;
  m.attr("OPT_FLAGS") = table({{"momentum", SCHED_OPT_MOMENTUM}, {"nesterov", SCHED_OPT_NESTEROV},
                               {"weight_decay", SCHED_OPT_WEIGHT_DECAY},
                               {"bias_correction", SCHED_OPT_BIAS_CORRECTION},
                               {"decay_if_positive", SCHED_OPT_DECAY_IF_POSITIVE}});

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
