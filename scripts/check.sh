#!/usr/bin/env bash
# Quick checks while developing: lint and types only.
source "$(dirname "$0")/_venv.sh"
ruff check vault tests bench scripts
ruff format --check vault tests bench scripts
mypy
