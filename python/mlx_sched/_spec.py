"""Schedules built from descriptions, by name: a string spec written as Python
call syntax (``parse``), a ``to_dict`` spec (``from_dict``), a sweep (``grid``),
an mlx-lm config (``from_config``). Every name comes from the registry of
``_schedule.py`` (``FACTORIES``, ``COMBINATORS``).

A string spec is parsed safely (no eval):

    "join_schedules([linear_schedule(0, 1e-3, 100), cosine_decay(1e-3, 10000)], [100])"

Only calls of the schedule factories, numbers (with a sign), strings, True,
False, None, lists/tuples, dicts and keyword arguments are accepted. The same spec builds the schedule from any
module with the mlx.optimizers factory API (mlx_sched or mlx.optimizers).
"""

from __future__ import annotations

import ast
import itertools
import math
import re
from types import ModuleType
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from . import _families  # noqa: F401 - registers the families' names
from ._schedule import COMBINATORS, FACTORIES, Schedule, _arg_names, combinator
from ._schedules import join_schedules, linear_schedule, multiply, stack
from ._validate import _check_count, _check_real, _is_scalar

# The names of the five factories of mlx.optimizers: listed first in errors
# (a spec for mlx.optimizers uses only these).
_MLX_NAMES = ("cosine_decay", "exponential_decay", "join_schedules", "linear_schedule", "step_decay")


def _names() -> Tuple[str, ...]:
    """Every name a string spec may call: mlx.optimizers' five, then ours."""
    ours = [n for n in list(FACTORIES) + list(COMBINATORS) if n not in _MLX_NAMES]
    return _MLX_NAMES + tuple(ours)


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
    if isinstance(node, ast.Name) and node.id in _names() and node.id != "grid":
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
        if not isinstance(node.func, ast.Name) or node.func.id not in _names():
            name = ast.unparse(node.func)
            raise SpecError(f"unknown schedule '{name}'; use one of: {', '.join(_names())}")
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


_CONTAINERS = {"join_schedules": {"kind", "schedules", "boundaries"}, "stack": {"kind", "schedules"},
               "multiply": {"kind", "schedules"}, "index": {"kind", "of", "index"},
               "slice": {"kind", "of", "start", "stop", "step"}}


def _spec_children(d: Any, factories: Dict[str, Callable[..., Schedule]]) -> List[Any]:
    """Check one spec node's fields; return the specs it is built from."""
    if not isinstance(d, dict):
        raise ValueError(f"a schedule spec must be a dict, but got {type(d).__name__}.")
    kind = d.get("kind")
    known = dict(_CONTAINERS)
    if isinstance(kind, str) and kind in factories:
        known[kind] = {"kind", "args"}
    if not isinstance(kind, str) or kind not in known:
        raise ValueError(f"unknown schedule kind {kind!r} in field 'kind'.")
    extra = set(d) - known[kind]
    if extra:
        raise ValueError(f"unknown field {sorted(extra)[0]!r} in a {kind!r} spec.")
    for name in sorted(known[kind]):
        if name not in d:
            raise ValueError(f"schedule spec of kind {kind!r} has no field {name!r}.")
    if kind in ("join_schedules", "stack", "multiply"):
        if not isinstance(d["schedules"], list):
            raise ValueError("field 'schedules' must be a list of schedule specs.")
        return list(d["schedules"])
    if kind in ("index", "slice"):
        return [d["of"]]
    return []


def _spec_build(d: Dict[str, Any], built: List[Schedule], factories: Dict[str, Callable[..., Schedule]]) -> Schedule:
    kind = d["kind"]
    if kind == "join_schedules":
        return join_schedules(built, d["boundaries"])
    if kind == "stack":
        return stack(built)
    if kind == "multiply":
        return multiply(*built)
    if kind == "index":
        return built[0][d["index"]]
    if kind == "slice":
        return built[0][slice(d["start"], d["stop"], d["step"])]
    args = d["args"]
    names = _arg_names(factories[kind])
    if not isinstance(args, dict) or set(args) - set(names):
        raise ValueError(f"field 'args' of {kind!r} takes {', '.join(names)}, but got {args!r}.")
    return factories[kind](**args)


