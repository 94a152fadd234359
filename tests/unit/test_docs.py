"""The documents match the code, as datasette's tests/test_docs.py keeps its plugin hooks and
settings documented.

Every list checked here is derived from the code, never written down in this file: the CLI
subcommands and options from the argparse parsers `raftcron.cli.main` really builds, the job
and node fields from the model's dataclasses and the validators' accepted-key tables, the config
keys from the config loader's tables, and the HTTP routes from the aiohttp application and the
OpenAPI builder. So a new subcommand, option, field, key or route fails this file until it is
documented. And README.md and docs/ never point outside the repository.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import raftcron
from raftcron import cli, model
from tests.support.paths import ROOT

DOCS = ROOT / "docs"
#: Markers of a document that lives outside this repository.
OUTSIDE = ("../shared", "shared/design.md", "pysyncobj-notes", "design §", "/work/")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH")


# --- reading the documents ----------------------------------------------------------------------


def _doc(name: str) -> str:
    return _prose((DOCS / name).read_text(encoding="utf-8"))


def _prose(text: str) -> str:
    """`text` with fenced code blocks blanked out: a `# comment` in one is not a heading."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def _all_documents() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$", re.MULTILINE)


def _sections(text: str) -> dict[str, str]:
    """Heading text -> the text up to the next heading (of any level)."""
    marks = list(_HEADING.finditer(text))
    out: dict[str, str] = {}
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        out[mark.group(2)] = text[mark.end():end]
    return out


