"""The install proof on a fresh Debian root (tests/deploy/prove_install.sh), when asked for.

It takes about a minute and needs root, debootstrap, a Debian mirror and PyPI, so the default suite
skips it; ``RUN_DEBIAN_ROOT_PROOF=1`` runs it (``.ci/run`` runs the script itself when it can).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.conftest import REPO


@pytest.mark.skipif(os.environ.get("RUN_DEBIAN_ROOT_PROOF") != "1",
                    reason="set RUN_DEBIAN_ROOT_PROOF=1 to run the install proof on a fresh Debian root (~1 min)")
@pytest.mark.timeout(900)
def test_install_on_a_fresh_debian_root() -> None:
    if os.geteuid() != 0 or shutil.which("debootstrap") is None:
        pytest.fail("the install proof needs root and debootstrap (apt-get install debootstrap)")
    result = subprocess.run([str(REPO / "tests" / "deploy" / "prove_install.sh")], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "\nPASS: the install, cron, the unit and serve on a fresh" in result.stdout
