# Sourced by the scripts in this folder: creates (or reuses) .venv and installs exactly what
# the lock file pins: requirements.txt (exported from uv.lock by scripts/lock: every package
# at one version, hash-checked, for this project's runtime and test extra), then raftcron
# itself in editable mode without dependencies, built by the one setuptools release that
# pyproject.toml's [build-system] names, installed hash-checked from requirements-build.txt
# (--no-build-isolation: the build fetches nothing). Plain pip: nothing here resolves a version.
# Re-installs only when pyproject.toml or the lock changed.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
_stamp=.venv/.raftcron-installed
if [ ! -f "$_stamp" ] || [ pyproject.toml -nt "$_stamp" ] || [ requirements.txt -nt "$_stamp" ] \
    || [ requirements-build.txt -nt "$_stamp" ] \
    || [ uv.lock -nt "$_stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    --require-hashes -r requirements.txt -r requirements-build.txt
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
  touch "$_stamp"
fi
