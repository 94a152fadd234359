# Sourced by the scripts in this folder: creates (or reuses) .venv and installs exactly what
# uv.lock pins (every package hash-checked), raftcron itself in editable mode, with uv: uv
# itself comes from scripts/uv-bootstrap.txt (one version, hash-checked, through pip).
# Re-installs only when pyproject.toml, uv.lock or the bootstrap changed. `scripts/lock`
# remakes the lock (and requirements.txt, the same pins for hosts that install with pip).
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
_stamp=.venv/.raftcron-installed
if [ ! -f "$_stamp" ] || [ pyproject.toml -nt "$_stamp" ] || [ uv.lock -nt "$_stamp" ] \
    || [ scripts/uv-bootstrap.txt -nt "$_stamp" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check \
    --require-hashes -r scripts/uv-bootstrap.txt
  # --locked: fail if uv.lock does not match pyproject.toml, never re-resolve.
  # --inexact: leave uv itself (not a project dependency) in the environment.
  UV_PROJECT_ENVIRONMENT=.venv .venv/bin/uv sync --locked --inexact --extra test \
    --python .venv/bin/python --quiet
  touch "$_stamp"
fi
