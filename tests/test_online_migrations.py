"""Online migrations, in their sources: an index added to (or dropped from) a table that
already holds rows goes through relay.migrations.online, first in its migration, and
the upgrade guide says which revisions are online. (On a database: test_online_upgrades.)
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from itertools import takewhile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from relay.config import Settings
from relay.migrations import alembic_config

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ROOT / "src" / "relay" / "migrations" / "versions"
GUIDE = ROOT / "docs" / "operations" / "backups-and-upgrades.md"
_SCRIPT = ScriptDirectory.from_config(alembic_config(Settings()))
# Every revision, oldest first (the chain is one line).
REVISIONS = [script.revision for script in reversed(list(_SCRIPT.walk_revisions()))]

ONLINE = {"create_index_online", "drop_index_online"}
PLAIN = {"create_index", "drop_index"}
# Revisions from before relay.migrations.online whose index on an existing table stays
# a plain build: each indexes a column it adds after other changes, and the concurrent
# build would commit those first, so an upgrade that failed in it could not run again.
PLAIN_BUILDS_KEPT = {"0011", "0012", "0017"}
# A statement that builds an index in place, written out in SQL.
_PLAIN_SQL = re.compile(r"\bCREATE\s+(UNIQUE\s+)?INDEX\b(?!\s+CONCURRENTLY)", re.IGNORECASE)


def _revision(path: Path) -> str:
    found = re.search(r'^revision: str = "(\w+)"', path.read_text(), re.MULTILINE)
    assert found, path
    return found.group(1)


def _calls(node: ast.AST) -> Iterator[ast.Call]:
    yield from (child for child in ast.walk(node) if isinstance(child, ast.Call))


def _called(call: ast.Call) -> tuple[str, str]:
    """(what a call is made on, the name called): ("op", "create_index")."""
    if isinstance(call.func, ast.Attribute):
        return ast.unparse(call.func.value), call.func.attr
    return "", ast.unparse(call.func)


def _upgrade_path(module: ast.Module) -> list[ast.stmt]:
    """Everything of a migration that an upgrade may run (its downgrade aside)."""
    return [
        statement for statement in module.body
        if not (isinstance(statement, ast.FunctionDef) and statement.name == "downgrade")
    ]  # fmt: skip


def _plain_index_changes_on_existing_tables(path: Path) -> list[str]:
    """The plain create_index/drop_index calls of an upgrade on a table the same
    revision did not create, and CREATE INDEX statements written in SQL."""
    upgrade = ast.Module(body=_upgrade_path(ast.parse(path.read_text())), type_ignores=[])
    created = {
        ast.unparse(call.args[0])
        for call in _calls(upgrade)
        if _called(call) == ("op", "create_table")
    }
    batches = {
        ast.unparse(item.optional_vars): ast.unparse(item.context_expr.args[0])
        for node in ast.walk(upgrade) if isinstance(node, ast.With)
        for item in node.items
        if isinstance(item.context_expr, ast.Call) and item.optional_vars is not None
        and _called(item.context_expr) == ("op", "batch_alter_table")
    }  # fmt: skip
    found: list[tuple[int, str]] = []
    for call in _calls(upgrade):
        on, name = _called(call)
        if name not in PLAIN:
            continue
        keywords = {keyword.arg: ast.unparse(keyword.value) for keyword in call.keywords}
        if on in batches:
            table = batches[on]
        elif len(call.args) > 1:
            table = ast.unparse(call.args[1])
        else:
            table = keywords.get("table_name", "?")
        if table not in created:
            found.append((call.lineno, ast.unparse(call)))
    for node in ast.walk(upgrade):
        if isinstance(node, ast.Constant) and _PLAIN_SQL.search(str(node.value)):
            found.append((node.lineno, repr(node.value)))
    return [f"{path.name}:{line}: {source}" for line, source in sorted(found)]


@pytest.mark.backend_independent
def test_an_index_on_an_existing_table_is_built_and_dropped_online() -> None:
    """CREATE INDEX locks a table against writes for as long as it reads the table:
    from 0024 on, no migration does so on a table that may hold rows."""
    plain = {
        _revision(path): found
        for path in sorted(VERSIONS.glob("*.py"))
        if (found := _plain_index_changes_on_existing_tables(path))
    }
    assert set(plain) == PLAIN_BUILDS_KEPT, plain


@pytest.mark.backend_independent
def test_the_lint_sees_a_plain_index_build_on_an_existing_table(tmp_path: Path) -> None:
    """The check above, on a migration that does what it forbids (a new table's
    index is allowed: nothing writes to the table yet)."""
    migration = tmp_path / "2026_12_31_9999_example.py"
    migration.write_text(
        "def upgrade() -> None:\n"
        "    op.create_table('things', sa.Column('id', sa.Integer()))\n"
        "    op.create_index('ix_things_id', 'things', ['id'])\n"
        "    op.create_index('ix_users_email', 'users', ['email'])\n"
        "    with op.batch_alter_table('tenants') as batch:\n"
        "        batch.create_index('ix_tenants_name', ['name'])\n"
        "    op.drop_index('ix_api_keys_name', table_name='api_keys')\n"
        "    op.execute('create unique index ix_datasets_name on datasets (name)')\n"
        "    op.execute('CREATE INDEX CONCURRENTLY ix_datasets_at ON datasets (at)')\n"
        "    create_index_online('ix_datasets_id', 'datasets', ['id'])\n"
    )
    found = _plain_index_changes_on_existing_tables(migration)
    assert [line.split(":")[1] for line in found] == ["4", "6", "7", "8"]


def _is_online_change(statement: ast.stmt) -> bool:
    return (
        isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
        and _called(statement.value)[1] in ONLINE
    )  # fmt: skip


@pytest.mark.backend_independent
def test_online_index_changes_come_first_in_their_migration() -> None:
    """An online change first commits what its migration did before it: were the
    upgrade to fail after that and be run again, the migration would do it a second
    time, and fail (the table already exists). So online changes lead their upgrade
    (or downgrade) and are made nowhere else; one that needs something made first (an
    index on a new column) goes in a revision of its own."""
    misplaced = []
    for path in sorted(VERSIONS.glob("*.py")):
        module = ast.parse(path.read_text())
        online = [call for call in _calls(module) if _called(call)[1] in ONLINE]
        leading = sum(
            len(list(takewhile(_is_online_change, statement.body)))
            for statement in module.body
            if isinstance(statement, ast.FunctionDef) and statement.name in {"upgrade", "downgrade"}
        )
        if leading != len(online):
            misplaced.append(path.name)
    assert misplaced == []


def _guide_table() -> dict[str, str]:
    """{revision: "yes" or "no"}, from the guide's table of online migrations."""
    section = GUIDE.read_text().split("### Which migrations are online", 1)[1]
    rows = re.findall(r"^\|\s*([\d, ]+?)\s*\|\s*(yes|no)\s*\|", section, re.MULTILINE)
    table: dict[str, str] = {}
    for revisions, online in rows:
        for revision in revisions.split(","):
            assert revision.strip() not in table, f"{revision} is in the guide twice"
            table[revision.strip()] = online
    return table


@pytest.mark.backend_independent
def test_the_upgrade_guide_says_whether_each_migration_is_online() -> None:
    """Every revision has its row in docs/operations/backups-and-upgrades.md (a new
    migration too), and those that build an index in place are not called online."""
    table = _guide_table()
    assert sorted(table) == sorted(REVISIONS)
    assert {revision for revision in PLAIN_BUILDS_KEPT if table[revision] == "yes"} == set()
