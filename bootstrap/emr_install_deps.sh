#!/usr/bin/env bash
# EMR bootstrap action: install lakeml's locked runtime Python dependencies on this node.
#
#   emr_install_deps.sh --lock s3://BUCKET/artifacts/VERSION/lock [--python /usr/bin/python3.11]
#
# The lock folder holds py<3.9|3.11>-<x86_64|aarch64>.txt (bootstrap/lock.sh): every package
# pinned with its wheels' SHA-256; this picks the one for the interpreter's version and the
# node's architecture and installs it with --require-hashes (a changed or substituted wheel
# fails the install). The node needs a route to PyPI (a NAT gateway) or a PyPI mirror
# (PIP_INDEX_URL in the environment, e.g. from a previous bootstrap action); without either,
# use the venv archive instead (bootstrap/build_venv.sh, the launcher's --venv-archive).
#
# EMR runs it on every node (nodes added later by scaling too), as user hadoop, before the
# applications are installed; a non-zero exit aborts the cluster's launch, so every failure
# here says what went wrong. It installs wheels only (no compiler on the nodes, no silent
# source builds) for the interpreter that the cluster's spark-env PYSPARK_PYTHON names, and
# checks afterwards that each package imports at the pinned version.
# Idempotent: a second run with the same requirements finds the stamp and does nothing.
set -euo pipefail

PYTHON=/usr/bin/python3.11
LOCK=""
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTHON="$2"; shift 2 ;;
    --lock) LOCK="${2%/}"; shift 2 ;;
    *) echo "emr_install_deps: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

fail() { echo "emr_install_deps: ERROR: $*" >&2; exit 1; }
SUDO=sudo
[ "$(id -u)" = "0" ] && SUDO=""

[ -n "$LOCK" ] || fail "--lock is required (the lock folder uploaded beside the artifact)"

if [ ! -x "$PYTHON" ]; then
  # EMR 7 (Amazon Linux 2023) ships python3.9 and offers python3.11 as a package.
  name="$(basename "$PYTHON")"
  $SUDO dnf install -y -q "$name" "$name-pip" >&2 || fail "$PYTHON is missing and 'dnf install $name' failed"
fi
[ -x "$PYTHON" ] || fail "$PYTHON does not exist on this node"
if ! "$PYTHON" -m pip --version >/dev/null 2>&1; then
  name="$(basename "$PYTHON")"
  $SUDO dnf install -y -q "$name-pip" >&2 || $SUDO "$PYTHON" -m ensurepip >&2 || fail "no pip for $PYTHON"
fi

pyver="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
arch="$(uname -m)"
name="py$pyver-$arch.txt"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
case "$LOCK" in
  s3://*) aws s3 cp --only-show-errors "$LOCK/$name" "$work/requirements.txt" \
            || fail "cannot download $LOCK/$name: no lock for Python $pyver on $arch (lakeml locks 3.9 and 3.11 on x86_64 and aarch64), or the instance profile lacks s3:GetObject on the artifacts prefix" ;;
  *) cp "$LOCK/$name" "$work/requirements.txt" || fail "no lock $LOCK/$name for Python $pyver on $arch" ;;
esac

stamp_dir="${LAKEML_DEPS_STAMP_DIR:-/var/lib/lakeml}"
key="$( (cat "$work/requirements.txt"; "$PYTHON" -V) | sha256sum | cut -c1-16)"
stamp="$stamp_dir/deps-$key.ok"
if [ -f "$stamp" ]; then
  echo "emr_install_deps: already installed ($stamp)"
  exit 0
fi

echo "emr_install_deps: installing $name into $("$PYTHON" -V 2>&1) at $PYTHON:"
{ grep '==' "$work/requirements.txt" || true; } | sed 's/ .*//'
# The node's interpreter is the target on purpose (newer pips refuse system installs without this).
$SUDO env PIP_BREAK_SYSTEM_PACKAGES=1 "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-input --only-binary=:all: \
  --require-hashes --no-deps -r "$work/requirements.txt" \
  || fail "pip could not install $name for $PYTHON (no route to PyPI or its mirror: NAT gateway or PIP_INDEX_URL; or a wheel whose hash differs from the lock)"

# Each pinned distribution must now be importable at exactly its pinned version.
"$PYTHON" - "$work/requirements.txt" <<'PY' || fail "a requirement is not importable at its pinned version after install"
import sys
from importlib.metadata import version

bad = []
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip().rstrip("\\").strip()
    if not line or line.startswith("--hash") or "==" not in line:
        continue
    name, _, pinned = line.partition("==")
    pinned = pinned.split(";", 1)[0]
    name = name.split("[", 1)[0].strip()
    got = version(name)
    if pinned and got != pinned.strip():
        bad.append(f"{name}: wanted {pinned.strip()}, found {got}")
if bad:
    sys.exit("\n".join(bad))
PY

$SUDO mkdir -p "$stamp_dir"
$SUDO touch "$stamp"
echo "emr_install_deps: done"
