#!/usr/bin/env bash
# Runs every benchmark program in bench/ and writes bench/RESULTS.md.
source "$(dirname "$0")/_venv.sh"
exec python bench/run_all.py "$@"
