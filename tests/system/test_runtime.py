"""`berth runtime`: runc's command line, the lifecycle, and the container's
view of its config, read from inside a busybox container."""
import glob
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time

import pytest

from conftest import BERTH, REPO, require_root
from runtime_util import Runtime, cid, extract_rootfs, make_bundle

SPECS = os.environ.get("BERTH_SPECS", os.path.join(os.path.dirname(REPO), "shared", "specs"))
RSPEC = os.path.join(SPECS, "oci-runtime-spec")
DOCKER_CAPS = 0xa80425fb  # Docker's default capability set


@pytest.fixture
def rt(tmp_path):
    require_root()
    r = Runtime(tmp_path / "state")
    yield r
    # remove whatever a failing test left running
    p = subprocess.run(r.cmd("list", "-q"), capture_output=True)
    for c in p.stdout.decode().split():
        subprocess.run(r.cmd("delete", "-f", c), capture_output=True)


@pytest.fixture(scope="module")
def bb_root(busybox_rootfs_tar):
    """One extracted busybox rootfs, shared by the tests that do not write to
    it; reachable by a mapped root in a user namespace. Not under pytest's
    tmp tree: every pytest run on the machine resets its top directory
    (/tmp/pytest-of-root) to 0700, which a mapped root cannot pass."""
    d = tempfile.mkdtemp(prefix="berth-bbroot-")
    os.chmod(d, 0o755)
    yield extract_rootfs(os.path.join(d, "rootfs"), busybox_rootfs_tar)
    shutil.rmtree(d, ignore_errors=True)


def run_in(rt, tmp_path, tar, script, edit=None, check=True):
    b = tmp_path / ("b" + cid())
    make_bundle(str(b), tar, ["sh", "-c", script], edit=edit)
    return rt.run("run", "--bundle", b, cid(), check=check)


def status_field(text, name):
    for line in text.splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no %s in %s" % (name, text))


def schema_validate(doc, schema_file):
    import jsonschema
    store = {}
    for fn in glob.glob(os.path.join(RSPEC, "*.json")):
        with open(fn) as f:
            sch = json.load(f)
        store[os.path.basename(fn)] = sch
        store["file://" + fn] = sch
    schema = store[schema_file]
    resolver = jsonschema.RefResolver("file://" + os.path.join(RSPEC, schema_file),
                                      schema, store=store)
    jsonschema.validate(doc, schema, resolver=resolver)


def test_spec_validates_against_schema(tmp_path):
    subprocess.run([BERTH, "runtime", "spec", "--bundle", tmp_path], check=True)
    with open(tmp_path / "config.json") as f:
        cfg = json.load(f)
    schema_validate(cfg, "config-schema.json")
    assert cfg["process"]["noNewPrivileges"] is True
    assert "/proc/kcore" in cfg["linux"]["maskedPaths"]
    assert "/proc/sys" in cfg["linux"]["readonlyPaths"]
    # spec refuses to overwrite
    p = subprocess.run([BERTH, "runtime", "spec", "--bundle", tmp_path], capture_output=True)
    assert p.returncode != 0 and b"exists" in p.stderr
    os.mkdir(tmp_path / "x")
    subprocess.run([BERTH, "runtime", "spec", "--rootless", "--bundle", tmp_path / "x"],
                   check=True)
    with open(tmp_path / "x" / "config.json") as f:
        rootless = json.load(f)
    schema_validate(rootless, "config-schema.json")
    assert {"type": "user"} in rootless["linux"]["namespaces"]


def test_example_configs_accepted_and_refused():
    good = sorted(glob.glob(os.path.join(RSPEC, "test", "config", "good", "*.json")))
    bad = sorted(glob.glob(os.path.join(RSPEC, "test", "config", "bad", "*.json")))
    assert good and bad
    for f in good:
        p = subprocess.run([BERTH, "runtime", "validate", f], capture_output=True)
        assert p.returncode == 0, (f, p.stderr)
    for f in bad:
        p = subprocess.run([BERTH, "runtime", "validate", f], capture_output=True)
        assert p.returncode != 0, f
        assert p.stderr.startswith(b"Error: "), p.stderr


