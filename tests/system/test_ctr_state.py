"""A container's live state as ps and inspect report it: the state file the
monitor keeps (and locks), pause recorded in it, an older monitor's state
file (no lock=1: monitor.lock and a `paused` file are asked instead), and a
monitor that dies without recording an exit; and no cgroup left behind
when a monitor is killed, the runtime state is lost or the record goes
before the container exits."""
import glob
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import time

import pytest


@pytest.fixture
def bb(busybox):
    yield busybox
    ids = busybox.out("ps", "-aq", "--no-trunc", check=False).split()
    if ids:
        busybox.run("rm", "-f", *ids, check=False)


def wait_for(pred, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def state_path(b, cid):
    return os.path.join(b.root, "containers", cid, "state")


def read_state(b, cid):
    with open(state_path(b, cid)) as f:
        return dict(l.rstrip("\n").split("=", 1) for l in f if "=" in l)


def write_state(b, cid, st):
    """Replace the state file as an older monitor would (rename)."""
    p = state_path(b, cid)
    with open(p + ".test", "w") as f:
        for k, v in st.items():
            f.write("%s=%s\n" % (k, v))
    os.rename(p + ".test", p)


def status(b, name):
    return b.out("inspect", "-f", "{{.State.Status}}", name).strip()


def test_monitor_records_pause_in_locked_state(bb):
    cid = bb.out("run", "-d", "--network", "none", "--name", "ps1", "busybox",
                 "sleep", "100").strip()
    st = read_state(bb, cid)
    assert st["lock"] == "1" and st["paused"] == "0" and st["health"] == "0"
    assert st["status"] == "running"
    bb.run("pause", "ps1")
    assert read_state(bb, cid)["paused"] == "1"
    assert not os.path.exists(os.path.join(bb.root, "containers", cid, "paused"))
    assert status(bb, "ps1") == "paused"
    assert "(Paused)" in bb.out("ps")
    assert bb.out("ps", "-q", "--filter", "status=paused").strip() == cid[:12]
    bb.run("unpause", "ps1")
    assert read_state(bb, cid)["paused"] == "0"
    assert status(bb, "ps1") == "running"
    # a paused container that is stopped and started again is not paused
    bb.run("pause", "ps1")
    bb.run("stop", "-t", "0", "ps1")
    assert status(bb, "ps1") == "exited"
    bb.run("start", "ps1")
    assert status(bb, "ps1") == "running"
    assert read_state(bb, cid)["paused"] == "0"


def test_health_flag_only_with_a_healthcheck(bb):
    cid = bb.out("run", "-d", "--network", "none", "--health-cmd", "true",
                 "--health-interval", "1s", "busybox", "sleep", "100").strip()
    assert read_state(bb, cid)["health"] == "1"
    assert wait_for(lambda: "(healthy)" in bb.out("ps"))


def test_killed_monitor_is_dead_in_ps_and_inspect(bb):
    cid = bb.out("run", "-d", "--network", "none", "--name", "ps2", "busybox",
                 "sleep", "100").strip()
    os.kill(int(read_state(bb, cid)["monitor_pid"]), 9)
    assert wait_for(lambda: status(bb, "ps2") == "dead")
    j = json.loads(bb.out("inspect", "ps2"))[0]
    assert j["State"]["Dead"] and not j["State"]["Running"]
    assert "exited unexpectedly" in j["State"]["Error"]
    assert bb.out("ps", "-q") == ""
    assert "Dead" in bb.out("ps", "-a")


def test_state_file_of_an_older_monitor(bb):
    """A state file without lock=1 (written by the monitor of an older
    berth, which holds only monitor.lock and marks a pause with a file):
    liveness comes from monitor.lock, the pause from the marker."""
    cid = bb.out("run", "-d", "--network", "none", "--name", "ps3", "busybox",
                 "sleep", "100").strip()
    st = read_state(bb, cid)
    for k in ("lock", "paused", "health"):
        del st[k]
    write_state(bb, cid, st)
    # the monitor still holds monitor.lock: running, not dead
    assert status(bb, "ps3") == "running"
    assert bb.out("ps", "-q") == cid[:12] + "\n"
    marker = os.path.join(bb.root, "containers", cid, "paused")
    open(marker, "w").close()
    assert status(bb, "ps3") == "paused"
    assert "(Paused)" in bb.out("ps")
    os.unlink(marker)
    assert status(bb, "ps3") == "running"
    # and when that monitor dies, the container is dead as before
    os.kill(int(st["monitor_pid"]), 9)
    assert wait_for(lambda: status(bb, "ps3") == "dead")


def cgroups(cid):
    return glob.glob("/sys/fs/cgroup/*/berth/" + cid)


def monitor_gone(pid):
    try:
        os.kill(pid, 0)
        return False
    except ProcessLookupError:
        return True


def test_no_cgroup_left_by_killed_monitor_and_rm(bb):
    cid = bb.out("run", "-d", "--network", "none", "busybox", "sleep", "100").strip()
    assert cgroups(cid)
    st = read_state(bb, cid)
    os.kill(int(st["monitor_pid"]), 9)
    assert wait_for(lambda: status(bb, cid) == "dead")
    bb.run("rm", "-f", cid)
    assert cgroups(cid) == []
    assert not os.path.exists(os.path.join(bb.runroot, "runtime", cid))


def test_no_cgroup_left_without_runtime_state(bb):
    """A container whose runtime state is gone (a start that died between
    making the cgroup and recording it) and whose monitor died: rm kills
    what is left in its cgroup and removes the cgroup."""
    cid = bb.out("run", "-d", "--network", "none", "busybox", "sleep", "100").strip()
    st = read_state(bb, cid)
    os.kill(int(st["monitor_pid"]), 9)
    shutil.rmtree(os.path.join(bb.runroot, "runtime", cid))
    bb.run("rm", "-f", cid)
    assert cgroups(cid) == []
    assert wait_for(lambda: monitor_gone(int(st["pid"])))


def test_no_cgroup_left_when_record_went_first(bb):
    """rm -f racing a start can remove the record before the runtime state
    exists; the container then runs on, and when it exits the monitor's
    cleanup finds no record: it still deletes the runtime state and the
    cgroup by the container's ID."""
    cid = bb.out("run", "-d", "--network", "none", "busybox", "sleep", "1").strip()
    mon = int(read_state(bb, cid)["monitor_pid"])
    db = sqlite3.connect(os.path.join(bb.root, "berth.db"), timeout=10)
    with db:
        db.execute("DELETE FROM containers WHERE id = ?", (cid,))
    db.close()
    assert wait_for(lambda: monitor_gone(mon), timeout=15)
    assert cgroups(cid) == []
    assert not os.path.exists(os.path.join(bb.runroot, "runtime", cid))


def made_cgroups(b, *args):
    """Run berth under strace; the cgroup directories it made (and the
    result)."""
    trace = os.path.join(b.root, "..", "mkdir.trace")
    p = subprocess.run(["strace", "-f", "-qq", "-e", "trace=mkdir,mkdirat", "-o", trace] +
                       b.cmd(*args), capture_output=True, text=True, timeout=60)
    with open(trace) as f:
        ids = set(re.findall(r'/berth/([0-9a-f]{64})"', f.read()))
    return p, ids


@pytest.mark.parametrize("case", ["name-in-use", "no-such-command", "no-image", "pull-fails"])
def test_failed_run_leaves_no_cgroup(bb, case):
    """run makes the cgroup's directories ahead, while it creates the
    record: a run that fails before (a name in use, an image missing, a
    pull that fails) or in the start (a command not found) removes them."""
    if case == "name-in-use":
        bb.run("create", "--name", "taken", "busybox", "true")
        args = ["run", "--rm", "--name", "taken", "busybox", "true"]
    elif case == "no-such-command":
        args = ["run", "--rm", "--network", "none", "busybox", "no-such-command"]
    elif case == "pull-fails":
        # nothing listens there: the pull fails at once
        args = ["run", "--rm", "127.0.0.1:9/nosuch:1", "true"]
    else:
        args = ["run", "--rm", "--pull", "never", "nosuch:1", "true"]
    p, ids = made_cgroups(bb, *args)
    assert p.returncode in (125, 127), p.stderr
    assert len(ids) == 1, ids
    for cid in ids:
        assert cgroups(cid) == []


def test_prune_sweeps_orphaned_cgroups(bb):
    """A `run` killed between making its cgroup ahead and its start leaves an
    empty /berth/<id> cgroup that no container owns: `container prune`
    removes such cgroups once they are a minute old, never a younger one
    (a start in progress) nor one with processes."""
    old_id, new_id = os.urandom(32).hex(), os.urandom(32).hex()
    made = []
    try:
        for cid in (old_id, new_id):
            for d in glob.glob("/sys/fs/cgroup/*/berth"):
                p = os.path.join(d, cid)
                os.mkdir(p)
                made.append(p)
                if cid == old_id:
                    os.utime(p, (time.time() - 120, time.time() - 120))
        live = bb.out("run", "-d", "--network", "none", "busybox", "sleep", "100").strip()
        for d in glob.glob("/sys/fs/cgroup/*/berth/" + live):
            os.utime(d, (time.time() - 120, time.time() - 120))
        bb.run("container", "prune", "-f")
        assert cgroups(old_id) == []
        assert len(cgroups(new_id)) == len(made) // 2
        assert cgroups(live)
        assert bb.out("inspect", "-f", "{{.State.Status}}", live).strip() == "running"
    finally:
        for p in reversed(made):
            if os.path.isdir(p):
                os.rmdir(p)


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def wait_for_init(client):
    """The init (waiting to be started) of the start process of a client
    still running, and its container's ID (from its cgroup)."""
    deadline = time.monotonic() + 30
    while True:
        assert client.poll() is None, "the client ended: %s" % client.returncode
        assert time.monotonic() < deadline, "the start never created the container"
        for start in children(client.pid):
            inits = [c for c in children(start) if comm(c) == "berth-init"]
            if inits:
                with open("/proc/%d/cgroup" % inits[0]) as f:
                    cid = re.search(r"/berth/([0-9a-f]{64})", f.read()).group(1)
                return inits[0], cid
        time.sleep(0.002)


def test_start_begun_early_undone_when_client_dies(bb):
    """run begins the start before its record is committed: the start
    process mounts the root and creates the container while the record's
    transaction runs, and waits for the word that it is committed. With the
    database locked the client cannot commit; killed then, its start
    process sees it gone and undoes everything: no record, no process, no
    cgroup, no runtime state."""
    bb.run("ps", "-a")  # the tables made (that needs the write lock)
    db = sqlite3.connect(os.path.join(bb.root, "berth.db"), timeout=10, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    p = subprocess.Popen(bb.cmd("run", "-d", "--network", "none", "busybox", "sleep", "100"),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    init = None
    try:
        init, cid = wait_for_init(p)
        p.kill()
        p.communicate()
    finally:
        db.execute("ROLLBACK")
        db.close()
        if p.poll() is None:
            p.kill()
            p.wait()
    assert wait_for(lambda: not os.path.exists("/proc/%d" % init)), "the init lives on"
    assert bb.out("ps", "-aq", "--no-trunc").split() == []
    assert wait_for(lambda: cgroups(cid) == [])
    assert not os.path.exists(os.path.join(bb.runroot, "runtime", cid))


def test_start_begun_early_undone_on_name_conflict(bb):
    """The name is taken: the record is never committed, and the start that
    began meanwhile is undone before run reports the conflict."""
    bb.run("create", "--name", "taken", "busybox", "true")
    p, ids = made_cgroups(bb, "run", "-d", "--network", "none", "--name", "taken",
                          "busybox", "sleep", "100")
    assert p.returncode == 125, p.stderr
    assert 'The container name "/taken" is already in use' in p.stderr
    (cid,) = ids
    assert cgroups(cid) == []
    assert not os.path.exists(os.path.join(bb.runroot, "runtime", cid))
    assert not os.path.exists(os.path.join(bb.runroot, "containers", cid))
    assert not os.path.exists(os.path.join(bb.root, "containers", cid))
    assert len(bb.out("ps", "-aq").split()) == 1


def container_dirs(b):
    d = os.path.join(b.root, "containers")
    return sorted(x for x in os.listdir(d) if not x.startswith("."))


def test_run_guess_follows_a_moved_tag(bb, busybox_rootfs_tar):
    """run's start process, forked before the store opens, starts from the
    image the last run of the same name resolved to (root/image-refs) while
    the client resolves it in the database: a tag moved since to another
    image must give the new image's container, not the guessed one, and a
    wrong guess leaves nothing behind."""
    bb.run("import", "-c", 'CMD ["echo", "first image"]', busybox_rootfs_tar, "moving:1")
    assert bb.out("run", "--rm", "--network", "none", "moving:1").strip() == "first image"
    refs = os.listdir(os.path.join(bb.root, "image-refs"))
    assert refs, "the run kept no guess for its image name"
    bb.run("import", "-c", 'CMD ["echo", "second image"]', busybox_rootfs_tar, "moving:1")
    p, ids = made_cgroups(bb, "run", "--rm", "--network", "none", "moving:1")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "second image"
    # the guessed start and the one from the record: both cgroups gone
    assert len(ids) >= 1
    for cid in ids:
        assert cgroups(cid) == []
    assert container_dirs(bb) == []
    # the guess now names the new image: right at once
    assert bb.out("run", "--rm", "--network", "none", "moving:1").strip() == "second image"
    # a guess that cannot be read is no guess
    for r in os.listdir(os.path.join(bb.root, "image-refs")):
        with open(os.path.join(bb.root, "image-refs", r), "w") as f:
            f.write("{not json")
    assert bb.out("run", "--rm", "--network", "none", "moving:1").strip() == "second image"
    # and one that names a deleted image is deleted with it
    assert len(os.listdir(os.path.join(bb.root, "image-refs"))) == 1
    bb.run("rmi", "moving:1")
    assert os.listdir(os.path.join(bb.root, "image-refs")) == []


def test_run_guess_undone_when_the_client_fails(bb):
    """The start process starts from its guess before the client has
    resolved the image. When the client then finds a name in use, or is
    killed before it sends its record (here while it pulls the image the
    name no longer names), the start process undoes the container it made:
    no process, cgroup, directory or record stays."""
    bb.run("create", "--name", "taken", "busybox", "true")
    bb.run("run", "--rm", "--network", "none", "busybox", "true")
    p, ids = made_cgroups(bb, "run", "--rm", "--name", "taken", "--network", "none",
                          "busybox", "true")
    assert p.returncode == 125 and "is already in use" in p.stderr, p.stderr
    assert len(ids) == 1
    cid = ids.pop()
    assert wait_for(lambda: cgroups(cid) == [])
    assert container_dirs(bb) == [bb.out("inspect", "-f", "{{.Id}}", "taken").strip()]
    assert not os.path.exists(os.path.join(bb.runroot, "containers", cid))

    # a registry that accepts and never answers: the pull hangs
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    name = "127.0.0.1:%d/hang:1" % srv.getsockname()[1]
    try:
        bb.run("tag", "busybox", name)
        bb.run("run", "--rm", "--network", "none", name, "true")  # the guess kept
        bb.run("rmi", name)  # untagged: busybox keeps the layers
        # (no pipes: the pull, a child of the client, outlives it)
        c = subprocess.Popen(bb.cmd("run", "--rm", "--network", "none", name, "true"),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        init, cid = wait_for_init(c)
        c.kill()
        c.wait()
        assert wait_for(lambda: not os.path.exists("/proc/%d" % init)), "the init lives on"
        assert wait_for(lambda: cgroups(cid) == [])
        assert wait_for(lambda: len(container_dirs(bb)) == 1)
        assert not os.path.exists(os.path.join(bb.runroot, "containers", cid))
        assert bb.out("ps", "-aq", "--no-trunc").split() == [container_dirs(bb)[0]]
    finally:
        srv.close()


def test_prune_sweeps_orphaned_directories(bb):
    """A `run` killed after making its container directory and before its
    record leaves a directory of no container: `container prune` removes
    it once it is a minute old, never a younger one (a start in progress)
    nor one of a container; and run directories with neither a record nor
    a container directory."""
    live = bb.out("run", "-d", "--network", "none", "busybox", "sleep", "100").strip()
    old_id, new_id, run_id = (os.urandom(32).hex() for _ in range(3))
    base = os.path.join(bb.root, "containers")
    for cid in (old_id, new_id):
        os.makedirs(os.path.join(base, cid, "upper", "etc"))
        with open(os.path.join(base, cid, "upper", "etc", "f"), "w") as f:
            f.write("x")
    aged = time.time() - 120
    for cid in (old_id, live):
        os.utime(os.path.join(base, cid), (aged, aged))
    os.makedirs(os.path.join(bb.runroot, "containers", run_id))
    bb.run("container", "prune", "-f")
    assert not os.path.exists(os.path.join(base, old_id))
    assert os.path.isdir(os.path.join(base, new_id))
    assert os.path.isdir(os.path.join(base, live))
    assert not os.path.exists(os.path.join(bb.runroot, "containers", run_id))
    assert os.path.isdir(os.path.join(bb.runroot, "containers", live))
    assert bb.out("inspect", "-f", "{{.State.Status}}", live).strip() == "running"
    shutil.rmtree(os.path.join(base, new_id))
