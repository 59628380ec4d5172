"""Set-up checks every prerequisite before it downloads anything: run as a new user would, on a fresh cache."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import ROOT

SETUP = os.path.join(ROOT, "bootstrap", "local.sh")


def path_without(tmp_path, hidden) -> str:
    """A PATH holding every usual tool except `hidden`, and an `mvn` that records being run."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if "python3.11" not in hidden:  # the real interpreter (a pyenv shim would need pyenv's environment)
        real = subprocess.run(["python3.11", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True)
        (bin_dir / "python3.11").symlink_to(real.stdout.strip())
    folders = ["/usr/local/bin", "/usr/bin", "/bin"]
    for tool in ("java", "javac"):
        found = shutil.which(tool)
        if found:
            folders.append(os.path.dirname(os.path.realpath(found)))
    for folder in folders:
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            target = bin_dir / name
            if name not in hidden and not name.startswith(("mvn", "python3.11")) and not target.exists():
                target.symlink_to(os.path.join(folder, name))
    mvn = bin_dir / "mvn"
    mvn.write_text(f'#!/bin/sh\necho ran >> "{tmp_path}/mvn-ran"\nexit 1\n')
    mvn.chmod(0o755)
    return str(bin_dir)


@pytest.mark.parametrize(
    "hidden, named",
    [(("javac",), "no 'javac' on PATH"), (("python3.11",), "no 'python3.11' on PATH")],
    ids=["javac", "python3.11"],
)
def test_setup_stops_before_any_download_when_a_prerequisite_is_missing(tmp_path, hidden, named):
    cache = tmp_path / "cache"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAKEML_", "PYENV"))}
    env.update(PATH=path_without(tmp_path, hidden), LAKEML_CACHE=str(cache))
    done = subprocess.run(["bash", SETUP], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert named in done.stderr and "nothing was downloaded" in done.stderr
    assert not (tmp_path / "mvn-ran").exists()  # Maven (the jar download) never ran
    assert sorted(os.listdir(cache)) == []  # no venv, no jars, nothing half-made
