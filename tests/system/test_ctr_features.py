"""Container features checked from the user's side: NET I/O in `stats`,
log attributes (--log-opt labels/env/env-regex, `logs --details`),
`container prune --filter`, and user namespaces (--userns, userns-remap)."""
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time

import pytest

from conftest import (Berth, cleanup_networks, free_test_subnet, require_root,
                      unique_bridge)

UNITS = {"B": 1, "kB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}


def size(text):
    m = re.fullmatch(r"([0-9.]+)([kMG]?B)", text.strip())
    assert m, text
    return float(m.group(1)) * UNITS[m.group(2)]


def net_io(b, name):
    out = b.out("stats", "--no-stream", "--format", "{{json .}}", name)
    row = json.loads(out)
    assert row["Name"] == name
    rx, tx = row["NetIO"].split(" / ")
    return size(rx), size(tx)


def test_stats_net_io_counts_traffic_between_containers(busybox):
    b = busybox
    b.run("network", "create", "--subnet", free_test_subnet(),
          "-o", "com.docker.network.bridge.name=" + unique_bridge(), "statnet")
    try:
        b.run("run", "-d", "--name", "srv", "--network", "statnet", "busybox", "sh", "-c",
              "sleep 60 | nc -l -p 7000 >/dev/null")
        b.run("run", "-d", "--name", "idle", "--network", "none", "busybox", "sleep", "60")
        b.run("run", "-d", "--name", "hostnet", "--network", "host", "busybox", "sleep", "60")
        rx0, tx0 = net_io(b, "srv")
        assert rx0 < 100000 and tx0 < 100000
        # 600 kB from one container to the other
        b.run("run", "-d", "--name", "cli", "--network", "statnet", "busybox", "sh", "-c",
              "until dd if=/dev/zero bs=1000 count=600 2>/dev/null | nc srv 7000; "
              "do sleep 0.2; done; sleep 60")
        deadline = time.time() + 30
        while True:
            srx, stx = net_io(b, "srv")
            crx, ctx = net_io(b, "cli")
            if srx >= 600000 and ctx >= 600000 or time.time() > deadline:
                break
            time.sleep(0.3)
        assert srx >= 600000 and ctx >= 600000, (srx, stx, crx, ctx)
        # the acknowledgements went the other way: far less than the data
        assert stx < srx and crx < ctx
        # no network namespace of its own, or only lo: nothing to count
        assert net_io(b, "idle") == (0, 0)
        assert net_io(b, "hostnet") == (0, 0)
        # the default table has the column
        table = b.out("stats", "--no-stream", "srv").splitlines()
        assert "NET I/O" in table[0]
        assert re.search(r"\d(\.\d+)?[kM]B / ", table[1]), table
    finally:
        b.run("rm", "-f", "srv", "cli", "idle", "hostnet", check=False)
        b.run("network", "rm", "statnet", check=False)


def test_logs_details_shows_label_and_env_attributes(busybox):
    b = busybox
    out = b.out("run", "--name", "lg", "-l", "app=web", "-l", "tier=front end/1",
                "-e", "REGION=eu-1", "-e", "OTHER=x", "-e", "SKIP=no",
                "--log-opt", "labels=app,tier,missing", "--log-opt", "env=REGION",
                "--log-opt", "env-regex=^OTH", "busybox", "sh", "-c",
                "echo hello; echo oops >&2")
    assert out == "hello\n"
    p = b.run("logs", "--details", "lg")
    # sorted, query-escaped, before the line (Docker's daemon/logs.go)
    assert p.stdout.decode() == "OTHER=x,REGION=eu-1,app=web,tier=front+end%2F1 hello\n"
    assert p.stderr.decode() == "OTHER=x,REGION=eu-1,app=web,tier=front+end%2F1 oops\n"
    assert b.out("logs", "lg") == "hello\n"
    ts = b.out("logs", "-t", "--details", "lg")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[0-9:.]+Z OTHER=x,\S+ hello\n", ts), ts
    # the json-file entries carry them as "attrs", between stream and time
    path = b.out("inspect", "-f", "{{.LogPath}}", "lg").strip()
    with open(path) as f:
        line = f.readline()
    assert '"stream":"stdout","attrs":{"OTHER":"x","REGION":"eu-1","app":"web",' in line
    assert json.loads(line)["attrs"]["tier"] == "front end/1"
    # without attribute options: just the separating space
    b.run("run", "--name", "plain", "busybox", "echo", "hi")
    assert b.out("logs", "--details", "plain") == " hi\n"
    # a bad regex fails the start with a clear error; an unknown option at once
    p = b.run("run", "--log-opt", "env-regex=(", "busybox", "true", check=False)
    assert p.returncode == 125 and b"env-regex" in p.stderr, p.stderr
    p = b.run("run", "--log-opt", "colour=red", "busybox", "true", check=False)
    assert p.returncode == 125 and b"unknown log opt 'colour'" in p.stderr
    b.run("rm", "-f", "lg", "plain")


def test_container_prune_filters(busybox):
    b = busybox

    def ids(*names):
        return {b.out("inspect", "-f", "{{.Id}}", n).strip() for n in names}

    def prune(*filters):
        out = b.out("container", "prune", "-f", *["--filter=" + f for f in filters])
        lines = out.splitlines()
        assert lines[-1].startswith("Total reclaimed space: ")
        return set(lines[1:-2]) if lines[0] == "Deleted Containers:" else set()

    b.run("create", "--name", "old", "-l", "tier=a", "busybox", "true")
    time.sleep(1.1)
    cut = time.time()
    time.sleep(1.1)
    b.run("create", "--name", "new_a", "-l", "tier=a", "busybox", "true")
    b.run("run", "--name", "keepme", "-l", "tier=a", "-l", "keep", "busybox", "true")
    b.run("create", "--name", "new_b", "-l", "tier=b", "busybox", "true")
    b.run("run", "-d", "--name", "running", "-l", "tier=a", "busybox", "sleep", "60")
    try:
        want = ids("old")
        assert prune("until=%.3f" % cut) == want
        assert prune("until=1h") == set()
        want = ids("new_a")
        assert prune("label=tier=a", "label!=keep") == want
        want = ids("keepme", "new_b")
        assert prune("label=tier") == want
        names = b.out("ps", "-a", "--format", "{{.Names}}").split()
        assert names == ["running"]
        p = b.run("container", "prune", "-f", "--filter", "colour=red", check=False)
        assert p.returncode == 125 and b"invalid filter 'colour'" in p.stderr
        p = b.run("container", "prune", "-f", "--filter", "until=yesterday", check=False)
        assert p.returncode == 125
    finally:
        b.run("rm", "-f", "running", check=False)


# --- user namespaces -------------------------------------------------------

def _subid_free_start():
    """A 65536-aligned start after every range of /etc/subuid and /etc/subgid."""
    end = 100000
    for path in ("/etc/subuid", "/etc/subgid"):
        try:
            with open(path) as f:
                for line in f:
                    parts = line.strip().split(":")
                    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                        end = max(end, int(parts[1]) + int(parts[2]))
        except FileNotFoundError:
            pass
    return (end // 65536 + 1 + secrets.randbelow(64)) * 65536


@contextlib.contextmanager
def remap_root(busybox_rootfs_tar, remap):
    """A berth root whose config has userns-remap, below a directory the
    remapped root can pass (/var/tmp, o+x), with busybox imported."""
    d = tempfile.mkdtemp(prefix="berth-userns-", dir="/var/tmp")
    os.chmod(d, 0o711)
    config = os.path.join(d, "berth.json")
    with open(config, "w") as f:
        json.dump({"bridge": unique_bridge(), "default-subnet": free_test_subnet(),
                   "dns": ["127.0.0.1:1"], "userns-remap": remap}, f)
    b = Berth(os.path.join(d, "root"), os.path.join(d, "run"), config)
    try:
        b.run("import", "-c", 'CMD ["/bin/sh"]', busybox_rootfs_tar, "busybox:latest")
        yield b, d
    finally:
        for cid in b.out("ps", "-aq", check=False).split():
            b.run("rm", "-f", "-v", cid, check=False)
        cleanup_networks(b.root)
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def remap_user():
    """A user and group of its own with subordinate id ranges (removed after)."""
    require_root()
    name = "btu" + secrets.token_hex(4)
    start = _subid_free_start()
    rng = "%d-%d" % (start, start + 65535)
    subprocess.run(["useradd", "--system", "--user-group", "--shell", "/bin/false",
                    "--no-create-home", name], check=True, capture_output=True)
    try:
        subprocess.run(["usermod", "--add-subuids", rng, "--add-subgids", rng, name],
                       check=True, capture_output=True)
        yield name, start
    finally:
        subprocess.run(["usermod", "--del-subuids", rng, "--del-subgids", rng, name],
                       capture_output=True)
        subprocess.run(["userdel", name], capture_output=True)


def host_uid(pid):
    with open("/proc/%d/status" % pid) as f:
        return [int(l.split()[1]) for l in f if l.startswith("Uid:")][0]


def test_userns_remap_root_is_not_host_root(busybox_rootfs_tar, remap_user):
    name, start = remap_user
    with remap_root(busybox_rootfs_tar, name) as (b, d):
        bind = os.path.join(d, "bind")
        os.mkdir(bind)
        os.chmod(bind, 0o777)
        out = b.out("run", "--rm", "-v", bind + ":/bind", "-v", "data:/vol", "busybox", "sh",
                    "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u; "
                    "touch /bind/f /vol/g; stat -c %u /etc/passwd; "
                    "stat -c %u:%g /etc/hosts /etc/resolv.conf /etc/hostname; "
                    "echo 10.9.9.9 extra >> /etc/hosts")
        assert out.split() == ["0", str(start), "65536", "0", str(start), "65536", "0", "0",
                               "0:0", "0:0", "0:0"]
        # what root made in a bind mount and a volume is the remapped root's
        st = os.stat(os.path.join(bind, "f"))
        assert (st.st_uid, st.st_gid) == (start, start)
        vol = os.path.join(b.root, "volumes", "data", "_data")
        assert os.stat(os.path.join(vol, "g")).st_uid == start
        # image content copied into a new volume gets the container's ids
        out = b.out("run", "--rm", "-v", "etcvol:/etc", "busybox", "stat", "-c", "%u",
                    "/etc/passwd")
        assert out.strip() == "0"
        etcvol = os.path.join(b.root, "volumes", "etcvol", "_data", "passwd")
        assert os.stat(etcvol).st_uid == start
        # the container's processes run as the remapped root on the host;
        # exec joins the same user namespace
        cid = b.out("run", "-d", "busybox", "sh", "-c",
                    "echo x > /etc/newfile; sleep 60").strip()
        pid = int(b.out("inspect", "-f", "{{.State.Pid}}", cid))
        assert host_uid(pid) == start
        assert b.out("exec", cid, "cat", "/proc/self/uid_map").split() == \
            ["0", str(start), "65536"]
        # the rootfs is an idmapped view: the upper dir keeps the container's ids
        for _ in range(50):
            up = os.path.join(b.root, "containers", cid, "upper", "etc", "newfile")
            if os.path.exists(up):
                break
            time.sleep(0.1)
        assert os.stat(up).st_uid == 0
        assert "A /etc/newfile" in b.out("diff", cid)
        assert b.out("exec", cid, "stat", "-c", "%u:%g", "/etc/newfile").strip() == "0:0"
        # cp into it: the container's root owns the files (and -a keeps uid 7)
        src = os.path.join(d, "src.txt")
        with open(src, "w") as f:
            f.write("from-host\n")
        os.chown(src, 7, 7)
        b.run("cp", src, cid + ":/tmp/in.txt")
        b.run("cp", "-a", src, cid + ":/tmp/keep.txt")
        tar = subprocess.run(["tar", "-C", d, "-cf", "-", "src.txt"], capture_output=True,
                             check=True).stdout
        b.run("cp", "-", cid + ":/root", input=tar)
        out = b.out("exec", cid, "stat", "-c", "%u:%g", "/tmp/in.txt", "/tmp/keep.txt",
                    "/root/src.txt")
        assert out.split() == ["0:0", "7:7", "7:7"]
        assert b.out("exec", cid, "cat", "/tmp/in.txt") == "from-host\n"
        # cp out of it: -a keeps the ids the container sees (not the host's
        # shifted ones), a tar stream names them too, plain cp gives root's
        b.run("exec", cid, "sh", "-c", "mkdir -p /d/e && echo y > /d/e/f && "
              "chown -R 9:9 /d && chown 7:8 /d/e/f")
        b.run("cp", "-a", cid + ":/tmp/keep.txt", os.path.join(d, "out-a.txt"))
        b.run("cp", "-a", cid + ":/d", os.path.join(d, "out-d"))
        b.run("cp", cid + ":/tmp/keep.txt", os.path.join(d, "out.txt"))
        ids = lambda p: (os.lstat(p).st_uid, os.lstat(p).st_gid)
        assert ids(os.path.join(d, "out-a.txt")) == (7, 7)
        assert ids(os.path.join(d, "out-d")) == (9, 9)
        assert ids(os.path.join(d, "out-d", "e")) == (9, 9)
        assert ids(os.path.join(d, "out-d", "e", "f")) == (7, 8)
        assert ids(os.path.join(d, "out.txt")) == (0, 0)
        tar = b.run("cp", cid + ":/d", "-").stdout
        listing = subprocess.run(["tar", "-tvnf", "-"], input=tar, capture_output=True,
                                 check=True).stdout.decode()
        owners = {l.split()[-1]: l.split()[1] for l in listing.splitlines()}
        assert owners["d/e/f"] == "7/8" and owners["d/"] == "9/9", listing
        # --userns=host opts one container out
        out = b.out("run", "--rm", "--userns=host", "busybox", "cat", "/proc/self/uid_map")
        assert out.split() == ["0", "0", "4294967295"]
        # what dockerd refuses with remapping
        p = b.run("run", "--rm", "--privileged", "busybox", "true", check=False)
        assert p.returncode == 125 and b"privileged mode is incompatible" in p.stderr
        p = b.run("run", "--rm", "--network", "host", "busybox", "true", check=False)
        assert p.returncode == 125 and b"Cannot share the host's network" in p.stderr
        p = b.run("run", "--rm", "--pid", "host", "busybox", "true", check=False)
        assert p.returncode == 125 and b"host PID namespace" in p.stderr
        assert b.run("run", "--rm", "--userns=host", "--privileged", "busybox",
                     "true").returncode == 0
        p = b.run("run", "--rm", "--userns=private", "busybox", "true", check=False)
        assert p.returncode == 125 and b"--userns: invalid USER mode" in p.stderr


def test_userns_remap_default_creates_dockremap(busybox_rootfs_tar):
    """"default" makes the user dockremap with subordinate ranges, as dockerd
    does; the test removes them again if it made them (serialised by a lock,
    since dockremap is host-wide)."""
    require_root()
    with open("/run/lock/berth-test-dockremap.lock", "w") as lk:
        fcntl.flock(lk, fcntl.LOCK_EX)
        existed = subprocess.run(["id", "dockremap"], capture_output=True).returncode == 0
        try:
            with remap_root(busybox_rootfs_tar, "default") as (b, d):
                out = b.out("run", "--rm", "busybox", "cat", "/proc/self/uid_map").split()
                with open("/etc/subuid") as f:
                    ranges = [l.strip().split(":") for l in f if l.startswith("dockremap:")]
                assert ranges and out == ["0", ranges[0][1], ranges[0][2]]
                assert int(ranges[0][1]) >= 100000
        finally:
            if not existed:
                for path in ("/etc/subuid", "/etc/subgid"):
                    with open(path) as f:
                        for l in f:
                            if l.startswith("dockremap:"):
                                _, s, n = l.strip().split(":")
                                rng = "%s-%d" % (s, int(s) + int(n) - 1)
                                flag = "--del-subuids" if path.endswith("uid") else \
                                    "--del-subgids"
                                subprocess.run(["usermod", flag, rng, "dockremap"],
                                               capture_output=True)
                subprocess.run(["userdel", "dockremap"], capture_output=True)
