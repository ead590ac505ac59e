"""The package's architecture, checked: no import cycles, science never imports widgets, modules stay small."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "toolkit"
#: Modules allowed past the size limit for now, with their line counts: they only may shrink.
LARGE = {"toolkit.potentials": 450}
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def _imports(path: Path, modules) -> set[str]:
    """Every toolkit module ``path`` imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("toolkit"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("toolkit")}
    return {m for m in found if m in modules and m != "toolkit"}


def _graph():
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def test_there_is_no_import_cycle():
    graph, state, cycles = _graph(), {}, []

    def visit(node, stack):
        state[node] = "open"
        for child in sorted(graph[node]):
            if state.get(child) == "open":
                cycles.append(stack[stack.index(child):] + [child])
            elif child not in state:
                visit(child, stack + [child])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert cycles == []


def test_science_modules_never_import_widgets_or_the_runner():
    ui = {m for m in _graph() if m.startswith("toolkit.widgets")} | {"toolkit.runner", "toolkit.__main__"}
    for name, imported in _graph().items():
        if name in ui or name.startswith("toolkit.widgets"):
            continue
        assert not imported & ui, f"{name} imports {sorted(imported & ui)}"


@pytest.mark.parametrize("name", sorted(_modules()))
def test_modules_stay_small(name):
    lines = len(_modules()[name].read_text().splitlines())
    assert lines <= LARGE.get(name, MAX_LINES), f"{name} has {lines} lines"


def test_bench_results_md_is_generated_from_the_recorded_tables():
    import importlib.util

    spec = importlib.util.spec_from_file_location("record", PACKAGE.parent / "bench" / "record.py")
    record = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record)
    if not list(record.RESULTS_DIR.glob("*.json")):
        pytest.skip("no benchmark has recorded a table yet")
    assert record.RESULTS_MD.read_text() == record.report(), "run `python bench/record.py`"