def test_usage_errors(rt):
    for c in ("start", "state", "delete", "pause", "resume", "create", "run", "ps", "kill"):
        p = rt.run(c, check=False)
        assert p.returncode != 0, c
        assert b"requires" in p.stderr, (c, p.stderr)
    p = rt.run("state", "nosuch", check=False)
    assert p.returncode != 0 and b"does not exist" in p.stderr
    p = rt.run("start", "nosuch", check=False)
    assert p.returncode != 0
    p = rt.run("delete", "nosuch", check=False)
    assert p.returncode != 0
    p = rt.run("kill", "nosuch", "KILL", check=False)
    assert p.returncode != 0
    assert rt.run("delete", "-f", "nosuch", check=False).returncode == 0
    p = rt.run("--systemd-cgroup", "state", "x", check=False)
    assert p.returncode != 0 and b"systemd" in p.stderr


def test_lifecycle(rt, tmp_path, bb_root):
    b = tmp_path / "bundle"
    make_bundle(str(b), bb_root, ["sleep", "1000"],
                edit=lambda c: c.update(annotations={"org.test": "yes"}))
    c = cid()
    pidfile = tmp_path / "pid"
    rel = os.path.relpath(b)
    rt.run("create", "--bundle", rel, "--pid-file", pidfile, c)
    st = rt.state(c)
    schema_validate(st, "state-schema.json")
    assert st["status"] == "created"
    assert st["ociVersion"].startswith("1.")
    assert st["id"] == c
    assert st["bundle"] == rel  # exactly as given
    assert st["annotations"] == {"org.test": "yes"}
    pid = pidfile.read_text()
    assert not pid.endswith("\n") and int(pid) == st["pid"]
    # the user process has not run yet: the init is blocked before execve
    with open("/proc/%s/cmdline" % pid, "rb") as f:
        assert b"sleep" not in f.read()
    p = rt.run("create", "--bundle", b, c, check=False)
    assert p.returncode != 0 and b"exists" in p.stderr
    rt.run("start", c)
    assert rt.state(c)["status"] == "running"
    with open("/proc/%s/cmdline" % pid, "rb") as f:
        assert f.read().startswith(b"sleep")
    p = rt.run("start", c, check=False)
    assert p.returncode != 0
    p = rt.run("delete", c, check=False)
    assert p.returncode != 0 and b"not stopped" in p.stderr
    lst = json.loads(rt.run("list", "--format", "json").stdout)
    assert [x["id"] for x in lst] == [c]
    assert rt.run("list", "-q").stdout.decode().split() == [c]
    # ps
    pids = json.loads(rt.run("ps", "--format", "json", c).stdout)
    assert int(pid) in pids
    assert b"sleep 1000" in rt.run("ps", c).stdout
    # exec, with its exit status
    p = rt.run("exec", c, "sh", "-c", "echo exec-ok; ps -o pid,comm; exit 3", check=False)
    assert p.returncode == 3
    assert b"exec-ok" in p.stdout
    assert b"1 sleep" in p.stdout  # same pid namespace
    p = rt.run("exec", c, "nosuchcmd", check=False)
    assert p.returncode == 127 and b"executable file not found in $PATH" in p.stderr
    # pause / resume
    rt.run("pause", c)
    assert rt.state(c)["status"] == "paused"
    assert rt.run("delete", c, check=False).returncode != 0
    rt.run("resume", c)
    assert rt.state(c)["status"] == "running"
    rt.run("kill", c, "KILL")
    for _ in range(100):
        if rt.state(c)["status"] == "stopped":
            break
        time.sleep(0.02)
    assert rt.state(c)["status"] == "stopped"
    rt.run("delete", c)
    assert rt.run("state", c, check=False).returncode != 0
    assert not os.path.exists("/proc/%s" % pid) or b"sleep" not in open(
        "/proc/%s/cmdline" % pid, "rb").read()


