"""Real data that registry packages ship, fetched at test time into a cache (never committed).

`package_file("usaddress", "0.5.16", "training/openaddress_us_ia_linn.xml", sdist=True)`
downloads the package once with pip (no dependencies, no install), unpacks it under
~/.cache/lakeml/datasets/ (or $LAKEML_CACHE/datasets) and returns the file's path. When the
package registry cannot be reached, the test is skipped with that reason; any other failure
is an error.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

CACHE = os.path.join(os.environ.get("LAKEML_CACHE", os.path.expanduser("~/.cache/lakeml")), "datasets")
UNREACHABLE = (
    "Could not find a version",
    "No matching distribution",
    "Max retries exceeded",
    "Temporary failure",
    "Name or service not known",
    "Connection refused",
    "Network is unreachable",
)


def _download(name: str, version: str, sdist: bool, folder: str) -> str:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", folder, f"{name}=={version}"]
    cmd += ["--no-binary", name] if sdist else ["--only-binary", ":all:"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        if any(word in done.stderr for word in UNREACHABLE):
            pytest.skip(f"package registry unreachable, cannot fetch {name}=={version}: {done.stderr.strip()[-300:]}")
        raise RuntimeError(f"pip download {name}=={version} failed:\n{done.stderr[-2000:]}")
    archives = [p for p in glob.glob(os.path.join(folder, "*")) if p.endswith((".tar.gz", ".zip", ".whl"))]
    if len(archives) != 1:
        raise RuntimeError(f"expected one archive for {name}=={version}, found {archives}")
    return archives[0]


def _unpack(archive: str, target: str) -> None:
    if archive.endswith(".tar.gz"):
        with tarfile.open(archive) as tar:
            tar.extractall(target, filter="data")
    else:
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(target)


def package_root(name: str, version: str, sdist: bool = False) -> str:
    """The unpacked package folder (an sdist's top folder, or a wheel's root), cached."""
    root = os.path.join(CACHE, f"{name}-{version}-{'sdist' if sdist else 'wheel'}")
    ready = os.path.join(root, ".ready")
    if not os.path.exists(ready):
        os.makedirs(CACHE, exist_ok=True)
        with open(root + ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # another test process may be fetching the same package
            if not os.path.exists(ready):
                shutil.rmtree(root, ignore_errors=True)
                os.makedirs(root)
                archive = _download(name, version, sdist, os.path.join(root, "_download"))
                _unpack(archive, os.path.join(root, "files"))
                open(ready, "w").close()
    files = os.path.join(root, "files")
    entries = os.listdir(files)
    if sdist and len(entries) == 1:
        return os.path.join(files, entries[0])
    return files


def package_file(name: str, version: str, relative: str, sdist: bool = False) -> str:
    """Path of one file inside a package, fetched and cached on first use."""
    path = os.path.join(package_root(name, version, sdist), relative)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{relative} not found in {name}=={version}")
    return path
