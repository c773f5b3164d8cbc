#include "ops.h"

#include <sstream>
#include <stdexcept>
#include <string>

#include "math/program.h"
#include "mlx/ops.h"
#include "primitives.h"

namespace mlx_sched {

namespace {

void check_program(const mx::array& program, bool batched, const char* fn) {
  std::ostringstream msg;
  if (program.dtype() != mx::int32 || program.ndim() != 3 || program.shape(2) != SCHED_WORDS ||
      program.shape(0) < 1 || program.shape(1) < 2) {
    msg << "[" << fn << "] program must be an int32 array of shape (G, R, " << SCHED_WORDS
        << ") with G >= 1 and R >= 2, but got dtype " << program.dtype() << " and shape (";
    for (int i = 0; i < program.ndim(); ++i) msg << (i ? ", " : "") << program.shape(i);
    msg << ").";
    throw std::invalid_argument(msg.str());
  }
  if (!batched && program.shape(0) != 1) {
    msg << "[" << fn << "] an unbatched evaluation takes one program, but got " << program.shape(0)
        << ".";
    throw std::invalid_argument(msg.str());
  }
}

mx::Shape out_shape(const mx::array& program, const mx::Shape& tail, bool batched) {
  mx::Shape shape;
  if (batched) shape.push_back(program.shape(0));
  shape.insert(shape.end(), tail.begin(), tail.end());
  return shape;
}

}  // namespace

mx::array schedule_eval(const mx::array& program, const mx::array& step, bool batched, mx::StreamOrDevice s) {
  check_program(program, batched, "schedule_eval");
  auto dt = step.dtype();
  if (dt == mx::bool_ || dt == mx::complex64) {
    std::ostringstream msg;
    msg << "[schedule_eval] step must be an integer or floating point array, but got dtype " << dt
        << ".";
    throw std::invalid_argument(msg.str());
  }
  auto stream = mx::to_stream(s);
  if (dt == mx::float64 && stream.device != mx::Device::cpu) {
    throw std::invalid_argument(
        "[schedule_eval] float64 steps are supported on the CPU only (MLX has no float64 on the GPU).");
  }
  return mx::array(
      out_shape(program, step.shape(), batched),
      mx::float32,
      std::make_shared<ScheduleEval>(stream, ScheduleEval::Mode::Steps, batched, 0),
      {program, step});
}

mx::array schedule_values(
    const mx::array& program, const mx::array& start, int n, bool batched, mx::StreamOrDevice s) {
  check_program(program, batched, "schedule_values");
  if (n < 0) {
    throw std::invalid_argument("[schedule_values] n must be non-negative.");
  }
  if (start.dtype() != mx::int64 || start.ndim() != 0) {
    throw std::invalid_argument("[schedule_values] start must be an int64 scalar array.");
  }
  return mx::array(
      out_shape(program, {n}, batched),
      mx::float32,
      std::make_shared<ScheduleEval>(mx::to_stream(s), ScheduleEval::Mode::Range, batched, n),
      {program, start});
}

namespace {

std::string shape_str(const mx::array& a) {
  std::ostringstream o;
  o << "(";
  for (int i = 0; i < a.ndim(); ++i) o << (i ? ", " : "") << a.shape(i);
  o << (a.ndim() == 1 ? ",)" : ")");
  return o.str();
}

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument("[fused_step] " + what); }

}  // namespace

