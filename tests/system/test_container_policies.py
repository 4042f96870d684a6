"""Restart policies, health checks, memory limits / OOMKilled, and volumes,
checked in inspect, ps and inside the containers."""
import json
import os
import time

import pytest


@pytest.fixture
def bb(busybox):
    yield busybox
    ids = busybox.out("ps", "-aq", "--no-trunc", check=False).split()
    if ids:
        busybox.run("rm", "-f", "-v", *ids, check=False)


def inspect(b, name):
    return json.loads(b.out("inspect", name))[0]


def wait_for(pred, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def test_restart_on_failure_exactly_three_times(bb):
    bb.run("run", "-d", "--name", "rf", "--restart", "on-failure:3", "busybox",
           "sh", "-c", "echo run; exit 2")
    assert bb.out("wait", "rf").strip() in ("2",)
    assert wait_for(lambda: inspect(bb, "rf")["State"]["Status"] == "exited")
    j = inspect(bb, "rf")
    assert j["RestartCount"] == 3
    assert j["State"]["ExitCode"] == 2
    assert bb.out("logs", "rf").count("run\n") == 4


def test_restart_always_then_stop(bb):
    bb.run("run", "-d", "--name", "ra", "--restart", "always", "busybox", "sh", "-c",
           "sleep 0.2; exit 0")
    assert wait_for(lambda: inspect(bb, "ra")["RestartCount"] >= 2)
    bb.run("stop", "-t", "1", "ra")
    assert wait_for(lambda: inspect(bb, "ra")["State"]["Status"] == "exited")
    n = inspect(bb, "ra")["RestartCount"]
    time.sleep(0.6)
    assert inspect(bb, "ra")["RestartCount"] == n


def test_failing_healthcheck_turns_unhealthy(bb):
    bb.run("run", "-d", "--name", "hc", "--health-cmd", "exit 1", "--health-interval", "200ms",
           "--health-retries", "2", "busybox", "sleep", "100")
    assert "(health: starting)" in bb.out("ps") or "unhealthy" in bb.out("ps")
    assert wait_for(lambda: "(unhealthy)" in bb.out("ps"))
    h = inspect(bb, "hc")["State"]["Health"]
    assert h["Status"] == "unhealthy" and h["FailingStreak"] >= 2
    assert h["Log"][-1]["ExitCode"] == 1
    bb.run("run", "-d", "--name", "hok", "--health-cmd", "test -e /etc/passwd",
           "--health-interval", "200ms", "busybox", "sleep", "100")
    assert wait_for(lambda: "(healthy)" in bb.out("ps", "--filter", "name=hok"))


def test_memory_limit_oom_killed(bb):
    p = bb.run("run", "--name", "oom", "-m", "32m", "busybox", "sh", "-c",
               "dd if=/dev/zero of=/dev/null bs=64M count=1", check=False)
    assert p.returncode == 137, p.stderr
    j = inspect(bb, "oom")
    assert j["State"]["OOMKilled"] is True
    assert j["State"]["ExitCode"] == 137
    assert j["HostConfig"]["Memory"] == 32 * 1024 * 1024


def test_limits_visible_inside(bb):
    out = bb.out("run", "--rm", "--pids-limit", "50", "-m", "64m", "--cpus", "0.5",
                 "busybox", "sh", "-c",
                 "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes "
                 "/sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || "
                 "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max /sys/fs/cgroup/cpu.max")
    vals = out.split()
    assert "50" in vals
    assert str(64 * 1024 * 1024) in vals
    assert "50000" in vals


def test_named_volume_survives_and_is_shared(bb):
    bb.run("run", "--rm", "-v", "data:/data", "busybox", "sh", "-c", "echo kept > /data/f")
    assert bb.out("volume", "ls", "-q").split() == ["data"]
    assert bb.out("run", "--rm", "-v", "data:/d", "busybox", "cat", "/d/f") == "kept\n"
    v = json.loads(bb.out("volume", "inspect", "data"))[0]
    assert v["Name"] == "data" and v["Driver"] == "local"
    assert os.path.exists(os.path.join(v["Mountpoint"], "f"))
    bb.run("run", "-d", "--name", "user", "-v", "data:/data", "busybox", "sleep", "100")
    p = bb.run("volume", "rm", "data", check=False)
    assert p.returncode == 1 and b"volume is in use" in p.stderr
    bb.run("rm", "-f", "user")
    assert bb.out("volume", "rm", "data").strip() == "data"
    assert bb.out("volume", "ls", "-q") == ""


def test_anonymous_volumes_copy_image_content_and_go_with_rm(bb):
    out = bb.out("run", "--rm", "-v", "/etc", "busybox", "sh", "-c",
                 "grep -c root /etc/passwd; mount | grep -c ' /etc '")
    assert out.split()[0] == "1"
    assert bb.out("volume", "ls", "-q") == ""
    bb.run("run", "--name", "keep", "-v", "/vol", "busybox", "true")
    assert len(bb.out("volume", "ls", "-q").split()) == 1
    bb.run("rm", "-v", "keep")
    assert bb.out("volume", "ls", "-q") == ""


def test_bind_mount_ro_and_tmpfs(bb, tmp_path):
    host = tmp_path / "share"
    host.mkdir()
    (host / "in").write_text("from host\n")
    assert bb.out("run", "--rm", "-v", "%s:/s:ro" % host, "busybox", "cat", "/s/in") == \
        "from host\n"
    p = bb.run("run", "--rm", "-v", "%s:/s:ro" % host, "busybox", "touch", "/s/x", check=False)
    assert p.returncode != 0
    bb.run("run", "--rm", "--mount", "type=bind,source=%s,target=/s" % host, "busybox",
           "sh", "-c", "echo back > /s/out")
    assert (host / "out").read_text() == "back\n"
    out = bb.out("run", "--rm", "--tmpfs", "/scratch", "--read-only", "busybox", "sh", "-c",
                 "touch /scratch/ok && echo ok; touch /nope 2>/dev/null || echo ro")
    assert out == "ok\nro\n"


def test_volumes_from(bb):
    bb.run("run", "--name", "src", "-v", "shared:/shared", "busybox", "sh", "-c",
           "echo hi > /shared/x")
    assert bb.out("run", "--rm", "--volumes-from", "src", "busybox", "cat", "/shared/x") == \
        "hi\n"
