# Sourced by the scripts in this folder: creates (or reuses) .venv and installs raftcron into it
# with its test extra. Re-installs only when pyproject.toml changed.
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
_stamp=.venv/.raftcron-installed
if [ ! -f "$_stamp" ] || [ pyproject.toml -nt "$_stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
  touch "$_stamp"
fi
