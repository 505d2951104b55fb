#!/usr/bin/env bash
# Installs the real peers the interoperability tests talk to, into .peers/ (or $APPOSE_PEERS_DIR):
#   .peers/venv   a Python virtual environment with appose (appose-python), numpy and uv.
# Idempotent and cached: a second run with everything in place does nothing but check.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
peers=${APPOSE_PEERS_DIR:-$here/.peers}
APPOSE_PY_VERSION=0.12.0
python=${APPOSE_HOST_PYTHON:-python3}

mkdir -p "$peers"
venv="$peers/venv"
stamp="$venv/.appose-peers-$APPOSE_PY_VERSION"

if [ ! -f "$stamp" ]; then
  echo "peers: creating $venv (appose==$APPOSE_PY_VERSION, numpy, uv)"
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    "appose==$APPOSE_PY_VERSION" numpy uv
  "$venv/bin/python" -c "import appose, numpy; assert appose.__version__ == '$APPOSE_PY_VERSION', appose.__version__"
  touch "$stamp"
fi
echo "peers: appose-python $APPOSE_PY_VERSION ready in $venv"
