#!/usr/bin/env bash
# The whole flow on the built-in simulator and a temporary vault.
source "$(dirname "$0")/_venv.sh"
exec questa-vault demo "$@"
