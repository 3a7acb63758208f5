#!/usr/bin/env bash
# Run the test suite in the project environment: refresh .venv with setup_env.sh (silent when up
# to date), source .venv/env.sh, then `python -m pytest -q` with any arguments passed through,
# e.g. `bash scripts/run_tests.sh test/ros -k interfaces`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$ROOT/scripts/setup_env.sh"
# shellcheck source=/dev/null
source "$ROOT/.venv/env.sh"
cd "$ROOT"
exec python -m pytest -q "$@"
