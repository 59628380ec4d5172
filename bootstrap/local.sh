#!/usr/bin/env bash
# Local set-up for lakeml: Java 17 check, the pinned jars, the pinned venv, lakeml's JVM jar.
#
# Source it and call `lakeml_setup`; afterwards LAKEML_VENV and LAKEML_JARS_DIR name
# ready folders. Both live in a cache outside the clone (LAKEML_CACHE, default
# ~/.cache/lakeml), keyed by the hash of the pins, so every clone reuses them and a
# change of pins builds a new one. A folder counts as ready only once its `.ready`
# stamp exists, so an interrupted set-up is redone, never trusted.
#
# Environment knobs:
#   LAKEML_CACHE         cache root (default ~/.cache/lakeml)
#   LAKEML_PYTHON        interpreter for the venv (default python3.11)
#   LAKEML_MAVEN_MIRROR  fetch the jars through this Maven repository URL instead of
#                        Maven's configured default (a company mirror, or a test)
# Every failure prints what is missing and what to do, and returns non-zero.

LAKEML_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LAKEML_JAVA_MAJOR=17

_lakeml_say() { echo "lakeml setup: $*" >&2; }
_lakeml_fail() { echo "lakeml setup: ERROR: $*" >&2; return 1; }

_lakeml_hash() { cat "$@" | sha256sum | cut -c1-12; }

lakeml_check_java() {
  if ! command -v java >/dev/null 2>&1; then
    _lakeml_fail "no 'java' on PATH. lakeml needs Java ${LAKEML_JAVA_MAJOR} (what EMR 7 runs): install it (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless; macOS: brew install openjdk@17) or put its bin/ on PATH."
    return 1
  fi
  local version major
  version="$(java -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -1)"
  major="${version%%.*}"
  [ "$major" = "1" ] && major="$(echo "$version" | cut -d. -f2)"
  if [ "$major" != "$LAKEML_JAVA_MAJOR" ]; then
    _lakeml_fail "found Java '${version:-unknown}' at $(command -v java); lakeml needs Java ${LAKEML_JAVA_MAJOR} (Spark 3.5 on EMR 7). Install Java 17 and put it first on PATH, or set JAVA_HOME and PATH to it."
    return 1
  fi
}

_lakeml_maven_settings() {
  # A settings file that routes every repository through LAKEML_MAVEN_MIRROR.
  local file="$1"
  cat >"$file" <<EOF
<settings><mirrors><mirror><id>lakeml-mirror</id><mirrorOf>*</mirrorOf>
<url>${LAKEML_MAVEN_MIRROR}</url></mirror></mirrors></settings>
EOF
}

_lakeml_jar_stats() {
  # name, size and modification time of every jar in the lock, as found in folder $1
  (cd "$1" && awk '{print $2}' "$LAKEML_ROOT/bootstrap/jars/jars.sha256" | xargs stat -c '%n %s %Y' 2>&1)
}

_lakeml_verify_jars() {
  # Every jar in the lock is present with its pinned SHA-256. A full check (about 2 s for the
  # 300 MB of jars) runs once per change of the files: `.verified` keeps their name, size and
  # modification time as of the last full check, and a start that finds them unchanged trusts it.
  local dir="$1"
  if [ -f "$dir/.verified" ] && [ "$(_lakeml_jar_stats "$dir")" = "$(cat "$dir/.verified")" ]; then
    return 0
  fi
  (cd "$dir" && sha256sum --check --quiet --strict "$LAKEML_ROOT/bootstrap/jars/jars.sha256") >/dev/null 2>&1 || return 1
  _lakeml_jar_stats "$dir" >"$dir/.verified"
}

