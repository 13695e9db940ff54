"""The package reads as the flow: imports only run down the stages, and `import tuner` loads no NumPy."""

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "tuner"
# lowest first; a module may import only from its own stage or a lower one
STAGES = [("errors", "redact", "limits"), ("nn",), ("data",), ("config",), ("train",), ("evaluate",), ("tuning",),
          ("forecast", "estimator"), ("app",), ("cli", "__main__", "arguments")]
LEVEL = {name: i for i, names in enumerate(STAGES) for name in names}


def stage(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported tuner module, line) for every import outside `if TYPE_CHECKING:` blocks."""
    tree = ast.parse(path.read_text())
    skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for n in ast.walk(node)}
    module = "tuner." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = []
    for node in ast.walk(tree):
        if id(node) in skip or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
            names = [f"{base}.{node.module}" if node.module else f"{base}.{a.name}" for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = [a.name for a in node.names]
        found += [(n, node.lineno) for n in names if n.startswith("tuner.")]
    return found


def test_imports_only_run_down_the_stages():
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = stage("tuner." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        if own not in LEVEL:
            continue  # tuner/__init__.py: names loaded on first use
        for target, line in imports(path):
            other = stage(target)
            if other in LEVEL and LEVEL[other] > LEVEL[own]:
                upward.append(f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}")
    assert not upward, "\n".join(upward)
    assert {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
            if p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists())} - {"__init__"} <= set(LEVEL)


def test_import_tuner_loads_no_numpy():
    done = subprocess.run([sys.executable, "-c", "import sys, tuner; print('numpy' in sys.modules)"],
                          capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_no_function_is_over_60_lines():
    """A function that needs more has more than one job (docstring included: it says what that job is)."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno >= 60:
                long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}: "
                            f"{node.end_lineno - node.lineno + 1} lines")
    assert not long, "\n".join(long)


def test_no_module_is_over_300_lines():
    """A module that needs more holds more than one job."""
    long = [f"{p.relative_to(PACKAGE.parent)}: {n} lines" for p in sorted(PACKAGE.rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > 300]
    assert not long, "\n".join(long)