FusedStepResult fused_step(
    int kind, const mx::array& step, const mx::array& programs, const std::vector<sched_opt_group>& groups,
    const FusedTensors& tensors, const std::vector<mx::array>& grads, const std::vector<mx::array>& param_sources,
    const std::vector<std::vector<mx::array>>& bucket_states, mx::StreamOrDevice s) {
  const auto& [group_of, bucket_of, offset, param_src, param_off, members] = tensors;
  if (kind < 0 || kind >= SCHED_NUM_OPTIMIZERS) {
    fail("kind must be one of OPTIMIZERS' values, 0 to " + std::to_string(SCHED_NUM_OPTIMIZERS - 1) + ", but got " +
         std::to_string(kind) + ".");
  }
  if (step.dtype() != mx::uint64 || step.ndim() != 0) {
    fail("step must be a uint64 scalar array (the optimizer's counter).");
  }
  check_program(programs, true, "fused_step");
  const int P = programs.shape(0);
  if (groups.empty() || groups.size() > 32767) fail("there must be between 1 and 32767 groups.");
  for (size_t i = 0; i < groups.size(); ++i) {
    const auto& g = groups[i];
    bool rows_ok = g.lr_prog >= 0 && g.lr_prog < P && g.wd_prog >= 0 && g.wd_prog < P;
    for (int k = 0; k < SCHED_OPT_HPS; ++k) rows_ok = rows_ok && g.hp_prog[k] >= -1 && g.hp_prog[k] < P;
    if (!rows_ok) {
      fail("groups[" + std::to_string(i) + "] names a program outside the " + std::to_string(P) + " given.");
    }
  }
  const size_t n = grads.size();
  const size_t ns = sched_opt_num_states(kind);
  if (group_of.size() != n || param_src.size() != n || param_off.size() != n || bucket_of.size() != n ||
      offset.size() != n) {
    fail("grads and the tensors' group_of, bucket_of, offset, param_src and param_off must have the same length.");
  }
  std::vector<mx::array> states;  // the primitive's order: bucket by bucket
  for (size_t b = 0; b < bucket_states.size(); ++b) {
    if (bucket_states[b].size() != ns) {
      fail("states must hold " + std::to_string(ns) + " flat arrays per bucket, but bucket " + std::to_string(b) +
           " has " + std::to_string(bucket_states[b].size()) + ".");
    }
    states.insert(states.end(), bucket_states[b].begin(), bucket_states[b].end());
  }
  if (members < 1 || groups.size() % members != 0) {
    fail("members must be at least 1 and divide the number of groups (" + std::to_string(groups.size()) +
         "), but got " + std::to_string(members) + ".");
  }
  if (states.empty() && n > 0) fail("states must hold " + std::to_string(ns) + " flat arrays per bucket, but got 0.");
  const size_t nb = bucket_states.size();
  FusedStep::Layout layout;
  for (size_t b = 0; b < nb; ++b) {
    const auto& st = bucket_states[b][0];
    for (size_t k = 0; k < ns; ++k) {
      const auto& a = bucket_states[b][k];
      if (a.ndim() != 1 || a.shape(0) != st.shape(0) || a.dtype() != st.dtype() ||
          (a.dtype() != mx::float32 && a.dtype() != mx::float16 && a.dtype() != mx::bfloat16)) {
        fail("states[" + std::to_string(b) + "][" + std::to_string(k) + "] must be a flat float32, float16 or "
             "bfloat16 array of its bucket's size and dtype.");
      }
    }
    layout.bucket_size.push_back(st.shape(0));
  }
  int64_t chunks = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto& g = grads[i];
    const std::string at = "[" + std::to_string(i) + "]";
    if (group_of[i] < 0 || group_of[i] > static_cast<int>(groups.size()) - members) {
      fail("group_of" + at + " = " + std::to_string(group_of[i]) + " is not a group" +
           (members > 1 ? " followed by " + std::to_string(members - 1) + " more (one per member)." : "."));
    }
    if (members > 1 && (g.ndim() == 0 || g.shape(0) != members)) {
      fail("grads" + at + " has shape " + shape_str(g) + ", but with " + std::to_string(members) +
           " members its axis 0 must be " + std::to_string(members) + ".");
    }
    if (bucket_of[i] < 0 || bucket_of[i] >= static_cast<int>(nb)) {
      fail("bucket_of" + at + " = " + std::to_string(bucket_of[i]) + " is not a bucket.");
    }
    const auto& st = bucket_states[bucket_of[i]][0];
    if (g.dtype() != st.dtype() || offset[i] < 0 || offset[i] + static_cast<int64_t>(g.size()) > st.shape(0)) {
      std::ostringstream o;
      o << "grads" << at << " (dtype " << g.dtype() << ", " << g.size() << " elements at offset " << offset[i]
        << ") does not fit its bucket (dtype " << st.dtype() << ", " << st.shape(0) << " elements).";
      fail(o.str());
    }
    if (param_src[i] < 0 || param_src[i] >= static_cast<int>(param_sources.size())) {
      fail("param_src" + at + " = " + std::to_string(param_src[i]) + " is not a parameter source.");
    }
    const auto& p = param_sources[param_src[i]];
    const bool whole = p.shape() == g.shape() && param_off[i] == 0;
    const bool flat = p.ndim() == 1 && param_off[i] >= 0 && param_off[i] + static_cast<int64_t>(g.size()) <= p.size();
    if (p.dtype() != g.dtype() || !(whole || flat)) {
      std::ostringstream o;
      o << "the parameter of grads" << at << " (source " << param_src[i] << ", shape " << shape_str(p) << ", dtype "
        << p.dtype() << ", offset " << param_off[i] << ") does not match the gradient's shape "
        << shape_str(g) << " and dtype " << g.dtype() << ".";
      fail(o.str());
    }
    chunks += members * sched_opt_chunks(g.size() / members);
    layout.size.push_back(static_cast<int64_t>(g.size()));
    layout.group_of.push_back(static_cast<int16_t>(group_of[i]));
  }
  if (chunks > INT32_MAX) fail("too many elements for one step.");
  layout.param_src = param_src;
  layout.param_off = param_off;
  layout.bucket_of = bucket_of;
  layout.offset = offset;
  layout.members = members;

  const int ngroups = static_cast<int>(groups.size());
  std::vector<mx::Shape> shapes = {{}, FusedStep::rates_shape(ngroups, members),
                                   FusedStep::hypers_shape(ngroups, members)};
  std::vector<mx::Dtype> dtypes = {mx::uint64, mx::float32, mx::float32};
  for (size_t b = 0; b < nb; ++b) {
    shapes.push_back(bucket_states[b][0].shape());
    dtypes.push_back(bucket_states[b][0].dtype());
  }
  for (const auto& a : states) {
    shapes.push_back(a.shape());
    dtypes.push_back(a.dtype());
  }
  // The kernel walks up to SCHED_OPT_MAX_DIMS strided dims (after merging
  // contiguous ones); an array of more dims is made row-contiguous first
  // (a no-op for one that already is), so that a step never fails at eval.
  auto walkable = [&](const mx::array& a) {
    return a.ndim() > SCHED_OPT_MAX_DIMS ? mx::contiguous(a, false, s) : a;
  };
  const FusedIo io{static_cast<int>(n), static_cast<int>(param_sources.size()), static_cast<int>(nb),
                   static_cast<int>(ns)};
  std::vector<mx::array> inputs = {step, programs};  // FusedIo's order
  for (const auto& g : grads) inputs.push_back(walkable(g));
  for (const auto& p : param_sources) inputs.push_back(walkable(p));
  inputs.insert(inputs.end(), states.begin(), states.end());
  auto out = mx::array::make_arrays(
      std::move(shapes), dtypes, std::make_shared<FusedStep>(mx::to_stream(s), kind, groups, std::move(layout)),
      inputs);
  FusedStepResult r{out[FusedIo::step_out], out[FusedIo::rates], out[FusedIo::hypers], {}, {}};
  for (size_t b = 0; b < nb; ++b) {
    r.params.push_back(out[io.param_out(b)]);
    r.states.emplace_back();
    for (size_t k = 0; k < ns; ++k) r.states.back().push_back(out[io.state_out(b, k)]);
  }
  return r;
}

