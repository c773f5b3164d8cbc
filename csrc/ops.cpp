#include "ops.h"

#include <sstream>
#include <stdexcept>

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

}  // namespace mlx_sched
