"""The lock files agree: requirements.txt (what `.ci/run` and `scripts/_venv.sh` install,
hash-checked) pins exactly what uv.lock pins, and every dependency in pyproject.toml is
locked."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {_norm(p["name"]): p["version"] for p in lock["package"] if p["name"] != "raftcron"}


def test_requirements_txt_pins_exactly_what_uv_lock_pins() -> None:
    pinned = {}
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line):
            pinned[_norm(m.group(1))] = m.group(2)
    assert pinned == _locked(), "requirements.txt is stale: run scripts/lock"


def test_every_declared_dependency_is_locked() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    locked = _locked()
    for spec in declared:
        name = _norm(re.split(r"[\s<>=!~;\[]", spec, maxsplit=1)[0])
        assert name in locked, f"{name} is declared in pyproject.toml but not in uv.lock"


def test_the_build_backend_is_one_exact_release_and_locked() -> None:
    # A range here would build raftcron with the newest setuptools of the day on a fresh
    # machine; uv.lock records the [tool.uv] pin, so `uv sync --locked` enforces it.
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requires = pyproject["build-system"]["requires"]
    assert all(re.fullmatch(r"[A-Za-z0-9_.\-]+==[0-9][^\s,;]*", r) for r in requires), requires
    assert sorted(requires) == sorted(pyproject["tool"]["uv"]["build-constraint-dependencies"])
    manifest = tomllib.loads((ROOT / "uv.lock").read_text())["manifest"]
    assert sorted(f"{c['name']}{c['specifier']}" for c in manifest["build-constraints"]) == \
        sorted(requires), "uv.lock is stale: run scripts/lock"


def _install_commands(path: Path) -> dict[str, str]:
    """The lock (pip, requirements.txt) and project (pip, editable) install commands of a
    shell script, each as one line with its continuations joined and spaces normalized, plus
    the stamp it touches."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / path).read_text())
    found: dict[str, str] = {}
    for line in text.splitlines():
        line = " ".join(line.split())
        if line.startswith("#"):
            continue
        if "pip install" in line and "-r requirements.txt" in line:
            assert "-r requirements-build.txt" in line, line
            found["lock"] = line
        elif "pip install" in line and "-e ." in line:
            found["project"] = line
        elif m := re.search(r"\.venv/\.raftcron-installed", line):
            found.setdefault("stamp", m.group(0))
    return found


def test_ci_installs_from_the_lock_as_the_scripts_do() -> None:
    # .ci/run installs in plain sight on a fresh machine; scripts/_venv.sh does the same for
    # scripts/test and scripts/dev-cluster and trusts the stamp .ci/run leaves.
    ci, scripts = _install_commands(Path(".ci/run")), _install_commands(Path("scripts/_venv.sh"))
    assert set(ci) == set(scripts) == {"lock", "project", "stamp"}, (ci, scripts)
    assert ci == scripts
    assert "--require-hashes" in ci["lock"] and "--upgrade" not in ci["lock"]
    assert "--no-deps" in ci["project"]
    # The build uses the backend installed hash-checked above, never one fetched on the day.
    assert "--no-build-isolation" in ci["project"]


def test_the_build_lock_pins_the_build_backend_with_hashes() -> None:
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    text = re.sub(r"\\\n\s*", " ", (ROOT / "requirements-build.txt").read_text())
    pins = [line for line in text.splitlines() if re.match(r"^[A-Za-z0-9_.\-]+==", line)]
    assert sorted(p.split()[0] for p in pins) == sorted(requires), \
        "requirements-build.txt is stale: run scripts/lock"
    assert all("--hash=sha256:" in line for line in pins)


def test_every_pin_in_requirements_txt_carries_a_hash() -> None:
    text = re.sub(r"\\\n\s*", " ", (ROOT / "requirements.txt").read_text())
    pins = [line for line in text.splitlines() if re.match(r"^[A-Za-z0-9_.\-]+==", line)]
    assert pins and all("--hash=sha256:" in line for line in pins)
