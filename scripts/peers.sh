#!/usr/bin/env bash
# Installs the real peers the interoperability tests talk to, into .peers/ (or $APPOSE_PEERS_DIR):
#   .peers/venv       a Python virtual environment with appose (appose-python), numpy and uv;
#   .peers/java/lib   appose-java and its runtime dependencies (Groovy among them), from Maven.
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

# appose-java: the version is pinned in scripts/java/pom.xml. 0.12.0 is what the spec targets,
# but this machine's Maven registry serves appose-java only up to 0.9.0 (the newest available).
java_lib="$peers/java/lib"
java_version=$(sed -n 's:.*<appose.java.version>\(.*\)</appose.java.version>.*:\1:p' "$here/scripts/java/pom.xml")
java_stamp="$java_lib/.appose-java-$java_version"
if [ ! -f "$java_stamp" ]; then
  echo "peers: fetching appose-java $java_version and its dependencies into $java_lib"
  rm -rf "$java_lib"
  mvn -q -B -f "$here/scripts/java/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$java_lib"
  touch "$java_stamp"
fi
echo "peers: appose-java $java_version ready in $java_lib"
