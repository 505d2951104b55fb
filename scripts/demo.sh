#!/usr/bin/env bash
# Sets up everything (Debian packages, the peers' Python environment), builds, and runs the demo.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$here"

scripts/deps.sh
scripts/peers.sh
cmake --preset release >/dev/null
cmake --build --preset release -j "$(nproc)" --target python_demo
build/release/examples/python_demo "${APPOSE_PEERS_DIR:-$here/.peers}/venv"
