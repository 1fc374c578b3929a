#!/usr/bin/env bash
# The package as a stranger gets it (CI runs this after scripts/test.sh):
#  1. the declared setuptools floor really builds the metadata and a wheel;
#  2. `python -m build` makes the sdist, then the wheel from that sdist;
#  3. a fresh venv with the plain wheel: --version, archive/restore/audit against a simulator
#     started from the development venv, and `simulate` refusing in one line without its extra;
#  4. the same venv with the simulator extra runs the demo;
#  5. the tests pass from the unpacked sdist (skip with PACKAGE_CHECK_SDIST_TESTS=0).
source "$(dirname "$0")/_venv.sh"
set -euo pipefail
work="$(mktemp -d)"
sim_pid=""
cleanup() {
  if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
py="${PYTHON:-python3}"
floor="$(sed -n 's/^requires = \["setuptools>=\([0-9.]*\)".*/\1/p' pyproject.toml)"

echo "== package: setuptools $floor (the declared floor) builds the wheel"
"$py" -m venv "$work/floor"
"$work/floor/bin/python" -m pip install -q "setuptools==$floor" build
"$work/floor/bin/python" -m build -q --no-isolation --wheel --outdir "$work/floor-dist" . >/dev/null
ls "$work/floor-dist"/*.whl >/dev/null

echo "== package: sdist, then the wheel from the sdist"
.venv/bin/python -m pip install -q build
.venv/bin/python -m build -q --outdir "$work/dist" . >/dev/null
sdist="$(ls "$work"/dist/*.tar.gz)"
wheel="$(ls "$work"/dist/*.whl)"

echo "== package: a fresh venv with the plain wheel"
"$py" -m venv "$work/plain"
"$work/plain/bin/python" -m pip install -q "$wheel"
qv="$work/plain/bin/questa-vault"
"$qv" --version
if "$work/plain/bin/python" -c "import starlette" 2>/dev/null; then
  echo "the plain install pulled in starlette: the simulator extra leaked into the base" >&2
  exit 1
fi
set +e
msg="$("$qv" simulate 2>&1)"; rc=$?
set -e
if [ "$rc" != 1 ] || ! grep -q "questa-vault\[simulator\]" <<<"$msg" || [ "$(wc -l <<<"$msg")" != 1 ]; then
  echo "simulate without the extra: want one line naming the extra, exit 1; got $rc: $msg" >&2
  exit 1
fi
echo "simulate without the extra: $msg"

# A simulator from the development venv; the plain install talks to it over loopback.
.venv/bin/questa-vault simulate --port 0 --processing-time 0.2 >"$work/sim.out" 2>/dev/null &
sim_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/sim.out" 2>/dev/null && break; sleep 0.1; done
url="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$work/sim.out")"
export QUESTA_VAULT="$work/plain.db" QUESTA_VAULT_CONFIG="$work/config.toml"
printf 'a passphrase for the package check\n' >"$work/pass"
chmod 600 "$work/pass"
printf 'Maria Garcia wrote to maria.garcia@example.org.\n' >"$work/note.txt"
"$qv" --passphrase-file "$work/pass" init --user ci --kdf-memory 8192 --kdf-passes 1 --kdf-lanes 1 --unsafe-kdf
"$qv" config set api_url "$url"
"$qv" -q submit "$work/note.txt" --json >"$work/submit.json"
job="$("$work/plain/bin/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["jobs"][0]["job_id"])' "$work/submit.json")"
"$qv" --passphrase-file "$work/pass" -q restore -j "$job" -o "$work/restored.txt" </dev/null
cmp "$work/note.txt" "$work/restored.txt"
"$qv" audit --summary >/dev/null
"$qv" verify >/dev/null
kill "$sim_pid"; wait "$sim_pid" 2>/dev/null || true; sim_pid=""
unset QUESTA_VAULT QUESTA_VAULT_CONFIG

echo "== package: the simulator extra in the same venv runs the demo"
"$work/plain/bin/python" -m pip install -q "$wheel[simulator]"
"$qv" demo --processing-time 0.2 >"$work/demo.out"
tail -n 2 "$work/demo.out"

if [ "${PACKAGE_CHECK_SDIST_TESTS:-1}" != 0 ]; then
  echo "== package: the tests from the unpacked sdist"
  mkdir "$work/src"
  tar -xzf "$sdist" -C "$work/src"
  (cd "$work"/src/questa_vault-* && scripts/test.sh -q -p no:cacheprovider)
fi
echo "== package: all checks passed"
