"""The reference pages of the documentation site, generated from the code so they
cannot drift from it: the configuration (every `Settings` field, described by the
comment above it in src/relay/config.py), both command lines (their Typer apps, every
command's usage, help and options) and the API (the app's own /openapi.json).

Called by tools/mkdocs_hooks.py while `make docs` builds the site; nothing generated
is committed. A setting without a comment, or a command without help, fails the build.
"""

from __future__ import annotations

import ast
import inspect
import json
from collections.abc import Iterator
from typing import Any

import typer
from pydantic.fields import FieldInfo

from relay.config import Settings

# --- configuration -------------------------------------------------------------------


def _documented_groups() -> list[tuple[list[str], str]]:
    """Settings' fields as its source groups them: each comment block with the fields
    on the lines right after it (a limit and its window share one), [(names, comment)]."""
    source = inspect.getsource(Settings)
    lines = source.splitlines()
    groups: list[tuple[list[str], str]] = []
    previous_end = -2
    for node in ast.parse(source).body[0].body:  # type: ignore[attr-defined]
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        start = node.lineno - 1
        above: list[str] = []
        index = start - 1
        while index >= 0 and lines[index].strip().startswith("#"):
            above.insert(0, lines[index].strip().lstrip("#").strip())
            index -= 1
        if not above and groups and previous_end == start - 1:
            groups[-1][0].append(node.target.id)  # right below the one before: its group
        else:
            groups.append(([node.target.id], " ".join(above)))
        previous_end = (node.end_lineno or node.lineno) - 1
    return groups


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "(computed)"
    value = field.default
    if value in ("", None):
        return "(empty)"
    return f"`{value}`"


def _bounds(field: FieldInfo) -> str:
    said = []
    for item in field.metadata:
        for name, word in (("ge", "at least"), ("gt", "over"), ("le", "at most"), ("lt", "under")):
            if getattr(item, name, None) is not None:
                said.append(f"{word} {getattr(item, name)}")
    return f" ({', '.join(said)})" if said else ""


def configuration_page() -> str:
    rows = []
    for names, described in _documented_groups():
        if not described:
            raise ValueError(f"Settings.{names[0]} has no comment to document it with")
        fields = [Settings.model_fields[name] for name in names]
        variables = " / ".join(f"`RELAY_{name.upper()}`" for name in names)
        defaults = " / ".join(_default(field) for field in fields)
        bounds = "".join(_bounds(field) for field in fields[:1]) if len(fields) == 1 else ""
        rows.append(f"| {variables} | {defaults} | {described}{bounds} |")
    return "\n".join(
        [
            "# Configuration",
            "",
            "Relay reads its settings from `RELAY_*` environment variables (generated from",
            "`relay.config.Settings`: what each says is the comment above it in the code).",
            "A value that is not valid stops `relay` with one line naming it.",
            "",
            "| variable | default | what it does |",
            "|---|---|---|",
            *rows,
            "",
        ]
    )


# --- command lines -------------------------------------------------------------------


def _is_group(command: Any) -> bool:
    # Typer carries its own copy of Click (typer._click): its classes are not click's.
    return hasattr(command, "list_commands")


