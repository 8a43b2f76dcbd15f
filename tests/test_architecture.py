"""The shape of the package, read from the source (nothing is imported): no import
circles, the layering rules and a size budget per module. Each failure names the
offending import or module; docs/architecture.md explains the layers."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_LINES = 400

# The layers, low to high: a module may import its own layer and the ones below.
LOW, PROVIDERS, DOMAIN, EDGE = 0, 1, 2, 3
LAYER_NAMES = {LOW: "low", PROVIDERS: "providers", DOMAIN: "domain", EDGE: "edge"}
LOW_MODULES = {"cong", "cong.money", "cong.single_flight"}
LOW_PACKAGES = {"protocol", "storage"}
DOMAIN_PACKAGES = {
    "accounts",
    "billing",
    "catalogue",
    "channels",
    "conversations",
    "gateway",
    "limits",
}
DOMAIN_MODULES = {"cong.settings", "cong.file_settings"}  # the services' configuration
DOMAIN_PACKAGES |= {"memory", "files", "web_services"}  # room for what comes next
EDGE_PACKAGES = {"http", "cli", "modelserver", "__main__"}
# Only domain packages reach the database; these composition roots open it and hand it
# to the domain services (they never query it).
STORAGE_OPENERS = {"cong.http.app", "cong.cli.main", "cong.cli.runtime"}
WEB_FRAMEWORKS = ("fastapi", "starlette")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in (SRC / "cong").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


MODULES = _modules()


def _resolve(name: str) -> str:
    """The module ``name`` refers to (``cong.x.y`` may be a name inside ``cong.x``)."""
    while name not in MODULES and "." in name:
        name = name.rpartition(".")[0]
    return name


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _module_level_imports(path: Path, *, typing: bool = False) -> list[tuple[str, int]]:
    """(imported name, line) of the imports run when the module loads: top-level ones,
    also inside top-level ``if``/``try``; under ``if TYPE_CHECKING`` only with ``typing``."""
    found: list[tuple[str, int]] = []
    for statement in ast.parse(path.read_text()).body:
        if _is_type_checking(statement) and not typing:
            continue
        nodes = ast.walk(statement) if isinstance(statement, ast.If | ast.Try) else [statement]
        for node in nodes:
            if isinstance(node, ast.Import):
                found += [(alias.name, node.lineno) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.module, node.lineno))
                found += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
    return found


def _graph(*, typing: bool = False) -> dict[str, dict[str, int]]:
    """module -> {cong module it imports at load time (with ``typing``: also for type
    checking only) -> line}."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        edges: dict[str, int] = {}
        for name, line in _module_level_imports(path, typing=typing):
            if name == "cong" or name.startswith("cong."):
                target = _resolve(name)
                if target != module and (target != "cong" or name == "cong"):
                    edges.setdefault(target, line)
        graph[module] = edges
    return graph


GRAPH = _graph()
# Circles count type-only imports too: a module that needs another's types to be
# checked depends on it as much as one that imports it at load time.
TYPED_GRAPH = _graph(typing=True)


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _layer(module: str) -> int:
    package = _package(module)
    if module in LOW_MODULES or package in LOW_PACKAGES:
        return LOW
    if package == "providers":
        return PROVIDERS
    if package in DOMAIN_PACKAGES or module in DOMAIN_MODULES:
        return DOMAIN
    if package in EDGE_PACKAGES:
        return EDGE
    raise AssertionError(
        f"{module} is in no layer: add its package to tests/test_architecture.py "
        "(and to docs/architecture.md)"
    )


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(SRC.parent)}:{line}"


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        _layer(module)


def test_no_import_circles() -> None:
    """Tarjan's strongly connected components over the imports, type-only ones included."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in TYPED_GRAPH.get(module, {}):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(TYPED_GRAPH):
        if module not in index:
            visit(module)
    messages = []
    for circle in circles:
        members = set(circle)
        links = [
            f"{_where(m, line)} imports {t}"
            for m in circle
            for t, line in TYPED_GRAPH[m].items()
            if t in members
        ]
        messages.append("import circle: " + "; ".join(links))
    assert not messages, "\n".join(messages)


def test_layers_only_import_downwards() -> None:
    wrong = []
    for module, edges in GRAPH.items():
        for target, line in edges.items():
            if _layer(target) > _layer(module):
                wrong.append(
                    f"{_where(module, line)}: {module} ({LAYER_NAMES[_layer(module)]}) "
                    f"imports {target} ({LAYER_NAMES[_layer(target)]}), a higher layer"
                )
    assert not wrong, "\n".join(wrong)


def test_only_domain_packages_use_storage() -> None:
    wrong = [
        f"{_where(module, line)}: {module} imports {target}; only domain packages "
        "(and the composition roots that open the database) use cong.storage"
        for module, edges in GRAPH.items()
        for target, line in edges.items()
        if _package(target) == "storage"
        and _package(module) not in DOMAIN_PACKAGES | {"storage"}
        and module not in STORAGE_OPENERS
    ]
    assert not wrong, "\n".join(wrong)


def test_no_web_framework_below_the_edge() -> None:
    wrong = []
    for module, path in MODULES.items():
        if _layer(module) == EDGE:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in WEB_FRAMEWORKS:
                    wrong.append(f"{_where(module, node.lineno)}: {module} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_modules_stay_within_the_size_budget() -> None:
    oversized = [
        f"{path.relative_to(SRC.parent)} has {lines} lines (budget {MAX_LINES}): split it by noun"
        for module, path in sorted(MODULES.items())
        if ".migrations." not in module
        and (lines := len(path.read_text().splitlines())) > MAX_LINES
    ]
    assert not oversized, "\n".join(oversized)


def test_provider_names_are_listed_only_in_the_registry() -> None:
    """A list of protocol names outside ``providers/`` would miss the next provider:
    take them from ``providers/registry.py``."""
    from cong.providers.registry import protocol_names

    names = set(protocol_names())
    wrong = []
    for module, path in MODULES.items():
        if _package(module) == "providers":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Subscript):
                constants = {n.value for n in ast.walk(node) if isinstance(n, ast.Constant)} & names
                if len(constants) > 1:
                    wrong.append(f"{_where(module, node.lineno)}: lists {sorted(constants)}")
    assert not wrong, "\n".join(sorted(set(wrong)))
