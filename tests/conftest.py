"""Shared fixtures for berth's tests.

Every test gets fresh --root/--runroot directories, so tests run in parallel
and never touch the host's real state. Tests that need root fail (not skip)
when they cannot have it."""
import ipaddress
import json
import os
import random
import secrets
import shutil
import sqlite3
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

    def __init__(self, root, runroot, config=None):
        self.root = root
        self.runroot = runroot
        self.config = config

    def cmd(self, *args):
        c = [BERTH, "--root", self.root, "--runroot", self.runroot]
        if self.config:
            c += ["--config", self.config]
        return c + [str(a) for a in args]

    def run(self, *args, check=True, input=None, timeout=120, env=None):
        p = subprocess.run(self.cmd(*args), input=input, capture_output=True,
                           timeout=timeout, env=env)
        if check and p.returncode != 0:
            raise AssertionError("berth %s failed (%d): %s" % (
                " ".join(map(str, args)), p.returncode, p.stderr.decode(errors="replace")))
        return p

    def out(self, *args, **kw):
        return self.run(*args, **kw).stdout.decode()


def _host_routes():
    p = subprocess.run(["ip", "-4", "route", "show", "table", "all"], capture_output=True,
                       text=True)
    nets = []
    for line in p.stdout.splitlines():
        dst = line.split()[0] if line.split() else ""
        if dst in ("default", "local", "broadcast", "unreachable", "prohibit", "blackhole"):
            dst = line.split()[1] if dst != "default" and len(line.split()) > 1 else ""
        if not dst:
            continue
        try:
            nets.append(ipaddress.ip_network(dst, strict=False))
        except ValueError:
            pass
    return nets


def free_test_subnet():
    """A random 10.2xx.y.0/24 that no host route overlaps (for tests)."""
    routes = _host_routes()
    for _ in range(200):
        n = ipaddress.ip_network("10.%d.%d.0/24" % (random.randint(200, 254),
                                                    random.randint(0, 255)))
        if not any(n.overlaps(r) for r in routes):
            return str(n)
    raise RuntimeError("no free test subnet")


def unique_bridge():
    return "bt%s" % secrets.token_hex(5)


def cleanup_networks(root):
    """Remove the bridges and nftables tables of a test root's networks."""
    db = os.path.join(root, "berth.db")
    if not os.path.exists(db):
        return
    try:
        con = sqlite3.connect(db, timeout=10)
        rows = con.execute("SELECT id, bridge FROM networks").fetchall()
        con.close()
    except sqlite3.Error:
        return
    for nid, bridge in rows:
        subprocess.run(["nft", "delete", "table", "inet", "berth_" + nid[:12]],
                       capture_output=True)
        subprocess.run(["ip", "link", "del", bridge], capture_output=True)


@pytest.fixture
def berth(tmp_path):
    """A private root; its default network gets a bridge name and subnet of
    its own (in a config file), so parallel tests never share one."""
    root = tmp_path / "root"
    runroot = tmp_path / "run"
    config = tmp_path / "berth.json"
    config.write_text(json.dumps({"bridge": unique_bridge(),
                                  "default-subnet": free_test_subnet(),
                                  "dns": ["127.0.0.1:1"]}))
    b = Berth(str(root), str(runroot), str(config))
    yield b
    cleanup_networks(str(root))


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
