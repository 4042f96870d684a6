"""run/create flags, each checked from inside the container and in inspect."""
import fcntl
import json
import os
import subprocess
import time

import pytest


@pytest.fixture
def bb(busybox):
    yield busybox
    ids = busybox.out("ps", "-aq", "--no-trunc", check=False).split()
    if ids:
        busybox.run("rm", "-f", "-v", *ids, check=False)


def run(b, *args):
    return b.out("run", "--rm", *args)


def inspect(b, name):
    return json.loads(b.out("inspect", name))[0]


def test_env_workdir_user_hostname_entrypoint(bb, tmp_path):
    envf = tmp_path / "env"
    envf.write_text("# comment\nFROMFILE=yes\nOTHER=2\n")
    os.environ["BERTH_TEST_PASS"] = "passed"
    out = run(bb, "-e", "A=1", "-e", "BERTH_TEST_PASS", "--env-file", str(envf), "busybox",
              "sh", "-c", "echo $A $BERTH_TEST_PASS $FROMFILE $OTHER $HOSTNAME")
    assert out.split()[:4] == ["1", "passed", "yes", "2"]
    assert run(bb, "-w", "/tmp/newdir", "busybox", "pwd") == "/tmp/newdir\n"
    assert run(bb, "-u", "nobody", "busybox", "id") == \
        "uid=65534(nobody) gid=65534(nobody) groups=65534(nobody)\n"
    assert run(bb, "-u", "1234:5678", "busybox", "sh", "-c", "id -u; id -g") == "1234\n5678\n"
    groups = run(bb, "-u", "nobody", "--group-add", "4242", "busybox", "id").split("groups=")[1]
    assert sorted(groups.strip().split(",")) == ["4242", "65534(nobody)"]
    assert run(bb, "-h", "myhost", "--domainname", "example.org", "busybox", "sh", "-c",
               "hostname; cat /etc/hostname") == "myhost\nmyhost\n"
    assert run(bb, "--entrypoint", "echo", "busybox", "from", "entrypoint") == \
        "from entrypoint\n"
    assert run(bb, "busybox", "sh", "-c", "echo $HOME") == "/root\n"
    p = bb.run("run", "--rm", "-u", "nosuchuser", "busybox", "true", check=False)
    assert p.returncode == 125 and b"unable to find user nosuchuser" in p.stderr


def test_labels(bb, tmp_path):
    lf = tmp_path / "labels"
    lf.write_text("fromfile=1\n")
    bb.run("create", "--name", "lab", "-l", "a=b", "-l", "flag", "--label-file", str(lf),
           "busybox")
    labels = inspect(bb, "lab")["Config"]["Labels"]
    assert labels == {"a": "b", "flag": "", "fromfile": "1"}
    assert bb.out("ps", "-a", "--filter", "label=a=b", "--format", "{{.Names}}") == "lab\n"
    assert bb.out("ps", "-a", "--filter", "label=a=c", "--format", "{{.Names}}") == ""


def test_resource_flags_in_cgroups(bb):
    out = run(bb, "-m", "64m", "--memory-swap", "128m", "--memory-reservation", "32m",
              "--cpu-shares", "512", "--cpuset-cpus", "0", "busybox", "sh", "-c",
              "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes "
              "memory/memory.memsw.limit_in_bytes memory/memory.soft_limit_in_bytes "
              "cpu/cpu.shares cpuset/cpuset.cpus 2>&1")
    vals = out.split()
    assert vals[0] == str(64 << 20)
    assert vals[2] == str(32 << 20)
    assert vals[3] == "512" and vals[4] == "0"
    h = json.loads(bb.out("inspect", bb.out("create", "-m", "64m", "--cpus", "1.5",
                                             "--pids-limit", "9", "busybox").strip()))[0]
    assert h["HostConfig"]["Memory"] == 64 << 20
    assert h["HostConfig"]["NanoCpus"] == 1500000000
    assert h["HostConfig"]["PidsLimit"] == 9