def test_delete_force_and_created(rt, tmp_path, bb_root):
    b = tmp_path / "bundle"
    make_bundle(str(b), bb_root, ["sleep", "1000"])
    c1, c2 = cid(), cid()
    rt.run("create", "--bundle", b, c1)
    rt.run("delete", c1)  # a created container can be deleted without --force
    rt.run("run", "-d", "--bundle", b, c2)
    assert rt.state(c2)["status"] == "running"
    rt.run("delete", "--force", c2)
    assert rt.run("state", c2, check=False).returncode != 0


def test_run_exit_status_and_not_found(rt, tmp_path, bb_root):
    assert run_in(rt, tmp_path, bb_root, "exit 7", check=False).returncode == 7
    b = tmp_path / "nf"
    make_bundle(str(b), bb_root, ["/bin/nosuch"])
    p = rt.run("run", "--bundle", b, cid(), check=False)
    assert p.returncode == 127 and b"no such file" in p.stderr.lower()
    make_bundle(str(tmp_path / "pd"), bb_root, ["/etc/passwd"])
    p = rt.run("run", "--bundle", tmp_path / "pd", cid(), check=False)
    assert p.returncode == 126 and b"permission denied" in p.stderr


def test_security_defaults_inside(rt, tmp_path, bb_root):
    out = run_in(rt, tmp_path, bb_root,
                 "cat /proc/self/status; echo HOST=$(hostname); "
                 "echo KEYS=$(cat /proc/keys | wc -c); ls /sys/firmware | wc -l; "
                 "echo 1 > /proc/sys/kernel/domainname || echo ROSYS; "
                 "touch /proc/sysrq-trigger 2>/dev/null || echo ROTRIG; "
                 "ls -l /dev/ptmx /dev/null /dev/fd; ulimit -n").stdout.decode()
    assert int(status_field(out, "CapEff"), 16) == DOCKER_CAPS
    assert int(status_field(out, "CapBnd"), 16) == DOCKER_CAPS
    assert int(status_field(out, "CapPrm"), 16) == DOCKER_CAPS
    assert int(status_field(out, "CapInh"), 16) == 0
    assert status_field(out, "NoNewPrivs") == "1"
    assert "HOST=berth" in out
    assert "KEYS=0" in out
    assert "ROSYS" in out
    assert "/dev/ptmx -> pts/ptmx" in out
    assert "/dev/fd -> /proc/self/fd" in out
    assert out.strip().splitlines()[-1] == "1024"


def test_mounts_and_readonly(rt, tmp_path, bb_root):
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("from-host")

    def edit(c):
        c["root"]["readonly"] = True
        c["mounts"].append({"destination": "/data", "type": "bind", "source": str(data),
                            "options": ["rbind", "ro", "nosuid"]})
        c["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                            "options": ["size=1m", "mode=700", "noexec"]})
        c["hostname"] = "rohost"
        c["domainname"] = "example.test"
    out = run_in(rt, tmp_path, bb_root,
                 "cat /data/f; echo; touch /data/x 2>&1; touch /newfile 2>&1; "
                 "touch /scratch/ok && echo SCRATCH; cat /proc/self/mountinfo; "
                 "hostname; cat /proc/sys/kernel/domainname; stat -c %a /scratch", edit=edit).stdout.decode()
    assert "from-host" in out
    assert out.count("Read-only file system") == 2
    assert "SCRATCH" in out
    mi = [l.split() for l in out.splitlines() if " - " in l]
    by_mp = {l[4]: l for l in mi}
    assert by_mp["/"][5].startswith("ro")
    assert "ro" in by_mp["/data"][5].split(",") and "nosuid" in by_mp["/data"][5].split(",")
    assert "noexec" in by_mp["/scratch"][5].split(",")
    assert by_mp["/proc/sys"][5].split(",")[0] == "ro"
    assert "nosuid" in by_mp["/proc/sys"][5].split(",")
    assert by_mp["/sys"][5].startswith("ro")
    assert "rohost" in out and "example.test" in out
    assert out.strip().splitlines()[-1] == "700"


def test_user_namespace(rt, tmp_path, bb_root):
    def edit(c):
        c["linux"]["namespaces"].append({"type": "user"})
        c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
        c["linux"].pop("resources", None)
        c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20],
                                "umask": 0o077}
    # the mapped root must be able to reach the rootfs (bb_root is)
    out = run_in(rt, tmp_path, bb_root,
                 "cat /proc/self/uid_map /proc/self/gid_map; id; umask; ls -ln /dev/null",
                 edit=edit).stdout.decode()
    assert out.split()[:3] == ["0", "100000", "65536"]
    assert "uid=1000 gid=1000 groups=10,20" in out
    assert "0077" in out


