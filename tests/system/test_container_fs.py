"""cp (both directions, tar streams), diff, export, top, stats, update,
pause/unpause, checked from the user's side."""
import io
import json
import tarfile
import time

import pytest


@pytest.fixture
def c(busybox):
    busybox.run("run", "-d", "--name", "fsx", "busybox", "sh", "-c",
                "echo x > /tmp/new; rm /etc/group; sleep 100")
    # the tests need the file changes made and sleep running: wait for it
    # (a fixed pause was not always enough on a loaded machine)
    deadline = time.monotonic() + 60
    while not any(line.split(None, 7)[-1] == "sleep 100"
                  for line in busybox.out("top", "fsx").splitlines()[1:]):
        assert time.monotonic() < deadline, "the container never got to its sleep"
        time.sleep(0.05)
    yield busybox
    busybox.run("rm", "-f", "fsx", check=False)


def test_diff_and_export(c):
    lines = c.out("diff", "fsx").splitlines()
    assert "A /tmp/new" in lines and "D /etc/group" in lines and "C /tmp" in lines
    data = c.run("export", "fsx").stdout
    names = tarfile.open(fileobj=io.BytesIO(data)).getnames()
    assert "tmp/new" in names and "bin/busybox" in names and "etc/group" not in names


def test_cp_both_ways_running_and_stopped(c, tmp_path):
    f = tmp_path / "h.txt"
    f.write_text("hostfile\n")
    c.run("cp", str(f), "fsx:/root/")
    assert c.out("exec", "fsx", "cat", "/root/h.txt") == "hostfile\n"
    c.run("cp", "fsx:/tmp/new", str(tmp_path))
    assert (tmp_path / "new").read_text() == "x\n"
    data = c.run("cp", "fsx:/tmp", "-").stdout
    assert "tmp/new" in tarfile.open(fileobj=io.BytesIO(data)).getnames()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("fromtar.txt")
        info.size = 3
        t.addfile(info, io.BytesIO(b"tar"))
    c.run("cp", "-", "fsx:/tmp", input=buf.getvalue())
    assert c.out("exec", "fsx", "cat", "/tmp/fromtar.txt") == "tar"
    c.run("stop", "-t", "0", "fsx")
    c.run("cp", "fsx:/tmp/new", str(tmp_path / "again"))
    assert (tmp_path / "again").read_text() == "x\n"
    c.run("cp", str(f), "fsx:/stopped.txt")
    c.run("start", "fsx")
    assert c.out("exec", "fsx", "cat", "/stopped.txt") == "hostfile\n"
    p = c.run("cp", "fsx:/nonexistent", str(tmp_path), check=False)
    assert p.returncode != 0 and b"Could not find the file" in p.stderr


def test_top_stats_update_pause(c):
    top = c.out("top", "fsx").splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and any("sleep 100" in l for l in top[1:])
    stats = c.out("stats", "--no-stream", "fsx").splitlines()
    assert stats[0].startswith("CONTAINER ID") and "fsx" in stats[1]
    c.run("update", "--memory", "64m", "--pids-limit", "30", "fsx")
    j = json.loads(c.out("inspect", "fsx"))[0]
    assert j["HostConfig"]["Memory"] == 64 * 1024 * 1024
    out = c.out("exec", "fsx", "sh", "-c",
                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max "
                "2>/dev/null || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max")
    assert out.split() == [str(64 * 1024 * 1024), "30"]
    c.run("pause", "fsx")
    assert c.out("inspect", "-f", "{{.State.Status}} {{.State.Paused}}", "fsx").strip() == \
        "paused true"
    assert "(Paused)" in c.out("ps")
    c.run("unpause", "fsx")
    assert c.out("inspect", "-f", "{{.State.Status}}", "fsx").strip() == "running"


def test_commit_new_layer_config_and_whiteouts(busybox):
    b = busybox
    b.run("run", "--name", "cm", "busybox", "sh", "-c", "echo committed > /hello; rm /etc/group")
    out = b.out("commit", "-m", "my msg", "-a", "me", "-c", 'CMD ["cat", "/hello"]', "cm",
                "myimg:v1").strip()
    assert out.startswith("sha256:")
    assert b.out("run", "--rm", "myimg:v1") == "committed\n"
    assert b.run("run", "--rm", "myimg:v1", "ls", "/etc/group", check=False).returncode != 0
    img = json.loads(b.out("image", "inspect", "myimg:v1"))[0]
    assert img["Id"] == out and img["Author"] == "me" and img["Comment"] == "my msg"
    assert img["Config"]["Cmd"] == ["cat", "/hello"]
    assert len(img["RootFS"]["Layers"]) == 2
    b.run("rm", "cm")
