"""Container cgroups through `berth runtime`: linux.resources as the host's
hierarchies show them and as the container sees them, freezing, OOM, pids
and device limits, cleanup, and clear refusals of what the host lacks."""
import glob
import os
import subprocess
import time
import uuid

import pytest

from conftest import require_root
from runtime_util import Runtime, cid, extract_rootfs, make_bundle

CG = "/sys/fs/cgroup"


@pytest.fixture
def rt(tmp_path):
    require_root()
    r = Runtime(tmp_path / "state")
    yield r
    p = subprocess.run(r.cmd("list", "-q"), capture_output=True)
    for c in p.stdout.decode().split():
        subprocess.run(r.cmd("delete", "-f", c), capture_output=True)


@pytest.fixture(scope="module")
def bb_root(tmp_path_factory, busybox_rootfs_tar):
    d = tmp_path_factory.mktemp("bbroot")
    return extract_rootfs(str(d / "rootfs"), busybox_rootfs_tar)


@pytest.fixture
def cgpath():
    """A unique absolute cgroupsPath; whatever is left of it is removed."""
    p = "/berth-systest-%s" % uuid.uuid4().hex[:12]
    yield p
    for d in glob.glob("%s/*%s" % (CG, p)):
        for sub in sorted(glob.glob(d + "/**/", recursive=True), key=len, reverse=True):
            try:
                os.rmdir(sub)
            except OSError:
                pass


def read(path):
    with open(path) as f:
        return f.read().strip()


def bundle(tmp_path, root, args, cgpath, resources):
    b = tmp_path / ("b" + cid())

    def edit(c):
        c["linux"]["cgroupsPath"] = cgpath
        res = c["linux"].setdefault("resources", {})
        res.update(resources)
    make_bundle(str(b), root, args, edit=edit)
    return b


def test_limits_on_host_and_cleanup(rt, tmp_path, bb_root, cgpath):
    res = {"memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 32 << 20},
           "cpu": {"shares": 256, "quota": 20000, "period": 100000, "cpus": "0"},
           "pids": {"limit": 20}}
    b = bundle(tmp_path, bb_root, ["sleep", "1000"], cgpath, res)
    c = cid()
    rt.run("create", "--bundle", b, c)
    pid = rt.state(c)["pid"]
    # on the host, in every v1 hierarchy and the cgroup2 one
    assert read("%s/memory%s/memory.limit_in_bytes" % (CG, cgpath)) == str(64 << 20)
    assert read("%s/memory%s/memory.memsw.limit_in_bytes" % (CG, cgpath)) == str(96 << 20)
    assert read("%s/memory%s/memory.soft_limit_in_bytes" % (CG, cgpath)) == str(32 << 20)
    assert read("%s/cpu%s/cpu.shares" % (CG, cgpath)) == "256"
    assert read("%s/cpu%s/cpu.cfs_quota_us" % (CG, cgpath)) == "20000"
    assert read("%s/cpuset%s/cpuset.cpus" % (CG, cgpath)) == "0"
    assert read("%s/pids%s/pids.max" % (CG, cgpath)) == "20"
    assert str(pid) in read("%s/unified%s/cgroup.procs" % (CG, cgpath)).split()
    mine = read("/proc/%d/cgroup" % pid)
    assert ":memory:%s" % cgpath in mine and "0::%s" % cgpath in mine
    rt.run("start", c)
    rt.run("kill", c, "KILL")
    for _ in range(200):
        if rt.state(c)["status"] == "stopped":
            break
        time.sleep(0.02)
    rt.run("delete", c)
    assert not glob.glob("%s/*%s" % (CG, cgpath)), "cgroup dirs left after delete"


def test_container_reads_its_limits(rt, tmp_path, bb_root, cgpath):
    res = {"memory": {"limit": 48 << 20}, "pids": {"limit": 33}, "cpu": {"shares": 700}}
    script = ("cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
              "/sys/fs/cgroup/cpu/cpu.shares")
    b = bundle(tmp_path, bb_root, ["sh", "-c", script], cgpath, res)
    p = rt.run("run", "--bundle", b, cid())
    assert p.stdout.decode().split() == [str(48 << 20), "33", "700"]
    assert not glob.glob("%s/*%s" % (CG, cgpath))


