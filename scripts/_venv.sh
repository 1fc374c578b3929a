# Sourced by the other scripts: create .venv when missing and install the package with the
# extras the scripts need: simulator (demo, simulate, the tests), keyring (its tests), test. Re-installs only when pyproject.toml is newer than the install marker.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
py="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv
fi
marker=.venv/.questa-vault-installed
if [ ! -f "$marker" ] || [ pyproject.toml -nt "$marker" ]; then
  echo "setting up .venv (the package and its dependencies; about a minute the first time)" >&2
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e ".[simulator,keyring,test]"
  touch "$marker"
fi
export PATH="$root/.venv/bin:$PATH"