lakeml_setup_jars() {
  local lock="$LAKEML_ROOT/bootstrap/jars/jars.sha256"
  local key dir tmp
  key="$(_lakeml_hash "$LAKEML_ROOT/bootstrap/jars/pom.xml" "$lock")"
  dir="$LAKEML_CACHE/jars-$key"
  if [ -f "$dir/.ready" ]; then
    if _lakeml_verify_jars "$dir"; then
      LAKEML_JARS_DIR="$dir"
      return 0
    fi
    _lakeml_say "a cached jar in $dir is missing or corrupt; fetching the jars again"
    rm -rf "$dir"
  fi
  if ! command -v mvn >/dev/null 2>&1; then
    _lakeml_fail "no 'mvn' on PATH; lakeml fetches its jars (Delta, hadoop-aws, AWS SDK) with Maven. Install it (Debian/Ubuntu: apt-get install maven; macOS: brew install maven)."
    return 1
  fi
  _lakeml_say "fetching jars with Maven into $dir"
  tmp="$(mktemp -d "$LAKEML_CACHE/jars-tmp.XXXXXX")"
  local mvn_args=(-B -q -f "$LAKEML_ROOT/bootstrap/jars/pom.xml" dependency:copy-dependencies
    -DexcludeTransitive=true "-DoutputDirectory=$tmp"
    -Dmaven.wagon.http.retryHandler.count=1 -Dmaven.wagon.httpconnectionManager.ttlSeconds=10)
  if [ -n "${LAKEML_MAVEN_MIRROR:-}" ]; then
    _lakeml_maven_settings "$tmp/settings.xml"
    mvn_args=(-s "$tmp/settings.xml" "${mvn_args[@]}")
  fi
  if ! mvn "${mvn_args[@]}" >"$tmp/mvn.log" 2>&1; then
    tail -5 "$tmp/mvn.log" >&2
    rm -rf "$tmp"
    _lakeml_fail "Maven could not fetch the jars${LAKEML_MAVEN_MIRROR:+ from $LAKEML_MAVEN_MIRROR}: the Maven repository is unreachable or refused them. Check the network or proxy (~/.m2/settings.xml), or set LAKEML_MAVEN_MIRROR to a reachable Maven repository, then run again."
    return 1
  fi
  rm -f "$tmp/settings.xml" "$tmp/mvn.log"
  if ! _lakeml_verify_jars "$tmp"; then
    (cd "$tmp" && sha256sum --check --strict "$lock" 2>&1 | grep -v ': OK$' >&2)
    rm -rf "$tmp"
    _lakeml_fail "a fetched jar is missing or does not match bootstrap/jars/jars.sha256 (corrupt download or a mirror serving other bytes). Run again; if it persists, check your Maven mirror."
    return 1
  fi
  rm -rf "$dir" && mv "$tmp" "$dir" && touch "$dir/.ready"
  LAKEML_JARS_DIR="$dir"
}

lakeml_setup_venv() {
  local reqs="$LAKEML_ROOT/bootstrap/requirements-local.txt"
  local python="${LAKEML_PYTHON:-python3.11}"
  if ! command -v "$python" >/dev/null 2>&1; then
    _lakeml_fail "no '$python' on PATH; lakeml's local stack needs Python 3.11 (as on EMR 7). Install it or set LAKEML_PYTHON to a Python 3.11 interpreter."
    return 1
  fi
  local pyver key dir
  pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [ "$pyver" != "3.11" ]; then
    _lakeml_fail "'$python' is Python $pyver; lakeml's local stack needs Python 3.11. Set LAKEML_PYTHON to a Python 3.11 interpreter."
    return 1
  fi
  key="$( (cat "$reqs"; echo "$pyver") | sha256sum | cut -c1-12)"
  dir="$LAKEML_CACHE/venv-$key"
  if ! _lakeml_venv_ready "$dir"; then
    mkdir -p "$LAKEML_CACHE" || return 1
    if command -v flock >/dev/null 2>&1; then
      # one build per venv at a time: a second shell waits for the first, then finds the venv ready
      (flock 9 && { _lakeml_venv_ready "$dir" || _lakeml_build_venv "$python" "$reqs" "$dir"; }) 9>"$dir.lock" || return 1
    else
      _lakeml_build_venv "$python" "$reqs" "$dir" || return 1
    fi
  fi
  LAKEML_VENV="$dir"
}