def from_dict(d: Dict[str, Any]) -> Schedule:
    """Rebuild a schedule from ``Schedule.to_dict()`` (bit for bit the same program).

    Specs of any depth (no recursion: thousands of nested joins work).

    Args:
        d (dict): A spec as ``Schedule.to_dict()`` gives it (plain JSON types:
            it survives ``json.dumps``/``json.loads``): ``{"kind": name,
            "args": {...}}`` for a factory, or a combinator's, index's or
            slice's fields.

    Returns:
        Schedule: The schedule the spec describes, with the same program bit
        for bit.

    Raises:
        ValueError: for an unknown kind or a missing, unknown or malformed field (named).
        TypeError: An argument the named factory rejects by type (its own message).
    """
    factories = FACTORIES
    built: Dict[int, Schedule] = {}
    pending = set()
    todo: List[Tuple[Any, bool]] = [(d, False)]
    while todo:
        node, ready = todo.pop()
        if id(node) in built:
            continue
        children = _spec_children(node, factories)
        if not ready:
            if id(node) in pending:
                raise ValueError("a schedule spec must not contain itself.")
            pending.add(id(node))
            todo.append((node, True))
            todo.extend((c, False) for c in reversed(children))
            continue
        built[id(node)] = _spec_build(node, [built[id(c)] for c in children], factories)
        pending.discard(id(node))
    return built[id(d)]


@combinator
def grid(factory: Callable[..., Schedule], **lists: Sequence[Any]) -> Schedule:
    """The batch of ``factory`` over the Cartesian product of hyperparameter lists.

    Keyword arguments given as lists vary (the last one fastest), others are
    fixed; ``batch.configs`` lists each member's hyperparameters.

    Args:
        factory (callable): A registered mlx-sched schedule factory, e.g.
            ``mlx_sched.cosine_decay`` (not a combinator or a Python function).
        **lists: The factory's keyword arguments: a list or tuple (non-empty)
            is swept, any other value is passed to every member as it is.

    Returns:
        Schedule: A batch with one member per combination (the last list
        varying fastest); ``batch.configs`` gives each member's arguments.

    Raises:
        TypeError: ``factory`` not an mlx-sched factory, or an argument it does
            not take.
        ValueError: An empty list, or a value out of the factory's range.

    Example:
        >>> b = mlx_sched.grid(mlx_sched.cosine_decay, init=[1e-3, 3e-3], decay_steps=[100, 200, 400])
        >>> len(b), b.configs[1]
        (6, {'init': 0.001, 'decay_steps': 200})
    """
    if not callable(factory) or factory not in FACTORIES.values():
        raise TypeError("factory must be an mlx_sched schedule factory, e.g. mlx_sched.cosine_decay.")
    varying = {k: list(v) for k, v in lists.items() if isinstance(v, (list, tuple))}
    fixed = {k: v for k, v in lists.items() if k not in varying}
    for k, v in varying.items():
        if not v:
            raise ValueError(f"{k} must not be an empty list.")
    configs = [dict(fixed, **dict(zip(varying, combo))) for combo in itertools.product(*varying.values())]
    batch = stack([factory(**c) for c in configs])
    batch._configs = configs
    return batch