def test_ulimit_caps_privileged_security(bb, tmp_path):
    assert run(bb, "--ulimit", "nofile=512:768", "busybox", "sh", "-c",
               "ulimit -n; ulimit -Hn") == "512\n768\n"

    def capeff(*flags):
        line = run(bb, *flags, "busybox", "grep", "CapEff", "/proc/self/status")
        return int(line.split()[1], 16)

    base = capeff()
    assert base & (1 << 12) == 0  # no CAP_NET_ADMIN by default
    assert capeff("--cap-add", "NET_ADMIN") & (1 << 12)
    assert capeff("--cap-drop", "CHOWN") & 1 == 0
    assert capeff("--cap-drop", "ALL") == 0
    assert capeff("--privileged") > base
    assert "NoNewPrivs:\t1" in run(bb, "--security-opt", "no-new-privileges", "busybox",
                                   "grep", "NoNewPrivs", "/proc/self/status")
    assert "Seccomp:\t0" in run(bb, "--security-opt", "seccomp=unconfined", "busybox",
                                "grep", "Seccomp:", "/proc/self/status")
    assert "Seccomp:\t2" in run(bb, "busybox", "grep", "Seccomp:", "/proc/self/status")
    prof = tmp_path / "seccomp.json"
    prof.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    p = bb.run("run", "--rm", "--security-opt", "seccomp=%s" % prof, "busybox", "mkdir", "/x",
               check=False)
    assert p.returncode != 0 and b"Operation not permitted" in p.stderr
    # privileged: writable /sys, devices, mount works
    assert run(bb, "--privileged", "busybox", "sh", "-c",
               "mkdir -p /m && mount -t tmpfs t /m && echo mounted") == "mounted\n"


def test_shm_device_readonly(bb):
    assert "65536" in run(bb, "busybox", "df", "-k", "/dev/shm")
    out = run(bb, "--shm-size", "16m", "busybox", "df", "-k", "/dev/shm")
    assert "16384" in out
    out = run(bb, "--device", "/dev/zero:/dev/myzero", "busybox", "sh", "-c",
              "head -c 3 /dev/myzero | od -An -tx1")
    assert out.split() == ["00", "00", "00"]
    p = bb.run("run", "--rm", "--read-only", "busybox", "touch", "/x", check=False)
    assert p.returncode != 0 and b"Read-only file system" in p.stderr


def _wait_ready(bb, name):
    """Until the container's shell has set its traps and said "ready" (a
    signal before that would find the default action)."""
    deadline = time.monotonic() + 60
    while "ready" not in bb.out("logs", name):
        assert time.monotonic() < deadline, name + " never got ready"
        time.sleep(0.05)


def test_stop_signal_and_timeout(bb):
    bb.run("run", "-d", "--name", "sig", "--stop-signal", "USR1", "busybox", "sh", "-c",
           "trap 'echo usr1; exit 9' USR1; echo ready; while :; do sleep 0.1; done")
    _wait_ready(bb, "sig")
    bb.run("stop", "sig")
    assert inspect(bb, "sig")["State"]["ExitCode"] == 9
    assert inspect(bb, "sig")["Config"]["StopSignal"] == "USR1"
    bb.run("run", "-d", "--name", "sto", "--stop-timeout", "1", "busybox", "sh", "-c",
           "trap '' TERM; echo ready; while :; do sleep 0.1; done")
    _wait_ready(bb, "sto")
    t0 = time.time()
    bb.run("stop", "sto")
    assert time.time() - t0 < 4
    assert inspect(bb, "sto")["State"]["ExitCode"] == 137