def test_rlimits_and_oom(rt, tmp_path, bb_root):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)

    def edit(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                                   {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
        c["process"]["oomScoreAdj"] = 500
    out = run_in(rt, tmp_path, bb_root,
                 "ulimit -n; ulimit -Hn; ulimit -c; cat /proc/self/oom_score_adj",
                 edit=edit).stdout.decode().split()
    assert out == ["100", "200", "0", "500"]

    def too_high(c):
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": hard + 1,
                                    "hard": hard + 1}]
    p = run_in(rt, tmp_path, bb_root, "true", edit=too_high, check=False)
    assert p.returncode != 0
    assert b"RLIMIT_NOFILE" in p.stderr and b"CAP_SYS_RESOURCE" in p.stderr


def test_hooks_in_order_with_state(rt, tmp_path, busybox_rootfs_tar):
    b = tmp_path / "bundle"
    log = b / "rootfs" / "hooks.log"

    def hook(name, path):
        return {"path": path, "args": ["sh", "-c",
                                       'echo "%s $(cat)" >> %s' % (name, "LOG")],
                "env": ["PATH=/bin:/usr/bin"]}

    def edit(c):
        hooks = {}
        for name in ("prestart", "createRuntime", "createContainer", "poststart",
                     "poststop"):
            h = hook(name, "/bin/sh")
            h["args"][2] = h["args"][2].replace("LOG", str(log))
            hooks[name] = [h]
        sc = hook("startContainer", "/bin/sh")
        sc["args"][2] = sc["args"][2].replace("LOG", "/hooks.log")
        hooks["startContainer"] = [sc]
        hooks["poststop"].append({"path": "/bin/false"})  # failures there only warn
        c["hooks"] = hooks
    make_bundle(str(b), busybox_rootfs_tar, ["sh", "-c", "echo process >> /hooks.log"],
                edit=edit)
    c = cid()
    rt.run("run", "--bundle", b, c)
    lines = log.read_text().splitlines()
    names = [l.split(" ", 1)[0] for l in lines]
    assert names == ["prestart", "createRuntime", "createContainer", "startContainer",
                     "process", "poststart", "poststop"] or \
        names == ["prestart", "createRuntime", "createContainer", "startContainer",
                  "poststart", "process", "poststop"], names
    for l in lines:
        if l.startswith("process"):
            continue
        st = json.loads(l.split(" ", 1)[1])
        assert st["id"] == c and st["ociVersion"].startswith("1.")
        assert st["pid"] > 0 or l.startswith("poststop")
    st = {l.split(" ", 1)[0]: json.loads(l.split(" ", 1)[1]) for l in lines
          if not l.startswith("process")}
    assert st["prestart"]["status"] == "creating"
    assert st["poststop"]["status"] == "stopped"

    # a failing prestart hook fails create and leaves nothing behind
    def bad(c):
        c["hooks"] = {"prestart": [{"path": "/bin/false"}]}
    b2 = tmp_path / "b2"
    make_bundle(str(b2), busybox_rootfs_tar, ["true"], edit=bad)
    p = rt.run("create", "--bundle", b2, "bad" + c, check=False)
    assert p.returncode != 0 and b"prestart" in p.stderr
    assert rt.run("state", "bad" + c, check=False).returncode != 0

    def slow(c):
        c["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "10"],
                                         "timeout": 1}]}
    b3 = tmp_path / "b3"
    make_bundle(str(b3), busybox_rootfs_tar, ["true"], edit=slow)
    t = time.time()
    p = rt.run("create", "--bundle", b3, "slow" + c, check=False)
    assert p.returncode != 0 and b"timed out" in p.stderr
    assert time.time() - t < 5