# mlx-lm's lora.py reads its YAML configs with this float resolver added to
# yaml.SafeLoader (so "1e-5", which YAML 1.1 leaves a string, is a float):
_YAML_FLOAT = re.compile(
    r"""^(?:
     [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)


def _yaml_number(v: Any) -> Any:
    """A string that mlx-lm's YAML loader reads as a float, as that float
    (PyYAML's construct_yaml_float); anything else unchanged. Lists and dicts
    are converted throughout, as the loader does."""
    if isinstance(v, list):
        return [_yaml_number(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_yaml_number(x) for x in v)
    if isinstance(v, dict):
        return {_yaml_number(k): _yaml_number(x) for k, x in v.items()}
    if not isinstance(v, str) or not _YAML_FLOAT.match(v):
        return v
    t = v.replace("_", "").lower()
    sign = -1.0 if t[0] == "-" else 1.0
    t = t.lstrip("+-")
    if t == ".inf":
        return sign * math.inf
    if t == ".nan":
        return math.nan
    if ":" in t:  # sexagesimal, YAML 1.1
        out, base = 0.0, 1.0
        for part in reversed(t.split(":")):
            out += float(part) * base
            base *= 60
        return sign * out
    return sign * float(t)


def from_config(cfg: Dict[str, Any]) -> Schedule:
    """The schedule mlx-lm's ``build_schedule`` builds from a training config's
    ``lr_schedule`` dict, value for value.

    ``{"name": ..., "arguments": [...], "warmup": W, "warmup_init": w0}``:
    ``name`` is a factory called with the positional ``arguments`` (mlx-lm
    looks in ``mlx.optimizers``; any mlx-sched factory works here). With
    ``warmup`` W > 0 the result is mlx-lm's
    ``join_schedules([linear_schedule(w0, v0, W), schedule], [W + 1])``:
    the warmup reaches v0 at step W, holds it at step W, and the schedule
    starts at step W + 1 (at its own step 0). v0 is the schedule's own value
    at its step 0: ``arguments[0]`` for the ``mlx.optimizers`` factories, as
    in mlx-lm (for a family such as ``onecycle``, whose first argument is not
    a learning rate, its value at step 0).

    Strings that mlx-lm's YAML loader reads as floats (``"1e-5"``: what
    ``yaml.safe_load`` gives for ``1e-5``) are taken as those numbers.

    Args:
        cfg (dict): mlx-lm's ``lr_schedule``: ``name`` (str, a factory name),
            ``arguments`` (non-empty list, positional arguments of that factory;
            YAML float strings accepted), optional ``warmup`` (int ``>= 0``,
            default 0: none) and ``warmup_init`` (float, default ``0.0``).

    Returns:
        Schedule: The schedule (joined with its linear warmup when ``warmup > 0``).

    Raises:
        TypeError: ``cfg`` not a dict, or arguments the factory rejects by type.
        ValueError: An unknown or missing field, an unknown ``name``, empty
            ``arguments``, or a value out of range.

    Example:
        >>> lr = mlx_sched.from_config({"name": "cosine_decay", "arguments": ["1e-5", 1000, 1e-7], "warmup": 100})
        >>> lr(100), lr(101)
        (array(1e-05, dtype=float32), array(1e-05, dtype=float32))
    """
    if not isinstance(cfg, dict):
        raise TypeError(f"an lr_schedule config must be a dict, but got {type(cfg).__name__}.")
    extra = set(cfg) - {"name", "arguments", "warmup", "warmup_init"}
    if extra:
        raise ValueError(f"unknown field {sorted(extra)[0]!r} in an lr_schedule config (mlx-lm reads name, arguments, warmup, warmup_init).")
    for field in ("name", "arguments"):
        if field not in cfg:
            raise ValueError(f"an lr_schedule config needs the field {field!r}.")
    factories = FACTORIES
    name = cfg["name"]
    if not isinstance(name, str) or name not in factories:
        raise ValueError(f"unknown schedule {name!r} in field 'name'; use one of: {', '.join(sorted(factories))}.")
    args = _yaml_number(cfg["arguments"])
    if not isinstance(args, (list, tuple)) or not args:
        raise ValueError(f"field 'arguments' must be a non-empty list, but got {args!r}.")
    schedule = factories[name](*args)
    warmup = _yaml_number(cfg.get("warmup", 0))
    if warmup is None or warmup is False or (not isinstance(warmup, str) and _is_scalar(warmup, 0)):
        return schedule  # mlx-lm: no warmup for a falsy value
    warmup = _check_count("warmup", warmup)
    warmup_init = _check_real("warmup_init", _yaml_number(cfg.get("warmup_init", 0.0)))
    if name in ("cosine_decay", "exponential_decay", "linear_schedule", "step_decay"):
        peak: Any = args[0]  # mlx-lm's initial_lr, as given (a batch: a sequence)
    else:
        v0 = np.array(schedule(0)).astype(np.float64)
        peak = v0.tolist() if schedule.batched else float(v0)
    return join_schedules([linear_schedule(warmup_init, peak, warmup), schedule], [warmup + 1])