def test_no_healthcheck_and_log_opts(bb):
    bb.run("run", "-d", "--name", "nh", "--no-healthcheck", "busybox", "sleep", "100")
    assert "Health" not in inspect(bb, "nh")["State"]
    bb.run("run", "--name", "lg", "--log-opt", "max-size=1k", "--log-opt", "max-file=2",
           "busybox", "sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done")
    j = inspect(bb, "lg")
    assert j["HostConfig"]["LogConfig"]["Config"] == {"max-size": "1k", "max-file": "2"}
    logdir = os.path.dirname(j["LogPath"])
    logs = [f for f in os.listdir(logdir) if "-json.log" in f]
    assert sorted(logs) == sorted([os.path.basename(j["LogPath"]),
                                   os.path.basename(j["LogPath"]) + ".1"])
    for f in logs:
        assert os.path.getsize(os.path.join(logdir, f)) <= 1024
    assert bb.out("logs", "lg").splitlines()[-1] == "line 199"
    p = bb.run("run", "--rm", "--log-opt", "max-file=0", "busybox", "true", check=False)
    assert p.returncode == 125
    bb.run("run", "--name", "nolog", "--log-driver", "none", "busybox", "echo", "x")
    p = bb.run("logs", "nolog", check=False)
    assert p.returncode != 0


def test_userns_platform_pull_and_init_flags(bb):
    assert run(bb, "--userns", "host", "busybox", "echo", "ok") == "ok\n"
    assert run(bb, "--platform", "linux/amd64", "--pull", "missing", "busybox", "echo",
               "ok") == "ok\n"
    p = bb.run("run", "--rm", "--pull", "sometimes", "busybox", "true", check=False)
    assert p.returncode == 125


def test_image_volume_is_copied_into_anonymous_volume(bb, busybox_rootfs_tar):
    bb.run("import", "-c", 'VOLUME ["/etc"]', "-c", 'CMD ["/bin/sh"]', busybox_rootfs_tar,
           "volimg:latest")
    out = bb.out("run", "--name", "vi", "volimg", "sh", "-c",
                 "grep -c nobody /etc/passwd; echo new > /etc/added")
    assert out == "1\n"
    mounts = inspect(bb, "vi")["Mounts"]
    assert len(mounts) == 1 and mounts[0]["Type"] == "volume" and \
        mounts[0]["Destination"] == "/etc"
    assert os.path.exists(os.path.join(mounts[0]["Source"], "added"))
    bb.run("rm", "-v", "vi")
    assert not os.path.exists(mounts[0]["Source"])


def test_ps_flags_and_filters(bb):
    a = bb.out("run", "-d", "--name", "psa", "busybox", "sleep", "100").strip()
    bb.run("run", "--name", "psb", "busybox", "sh", "-c", "exit 3", check=False)
    bb.run("create", "--name", "psc", "busybox")
    assert bb.out("ps", "-q") == a[:12] + "\n"
    assert bb.out("ps", "-q", "--no-trunc") == a + "\n"
    assert bb.out("ps", "-a", "-n", "1", "--format", "{{.Names}}") == "psc\n"
    assert bb.out("ps", "-l", "--format", "{{.Names}}") == "psc\n"
    assert bb.out("ps", "--filter", "status=exited", "--format", "{{.Names}}") == "psb\n"
    assert bb.out("ps", "--filter", "status=created", "--format", "{{.Names}}") == "psc\n"
    assert bb.out("ps", "-a", "--filter", "exited=3", "--format", "{{.Names}}") == "psb\n"
    assert bb.out("ps", "-a", "--filter", "name=ps[ab]", "--format", "{{.Names}}").split() == \
        ["psb", "psa"]
    assert bb.out("ps", "-a", "--filter", "id=" + a[:6], "--format", "{{.Names}}") == "psa\n"
    assert len(bb.out("ps", "-a", "--filter", "ancestor=busybox", "-q").split()) == 3
    assert bb.out("ps", "--format", "{{.ID}} {{.Image}} {{.Command}} {{.State}}") == \
        a[:12] + ' busybox "sleep 100" running\n'
    rows = [json.loads(line) for line in bb.out("ps", "-a", "--format", "json").splitlines()]
    assert {r["Names"] for r in rows} == {"psa", "psb", "psc"}
    out = bb.out("ps", "-s")
    assert "SIZE" in out.splitlines()[0] and "virtual" in out
    p = bb.run("ps", "--filter", "status=bogus", check=False)
    assert p.returncode == 125


