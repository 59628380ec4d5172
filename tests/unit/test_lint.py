import os
import subprocess
import sys

from tests.conftest import ROOT


def test_ruff_check_is_clean():
    ruff = os.path.join(os.path.dirname(sys.executable), "ruff")
    done = subprocess.run([ruff, "check", "--no-cache", ROOT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-4000:]
