# Sourced by the scripts in this folder: creates (or reuses) .venv and installs exactly the
# versions in requirements.txt (hash-checked), then raftcron itself in editable mode. Re-installs
# only when pyproject.toml or requirements.txt changed. The lock is remade by scripts/lock.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
_stamp=.venv/.raftcron-installed
if [ ! -f "$_stamp" ] || [ pyproject.toml -nt "$_stamp" ] || [ requirements.txt -nt "$_stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    --require-hashes -r requirements.txt
  # The project itself: no dependencies of its own to resolve (the lock has them all).
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
  touch "$_stamp"
fi
