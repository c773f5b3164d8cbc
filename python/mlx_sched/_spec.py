"""Parse a schedule written as Python call syntax, safely (no eval).

    "join_schedules([linear_schedule(0, 1e-3, 100), cosine_decay(1e-3, 10000)], [100])"

Only calls of the schedule factories, numbers (with a sign), strings, True,
False, None, lists/tuples, dicts and keyword arguments are accepted. The same spec builds the schedule from any
module with the mlx.optimizers factory API (mlx_sched or mlx.optimizers).
"""

from __future__ import annotations

import ast
from types import ModuleType
from typing import Any

FACTORIES = ("cosine_decay", "exponential_decay", "join_schedules", "linear_schedule", "step_decay")
_EXTRA = (  # mlx_sched only
    "stack", "constant", "polynomial_decay", "piecewise_constant", "multistep_decay", "piecewise_interpolate",
    "warmup_constant", "warmup_cosine_decay", "warmup_exponential_decay", "cosine_restarts", "sgdr",
    "linear_onecycle", "cosine_onecycle", "onecycle", "cyclic", "inverse_sqrt", "warmup_stable_decay",
    "cosine_with_min_lr", "cosine_with_warmup", "cosine_hard_restarts", "cosine_warmup_with_min_lr", "multiply", "get_schedule", "grid",
)


class SpecError(ValueError):
    """A spec that is not a schedule expression."""


def parse(text: str, module: ModuleType) -> Any:
    """Build the schedule that `text` describes with `module`'s factories."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise SpecError(f"not a schedule expression: {e.msg} at column {e.offset}") from None
    return _build(tree.body, module)


def _build(node: ast.AST, module: ModuleType) -> Any:
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (int, float, str))):
        return node.value
    if isinstance(node, ast.Name) and node.id in FACTORIES + _EXTRA and node.id != "grid":
        fn = getattr(module, node.id, None)  # a factory as a value: grid(cosine_decay, ...)
        if fn is None:
            raise SpecError(f"{node.id} is not available in {module.__name__}")
        return fn
    if isinstance(node, ast.Dict):
        if any(k is None for k in node.keys):
            raise SpecError("**mappings are not allowed in a spec")
        return {_build(k, module): _build(v, module) for k, v in zip(node.keys, node.values) if k is not None}
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        v = _build(node.operand, module)
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            raise SpecError("a sign applies to numbers only")
        return -v if isinstance(node.op, ast.USub) else v
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_build(e, module) for e in node.elts]
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FACTORIES + _EXTRA:
            name = ast.unparse(node.func)
            raise SpecError(f"unknown schedule '{name}'; use one of: {', '.join(FACTORIES + _EXTRA)}")
        fn = getattr(module, node.func.id, None)
        if fn is None:
            raise SpecError(f"{node.func.id} is not available in {module.__name__}")
        args = [_build(a, module) for a in node.args]
        kwargs = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise SpecError("**kwargs are not allowed in a spec")
            kwargs[kw.arg] = _build(kw.value, module)
        return fn(*args, **kwargs)
    raise SpecError(f"not allowed in a schedule spec: {ast.unparse(node)!r}")