def test_console_socket(rt, tmp_path, bb_root):
    sock_path = str(tmp_path / "console.sock")
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock_path)
    srv.listen(1)
    got = {}

    def receive():
        conn, _ = srv.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 1024, 1)
        got["name"] = msg
        got["fd"] = fds[0]
        conn.close()
    th = threading.Thread(target=receive)
    th.start()

    def edit(c):
        c["process"]["terminal"] = True
    b = tmp_path / "bundle"
    make_bundle(str(b), bb_root,
                ["sh", "-c", "tty; readlink /proc/self/fd/0; ls -l /dev/console; sleep 0.3"],
                edit=edit)
    c = cid()
    rt.run("create", "--bundle", b, "--console-socket", sock_path, c)
    th.join(10)
    assert "fd" in got
    master = got["fd"]
    rt.run("start", c)
    data = b""
    deadline = time.time() + 10
    import select
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.5)
        if r:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
            if data.count(b"\n") >= 3:
                break
    os.close(master)
    text = data.decode(errors="replace")
    assert "/dev/pts/" in text, text
    assert "/dev/console" in text
    rt.run("delete", "-f", c)


def test_namespaces_joined_and_new(rt, tmp_path, bb_root):
    b = tmp_path / "first"
    make_bundle(str(b), bb_root, ["sleep", "1000"])
    c1 = cid()
    rt.run("run", "-d", "--bundle", b, c1)
    pid = rt.state(c1)["pid"]

    def edit(c):
        ns = [n for n in c["linux"]["namespaces"] if n["type"] not in ("network", "pid")]
        ns.append({"type": "network", "path": "/proc/%d/ns/net" % pid})
        ns.append({"type": "pid", "path": "/proc/%d/ns/pid" % pid})
        ns.append({"type": "time"})
        c["linux"]["namespaces"] = ns
        c["linux"]["timeOffsets"] = {"boottime": {"secs": 86400, "nanosecs": 0}}
    out = run_in(rt, tmp_path, bb_root,
                 "readlink /proc/self/ns/net; ps -o pid,comm; cat /proc/uptime",
                 edit=edit).stdout.decode()
    host_net = os.readlink("/proc/%d/ns/net" % pid)
    assert host_net in out
    assert "sleep" in out  # same pid namespace as the first container
    assert float(out.split()[-2]) > 86400  # the boottime offset shows in uptime
    rt.run("delete", "-f", c1)


def test_invalid_configs_refused(rt, tmp_path, bb_root):
    cases = [
        lambda c: c["linux"]["namespaces"].append({"type": "bogus"}),
        lambda c: c["process"].update(capabilities={"bounding": ["CAP_NOPE"]}),
        lambda c: c["process"].update(apparmorProfile="docker-default"),
        lambda c: c["process"].update(cwd="relative"),
        lambda c: c["linux"].update(sysctl={"kernel.panic": "1"}),
        lambda c: c["linux"].update(netDevices={"lo": {}}),
        lambda c: c["linux"].update(intelRdt={"closID": "x"}),
        lambda c: c["process"].update(scheduler={"policy": "SCHED_DEADLINE"}),
        lambda c: c.update(mounts=[{"destination": "/x", "type": "bind",
                                    "source": "/nonexistent-src", "options": ["bind"]}]),
    ]
    for i, edit in enumerate(cases):
        b = tmp_path / ("b%d" % i)
        make_bundle(str(b), bb_root, ["true"], edit=edit)
        p = rt.run("create", "--bundle", b, cid(), check=False)
        assert p.returncode != 0, i
        assert p.stderr.startswith(b"Error: "), p.stderr
    assert rt.run("list", "-q").stdout.strip() == b""


def test_features(rt):
    f = json.loads(rt.run("features").stdout)
    schema_validate(f, "features-schema.json")
    assert f["ociVersionMax"].startswith("1.")
    assert "user" in f["linux"]["namespaces"]
    assert "CAP_SYS_ADMIN" in f["linux"]["capabilities"]
    assert "rro" in f["mountOptions"]


