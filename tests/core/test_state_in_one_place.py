"""A member's status changes in one module only: the transitions of ``core/models.py``.

Found by reading the code, not by running it: every assignment to a
``status`` attribute, and every ``status=`` given to a write (``update``,
``create``...), anywhere in the application, except inside exception
classes (whose ``status`` is an HTTP status, not a member's).
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APP_PACKAGES = ["apiclients", "open_humans", "core", "main", "datauploader"]
WRITES = {"update", "create", "get_or_create", "update_or_create", "bulk_create", "_write"}
ALLOWED = {Path("core/models.py")}


def _is_exception(node: ast.ClassDef) -> bool:
    names = [base.id if isinstance(base, ast.Name) else getattr(base, "attr", "") for base in node.bases]
    return any(name == "Exception" or name.endswith("Error") for name in names)


def _nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node, leaving out the bodies of exception classes."""
    found: list[ast.AST] = []
    pending = [tree]
    while pending:
        node = pending.pop()
        found.append(node)
        if isinstance(node, ast.ClassDef) and _is_exception(node):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return found


def status_writes(path: Path) -> list[int]:
    tree = ast.parse(path.read_text(), filename=str(path))
    lines = []
    for node in _nodes(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr == "status":
                    lines.append(node.lineno)
                if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant):
                    if target.slice.value == "status":
                        lines.append(node.lineno)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITES:
            if any(keyword.arg == "status" for keyword in node.keywords):
                lines.append(node.lineno)
    return lines


def test_status_is_written_only_by_the_core_transitions():
    found = {}
    for package in APP_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts or relative in ALLOWED:
                continue
            lines = status_writes(path)
            if lines:
                found[str(relative)] = lines
    assert found == {}


def test_the_check_sees_the_writes_it_looks_for():
    lines = status_writes(ROOT / "core" / "models.py")
    assert len(lines) >= 5
