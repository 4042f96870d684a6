"""berth import / images / tag / rmi / inspect / history / prune."""
import json
import os
import re
import subprocess

import pytest

from conftest import BERTH


def ids(berth, *args):
    return berth.out("images", "-q", *args).split()


def test_import_busybox_like_readme(busybox):
    out = busybox.out("images")
    lines = out.splitlines()
    assert re.match(r"^REPOSITORY\s{3,}TAG\s{3,}IMAGE ID\s{3,}CREATED\s{3,}SIZE$", lines[0])
    assert lines[1].split()[:2] == ["busybox", "latest"]
    assert re.fullmatch(r"[0-9a-f]{12}", lines[1].split()[2])
    info = json.loads(busybox.out("image", "inspect", "busybox"))
    assert len(info) == 1
    img = info[0]
    assert img["RepoTags"] == ["busybox:latest"]
    assert img["Config"]["Cmd"] == ["/bin/sh"]
    assert img["Comment"] == "Imported from -"
    assert img["RootFS"]["Type"] == "layers" and len(img["RootFS"]["Layers"]) == 1
    assert img["GraphDriver"]["Name"] == "overlay2"
    upper = img["GraphDriver"]["Data"]["UpperDir"]
    assert os.path.isfile(os.path.join(upper, "bin", "busybox"))
    assert oct(os.stat(os.path.join(upper, "tmp")).st_mode & 0o7777) == "0o1777"
    # the ID is the sha256 of the stored config
    cfg_blob = os.path.join(busybox.root, "blobs", "sha256", img["Id"][7:])
    import hashlib
    with open(cfg_blob, "rb") as f:
        assert "sha256:" + hashlib.sha256(f.read()).hexdigest() == img["Id"]
    # the layer tar blob is kept under its diff ID
    assert os.path.isfile(os.path.join(busybox.root, "blobs", "sha256",
                                       img["RootFS"]["Layers"][0][7:]))


def test_import_changes_and_message(berth, busybox_rootfs_tar):
    out = berth.out("import", "-c", "ENV A=1 B=two", "-c", "ENTRYPOINT /bin/sh",
                    "-c", "WORKDIR /srv", "-c", "EXPOSE 8080", "-c", "USER nobody",
                    "-c", 'LABEL x=y "z=w v"', "-c", 'VOLUME ["/data"]',
                    "-c", "STOPSIGNAL SIGTERM", "-c", "ONBUILD RUN true",
                    "-m", "hello msg", busybox_rootfs_tar, "my/img:v1")
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", out)
    img = json.loads(berth.out("image", "inspect", "my/img:v1"))[0]
    c = img["Config"]
    assert c["Env"] == ["A=1", "B=two"]
    assert c["Entrypoint"] == ["/bin/sh", "-c", "/bin/sh"]
    assert c["WorkingDir"] == "/srv"
    assert c["ExposedPorts"] == {"8080/tcp": {}}
    assert c["User"] == "nobody"
    assert c["Labels"] == {"x": "y", "z": "w v"}
    assert c["Volumes"] == {"/data": {}}
    assert c["StopSignal"] == "SIGTERM"
    assert c["OnBuild"] == ["RUN true"]
    assert img["Comment"] == "hello msg"
    assert img["Id"] == out.strip()
    hist = berth.out("history", "--no-trunc", "--format", "{{.Comment}}", "my/img:v1")
    assert hist.strip() == "hello msg"


def test_import_stdin_and_bad_change(berth, busybox_rootfs_tar):
    with open(busybox_rootfs_tar, "rb") as f:
        data = f.read()
    out = berth.out("import", "-", "stdin:1", input=data)
    assert out.startswith("sha256:")
    p = berth.run("import", "-c", "FROB x", busybox_rootfs_tar, check=False)
    assert p.returncode != 0
    assert p.stderr.decode().startswith("Error: ")
    assert len(p.stderr.decode().strip().splitlines()) == 1
    assert ids(berth) == [out.strip()[7:19]]


def test_import_not_a_tar_leaves_store_unchanged(berth, tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"this is not a tar archive at all" * 100)
    p = berth.run("import", str(bad), "x:1", check=False)
    assert p.returncode == 125
    err = p.stderr.decode()
    assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1
    assert ids(berth) == []
    assert os.listdir(os.path.join(berth.root, "layers")) == []
    assert os.listdir(os.path.join(berth.root, "blobs", "sha256")) == []
    assert os.listdir(os.path.join(berth.root, "tmp")) == []