@pytest.mark.parametrize("nnp", [True, False])
def test_seccomp_blocked_syscall(rt, tmp_path, bb_root, nnp):
    def edit(c):
        c["process"]["noNewPrivileges"] = nnp
        c["linux"]["seccomp"] = {
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 95},
                {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                 "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
            ]}
    out = run_in(rt, tmp_path, bb_root,
                 "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; "
                 "mkdir /tmp/blocked 2>&1; test -d /tmp/blocked && echo CREATED; "
                 "nice -n 0 true 2>&1; echo done", edit=edit).stdout.decode()
    assert status_field(out, "Seccomp") == "2"
    assert status_field(out, "NoNewPrivs") == ("1" if nnp else "0")
    assert "Operation not supported" in out
    assert "CREATED" not in out
    assert "done" in out


def test_default_seccomp_profile(rt, tmp_path, bb_root):
    out = run_in(rt, tmp_path, bb_root,
                 "grep Seccomp: /proc/self/status; unshare -U true 2>&1; echo rc=$?; "
                 "mount -t tmpfs t /mnt 2>&1; echo rc=$?").stdout.decode()
    assert status_field(out, "Seccomp") == "2"
    assert "rc=0" not in out
    assert "Operation not permitted" in out


@pytest.mark.parametrize("path_kind", ["absolute", "relative", "default"])
def test_cgroup_resources_inside(rt, tmp_path, bb_root, path_kind):
    name = cid()
    cg = {"absolute": "/berthtest-%s/c" % name, "relative": "berthtest-" + name,
          "default": None}[path_kind]

    def edit(c):
        if cg:
            c["linux"]["cgroupsPath"] = cg
        c["linux"]["resources"].update({
            "memory": {"limit": 64 * 1024 * 1024},
            "pids": {"limit": 50},
            "cpu": {"shares": 512}})
    c = name if path_kind == "default" else cid()
    b = tmp_path / "cgb"
    make_bundle(str(b), bb_root, ["sh", "-c",
                                  "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                 "/sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.shares; "
                                  "cat /proc/self/cgroup | grep memory"], edit=edit)
    out = rt.run("run", "--bundle", b, c).stdout.decode().split()
    assert out[:3] == [str(64 * 1024 * 1024), "50", "512"]
    # a cgroup namespace: the container sees its own cgroup as the root
    assert out[3].endswith(":/")
    # and the runtime removed the cgroup when the container was deleted
    with open("/proc/self/cgroup") as f:
        mine = [l.split(":", 2)[2].strip() for l in f if ":memory:" in l][0]
    if path_kind == "relative":
        host = os.path.join(mine, cg)
    else:
        host = cg or "/berth/" + name
    try:
        assert not os.path.exists("/sys/fs/cgroup/memory" + host)
        if path_kind == "relative":
            # in every hierarchy, named ones (name=systemd) included, below
            # the caller's own cgroup there
            with open("/proc/self/cgroup") as f:
                for line in f:
                    _, ctrls, own = line.strip().split(":", 2)
                    mnt = ("unified" if ctrls == "" else
                           ctrls.split(",")[0].replace("name=", ""))
                    left = os.path.join("/sys/fs/cgroup", mnt, own.lstrip("/"), cg)
                    assert not os.path.exists(left), left
    finally:
        # the parent of an absolute path stays, as with runc
        for d in glob.glob("/sys/fs/cgroup/*/berthtest-" + name):
            os.rmdir(d)


def test_run_terminal_without_console_socket(rt, tmp_path, bb_root):
    """`run` of a terminal: true container relays its pty, as runc run does."""
    import pty
    b = tmp_path / "tb"
    make_bundle(str(b), bb_root, ["sh", "-c", "tty; echo term-ok; exit 5"],
                edit=lambda c: c["process"].update(terminal=True))
    master, slave = pty.openpty()
    p = subprocess.Popen(rt.cmd("run", "--bundle", b, cid()), stdin=slave, stdout=slave,
                         stderr=slave, close_fds=True)
    os.close(slave)
    data = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        data += chunk
    assert p.wait(30) == 5
    os.close(master)
    assert b"/dev/pts/" in data and b"term-ok" in data, data