std::vector<mx::array> flat_views(
    const mx::array& flat, const std::vector<int64_t>& offsets, const std::vector<mx::Shape>& shapes,
    mx::StreamOrDevice s) {
  if (offsets.size() != shapes.size() || offsets.empty()) {
    throw std::invalid_argument("[flat_views] offsets and shapes must have the same, non-zero length.");
  }
  for (size_t i = 0; i < shapes.size(); ++i) {
    int64_t size = 1;
    for (auto d : shapes[i]) {
      if (d < 0) throw std::invalid_argument("[flat_views] negative dimension.");
      size *= d;
    }
    if (flat.ndim() != 1 || offsets[i] < 0 || offsets[i] + size > flat.size()) {
      throw std::invalid_argument("[flat_views] the view must lie inside a flat (1-D) array.");
    }
  }
  return mx::array::make_arrays(
      shapes, std::vector<mx::Dtype>(shapes.size(), flat.dtype()),
      std::make_shared<FlatView>(mx::to_stream(s), offsets, shapes), {flat});
}

mx::array float_bits(const mx::array& a, mx::StreamOrDevice s) {
  if (a.dtype() != mx::float32) {
    throw std::invalid_argument("[float_bits] a must be a float32 array.");
  }
  return mx::array(a.shape(), mx::int32, std::make_shared<FloatBits>(mx::to_stream(s)), {a});
}

}  // namespace mlx_sched
