"""Shared fixtures for berth's tests.

Every test gets fresh --root/--runroot directories, so tests run in parallel
and never touch the host's real state. Tests that need root fail (not skip)
when they cannot have it."""
import os
import shutil
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BERTH_BUILD", os.path.join(REPO, "build"))
BERTH = os.path.join(BUILD, "berth")
MONITOR = os.path.join(BUILD, "src", "monitor", "berth-monitor")
UNIT = os.path.join(BUILD, "tests", "unit", "berth-unit")
FIXTURES = os.environ.get("BERTH_FIXTURES",
                          os.path.join(os.path.dirname(REPO), "shared", "fixtures"))


def require_root():
    if os.geteuid() != 0:
        pytest.fail("this test needs root (run the suite as root)")


class Berth:
    """Runs the real berth binary against a private root."""

    def __init__(self, root, runroot):
        self.root = root
        self.runroot = runroot

    def cmd(self, *args):
        return [BERTH, "--root", self.root, "--runroot", self.runroot] + [str(a) for a in args]

    def run(self, *args, check=True, input=None, timeout=120, env=None):
        p = subprocess.run(self.cmd(*args), input=input, capture_output=True,
                           timeout=timeout, env=env)
        if check and p.returncode != 0:
            raise AssertionError("berth %s failed (%d): %s" % (
                " ".join(map(str, args)), p.returncode, p.stderr.decode(errors="replace")))
        return p

    def out(self, *args, **kw):
        return self.run(*args, **kw).stdout.decode()


@pytest.fixture
def berth(tmp_path):
    root = tmp_path / "root"
    runroot = tmp_path / "run"
    b = Berth(str(root), str(runroot))
    yield b


@pytest.fixture(scope="session")
def busybox_rootfs_tar(tmp_path_factory):
    """A rootfs tar built from Debian's busybox-static by scripts/make-busybox-rootfs.sh."""
    d = tmp_path_factory.mktemp("busybox")
    out = d / "busybox-rootfs.tar"
    subprocess.run([os.path.join(REPO, "scripts", "make-busybox-rootfs.sh"), str(out)],
                   check=True, capture_output=True)
    return str(out)


@pytest.fixture
def busybox(berth, busybox_rootfs_tar):
    """A berth root holding busybox:latest (imported as the README does)."""
    require_root()
    berth.run("import", "-c", 'CMD ["/bin/sh"]', busybox_rootfs_tar, "busybox:latest")
    return berth