def test_pids_limit_enforced(rt, tmp_path, bb_root, cgpath):
    script = "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 5 & done 2>&1; kill $(jobs -p) 2>/dev/null; true"
    b = bundle(tmp_path, bb_root, ["sh", "-c", script], cgpath, {"pids": {"limit": 6}})
    p = rt.run("run", "--bundle", b, cid(), check=False)
    out = (p.stdout + p.stderr).decode()
    assert "fork" in out or "Resource temporarily unavailable" in out, out


def test_oom_kill(rt, tmp_path, bb_root, cgpath):
    res = {"memory": {"limit": 16 << 20, "swap": 16 << 20}}
    b = bundle(tmp_path, bb_root,
               ["dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"], cgpath, res)
    p = rt.run("run", "--bundle", b, cid(), check=False)
    assert p.returncode == 137, (p.returncode, p.stderr)


def test_device_rules(rt, tmp_path, bb_root, cgpath):
    # Two nodes of a char major with no driver behind minors 200/201: an
    # allowed open fails with ENXIO, a denied one with EPERM. The last
    # matching rule wins, so 1:201 loses read access.
    rules = [{"allow": False, "access": "rwm"},
             {"allow": True, "type": "c", "major": 1, "minor": 200, "access": "rwm"},
             {"allow": True, "type": "c", "major": 1, "minor": 201, "access": "rwm"},
             {"allow": False, "type": "c", "major": 1, "minor": 201, "access": "r"}]
    # nodes made inside (linux.devices entries would add allow rules of their own)
    script = "mknod /tmp/fake0 c 1 200 && mknod /tmp/fake1 c 1 201 && cat /tmp/fake0; cat /tmp/fake1; echo done"
    b = tmp_path / ("b" + cid())

    def edit(c):
        c["linux"]["cgroupsPath"] = cgpath
        c["linux"].setdefault("resources", {})["devices"] = rules
    make_bundle(str(b), bb_root, ["sh", "-c", script], edit=edit)
    p = rt.run("run", "--bundle", b, cid(), check=False)
    lines = (p.stdout + p.stderr).decode().splitlines()
    assert any("fake0" in l and "No such device or address" in l for l in lines), lines
    assert any("fake1" in l and "Operation not permitted" in l for l in lines), lines
    assert "done" in lines


def test_pause_resume_freezes_processes(rt, tmp_path, bb_root, cgpath):
    b = bundle(tmp_path, bb_root, ["sleep", "1000"], cgpath, {})
    c = cid()
    rt.run("create", "--bundle", b, c)
    rt.run("start", c)
    pid = rt.state(c)["pid"]
    rt.run("pause", c)
    assert rt.state(c)["status"] == "paused"
    assert read("%s/freezer%s/freezer.state" % (CG, cgpath)) == "FROZEN"
    state = [l for l in read("/proc/%d/status" % pid).splitlines() if l.startswith("State:")]
    assert "D" in state[0], state
    rt.run("resume", c)
    assert read("%s/freezer%s/freezer.state" % (CG, cgpath)) == "THAWED"
    assert rt.state(c)["status"] == "running"
    rt.run("delete", "-f", c)
    assert not glob.glob("%s/*%s" % (CG, cgpath))


@pytest.mark.parametrize("res,field", [
    ({"network": {"classID": 1048577}}, "linux.resources.network.classID"),
    ({"rdma": {"mlx5_0": {"hcaHandles": 2}}}, "linux.resources.rdma"),
    ({"unified": {"memory.high": "100000"}}, "linux.resources.unified.memory.high"),
    ({"blockIO": {"leafWeight": 300}}, "linux.resources.blockIO.leafWeight"),
])
def test_unhonourable_fields_refused(rt, tmp_path, bb_root, cgpath, res, field):
    b = bundle(tmp_path, bb_root, ["true"], cgpath, res)
    c = cid()
    p = rt.run("create", "--bundle", b, c, check=False)
    assert p.returncode != 0
    assert field in p.stderr.decode(), p.stderr
    assert rt.run("state", c, check=False).returncode != 0
    assert not glob.glob("%s/*%s" % (CG, cgpath)), "cgroup left after a refused create"