_lakeml_venv_ready() { [ -f "$1/.ready" ] && "$1/bin/python" -c 'import pyspark, delta' >/dev/null 2>&1; }

_lakeml_build_venv() {
  # $1 python, $2 requirements, $3 the venv folder: built from scratch, marked ready last
  local python="$1" reqs="$2" dir="$3"
  _lakeml_say "building the venv $dir (first time: a few minutes; pyspark is a 300 MB download)"
  rm -rf "$dir"
  "$python" -m venv "$dir" || { _lakeml_fail "could not create a venv with $python (Debian/Ubuntu: apt-get install python3.11-venv)."; return 1; }
  if ! "$dir/bin/pip" install --quiet --disable-pip-version-check -r "$reqs"; then
    rm -rf "$dir"
    _lakeml_fail "pip could not install bootstrap/requirements-local.txt; check the network or your pip index settings, then run again."
    return 1
  fi
  touch "$dir/.ready"
}

_lakeml_spark_home() {
  # the venv's pyspark folder: a Spark distribution with bin/ and jars/
  "$LAKEML_VENV/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))'
}

lakeml_setup_jvm() {
  # lakeml's own JVM classes (jvm/**/*.java) compiled against the venv's Spark into one jar,
  # cached under a hash of the sources and the Spark jars they compile against.
  # $1: the venv's Spark home if the caller has it already (else it is looked up).
  local spark_jars key dir tmp sources
  spark_jars="${1:-$(_lakeml_spark_home)}/jars"
  sources="$(cd "$LAKEML_ROOT" && find jvm -name '*.java' | LC_ALL=C sort)"
  key="$( (cd "$LAKEML_ROOT" && cat $sources; ls "$spark_jars"; echo "java $LAKEML_JAVA_MAJOR") | sha256sum | cut -c1-12)"
  dir="$LAKEML_CACHE/jvm-$key"
  if [ -f "$dir/.ready" ] && [ -f "$dir/lakeml-jvm.jar" ]; then
    LAKEML_JVM_JAR="$dir/lakeml-jvm.jar"
    return 0
  fi
  if ! command -v javac >/dev/null 2>&1 || ! command -v jar >/dev/null 2>&1; then
    _lakeml_fail "no 'javac'/'jar' on PATH; lakeml compiles its JVM parser (jvm/) once, which needs a Java ${LAKEML_JAVA_MAJOR} JDK, not only a JRE. Install it (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless; macOS: brew install openjdk@17)."
    return 1
  fi
  _lakeml_say "compiling lakeml's JVM classes into $dir"
  tmp="$(mktemp -d "$LAKEML_CACHE/jvm-tmp.XXXXXX")" || { _lakeml_fail "cannot create a folder in $LAKEML_CACHE"; return 1; }
  if ! (cd "$LAKEML_ROOT" && javac --release "$LAKEML_JAVA_MAJOR" -nowarn -Xlint:-path -d "$tmp/classes" \
      -cp "$spark_jars/*" $sources) >"$tmp/javac.log" 2>&1; then
    cat "$tmp/javac.log" >&2
    rm -rf "$tmp"
    _lakeml_fail "javac could not compile jvm/ (above); is 'javac' a Java ${LAKEML_JAVA_MAJOR} JDK?"
    return 1
  fi
  # a fixed entry date keeps the jar byte-for-byte the same for the same classes
  jar --create --date=1980-01-01T00:00:02Z --file "$tmp/lakeml-jvm.jar" -C "$tmp/classes" . || { rm -rf "$tmp"; return 1; }
  rm -rf "$tmp/classes" "$tmp/javac.log" "$dir" && mv "$tmp" "$dir" && touch "$dir/.ready" || return 1
  LAKEML_JVM_JAR="$dir/lakeml-jvm.jar"
}