def test_tag_rmi_rules(busybox):
    b = busybox
    iid = ids(b)[0]
    b.run("tag", "busybox", "foo/bar:1")
    b.run("tag", iid, "localhost:5000/x")
    rows = sorted(b.out("images", "--format", "{{.Repository}}:{{.Tag}}").split())
    assert rows == ["busybox:latest", "foo/bar:1", "localhost:5000/x:latest"]
    # ID with several repositories: refused without -f
    p = b.run("rmi", iid, check=False)
    assert p.returncode == 1
    assert "image is referenced in multiple repositories" in p.stderr.decode()
    assert "(must be forced)" in p.stderr.decode()
    # a name untags only
    assert b.out("rmi", "foo/bar:1") == "Untagged: foo/bar:1\n"
    assert b.out("rmi", "localhost:5000/x") == "Untagged: localhost:5000/x:latest\n"
    assert ids(b) == [iid]
    # last tag by name removes the image and its layer
    out = b.out("rmi", "busybox")
    lines = out.splitlines()
    assert lines[0] == "Untagged: busybox:latest"
    assert lines[1].startswith("Deleted: sha256:" + iid)
    assert len(lines) == 3 and lines[2].startswith("Deleted: sha256:")
    assert ids(b, "-a") == []
    assert os.listdir(os.path.join(b.root, "layers")) == []
    assert os.listdir(os.path.join(b.root, "blobs", "sha256")) == []


def test_rmi_force_and_missing(busybox):
    b = busybox
    iid = ids(b)[0]
    b.run("tag", "busybox", "other:2")
    out = b.out("rmi", "-f", iid)
    assert "Untagged: busybox:latest" in out and "Untagged: other:2" in out
    assert "Deleted: sha256:" + iid in out
    p = b.run("rmi", "nosuch", check=False)
    assert p.returncode == 1
    assert p.stderr.decode() == "Error: No such image: nosuch:latest\n"


def test_inspect_missing_and_format(busybox):
    b = busybox
    p = b.run("image", "inspect", "nosuch", check=False)
    assert p.returncode == 1
    assert p.stdout.decode().strip() == "[]"
    assert p.stderr.decode() == "Error: No such image: nosuch\n"
    iid = json.loads(b.out("image", "inspect", "busybox"))[0]["Id"]
    assert b.out("image", "inspect", "-f", "{{.Id}}", "busybox") == iid + "\n"
    assert b.out("image", "inspect", "-f", "{{.Config.Cmd}}", "busybox") == "[/bin/sh]\n"
    assert b.out("image", "inspect", "-f", "{{json .Config.Cmd}}", "busybox") == '["/bin/sh"]\n'
    assert b.out("image", "inspect", "-f", "{{index .RepoTags 0}}", iid[7:19]) == "busybox:latest\n"
    # resolution: short ID, sha256: prefix, full ID, name:tag
    for name in (iid[7:10], iid[:15], iid, iid[7:], "busybox:latest", "docker.io/library/busybox"):
        assert b.out("image", "inspect", "-f", "{{.Id}}", name) == iid + "\n", name


def test_images_flags_and_filters(berth, busybox_rootfs_tar):
    b = berth
    a = b.out("import", "-c", "LABEL tier=a", busybox_rootfs_tar, "app/one:1").strip()
    c = b.out("import", "-c", "LABEL tier=c", "-m", "two", busybox_rootfs_tar, "app/two:2").strip()
    d = b.out("import", "-m", "three", busybox_rootfs_tar).strip()  # dangling
    short = lambda x: x[7:19]
    assert sorted(ids(b)) == sorted({short(a), short(c), short(d)})
    assert ids(b, "--filter", "dangling=true") == [short(d)]
    assert sorted(ids(b, "--filter", "dangling=false")) == sorted([short(a), short(c)])
    assert ids(b, "--filter", "reference=app/one") == [short(a)]
    assert sorted(ids(b, "--filter", "reference=app/*")) == sorted([short(a), short(c)])
    assert ids(b, "--filter", "label=tier=c") == [short(c)]
    assert ids(b, "--filter", "label=tier=zz") == []
    assert ids(b, "app/two") == [short(c)]
    assert ids(b, "--no-trunc", "app/two") == [c]
    rows = b.out("images", "--format", "table {{.Repository}}\t{{.Tag}}", "app/one").splitlines()
    assert re.match(r"^REPOSITORY\s+TAG$", rows[0]) and rows[1].split() == ["app/one", "1"]
    j = [json.loads(x) for x in b.out("images", "--format", "json").splitlines()]
    assert {x["Repository"] for x in j} == {"app/one", "app/two", "<none>"}
    assert all(x["CreatedSince"].endswith("ago") for x in j)
    dig = b.out("images", "--digests", "app/one").splitlines()
    assert "DIGEST" in dig[0] and "<none>" in dig[1]
    p = b.run("images", "--filter", "bogus=1", check=False)
    assert p.returncode != 0 and p.stderr.decode().startswith("Error: ")


