"""The project's modules import one another without a circle, read from their source."""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LEFT_OUT = {"tests", ".venv", ".git"}


def project_modules(root: str = REPO) -> dict[str, str]:
    """{module name: file} of the project's .py files (tests and environments left out)."""
    modules = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in LEFT_OUT and not d.startswith("."))
        for name in files:
            if name.endswith(".py"):
                parts = os.path.relpath(os.path.join(folder, name), root)[:-3].split(os.sep)
                modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = \
                    os.path.join(folder, name)
    return modules


def lazy_homes(tree: ast.Module) -> dict[str, str]:
    """A package's names that lazy.lazy_names imports on first use: its `_HOMES`, name ->
    module, written as a dict of strings, with `**{name: "module" for name in (...)}` parts."""
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "_HOMES" for target in node.targets):
            homes = {}
            for key, value in zip(node.value.keys, node.value.values):
                if key is None:
                    names = ast.literal_eval(value.generators[0].iter)
                    homes.update(dict.fromkeys(names, ast.literal_eval(value.value)))
                else:
                    homes[ast.literal_eval(key)] = ast.literal_eval(value)
            return homes
    return {}


def imported(module: str, tree: ast.Module, modules: dict, homes: dict) -> set[str]:
    """The project modules that `module` imports anywhere in its file (in functions too): for
    `from package import name`, the module `name` is, or the one the package's lazy names
    say holds it, or the package."""
    found = set()
    package = module if modules[module].endswith("__init__.py") else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(_project_prefix(alias.name, modules) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}"
                found.add(target if target in modules
                          else homes.get(base, {}).get(alias.name)
                          or _project_prefix(base, modules))
    return found - {None, module}


def _project_prefix(name: str, modules: dict) -> str | None:
    """The longest leading part of a dotted name that is a project module."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        if ".".join(parts[:end]) in modules:
            return ".".join(parts[:end])
    return None


def import_graph(root: str = REPO) -> dict[str, set[str]]:
    """{module: the project modules it imports}."""
    modules = project_modules(root)
    trees = {}
    for module, path in modules.items():
        with open(path) as f:
            trees[module] = ast.parse(f.read(), path)
    homes = {module: lazy_homes(tree) for module, tree in trees.items()}
    return {module: imported(module, tree, modules, homes) for module, tree in trees.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The graph's circles: one per strongly connected component of two or more modules
    (Tarjan's algorithm), its modules sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_finder_sees_a_circle_through_a_function_level_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import thing\n")
    (tmp_path / "pkg" / "b.py").write_text("def thing():\n    from pkg import a\n")
    (tmp_path / "pkg" / "c.py").write_text("import pkg.a\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("import pkg.c\nimport tests.test_x\n")
    assert cycles(import_graph(str(tmp_path))) == [["pkg.a", "pkg.b"]]


def test_lazy_names_resolve_to_their_modules(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text(
        '_HOMES = {**{n: "pkg.a" for n in ("f", "g")}, "h": "pkg.b"}\n')
    (tmp_path / "pkg" / "a.py").write_text("from pkg import h\n")
    (tmp_path / "pkg" / "b.py").write_text("def h():\n    from pkg import g\n")
    graph = import_graph(str(tmp_path))
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}
    assert graph["pkg"] == set()  # Its lazy names are imported on use, not with it.


def test_the_project_has_no_import_circle():
    assert cycles(import_graph()) == []


def test_every_project_module_imports():
    """Every module's imports name modules and names that exist (a module moved without its
    importers changed fails here, not in the one command that loads it); `__main__` modules
    are imported as modules, which runs nothing (each keeps its work under a main guard)."""
    from tests.conftest import run_python
    names = sorted(name for name in project_modules() if name != "conftest")
    probe = ("import importlib, sys\nfailed = []\n"
             f"for name in {names!r}:\n"
             "    try:\n        importlib.import_module(name)\n"
             "    except Exception as error:\n"
             "        failed.append(f'{name}: {type(error).__name__}: {error}')\n"
             "print('\\n'.join(failed))\nsys.exit(1 if failed else 0)\n")
    result = run_python(probe)
    assert result.returncode == 0, result.stdout + result.stderr[-2000:]