def _commands(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    yield path, command
    if _is_group(command):
        context = type(command).context_class(command)
        for name in sorted(command.list_commands(context)):
            sub = command.get_command(context, name)
            if sub is not None and not sub.hidden:
                yield from _commands(sub, [*path, name])


def _option_row(param: Any) -> str:
    names = ", ".join(f"`{name}`" for name in (*param.opts, *param.secondary_opts))
    help_text = " ".join((getattr(param, "help", None) or "").split())
    default = getattr(param, "default", None)
    shown = (
        f" (default: `{default}`)"
        if default not in (None, False, (), "")
        and not callable(default)
        and getattr(param, "show_default", True) is not False
        else ""
    )
    return f"| {names} | {help_text}{shown} |"


def cli_page(title: str, program: str, app: typer.Typer, intro: str) -> str:
    root = typer.main.get_command(app)
    parts = [f"# {title}", "", intro, ""]
    for path, command in _commands(root, [program]):
        if _is_group(command) and path != [program]:
            continue  # a group's commands say it all
        name = " ".join(path)
        context = type(command).context_class(command, info_name=name)
        help_text = inspect.cleandoc(command.help or "")
        if not help_text and path != [program]:
            raise ValueError(f"`{name}` has no help")
        usage = command.collect_usage_pieces(context)
        parts += [f"## `{name}`", "", "```text", f"{name} {' '.join(usage)}".rstrip(), "```", ""]
        parts += [help_text, ""]
        options = [
            p
            for p in command.params
            if getattr(p, "param_type_name", "") == "option" and not p.hidden
        ]
        if options:
            parts += ["| option | |", "|---|---|", *(_option_row(p) for p in options), ""]
    return "\n".join(parts)


def relay_cli_page() -> str:
    from relay.cli import app

    return cli_page(
        "relay (operators)",
        "relay",
        app,
        "The operator's command, installed with the server (`.venv/bin/relay`). Every "
        "command that needs the database migrates it first. A mistake is one line on "
        'stderr (or `{"error": ...}` with `--json`) and exit status 1; a usage mistake '
        "exit status 2.",
    )


def relayctl_page() -> str:
    from relay_sdk.cli.app import app

    return cli_page(
        "relayctl (clients)",
        "relayctl",
        app,
        "The client's command, installed with the SDK (`pip install ./sdk`), on "
        "`RELAY_API_KEY` and `RELAY_BASE_URL`. See [relayctl](../guides/relayctl.md) for "
        "examples and exit statuses.",
    )


# --- the API -------------------------------------------------------------------------


def _schema_name(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[1]
    if schema.get("type") == "array":
        return f"list of {_schema_name(schema.get('items', {}))}"
    if "anyOf" in schema:
        return " or ".join(_schema_name(option) for option in schema["anyOf"])
    return str(schema.get("type", "object"))


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        node: Any = document
        for part in str(schema["$ref"]).lstrip("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def _fields_table(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    schema = _resolve(document, schema)
    properties = schema.get("properties", {})
    if not properties:
        return []
    required = set(schema.get("required", []))
    rows = ["| field | type | |", "|---|---|---|"]
    for name, field in properties.items():
        said = " ".join(str(field.get("description", "")).split())
        mark = " (required)" if name in required else ""
        rows.append(f"| `{name}`{mark} | {_schema_name(field)} | {said} |")
    return [*rows, ""]


def api_page(document: dict[str, Any]) -> str:
    """The API reference from an OpenAPI document: every operation with its
    parameters, body and answers; every schema with its fields."""
    parts = [
        "# API",
        "",
        f"{document['info'].get('description', '')}",
        "",
        "Generated from the server's own `/openapi.json` (a running server serves it, and",
        "an interactive version at `/docs`). Every operation takes the key in `X-API-Key`",
        "unless it says otherwise.",
        "",
    ]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            parts += [f"## `{method.upper()} {path}`", ""]
            parts += [str(operation.get("summary", "")), ""]
            if operation.get("description"):
                parts += [inspect.cleandoc(str(operation["description"])), ""]
            parameters = operation.get("parameters", [])
            if parameters:
                parts += ["| parameter | in | |", "|---|---|---|"]
                for parameter in parameters:
                    said = " ".join(str(parameter.get("description", "")).split())
                    parts.append(f"| `{parameter['name']}` | {parameter['in']} | {said} |")
                parts.append("")
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                parts += [f"Body: {_schema_name(body['schema'])}", ""]
                parts += _fields_table(document, body["schema"])
            parts += ["| answer | body |", "|---|---|"]
            for status, answer in operation.get("responses", {}).items():
                content = answer.get("content", {}).get("application/json", {})
                shown = _schema_name(content["schema"]) if "schema" in content else ""
                said = " ".join(str(answer.get("description", "")).split())
                parts.append(f"| {status} {said} | {shown} |")
            parts.append("")
    parts += ["# Schemas", ""]
    for name, schema in document.get("components", {}).get("schemas", {}).items():
        parts += [f"## {name}", ""]
        if schema.get("description"):
            parts += [" ".join(str(schema["description"]).split()), ""]
        parts += _fields_table(document, schema)
    return "\n".join(parts)


def openapi_document() -> dict[str, Any]:
    from relay.app import create_app

    app = create_app(Settings(database_url="sqlite:///:memory:"))
    document: dict[str, Any] = json.loads(json.dumps(app.openapi()))
    return document
