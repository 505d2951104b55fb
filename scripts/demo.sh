#!/usr/bin/env bash
# Sets up everything (Debian packages, the peers' Python environment), builds, and runs the demo.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

scripts/deps.sh
scripts/peers.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target python_demo
# The demo builds its own environment with uv: the uv the peers' venv holds, and this machine's
# Python (uv may not download interpreters here).
export APPOSE_UV=${APPOSE_UV:-${APPOSE_PEERS_DIR:-$here/.peers}/venv/bin/uv}
export UV_PYTHON_DOWNLOADS=${UV_PYTHON_DOWNLOADS:-never}
build/release/examples/python_demo "$@"
