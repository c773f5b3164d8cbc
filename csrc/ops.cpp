#include "ops.h"

#include <sstream>
#include <stdexcept>
#include <string>

#include "math/program.h"
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

std::vector<mx::array> fused_step(
    int kind, const mx::array& step, const mx::array& programs, const std::vector<sched_opt_group>& groups,
    const std::vector<int>& group_of, const std::vector<mx::array>& params, const std::vector<mx::array>& grads,
    const std::vector<mx::array>& states, mx::StreamOrDevice s) {
  if (kind != SCHED_OPT_SGD && kind != SCHED_OPT_ADAM && kind != SCHED_OPT_ADAMW) {
    fail("kind must be 0 (SGD), 1 (Adam) or 2 (AdamW), but got " + std::to_string(kind) + ".");
  }
  if (step.dtype() != mx::uint64 || step.ndim() != 0) {
    fail("step must be a uint64 scalar array (the optimizer's counter).");
  }
  check_program(programs, true, "fused_step");
  const int P = programs.shape(0);
  if (groups.empty() || groups.size() > 32767) fail("there must be between 1 and 32767 groups.");
  for (size_t i = 0; i < groups.size(); ++i) {
    const auto& g = groups[i];
    if (g.lr_prog < 0 || g.lr_prog >= P || g.wd_prog < 0 || g.wd_prog >= P) {
      fail("groups[" + std::to_string(i) + "] names a program outside the " + std::to_string(P) + " given.");
    }
  }
  const size_t n = params.size();
  const size_t ns = kind == SCHED_OPT_SGD ? 1 : 2;
  if (grads.size() != n || group_of.size() != n) fail("params, grads and group_of must have the same length.");
  if (states.size() != ns * n) {
    fail("states must hold " + std::to_string(ns) + " arrays per parameter (" + std::to_string(ns * n) +
         "), but got " + std::to_string(states.size()) + ".");
  }
  int64_t chunks = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto& p = params[i];
    const std::string at = "[" + std::to_string(i) + "]";
    if (p.dtype() != mx::float32 && p.dtype() != mx::float16 && p.dtype() != mx::bfloat16) {
      std::ostringstream o;
      o << "params" << at << " must be float32, float16 or bfloat16, but got " << p.dtype() << ".";
      fail(o.str());
    }
    if (group_of[i] < 0 || group_of[i] >= static_cast<int>(groups.size())) {
      fail("group_of" + at + " = " + std::to_string(group_of[i]) + " is not a group.");
    }
    auto same = [&](const mx::array& a, const std::string& name) {
      if (a.shape() != p.shape() || a.dtype() != p.dtype()) {
        std::ostringstream o;
        o << name << " has shape " << shape_str(a) << " and dtype " << a.dtype() << ", but params" << at
          << " has shape " << shape_str(p) << " and dtype " << p.dtype() << ".";
        fail(o.str());
      }
    };
    same(grads[i], "grads" + at);
    for (size_t k = 0; k < ns; ++k) same(states[k * n + i], "states[" + std::to_string(k * n + i) + "]");
    chunks += sched_opt_chunks(p.size());
  }
  if (chunks > INT32_MAX) fail("too many elements for one step.");

  std::vector<int16_t> g16(group_of.begin(), group_of.end());
  std::vector<mx::Shape> shapes = {{}, groups.size() == 1 ? mx::Shape{} : mx::Shape{static_cast<int>(groups.size())}};
  std::vector<mx::Dtype> dtypes = {mx::uint64, mx::float32};
  std::vector<mx::array> inputs = {step, programs};
  for (size_t k = 0; k < 1 + ns; ++k) {
    for (size_t i = 0; i < n; ++i) {
      shapes.push_back(params[i].shape());
      dtypes.push_back(params[i].dtype());
    }
  }
  inputs.insert(inputs.end(), params.begin(), params.end());
  inputs.insert(inputs.end(), grads.begin(), grads.end());
  inputs.insert(inputs.end(), states.begin(), states.end());
  return mx::array::make_arrays(
      std::move(shapes), dtypes, std::make_shared<FusedStep>(mx::to_stream(s), kind, groups, std::move(g16)), inputs);
}

}  // namespace mlx_sched