_lakeml_jars_ready() {
  local key
  key="$(_lakeml_hash "$LAKEML_ROOT/bootstrap/jars/pom.xml" "$LAKEML_ROOT/bootstrap/jars/jars.sha256")"
  [ -f "$LAKEML_CACHE/jars-$key/.ready" ]
}

lakeml_check_prereqs() {
  # Every tool set-up needs, checked before anything is downloaded (a few seconds at most): Java 17,
  # its javac and jar (lakeml compiles jvm/), Python 3.11 with its venv module, and Maven when the
  # jars are not cached yet. All missing ones are named at once.
  local python="${LAKEML_PYTHON:-python3.11}" missing=0 tool
  lakeml_check_java || missing=1
  for tool in javac jar; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      _lakeml_fail "no '$tool' on PATH; lakeml compiles its JVM parser (jvm/) once, which needs a Java ${LAKEML_JAVA_MAJOR} JDK, not only a JRE. Install it (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless; macOS: brew install openjdk@17)."
      missing=1
    fi
  done
  if ! command -v "$python" >/dev/null 2>&1; then
    _lakeml_fail "no '$python' on PATH; lakeml's local stack needs Python 3.11 (as on EMR 7). Install it (Debian/Ubuntu: apt-get install python3.11 python3.11-venv) or set LAKEML_PYTHON to a Python 3.11 interpreter."
    missing=1
  elif ! "$python" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info[:2] != (3, 11))' >/dev/null 2>&1; then
    _lakeml_fail "'$python' is not a Python 3.11 with its venv module (Debian/Ubuntu: apt-get install python3.11-venv); set LAKEML_PYTHON to one that is."
    missing=1
  fi
  if ! _lakeml_jars_ready && ! command -v mvn >/dev/null 2>&1; then
    _lakeml_fail "no 'mvn' on PATH; lakeml fetches its jars (Delta, hadoop-aws, AWS SDK) with Maven once. Install it (Debian/Ubuntu: apt-get install maven; macOS: brew install maven)."
    missing=1
  fi
  [ "$missing" = 0 ] || { _lakeml_say "nothing was downloaded; install what is named above and run again."; return 1; }
}

lakeml_setup() {
  LAKEML_CACHE="${LAKEML_CACHE:-$HOME/.cache/lakeml}"
  mkdir -p "$LAKEML_CACHE" || { _lakeml_fail "cannot create the cache folder $LAKEML_CACHE; set LAKEML_CACHE to a writable folder."; return 1; }
  lakeml_check_prereqs || return 1
  lakeml_setup_jars || return 1
  lakeml_setup_venv || return 1
  SPARK_HOME="$(_lakeml_spark_home)" || return 1
  lakeml_setup_jvm "$SPARK_HOME" || return 1
  # Convenience links inside the clone (ignored by git) for people poking around.
  ln -sfn "$LAKEML_VENV" "$LAKEML_ROOT/.venv" 2>/dev/null || true
  ln -sfn "$LAKEML_JARS_DIR" "$LAKEML_ROOT/.jars" 2>/dev/null || true
  export LAKEML_VENV LAKEML_JARS_DIR LAKEML_JVM_JAR LAKEML_CACHE
  export PYTHONPATH="$LAKEML_ROOT${PYTHONPATH:+:$PYTHONPATH}"
  export SPARK_HOME
  export PYSPARK_PYTHON="$LAKEML_VENV/bin/python"
  export PYSPARK_DRIVER_PYTHON="$LAKEML_VENV/bin/python"
}

# Run directly: set up and report where things are.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  lakeml_setup || exit 1
  echo "venv: $LAKEML_VENV"
  echo "jars: $LAKEML_JARS_DIR"
  echo "lakeml jvm: $LAKEML_JVM_JAR"
fi