def _slug(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    text = heading.strip().lower().replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _documents_name(text: str, name: str) -> bool:
    """`name` has a heading of its own or a table row of its own (its first cell)."""
    quoted = re.escape(f"`{name}`")
    return bool(re.search(rf"^#+ .*{quoted}", text, re.MULTILINE)
                or re.search(rf"^\| [^|\n]*{quoted}[^|\n]*\|", text, re.MULTILINE))


# --- finding the code's own lists ----------------------------------------------------------------


def _module_with(*attrs: str, prefer: tuple[str, ...] = ()) -> ModuleType:
    """The raftcron module that defines every one of `attrs` (the modules in `prefer` first).

    Looking it up rather than importing it by name keeps this test right while modules move
    between packages.
    """
    for name in prefer:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError:
            continue
        if all(hasattr(module, a) for a in attrs):
            return module
    for info in pkgutil.walk_packages(raftcron.__path__, "raftcron."):
        if info.name.endswith("__main__"):
            continue  # running it would start the CLI
        module = importlib.import_module(info.name)
        if all(a in vars(module) for a in attrs):
            return module
    raise AssertionError(f"no raftcron module defines {', '.join(attrs)}")


class _Captured(Exception):
    """Raised instead of parsing: carries the parser `main` built."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__(parser.prog)
        self.parser = parser


def _parsers(monkeypatch: pytest.MonkeyPatch) -> Iterator[argparse.ArgumentParser]:
    """The parser `raftcron.cli.main` builds for the daemon and for each subcommand.

    `main` is called for real; the first parse is intercepted, so the parsers are exactly the
    ones a user's command line meets, options added in `main` itself included.
    """
    def capture(self: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> Any:
        raise _Captured(self)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_known_args", capture)
    for argv in ([], *([name] for name in getattr(cli, "SUBCOMMANDS", {}))):
        with pytest.raises(_Captured) as caught:
            cli.main(argv)
        yield caught.value.parser


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...]
              ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """`parser` and every sub-parser under it, each with its command words."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for word, sub in action.choices.items():
                yield from _commands(sub, (*path, word))


def _cli(monkeypatch: pytest.MonkeyPatch) -> dict[tuple[str, ...], list[str]]:
    """Command words (`()` for the daemon, `("jobs", "add")`, ...) -> their option strings."""
    out: dict[tuple[str, ...], list[str]] = {}
    for parser in _parsers(monkeypatch):
        base = tuple(parser.prog.split()[1:])  # "raftcron jobs" -> ("jobs",)
        for path, sub in _commands(parser, base):
            options = out.setdefault(path, [])
            for action in sub._actions:
                options += [o for o in action.option_strings
                            if o not in ("-h", "--help") and o not in options]
    return out


# --- the CLI --------------------------------------------------------------------------------------


def test_docs_cli_finds_the_parsers(monkeypatch: pytest.MonkeyPatch) -> None:
    commands = _cli(monkeypatch)
    # The walk itself works: the daemon, a subcommand and a sub-subcommand with its options.
    assert "--peers" in commands[()]
    assert ("jobs", "add") in commands and "--schedule" in commands[("jobs", "add")]
    assert ("runs", "list") in commands


def test_docs_cli_every_subcommand_has_a_section(monkeypatch: pytest.MonkeyPatch) -> None:
    headings = set(_sections(_doc("cli.md")))
    missing = [" ".join(("raftcron", *path)) for path in _cli(monkeypatch)
               if not any(f"`{' '.join(('raftcron', *path))}`" in h for h in headings)]
    assert not missing, f"docs/cli.md has no section for: {', '.join(missing)}"


def test_docs_cli_every_option_is_documented(monkeypatch: pytest.MonkeyPatch) -> None:
    sections = _sections(_doc("cli.md"))
    common = next(body for heading, body in sections.items() if "Common client options" in heading)
    missing = []
    for path, options in _cli(monkeypatch).items():
        command = " ".join(("raftcron", *path))
        body = next((b for h, b in sections.items() if f"`{command}`" in h), "")
        for option in options:
            pattern = rf"`{re.escape(option)}(?![\w-])"
            if not (re.search(pattern, body) or re.search(pattern, common)):
                missing.append(f"{command} {option}")
    assert not missing, f"docs/cli.md does not document: {', '.join(missing)}"


# --- jobs and nodes -------------------------------------------------------------------------------


def _job_fields() -> list[str]:
    spec = _module_with("FIELDS", "NOTIFY_FIELDS", "READ_ONLY_FIELDS",
                        prefer=("raftcron.jobspec", "raftcron.model.jobspec"))
    names = [f.name for f in dataclasses.fields(model.Job)]
    names += [*spec.FIELDS, *sorted(spec.READ_ONLY_FIELDS)]
    names += [f"notify.{f.name}" for f in dataclasses.fields(model.Notify)]
    names += [f"notify.{k}" for k in spec.NOTIFY_FIELDS]
    names += [f"owners.{f.name}" for f in dataclasses.fields(model.Owner)]
    names += [f"owners.{k}" for k in getattr(spec, "OWNER_FIELDS", ())]
    return list(dict.fromkeys(names))


def _node_fields() -> list[str]:
    spec = _module_with("FIELDS", "SSH_FIELDS",
                        prefer=("raftcron.nodespec", "raftcron.model.nodespec"))
    names = [f.name for f in dataclasses.fields(model.Node)]
    return list(dict.fromkeys([*names, *spec.FIELDS, *spec.SSH_FIELDS]))


def test_docs_jobs_every_job_field_is_documented() -> None:
    text = _doc("jobs.md")
    fields = _job_fields()
    assert "schedule" in fields and "notify.absent_after" in fields  # the lists are real
    missing = [f for f in fields if not _documents_name(text, f)]
    assert not missing, f"docs/jobs.md does not document the job fields: {', '.join(missing)}"


def test_docs_jobs_every_node_field_is_documented() -> None:
    text = _doc("jobs.md")
    fields = _node_fields()
    assert "ssh_host" in fields
    missing = [f for f in fields if not _documents_name(text, f)]
    assert not missing, f"docs/jobs.md does not document the node fields: {', '.join(missing)}"


def test_docs_operations_every_config_key_is_documented() -> None:
    config = _module_with("TOP_KEYS", "SCHEDULER_KEYS", "NOTIFY_KEYS", "RAFT_KEYS",
                          prefer=("raftcron.config", "raftcron.config.cluster"))
    text = _doc("operations.md")
    keys = [*config.TOP_KEYS, *config.SCHEDULER_KEYS, *config.NOTIFY_KEYS, *config.RAFT_KEYS]
    missing = [k for k in keys if not _documents_name(text, k)]
    assert not missing, f"docs/operations.md does not document: {', '.join(missing)}"


# --- the HTTP API ---------------------------------------------------------------------------------


def _app_routes(tmp_path: Path) -> set[tuple[str, str]]:
    """(method, path) of every route the real aiohttp application registers."""
    from raftcron.api import ApiContext, create_app
    from raftcron.clock import SystemClock

    known: dict[str, Any] = {"self_id": "127.0.0.1:7101", "clock": SystemClock(),
                             "data_dir": tmp_path, "token": None, "peer_apis": {}}
    # Building the app touches no database and no node: whatever else the context requires
    # is left empty.
    args = {f.name: known.get(f.name) for f in dataclasses.fields(ApiContext)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    app = create_app(ApiContext(**args))
    return {(r.method, r.resource.canonical) for r in app.router.routes()
            if r.method != "HEAD" and r.resource is not None}


def _openapi_routes() -> set[tuple[str, str]]:
    """(method, path) of every operation `/openapi.json` describes."""
    from raftcron.api import openapi
    from raftcron.api.routes import ROUTES

    document = openapi.build_document(ROUTES)
    return {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}


def _documented_routes() -> set[tuple[str, str]]:
    methods = "|".join(HTTP_METHODS)
    found = re.findall(rf"^#{{2,4}} `({methods}) (/[^`\s]*)`\s*$", _doc("api.md"), re.MULTILINE)
    return set(found)


def test_docs_api_matches_the_routes(tmp_path: Path) -> None:
    app, spec, documented = _app_routes(tmp_path), _openapi_routes(), _documented_routes()
    assert ("GET", "/jobs/{name}") in app  # the app really was built
    assert app == spec, "the app and /openapi.json disagree"
    undocumented = sorted(app - documented)
    assert not undocumented, f"docs/api.md does not document: {undocumented}"
    invented = sorted(documented - app)
    assert not invented, f"docs/api.md documents routes the API does not have: {invented}"


# --- nothing points outside ---------------------------------------------------------------------


def test_docs_never_point_outside_the_repository() -> None:
    found = [f"{p.relative_to(ROOT)}: {marker!r}" for p in _all_documents()
             for marker in OUTSIDE if marker in p.read_text(encoding="utf-8")]
    assert not found, "documents point outside the repository:\n" + "\n".join(found)


_LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_docs_links_resolve_inside_the_repository() -> None:
    broken = []
    for doc in _all_documents():
        for target in _LINK.findall(doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue  # a URL (http:, mailto:) is not a file of ours
            file_part, _, anchor = target.partition("#")
            path = (doc.parent / file_part).resolve() if file_part else doc
            where = f"{doc.relative_to(ROOT)}: {target}"
            if not path.is_relative_to(ROOT):
                broken.append(f"{where} (outside the repository)")
            elif not path.exists():
                broken.append(f"{where} (no such file)")
            elif anchor and path.suffix == ".md":
                slugs = {_slug(h) for h in _sections(_prose(path.read_text(encoding="utf-8")))}
                if anchor not in slugs:
                    broken.append(f"{where} (no such heading)")
    assert not broken, "broken links:\n" + "\n".join(broken)


def test_docs_module_map_names_every_module() -> None:
    # docs/design/modules.md must match the code: each package's row names all its modules.
    text = (DOCS / "design" / "modules.md").read_text()
    rows = {m.group(1): set(re.findall(r"`([\w/]+)`", m.group(2)))
            for m in re.finditer(r"^\| `(\w+)/` \| (.*?) \|", text, flags=re.M)}
    package_root = DOCS.parent / "raftcron"
    missing = []
    for package in sorted(p for p in package_root.iterdir() if (p / "__init__.py").exists()):
        modules = {f.stem for f in package.glob("*.py") if f.name != "__init__.py"}
        missing += [f"{package.name}/{m}" for m in sorted(modules - rows.get(package.name, set()))]
    assert not missing, f"docs/design/modules.md does not name: {', '.join(missing)}"