def test_history_output(busybox):
    b = busybox
    out = b.out("history", "busybox").splitlines()
    assert re.match(r"^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$", out[0])
    assert "Imported from -" in out[1] and "ago" in out[1]
    raw = b.out("history", "-H=false", "--format", "{{.Size}} {{.CreatedSince}}", "busybox")
    size, created = raw.split()
    assert int(size) > 1000000
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", created)
    assert len(b.out("history", "-q", "busybox").split()) == 1
    p = b.run("history", "nosuch", check=False)
    assert p.returncode == 1 and p.stderr.decode() == "Error: No such image: nosuch\n"


def test_image_prune(berth, busybox_rootfs_tar):
    b = berth
    b.out("import", busybox_rootfs_tar, "keep:1")
    d = b.out("import", "-m", "dangling", busybox_rootfs_tar).strip()
    out = b.out("image", "prune", "-f")
    assert out.startswith("Deleted Images:\ndeleted: " + d)
    assert "Total reclaimed space:" in out
    assert b.out("images", "--format", "{{.Repository}}").split() == ["keep"]
    assert b.out("image", "prune", "-f") == "Total reclaimed space: 0B\n"
    out = b.out("image", "prune", "-a", "-f")
    assert "untagged: keep:1" in out
    assert ids(b, "-a") == []
    assert os.listdir(os.path.join(b.root, "layers")) == []


def test_system_df_and_info(busybox):
    b = busybox
    out = b.out("system", "df").splitlines()
    assert re.match(r"^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$", out[0])
    assert out[1].split()[:3] == ["Images", "1", "0"]
    assert out[1].endswith("(100%)")
    v = b.out("system", "df", "-v")
    assert "Images space usage:" in v and "busybox" in v
    j = json.loads(b.out("system", "df", "--format", "{{json .}}").splitlines()[0])
    assert j["Type"] == "Images" and j["TotalCount"] == "1"
    assert b.out("info", "--format", "{{.Images}}") == "1\n"
    assert "Storage Driver: overlay2" in b.out("info")
    assert b.out("image", "ls", "-q") == b.out("images", "-q")


def test_one_binary_no_second_exec(busybox):
    """`berth` is one binary: a command runs in the process that was
    started (no launcher exec'ing an engine), `berth runtime` included, and
    no helper binary sits next to it."""
    glob = ["--root", busybox.root, "--runroot", busybox.runroot]
    d = os.path.dirname(BERTH)
    assert not os.path.exists(os.path.join(d, "berth-engine"))
    assert not os.path.exists(os.path.join(d, "berth-ctr"))
    # (LeakSanitizer cannot run under ptrace in the ASan build)
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    for args in (["images"], ["image", "inspect", "-f", "{{.Id}}", "busybox"],
                 ["image", "tag", "busybox", "t:1"], ["runtime", "--root", busybox.runroot + "/rt",
                                                       "list"]):
        p = subprocess.run(["strace", "-f", "-e", "trace=execve", BERTH] + glob + args,
                           capture_output=True, text=True, env=env)
        assert p.returncode == 0, (args, p.stderr)
        execs = [line for line in p.stderr.splitlines() if "execve(" in line]
        assert len(execs) == 1 and BERTH in execs[0], (args, execs)
    assert busybox.out("images", "--format", "{{.Repository}}:{{.Tag}}", "t") == "t:1\n"


def test_intermediate_images_only_with_all(busybox, tmp_path):
    """A build's untagged step images are parents of the next step: `images`
    leaves them out (also with dangling=true), `images -a` lists them."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nLABEL a=1\nLABEL b=2\n")
    busybox.run("build", "-q", "-t", "fin:1", str(ctx))
    fmt = ["--format", "{{.Repository}}:{{.Tag}}"]
    assert sorted(busybox.out("images", *fmt).split()) == ["busybox:latest", "fin:1"]
    every = busybox.out("images", "-a", *fmt).split()
    assert sorted(every) == ["<none>:<none>", "busybox:latest", "fin:1"]
    assert busybox.out("images", "-q", "--filter", "dangling=true") == ""
    assert len(busybox.out("images", "-a", "-q", "--filter", "dangling=true").split()) == 1
    parent = busybox.out("image", "inspect", "-f", "{{.Parent}}", "fin:1").strip()
    assert busybox.out("images", "-a", "-q", "--no-trunc", "--filter",
                       "dangling=true").strip() == parent