def test_more_linux_config(rt, tmp_path, bb_root):
    def edit(c):
        c["linux"]["personality"] = {"domain": "LINUX32"}
        c["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789"}
        c["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                  "fileMode": 0o640, "uid": 0, "gid": 0}]
        c["linux"]["rootfsPropagation"] = "shared"
    b = tmp_path / "mb"
    make_bundle(str(b), bb_root,
                ["sh", "-c", "uname -m; cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax; "
                 "ls -l /dev/fuse; awk '$5 == \"/\"' /proc/self/mountinfo"], edit=edit)
    out = rt.run("run", "--no-pivot", "--bundle", b, cid()).stdout.decode()
    lines = out.splitlines()
    assert lines[0] in ("i686", "i386")
    assert lines[1:3] == ["1", "123456789"]
    assert lines[3].startswith("crw-r-----") and "10, 229" in lines[3]
    out2 = rt.run("run", "--bundle", b, cid()).stdout.decode()
    assert "shared:" in out2.splitlines()[-1]


def test_exec_process_json_detached_and_preserve_fds(rt, tmp_path, bb_root):
    b = tmp_path / "eb"
    make_bundle(str(b), bb_root, ["sleep", "1000"])
    c = cid()
    rt.run("run", "-d", "--bundle", b, c)
    proc = {"cwd": "/tmp", "args": ["sh", "-c", "pwd > /tmp/exec-out; id -u >> /tmp/exec-out; "
                                    "echo $FOO >> /tmp/exec-out"],
            "env": ["FOO=bar", "PATH=/bin"], "user": {"uid": 65534, "gid": 65534}}
    pj = tmp_path / "process.json"
    pj.write_text(json.dumps(proc))
    pidfile = tmp_path / "exec.pid"
    rt.run("exec", "-d", "--pid-file", pidfile, "-p", pj, c)
    assert int(pidfile.read_text()) > 0
    for _ in range(100):
        p = rt.run("exec", c, "cat", "/tmp/exec-out", check=False)
        if p.stdout.count(b"\n") >= 3:
            break
        time.sleep(0.05)
    assert p.stdout.decode().split() == ["/tmp", "65534", "bar"]
    # --preserve-fds: fd 3 of the caller reaches the process
    r, w = os.pipe()
    p = subprocess.run(["bash", "-c", 'exec 3>&%d; exec "$@"' % w, "bash"] +
                       rt.cmd("exec", "--preserve-fds", "1", c, "sh", "-c", "echo via-fd3 >&3"),
                       pass_fds=(w,), capture_output=True, timeout=30)
    os.close(w)
    assert p.returncode == 0, p.stderr
    assert os.read(r, 100) == b"via-fd3\n"
    os.close(r)
    # exec's view: same namespaces as the init, its caps and seccomp
    out = rt.run("exec", c, "sh", "-c", "grep -E '^(CapEff|Seccomp):' /proc/self/status; "
                 "readlink /proc/1/ns/mnt; readlink /proc/self/ns/mnt").stdout.decode().split("\n")
    assert int(out[0].split()[1], 16) == DOCKER_CAPS
    assert out[1].split()[1] == "2"
    assert out[2] == out[3]
    rt.run("delete", "-f", c)


def test_caller_signal_state_not_inherited(rt, tmp_path, bb_root):
    import signal as sig
    b = tmp_path / "sb"
    make_bundle(str(b), bb_root, ["grep", "-E", "^Sig(Blk|Ign):", "/proc/self/status"])

    def caller_state():
        sig.signal(sig.SIGPIPE, sig.SIG_IGN)
        sig.signal(sig.SIGHUP, sig.SIG_IGN)
        sig.pthread_sigmask(sig.SIG_BLOCK, {sig.SIGUSR1, sig.SIGTERM})
    out = subprocess.run(rt.cmd("run", "--bundle", b, cid()), capture_output=True,
                         preexec_fn=caller_state, timeout=60).stdout.decode()
    fields = dict(l.split(":\t") for l in out.splitlines())
    assert int(fields["SigBlk"], 16) == 0
    assert int(fields["SigIgn"], 16) == 0
