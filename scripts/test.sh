#!/usr/bin/env bash
# The one test command (README, CI): lint, type-check, then the whole suite.
source "$(dirname "$0")/_venv.sh"
ruff check vault tests bench scripts
mypy
pytest "$@"
