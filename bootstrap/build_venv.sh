#!/usr/bin/env bash
# Build the self-contained Python environment archive that EMR steps can run with instead of the
# bootstrap action's install:
#
#   bootstrap/build_venv.sh [--python 3.11] [--arch x86_64|aarch64] [--out dist/lakeml-venv-py3.11-x86_64.tar.gz]
#   ./spark-submit.sh emr JOB ... --venv-archive dist/lakeml-venv-py3.11-x86_64.tar.gz
#
# Use it for
#   - EMR Serverless: it has no bootstrap actions, so the archive is the only way its driver and
#     executors get pydantic, pyyaml, numpy, matplotlib, pandas and pyarrow;
#   - EMR clusters whose nodes reach neither PyPI (no NAT gateway) nor a PyPI mirror.
# Clusters with a route to PyPI (or PIP_INDEX_URL naming a mirror) need no archive: the bootstrap
# action (emr_install_deps.sh) installs the same lock on every node.
#
# It runs on Amazon Linux 2023 (the OS of EMR 7 and of the EMR Serverless 7 image); elsewhere it
# re-runs itself in an amazonlinux:2023 container when docker is available. The archive carries its
# own interpreter (python-build-standalone, installed by uv; UV_PYTHON_INSTALL_MIRROR points uv at a
# mirror of it), so bin/python is inside the archive and the nodes need no Python of their own; the
# launcher refuses archives whose interpreter links outside them (plain venv-pack archives do).
# The packages are bootstrap/lock/py<V>-<ARCH>.txt, installed with --require-hashes, wheels only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY=3.11
ARCH="$(uname -m)"
OUT=""
UV_VERSION=0.13.8
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PY="$2"; shift 2 ;;
    --arch) ARCH="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "build_venv: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-$ROOT/dist/lakeml-venv-py$PY-$ARCH.tar.gz}"
LOCK="$ROOT/bootstrap/lock/py$PY-$ARCH.txt"
fail() { echo "build_venv: ERROR: $*" >&2; exit 1; }
[ -f "$LOCK" ] || fail "no lock $LOCK (lakeml locks Python 3.9 and 3.11 on x86_64 and aarch64; bootstrap/lock.sh makes them)"

if ! grep -q '^ID="amzn"' /etc/os-release 2>/dev/null || ! grep -q '^VERSION_ID="2023"' /etc/os-release; then
  command -v docker >/dev/null 2>&1 || fail "run this on Amazon Linux 2023 (the OS of EMR 7), or install docker so it can run in amazonlinux:2023"
  [ "$ARCH" = "$(uname -m)" ] || fail "--arch $ARCH on a $(uname -m) host: run it on a $ARCH machine (or a docker with $ARCH emulation)"
  mkdir -p "$(dirname "$OUT")"
  exec docker run --rm -v "$ROOT:/lakeml:ro" -v "$(cd "$(dirname "$OUT")" && pwd):/out" \
    ${UV_PYTHON_INSTALL_MIRROR:+-e UV_PYTHON_INSTALL_MIRROR} ${PIP_INDEX_URL:+-e PIP_INDEX_URL} \
    amazonlinux:2023 bash /lakeml/bootstrap/build_venv.sh --python "$PY" --arch "$ARCH" --out "/out/$(basename "$OUT")"
fi
[ "$ARCH" = "$(uname -m)" ] || fail "--arch $ARCH on a $(uname -m) host: build on a $ARCH machine"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
command -v tar >/dev/null 2>&1 || dnf install -y -q tar gzip >&2
if ! command -v uv >/dev/null 2>&1; then
  command -v python3 >/dev/null 2>&1 || dnf install -y -q python3 >&2
  python3 -m pip --version >/dev/null 2>&1 || dnf install -y -q python3-pip >&2
  python3 -m pip install --quiet --target "$work/uv" "uv==$UV_VERSION" >&2 || fail "cannot install uv $UV_VERSION from PyPI"
  export PATH="$work/uv/bin:$PATH"
fi

# A standalone CPython in its own folder: that folder becomes the archive's root (./environment).
env_dir="$work/environment"
UV_PYTHON_INSTALL_DIR="$work/pythons" uv python install "$PY" >&2 || fail "uv could not install CPython $PY (set UV_PYTHON_INSTALL_MIRROR if GitHub is unreachable)"
src="$(UV_PYTHON_INSTALL_DIR="$work/pythons" uv python find --managed-python "$PY")"
cp -a "$(dirname "$(dirname "$src")")" "$env_dir"
python="$env_dir/bin/python$PY"
[ -x "$python" ] || fail "the standalone interpreter is not at $python"
ln -sfn "python$PY" "$env_dir/bin/python"
ln -sfn "python$PY" "$env_dir/bin/python3"

uv pip install --python "$python" --break-system-packages --require-hashes --only-binary :all: --no-deps \
  -r "$LOCK" >&2 || fail "could not install $LOCK (no route to PyPI or PIP_INDEX_URL's mirror, or a wheel whose hash differs)"
"$python" -c 'import yaml, pydantic, numpy, matplotlib, pandas, pyarrow' || fail "a locked package does not import"

mkdir -p "$(dirname "$OUT")"
tar -czf "$OUT.tmp" -C "$env_dir" .
mv "$OUT.tmp" "$OUT"
echo "build_venv: $OUT ($(du -h "$OUT" | cut -f1)); run with --venv-archive $OUT"
