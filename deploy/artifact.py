"""The versioned artifact that EMR runs: what `--py-files` and the entry script need, and nothing else.

    lakeml.zip            the `core`, `jobs`, `features` and `ml` packages at the zip root (for --py-files)
    lakeml_main.py        the entry script spark-submit runs, beside the zip
    lakeml-jvm.jar        lakeml's JVM classes (jvm/, compiled by bootstrap/local.sh; the step's --jars)
    lock/py<V>-<ARCH>.txt the hashed dependency locks (bootstrap/lock/, Python 3.9 and 3.11 on
                          x86_64 and aarch64): every package the jobs import on a node, wheels only
    emr_install_deps.sh   the bootstrap action that installs the node's lock
    manifest.json         version, git commit, sha256 of each file

The zip is byte-for-byte reproducible (sorted entries, fixed timestamps), and the version is
`<setup.py version>-<12 hex digits of the content hash>`, so the same code always lands under
the same s3://…/artifacts/<version>/ and different code never overwrites it.

`python -m deploy.artifact OUT_DIR` builds one and prints its manifest.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from typing import Dict, List, Optional

from core.session import lakeml_jar
from deploy.files import file_sha256

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("core", "jobs", "features", "ml")
ENTRY = "lakeml_main.py"
ZIP_NAME = "lakeml.zip"
LOCK_DIR = "lock"  # in the artifact; its source is bootstrap/lock/
LOCK_SOURCE = os.path.join("bootstrap", "lock")
BOOTSTRAP = "emr_install_deps.sh"
MANIFEST = "manifest.json"
JVM_JAR = "lakeml-jvm.jar"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
SKIP_DIRS = ("__pycache__",)
SKIP_SUFFIXES = (".pyc", ".pyo")


@dataclass
class Artifact:
    """A built artifact on local disk."""

    version: str
    directory: str
    files: Dict[str, str]  # name -> local path

    @property
    def zip_path(self) -> str:
        return self.files[ZIP_NAME]

    @property
    def entry_path(self) -> str:
        return self.files[ENTRY]


def setup_metadata(root: str = ROOT) -> Dict[str, object]:
    """`version` and `install_requires` of setup.py, read without running it."""
    with open(os.path.join(root, "setup.py"), encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setup":
            found = {kw.arg: kw.value for kw in node.keywords if kw.arg in ("version", "install_requires")}
            return {name: ast.literal_eval(value) for name, value in found.items()}
    raise RuntimeError("setup.py has no setup(...) call")


def requirement_name(spec: str) -> str:
    """The distribution name of a requirement spec such as `pandas>=1.5,<3`."""
    return re.split(r"[\s<>=!~;\[]", spec.strip(), maxsplit=1)[0]


def lock_files(root: str = ROOT) -> List[str]:
    """The lock files of bootstrap/lock/ (py<V>-<ARCH>.txt), sorted; an error when there are none."""
    folder = os.path.join(root, LOCK_SOURCE)
    names = sorted(n for n in os.listdir(folder) if re.fullmatch(r"py3\.\d+-(x86_64|aarch64)\.txt", n))
    if not names:
        raise RuntimeError(f"no dependency locks in {folder}; run bootstrap/lock.sh")
    return names


def package_files(root: str = ROOT) -> List[str]:
    """Paths (relative to root, '/'-separated, sorted) of every file of the shipped packages."""
    found = []
    for package in PACKAGES:
        if not os.path.isdir(os.path.join(root, package)):
            continue
        for folder, dirs, files in os.walk(os.path.join(root, package)):
            dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
            for name in files:
                if name.endswith(SKIP_SUFFIXES) or name.startswith("."):
                    continue
                found.append(os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/"))
    return sorted(found)


def write_zip(path: str, root: str, names: List[str]) -> None:
    """A reproducible zip: the given files at their relative paths, fixed times and modes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in names:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with open(os.path.join(root, name), "rb") as handle:
                archive.writestr(info, handle.read())


def git_commit(root: str = ROOT) -> Optional[str]:
    """The checked-out commit, with `-dirty` when the shipped files have local changes; None outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", *PACKAGES, ENTRY, "setup.py", LOCK_SOURCE],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


def build(out_dir: str, root: str = ROOT, jvm_jar: Optional[str] = None) -> Artifact:
    """Build the artifact into out_dir (created if needed); returns its version and files.

    jvm_jar: the compiled jar of jvm/ (default: $LAKEML_JVM_JAR, which bootstrap/local.sh sets).
    """
    jar = lakeml_jar(jvm_jar or os.environ.get("LAKEML_JVM_JAR"))
    os.makedirs(out_dir, exist_ok=True)
    meta = setup_metadata(root)
    files = {
        ZIP_NAME: os.path.join(out_dir, ZIP_NAME),
        ENTRY: os.path.join(out_dir, ENTRY),
        BOOTSTRAP: os.path.join(out_dir, BOOTSTRAP),
        JVM_JAR: os.path.join(out_dir, JVM_JAR),
    }
    shutil.copyfile(jar, files[JVM_JAR])
    write_zip(files[ZIP_NAME], root, package_files(root))
    shutil.copyfile(os.path.join(root, ENTRY), files[ENTRY])
    os.makedirs(os.path.join(out_dir, LOCK_DIR), exist_ok=True)
    for name in lock_files(root):
        files[f"{LOCK_DIR}/{name}"] = os.path.join(out_dir, LOCK_DIR, name)
        shutil.copyfile(os.path.join(root, LOCK_SOURCE, name), files[f"{LOCK_DIR}/{name}"])
    shutil.copyfile(os.path.join(root, "bootstrap", BOOTSTRAP), files[BOOTSTRAP])
    digests = {name: file_sha256(path) for name, path in sorted(files.items())}
    content = hashlib.sha256("".join(f"{name}:{digest}\n" for name, digest in digests.items()).encode()).hexdigest()
    artifact_version = f"{meta['version']}-{content[:12]}"
    manifest = {"version": artifact_version, "git_commit": git_commit(root), "sha256": digests}
    files[MANIFEST] = os.path.join(out_dir, MANIFEST)
    with open(files[MANIFEST], "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=2, sort_keys=True)
        handle.write("\n")
    return Artifact(version=artifact_version, directory=out_dir, files=files)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m deploy.artifact OUT_DIR", file=sys.stderr)
        return 2
    artifact = build(argv[0])
    with open(artifact.files[MANIFEST], encoding="utf-8") as handle:
        print(handle.read(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
