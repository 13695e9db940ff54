"""The benchmarks are not tests, but they must keep importing what they measure."""

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).parent.parent / "bench"


@pytest.mark.parametrize("name", sorted(p.stem for p in BENCH.glob("*.py")))
def test_benchmark_imports(name, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # as `import` does: dataclasses look their module up there
    spec.loader.exec_module(module)
    assert module.__doc__


def test_naive_loop_matches_the_engine():
    sys.path.insert(0, str(BENCH))
    try:
        import engine

        engine.check_loop_equals_batch()  # the per-sample loop of the speed table computes our gradients
    finally:
        sys.path.remove(str(BENCH))
