"""berth run and the basic container lifecycle, from the user's side:
run (attached, -d, --rm), exit codes, ps, logs, inspect, stop, kill, rm,
wait, rename, names and their uniqueness under concurrency."""
import json
import os
import signal
import subprocess
import threading
import time

import pytest


@pytest.fixture
def bb(busybox):
    yield busybox
    ids = busybox.out("ps", "-aq", "--no-trunc", check=False).split()
    if ids:
        busybox.run("rm", "-f", *ids, check=False)


def inspect(b, name):
    return json.loads(b.out("inspect", name))[0]


def wait_for(pred, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_run_echo_and_exit_codes(bb):
    p = bb.run("run", "--rm", "busybox", "echo", "hello world")
    assert p.stdout == b"hello world\n"
    assert bb.run("run", "--rm", "busybox", "sh", "-c", "exit 3", check=False).returncode == 3
    p = bb.run("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert p.stdout == b"out\n" and p.stderr == b"err\n"
    p = bb.run("run", "--rm", "busybox", "/nonexistent", check=False)
    assert p.returncode == 127, p.stderr
    p = bb.run("run", "--rm", "busybox", "/etc/passwd", check=False)
    assert p.returncode == 126, p.stderr
    p = bb.run("run", "--rm", "--pull", "never", "nosuchimage", "true", check=False)
    assert p.returncode == 125
    assert b"No such image" in p.stderr
    # --rm left nothing behind
    assert bb.out("ps", "-aq") == ""


def test_run_stdin_interactive(bb):
    p = bb.run("run", "--rm", "-i", "busybox", "sh", "-c", "read a; echo got $a", input=b"xyz\n")
    assert p.stdout == b"got xyz\n"
    p = bb.run("run", "--rm", "-i", "busybox", "cat", input=b"a\nb\n")
    assert p.stdout == b"a\nb\n"


def test_detached_ps_logs_inspect_stop_rm(bb):
    cid = bb.out("run", "-d", "--name", "web", "busybox", "sh", "-c",
                 "trap 'echo bye; exit 0' TERM; echo started; while :; do sleep 0.1; done").strip()
    assert len(cid) == 64
    ps = bb.out("ps")
    assert "web" in ps and cid[:12] in ps and "Up " in ps
    assert ps.splitlines()[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED",
                                          "STATUS", "PORTS", "NAMES"]
    assert wait_for(lambda: "started" in bb.out("logs", "web"))
    j = inspect(bb, "web")
    assert j["Id"] == cid and j["Name"] == "/web"
    assert j["State"]["Status"] == "running" and j["State"]["Running"] is True
    assert j["State"]["Pid"] > 0
    assert j["Config"]["Cmd"][0] == "sh"
    assert j["Config"]["Hostname"] == cid[:12]
    assert j["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert bb.out("inspect", "-f", "{{.State.Status}}", cid[:8]).strip() == "running"
    # the log is Docker's json-file format
    with open(j["LogPath"]) as f:
        first = json.loads(f.readline())
    assert first["log"] == "started\n" and first["stream"] == "stdout" and first["time"]
    t0 = time.time()
    assert bb.out("stop", "web").strip() == "web"
    assert time.time() - t0 < 5
    j = inspect(bb, "web")
    assert j["State"]["Status"] == "exited" and j["State"]["ExitCode"] == 0
    assert j["State"]["FinishedAt"] > j["State"]["StartedAt"]
    assert "bye" in bb.out("logs", "web")
    assert "Exited (0)" in bb.out("ps", "-a")
    assert "web" not in bb.out("ps")
    assert bb.out("rm", "web").strip() == "web"
    assert bb.out("ps", "-aq") == ""
    assert not os.path.exists(os.path.join(bb.root, "containers", cid))
    p = bb.run("inspect", "web", check=False)
    assert p.returncode == 1 and b"No such" in p.stderr


def test_stop_timeout_then_sigkill_and_kill(bb):
    bb.run("run", "-d", "--name", "stubborn", "busybox", "sh", "-c",
           "trap '' TERM; echo ready; while :; do sleep 0.1; done")
    # a TERM before the trap is set ends the shell (143, not 137)
    assert wait_for(lambda: "ready" in bb.out("logs", "stubborn"))
    t0 = time.time()
    bb.run("stop", "-t", "1", "stubborn")
    assert 0.9 < time.time() - t0 < 5
    assert inspect(bb, "stubborn")["State"]["ExitCode"] == 137
    bb.run("run", "-d", "--name", "kk", "busybox", "sleep", "100")
    bb.run("kill", "kk")
    assert bb.out("wait", "kk").strip() == "137"
    p = bb.run("kill", "kk", check=False)
    assert p.returncode == 1 and b"is not running" in p.stderr


def test_rm_running_needs_force(bb):
    bb.run("run", "-d", "--name", "busy", "busybox", "sleep", "100")
    p = bb.run("rm", "busy", check=False)
    assert p.returncode == 1
    assert b"You cannot remove a running container" in p.stderr
    bb.run("rm", "-f", "busy")
    assert bb.out("ps", "-aq") == ""


def test_wait_and_logs_follow(bb):
    bb.run("run", "-d", "--name", "ww", "busybox", "sh", "-c",
           "for i in 1 2 3; do echo line$i; sleep 0.2; done; exit 4")
    p = bb.run("logs", "-f", "ww", timeout=20)
    assert p.stdout == b"line1\nline2\nline3\n"
    assert bb.out("wait", "ww").strip() == "4"
    assert bb.out("logs", "--tail", "1", "ww") == "line3\n"
    ts = bb.out("logs", "-t", "ww").splitlines()[0]
    assert ts.endswith(" line1") and "T" in ts.split()[0]


def test_name_conflict_and_rename(bb):
    cid = bb.out("create", "--name", "one", "busybox", "true").strip()
    p = bb.run("create", "--name", "one", "busybox", "true", check=False)
    assert p.returncode == 125
    assert ('Conflict. The container name "/one" is already in use by container "%s"' % cid
            ).encode() in p.stderr
    bb.run("rename", "one", "two")
    assert inspect(bb, "two")["Name"] == "/two"
    assert bb.out("inspect", "-f", "{{.State.Status}}", "two").strip() == "created"
    bb.run("start", "two")
    assert bb.out("wait", "two").strip() == "0"
    p = bb.run("create", "--name", "-bad", "busybox", check=False)
    assert p.returncode == 125


def test_parallel_named_runs(bb):
    """20 parallel run -d --name cN give 20 containers; two runs of one
    name give exactly one container and one conflict."""
    procs = [subprocess.Popen(bb.cmd("run", "-d", "--name", "c%d" % i, "busybox", "sleep", "30"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for i in range(20)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1] for o in outs]
    names = sorted(bb.out("ps", "--format", "{{.Names}}").split())
    assert names == sorted("c%d" % i for i in range(20))
    results = []

    def one():
        results.append(bb.run("run", "-d", "--name", "x", "busybox", "sleep", "30", check=False))

    ts = [threading.Thread(target=one) for _ in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    codes = sorted(r.returncode for r in results)
    assert codes == [0, 125], [r.stderr for r in results]
    loser = [r for r in results if r.returncode][0]
    assert b'The container name "/x" is already in use' in loser.stderr
    assert bb.out("ps", "-q", "--filter", "name=^x$").count("\n") == 1


def test_killing_berth_never_kills_the_container(bb):
    p = subprocess.Popen(bb.cmd("run", "--name", "att", "busybox", "sh", "-c",
                                "echo up; sleep 1; echo done"), stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"up\n"
    p.kill()
    p.wait()
    assert bb.out("inspect", "-f", "{{.State.Status}}", "att").strip() in ("running", "exited")
    assert bb.out("wait", "att").strip() == "0"
    assert wait_for(lambda: "done" in bb.out("logs", "att"))


def test_killed_monitor_is_reported(bb):
    bb.run("run", "-d", "--name", "mm", "busybox", "sleep", "100")
    j = inspect(bb, "mm")
    with open(os.path.join(bb.root, "containers", j["Id"], "state")) as f:
        mon = [int(l.split("=")[1]) for l in f if l.startswith("monitor_pid=")][0]
    os.kill(mon, 9)
    assert wait_for(lambda: bb.out("inspect", "-f", "{{.State.Status}}", "mm").strip() == "dead")
    assert "Dead" in bb.out("ps", "-a")
    bb.run("rm", "-f", "mm")
    assert bb.out("ps", "-aq") == ""


def test_rm_leaves_no_mount_or_cgroup(bb):
    cid = bb.out("run", "-d", "busybox", "sleep", "100").strip()
    bb.run("rm", "-f", cid)
    with open("/proc/self/mountinfo") as f:
        assert cid not in f.read()
    for ctrl in ("memory", "pids", "cpu"):
        assert not os.path.exists("/sys/fs/cgroup/%s/berth/%s" % (ctrl, cid))
    assert bb.run("run", "--rm", "busybox", "true").returncode == 0
    assert bb.out("ps", "-aq") == ""


def test_removed_containers_leave_no_directory(bb):
    """The directory of a container removed while its monitor lives (an
    attached run --rm, rm -f) is moved aside and, as the monitor exits,
    removed or kept emptied for the next container (containers/.spares,
    a few at most): none is left behind with the container's data, nor
    any runtime state; the next run takes a spare."""
    ctrs = os.path.join(bb.root, "containers")
    spares = os.path.join(ctrs, ".spares")
    before = set(os.listdir(ctrs)) - {".spares"}
    assert bb.out("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                  "echo x > /f; cat /f") == "x\n"
    cid = bb.out("run", "-d", "--network", "none", "busybox", "sleep", "100").strip()
    assert cid in os.listdir(ctrs)
    bb.run("rm", "-f", cid)
    assert wait_for(lambda: set(os.listdir(ctrs)) - {".spares"} == before), os.listdir(ctrs)
    rt = os.path.join(bb.runroot, "runtime")
    assert [d for d in os.listdir(rt) if not d.startswith(".")] == []
    assert bb.out("ps", "-aq") == ""
    kept = os.listdir(spares)
    assert 1 <= len(kept) <= 4, kept
    for k in kept:
        d = os.path.join(spares, k)
        assert os.listdir(os.path.join(d, "upper")) == []
        assert os.listdir(os.path.join(d, "work")) == []
        assert not [f for f in os.listdir(d) if ("state" in f and f != "spare-state") or
                    (f.endswith("-json.log") and f != "spare-json.log")]
        # the state file's inode is kept, blank
        st = os.path.join(d, "spare-state")
        if os.path.exists(st):
            with open(st) as f:
                assert f.read().strip() == ""
        log = os.path.join(d, "spare-json.log")
        assert not os.path.exists(log) or os.path.getsize(log) == 0
    # the next container takes one: the same directories come back
    def uppers():
        return {os.stat(os.path.join(spares, k, "upper")).st_ino for k in os.listdir(spares)}
    inos = uppers()
    out = bb.out("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ls /")
    assert "f" not in out.split() and "bin" in out.split()
    assert wait_for(lambda: uppers() == inos), (uppers(), inos)


def test_failed_run_is_not_cached_as_running(bb):
    """run records the container as running before it starts; a start that
    fails sets that back, so the image is not held by a 'running' one."""
    r = bb.run("run", "-d", "--name", "bad", "busybox", "no-such-command", check=False)
    assert r.returncode == 127
    assert bb.out("inspect", "-f", "{{.State.Status}}", "bad").strip() == "created"
    r = bb.run("rmi", "-f", "busybox", check=False)
    assert "running container" not in r.stderr.decode(), r.stderr


def test_default_bridge_network_and_published_port(bb):
    cfg = json.load(open(bb.config))
    subnet = cfg["default-subnet"].split("/")[0].rsplit(".", 1)[0]
    out = bb.out("run", "--rm", "busybox", "ip", "-4", "addr", "show", "eth0")
    assert ("inet %s." % subnet) in out
    assert bb.out("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                  "ls /sys/class/net") == "lo\n"
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    bb.run("run", "-d", "--name", "web", "-p", "127.0.0.1:%d:8080" % port, "busybox", "sh", "-c",
           "echo hello > /tmp/index.html; httpd -f -p 8080 -h /tmp")
    j = inspect(bb, "web")
    assert j["NetworkSettings"]["IPAddress"].startswith(subnet + ".")
    assert "127.0.0.1:%d->8080/tcp" % port in bb.out("ps")

    def fetch():
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=2)
            c.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                d = c.recv(4096)
                if not d:
                    break
                data += d
            c.close()
            return b"hello" in data
        except OSError:
            return False

    assert wait_for(fetch)


def test_kill_9_during_run_d_leaves_consistent_store(bb):
    """SIGKILL the berth command at various points of `run -d`: afterwards
    every container is in a clean state and can be removed; none is lost
    half-made."""
    for delay in (0.005, 0.02, 0.05, 0.1):
        p = subprocess.Popen(bb.cmd("run", "-d", "busybox", "sleep", "30"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        p.kill()
        p.wait()
    time.sleep(0.5)
    for line in bb.out("ps", "-a", "--format", "{{.ID}} {{.State}}").splitlines():
        cid, state = line.split()
        assert state in ("created", "running"), line
    ids = bb.out("ps", "-aq").split()
    if ids:
        bb.run("rm", "-f", *ids)
    assert bb.out("ps", "-aq") == ""
    # the store still works
    assert bb.out("run", "--rm", "busybox", "echo", "ok") == "ok\n"


def cgroup_procs(cid):
    for ctl in ("pids", "memory", "unified"):
        p = "/sys/fs/cgroup/%s/berth/%s/cgroup.procs" % (ctl, cid)
        if os.path.exists(p):
            with open(p) as f:
                return f.read().split()
    return []


def test_init_dies_with_a_start_killed_before_it_started(bb):
    """The process that starts a container is SIGKILLed after the init
    exists and waits on exec.fifo, before it opens the fifo to start it:
    the init goes too (PR_SET_PDEATHSIG) instead of waiting forever in an
    orphaned cgroup, and the container can be removed."""
    cid = bb.out("create", "--network", "none", "busybox", "sleep", "30").strip()
    fifo = os.path.join(bb.runroot, "runtime", cid, "exec.fifo")
    # the start's openat calls on the fifo: 1 = O_PATH at create, 2 = the start
    try:
        # an init left waiting holds the client's pipes: it would hang here
        p = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-P", fifo,
                            "-e", "trace=openat", "-e", "inject=openat:signal=KILL:when=2"] +
                           bb.cmd("start", cid), capture_output=True, timeout=30)
        assert p.returncode != 0, p
        for _ in range(100):
            if not cgroup_procs(cid):
                break
            time.sleep(0.05)
        assert cgroup_procs(cid) == []
    finally:
        for pid in cgroup_procs(cid):
            os.kill(int(pid), signal.SIGKILL)
    bb.run("rm", "-f", cid)
    assert bb.out("ps", "-aq") == ""
