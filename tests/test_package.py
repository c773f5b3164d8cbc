"""The built package: version guard, compiled constants, public API."""

import subprocess
import sys
import textwrap

import mlx.core as mx
import numpy as np

import mlx_sched as ms
from mlx_sched import _ext, _program


def test_version_mismatch_is_an_import_error():
    code = textwrap.dedent(
        """
        import mlx.core as mx
        mx.__version__ = "0.0.1"
        try:
            import mlx_sched
        except ImportError as e:
            print("IMPORTERROR", e)
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "IMPORTERROR" in out
    assert "0.0.1" in out and mx.__version__ in out


def test_built_against_this_mlx():
    assert _ext.MLX_VERSION == mx.__version__


def test_program_layout_matches_the_header():
    assert _program.RECORD.itemsize == 4 * _ext.PROGRAM_WORDS == 64
    prog = np.array(ms.cosine_decay(1.0, 10).program)
    assert prog.shape == (1, 2, 16) and prog.dtype == np.int32
    assert tuple(prog[0, 0, :3]) == (_ext.PROGRAM_MAGIC, _ext.PROGRAM_VERSION, 1)
    assert prog[0, 1, 0] == _ext.KINDS["cosine"]


def test_join_flattens_with_starts_and_offsets():
    j = ms.join_schedules(
        [ms.cosine_decay(1, 10), ms.join_schedules([ms.linear_schedule(0, 1, 5), ms.step_decay(1, 0.5, 2)], [-3])],
        [100],
    )
    (segs,) = j.segments
    assert [s.start for s in segs] == [None, 100, 100]  # max(100, 100 - 3)
    assert [s.offset for s in segs] == [0, 100, 97]


def test_repr_names_the_factory_call():
    r = repr(ms.join_schedules([ms.linear_schedule(0, 1e-3, 100), ms.cosine_decay(1e-3, 10000)], [100]))
    assert r == "mlx_sched.join_schedules([linear_schedule(0, 0.001, 100), cosine_decay(0.001, 10000, 0.0)], [100])"


def test_registry_is_the_public_api():
    """One registry of names: every factory (@factory) and combinator
    (@combinator) is exported, and __all__ holds nothing else but the Schedule
    type and the functions that read specs."""
    from mlx_sched._schedule import COMBINATORS, FACTORIES

    assert not set(FACTORIES) & set(COMBINATORS)
    assert set(FACTORIES) | set(COMBINATORS) | {"Schedule", "evaluate", "from_dict", "from_config"} == set(ms.__all__)
    for name, fn in {**FACTORIES, **COMBINATORS}.items():
        assert getattr(ms, name) is fn


def test_no_import_cycle():
    """The package's modules import one another one way (any import of a
    sibling counts, inside a function too)."""
    import ast
    import pathlib

    pkg = pathlib.Path(ms.__file__).parent
    graph = {}
    for f in pkg.glob("*.py"):
        deps = set()
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                if node.module:
                    deps.add(node.module.split(".")[0])
                else:
                    deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mlx_sched."):
                deps.add(node.module.split(".")[1])
        graph[f.stem] = deps & {p.stem for p in pkg.glob("*.py")} - {"__init__"}
    state = {}

    def visit(m, path):
        if state.get(m) == "done":
            return
        assert state.get(m) != "open", "import cycle: " + " -> ".join(path + [m])
        state[m] = "open"
        for d in sorted(graph.get(m, ())):
            visit(d, path + [m])
        state[m] = "done"

    for m in sorted(graph):
        visit(m, [])