def test_logs_since_until_tail(bb):
    bb.run("run", "--name", "lt", "busybox", "sh", "-c", "echo a; sleep 1.2; echo b")
    lines = bb.out("logs", "-t", "lt").splitlines()
    t_b = lines[1].split()[0]
    assert bb.out("logs", "--since", t_b, "lt") == "b\n"
    assert bb.out("logs", "--until", t_b[:19] + "Z", "lt") == "a\n"
    assert bb.out("logs", "--tail", "1", "lt") == "b\n"
    assert bb.out("logs", "-n", "0", "lt") == ""


def test_stop_and_start_wait_for_the_last_monitor(bb):
    """The monitor records the exit and answers stop/wait before its cleanup
    helper deletes the runtime state and detaches the network. stop returns
    only once that monitor is gone, and a start while it still finishes waits
    for it: started earlier, the new container was torn down by the old
    cleanup (restart failed with "container ... does not exist")."""
    bb.run("run", "-d", "--name", "sw", "busybox", "sleep", "100")
    cid = inspect(bb, "sw")["Id"]
    bb.run("stop", "-t", "0", "sw")
    fd = os.open(os.path.join(bb.root, "containers", cid, "monitor.lock"), os.O_RDWR)
    try:
        # nobody holds the monitor's lock once stop returned
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        # a monitor still finishing: hold a lock on its file as it does
        fcntl.lockf(fd, fcntl.LOCK_SH)
        p = subprocess.Popen(bb.cmd("start", "sw"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        time.sleep(0.7)
        assert p.poll() is None, p.communicate()
        assert inspect(bb, "sw")["State"]["Status"] == "exited"
        fcntl.lockf(fd, fcntl.LOCK_UN)
        out, err = p.communicate(timeout=60)
    finally:
        os.close(fd)
    assert p.returncode == 0 and out == b"sw\n", err
    assert inspect(bb, "sw")["State"]["Running"]


def test_restart_command_prune_and_volume_cli(bb):
    bb.run("run", "-d", "--name", "rs", "busybox", "sleep", "100")
    pid1 = inspect(bb, "rs")["State"]["Pid"]
    bb.run("restart", "-t", "0", "rs")
    j = inspect(bb, "rs")
    assert j["State"]["Running"] and j["State"]["Pid"] != pid1
    bb.run("run", "--name", "dead1", "busybox", "true")
    out = bb.out("container", "prune", "-f")
    assert "Deleted Containers:" in out and "Total reclaimed space:" in out
    assert bb.out("ps", "-a", "--format", "{{.Names}}") == "rs\n"
    assert bb.out("volume", "create", "--label", "k=v", "-o", "type=tmpfs", "-o", "device=tmpfs",
                  "tv") == "tv\n"
    v = json.loads(bb.out("volume", "inspect", "tv"))[0]
    assert v["Labels"] == {"k": "v"} and v["Options"] == {"type": "tmpfs", "device": "tmpfs"}
    assert bb.out("volume", "ls", "--filter", "label=k=v", "-q") == "tv\n"
    assert bb.out("volume", "ls", "--filter", "dangling=true", "-q") == "tv\n"
    lines = bb.out("volume", "ls").splitlines()
    assert lines[0].split() == ["DRIVER", "VOLUME", "NAME"] and lines[1].split() == ["local", "tv"]
    bb.run("run", "--name", "anon", "-v", "/data", "busybox", "true")
    bb.run("rm", "anon")
    out = bb.out("volume", "prune", "-f")
    assert "Deleted Volumes:" in out
    assert bb.out("volume", "ls", "-q") == "tv\n"
    assert bb.out("volume", "rm", "tv") == "tv\n"
    p = bb.run("volume", "rm", "tv", check=False)
    assert p.returncode == 1 and b"no such volume" in p.stderr
    assert bb.run("volume", "rm", "-f", "tv").returncode == 0
