"""The image commands as a Docker user sees them: help texts, prune filters,
system df -v shared sizes, history columns and version templates."""
import json
import os
import re
import time

import pytest

from conftest import BERTH, FIXTURES

LAYERS_ID = "sha256:c625e13fa27f020ff66923ed2d6779c09d01e5d75e9e8ee472fa81c9e9bf0aa1"
BUSYBOX_ID = "sha256:d2cdb43fdcb782df1479598f40621cffd4d3f40cc71156951445bef5c70634b1"

# command -> (usage line, flags its help must list)
HELP = {
    ("import",): ("Usage:  berth import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                  ["-c, --change list", "-m, --message string", "--platform string"]),
    ("image", "import"): ("Usage:  berth import [OPTIONS] file|URL|- [REPOSITORY[:TAG]]",
                          ["-c, --change list"]),
    ("load",): ("Usage:  berth load [OPTIONS]", ["-i, --input string", "-q, --quiet"]),
    ("save",): ("Usage:  berth save [OPTIONS] IMAGE [IMAGE...]", ["-o, --output string"]),
    ("images",): ("Usage:  berth images [OPTIONS] [REPOSITORY[:TAG]]",
                  ["-a, --all", "--digests", "-f, --filter filter", "--format string",
                   "--no-trunc", "-q, --quiet"]),
    ("image", "ls"): ("Usage:  berth images [OPTIONS] [REPOSITORY[:TAG]]", ["-a, --all"]),
    ("image", "list"): ("Usage:  berth images [OPTIONS] [REPOSITORY[:TAG]]", ["-a, --all"]),
    ("tag",): ("Usage:  berth tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", []),
    ("rmi",): ("Usage:  berth rmi [OPTIONS] IMAGE [IMAGE...]", ["-f, --force", "--no-prune"]),
    ("image", "rm"): ("Usage:  berth rmi [OPTIONS] IMAGE [IMAGE...]", ["-f, --force"]),
    ("image", "remove"): ("Usage:  berth rmi [OPTIONS] IMAGE [IMAGE...]", ["-f, --force"]),
    ("image", "inspect"): ("Usage:  berth image inspect [OPTIONS] IMAGE [IMAGE...]",
                           ["-f, --format string"]),
    ("history",): ("Usage:  berth history [OPTIONS] IMAGE",
                   ["--format string", "-H, --human", "--no-trunc", "-q, --quiet"]),
    ("image", "history"): ("Usage:  berth history [OPTIONS] IMAGE", ["-H, --human"]),
    ("image", "prune"): ("Usage:  berth image prune [OPTIONS]",
                         ["-a, --all", "--filter filter", "-f, --force"]),
    ("system", "df"): ("Usage:  berth system df [OPTIONS]", ["--format string", "-v, --verbose"]),
    ("info",): ("Usage:  berth info [OPTIONS]", ["-f, --format string"]),
    ("system", "info"): ("Usage:  berth info [OPTIONS]", ["-f, --format string"]),
    ("version",): ("Usage:  berth version [OPTIONS]", ["-f, --format string"]),
}


@pytest.mark.parametrize("cmd", sorted(HELP), ids=lambda c: "-".join(c))
def test_help_lists_docker_flags(berth, cmd):
    usage, flags = HELP[cmd]
    for h in ("--help", "-h"):
        p = berth.run(*cmd, h)
        out = p.stdout.decode()
        assert out.splitlines()[0] == usage, (h, out)
        for f in flags:
            assert re.search(r"^\s+" + re.escape(f) + r"(\s|$)", out, re.M), (h, f, out)
        assert p.stderr == b""
    # an unknown flag is a usage error: exit 125, nothing on stdout
    p = berth.run(*cmd, "--no-such-flag", check=False)
    assert p.returncode == 125, cmd
    assert p.stdout == b"" and b"--help" in p.stderr


def test_image_group_help_describes_subcommands(berth):
    out = berth.out("image", "--help")
    for sub, text in (("ls", "List images"), ("prune", "Remove unused images"),
                      ("rm", "Remove one or more images"), ("import", "Import the contents")):
        assert re.search(r"^  %s\s+%s" % (sub, text), out, re.M), (sub, out)


def short(i):
    return i[7:19]


def test_image_prune_filters(berth, busybox_rootfs_tar):
    b = berth
    ids = {}
    for name, change in (("a1", "LABEL tier=a"), ("b", "LABEL tier=b"),
                         ("keep", "LABEL keep=yes"), ("plain", "ENV X=1")):
        ids[name] = b.out("import", "-c", change, "-m", name, busybox_rootfs_tar).strip()
    tagged = b.out("import", "-c", "LABEL tier=a", "-m", "tagged", busybox_rootfs_tar,
                   "kept:1").strip()
    listed = lambda: set(b.out("images", "-q", "-a", "--no-trunc").split())
    assert listed() == set(ids.values()) | {tagged}
    # label=KEY=VALUE: only dangling images that carry it
    out = b.out("image", "prune", "-f", "--filter", "label=tier=a")
    assert out == "Deleted Images:\ndeleted: %s\n\nTotal reclaimed space: 0B\n" % ids["a1"]
    assert tagged in listed()
    # label!=KEY: every dangling image without the label
    out = b.out("image", "prune", "-f", "--filter", "label!=keep")
    deleted = re.findall(r"^deleted: (sha256:[0-9a-f]{64})$", out, re.M)
    assert sorted(deleted) == sorted([ids["b"], ids["plain"]])
    assert listed() == {ids["keep"], tagged}
    # until= a time before the images were made prunes nothing; a duration ago neither
    for until in ("2000-01-01", "2000-01-01T00:00:00Z", "946684800", "1h"):
        assert b.out("image", "prune", "-f", "-a", "--filter", "until=" + until) == \
            "Total reclaimed space: 0B\n", until
    assert listed() == {ids["keep"], tagged}
    # -a with label: the tagged image is untagged and deleted, the other stays
    out = b.out("image", "prune", "-a", "-f", "--filter", "label=tier")
    assert out.startswith("Deleted Images:\nuntagged: kept:1\ndeleted: " + tagged + "\n")
    assert listed() == {ids["keep"]}
    # until= a moment in the future prunes it; the last layer goes with it
    time.sleep(1.1)
    out = b.out("image", "prune", "-f", "--filter", "until=%d" % (int(time.time()) + 60))
    assert "deleted: " + ids["keep"] in out
    assert re.search(r"^Total reclaimed space: 1\.\d+MB$", out, re.M), out
    assert listed() == set()
    assert os.listdir(os.path.join(b.root, "layers")) == []


def test_image_prune_filter_errors(berth, busybox_rootfs_tar):
    iid = berth.out("import", busybox_rootfs_tar).strip()
    for f, msg in (("bogus=1", "invalid filter 'bogus'"),
                   ("until=yesterday", "failed to parse value as time or duration"),
                   ("noequals", "bad format of filter"),
                   ("dangling=maybe", "invalid filter 'dangling=maybe'")):
        p = berth.run("image", "prune", "-f", "--filter", f, check=False)
        err = p.stderr.decode()
        assert p.returncode == 125, f
        assert err.startswith("Error: ") and msg in err and len(err.splitlines()) == 1, (f, err)
        assert p.stdout == b""
    p = berth.run("image", "prune", "-f", "--filter", "until=1h", "--filter", "until=2h",
                  check=False)
    assert p.returncode == 125 and b"more than one until filter" in p.stderr
    p = berth.run("image", "prune", "-f", "extra", check=False)
    assert p.returncode == 125 and b"accepts no arguments" in p.stderr
    assert berth.out("images", "-q", "--no-trunc") == iid + "\n"
    # dangling=false is the same as -a (Docker's CLI adds dangling=true itself)
    out = berth.out("image", "prune", "-f", "--filter", "dangling=false")
    assert "deleted: " + iid in out


def test_image_prune_prompt(berth, busybox_rootfs_tar):
    iid = berth.out("import", busybox_rootfs_tar).strip()
    p = berth.run("image", "prune", input=b"n\n")
    assert p.stdout.decode() == ("WARNING! This will remove all dangling images.\n"
                                 "Are you sure you want to continue? [y/N] ")
    assert berth.out("images", "-q", "--no-trunc") == iid + "\n"
    p = berth.run("image", "prune", "-a", input=b"y\n")
    out = p.stdout.decode()
    assert out.startswith("WARNING! This will remove all images without at least one "
                          "container associated to them.\n")
    assert "deleted: " + iid in out
    assert berth.out("images", "-q") == ""


def test_system_df_verbose_shared_size(berth):
    b = berth
    b.run("load", "-i", os.path.join(FIXTURES, "two-images-docker-save.tar"))
    layers = json.loads(b.out("image", "inspect", "fixture/layers:1"))[0]
    bb = json.loads(b.out("image", "inspect", "busybox"))[0]
    assert bb["Size"] == 1982296
    out = b.out("system", "df", "-v")
    lines = out.splitlines()
    assert lines[0] == "Images space usage:"
    hdr = lines[2]
    assert re.match(r"^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\s+SHARED SIZE\s+"
                    r"UNIQUE SIZE\s+CONTAINERS$", hdr)
    rows = {l.split()[0]: l.split() for l in lines[3:5]}
    # REPO TAG ID CREATED(3 words) SIZE SHARED UNIQUE CONTAINERS
    assert rows["busybox"][-4:] == ["1.98MB", "1.98MB", "0B", "0"]
    assert rows["busybox"][2] == short(BUSYBOX_ID)
    unique = layers["Size"] - bb["Size"]
    assert rows["fixture/layers"][-4:] == ["1.98MB", "1.98MB", "%dB" % unique, "0"]
    assert rows["fixture/layers"][2] == short(LAYERS_ID)
    # the summary counts the shared layer once
    summary = b.out("system", "df").splitlines()[1].split()
    assert summary[:3] == ["Images", "2", "0"]
    assert summary[3] == "%.4gMB" % (layers["Size"] / 1e6)
    # a single image shares nothing
    b.run("rmi", "fixture/layers:1")
    row = [l for l in b.out("system", "df", "-v").splitlines() if l.startswith("busybox")][0]
    assert row.split()[-4:] == ["1.98MB", "0B", "1.98MB", "0"]


def test_history_columns_and_human_flag(berth):
    b = berth
    b.run("load", "-i", os.path.join(FIXTURES, "layers-docker-save.tar"))
    img = json.loads(b.out("image", "inspect", "fixture/layers:1"))[0]
    rows = [json.loads(l) for l in
            b.out("history", "--format", "{{json .}}", "fixture/layers:1").splitlines()]
    assert len(rows) == 13
    assert set(rows[0]) == {"Comment", "CreatedAt", "CreatedBy", "CreatedSince", "ID", "Size"}
    assert rows[0]["ID"] == short(LAYERS_ID)
    assert all(r["ID"] == "<missing>" for r in rows[1:])
    # CreatedAt is RFC 3339 (Docker's time.RFC3339), CreatedSince human
    for r in rows:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["CreatedAt"]), r
        assert r["CreatedSince"].endswith(" ago")
    assert rows[0]["CreatedAt"] == img["Created"][:19] + "Z"
    assert rows[-1]["Comment"] == "Imported from -" and rows[-1]["Size"] == "1.98MB"
    # CreatedBy truncated to 45 runes with an ellipsis, full with --no-trunc
    long_rows = [r for r in rows if r["CreatedBy"].endswith("…")]
    assert long_rows and all(len(r["CreatedBy"]) == 45 for r in long_rows)
    full = b.out("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}",
                 "fixture/layers:1").splitlines()
    assert full[0].split("|")[0] == LAYERS_ID
    for r, f in zip(rows, full):
        by = f.split("|", 1)[1]
        if r["CreatedBy"].endswith("…"):
            assert by.startswith(r["CreatedBy"][:-1]) and len(by) > 45, (r, by)
        else:
            assert by == r["CreatedBy"]
    assert not any(l.endswith("…") for l in full)
    # -H=false, --human=false, --human=0: raw sizes and RFC 3339 under CREATED
    for flag in ("-H=false", "--human=false", "--human=0", "-H=f"):
        out = b.out("history", flag, "fixture/layers:1").splitlines()
        assert re.match(r"^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$", out[0]), flag
        assert out[-1].split()[1] == rows[-1]["CreatedAt"], flag
        assert out[-1].split()[2] == "1982296", flag
    for flag in ("-H", "-H=true", "--human", "--human=1"):
        out = b.out("history", flag, "fixture/layers:1").splitlines()
        assert out[-1].split()[-4] == "1.98MB", (flag, out[-1])
    p = b.run("history", "-H=maybe", "fixture/layers:1", check=False)
    assert p.returncode == 125 and b"ParseBool" in p.stderr
    q = b.out("history", "-q", "--no-trunc", "fixture/layers:1").splitlines()
    assert q[0] == LAYERS_ID and len(q) == 13


def test_version_templates(berth):
    v = json.loads(berth.out("version", "--format", "{{json .}}"))
    assert v["Client"]["Version"] == v["Server"]["Version"]
    assert v["Server"]["ApiVersion"] == "1.41"
    assert v["Server"]["KernelVersion"] == os.uname().release
    assert v["Server"]["Components"][0]["Name"] == "Engine"
    assert berth.out("version", "-f", "{{.Server.Os}}/{{.Client.ApiVersion}}") == "linux/1.41\n"
    assert json.loads(berth.out("version", "--format", "json")) == v
    p = berth.run("version", "-f", "{{.Server", check=False)
    assert p.returncode == 125 and p.stderr.startswith(b"Error: ")
    out = berth.out("version")
    assert out.startswith("Client:\n Version:") and "\nServer: " in out


def test_rmi_and_prune_respect_containers(busybox):
    """Docker refuses to drop the last name of an image a container uses
    (unless -f), refuses to delete it by ID while a container uses it, and
    prune -a keeps it. With -f the names go; berth keeps the image itself,
    dangling, while the container needs its layers (see report)."""
    b = busybox
    iid = b.out("image", "inspect", "-f", "{{.Id}}", "busybox").strip()
    cid = b.out("create", "--network", "none", "busybox", "echo", "still-runs").strip()
    p = b.run("rmi", "busybox", check=False)
    assert p.returncode == 1
    assert p.stderr.decode() == (
        'Error: conflict: unable to remove repository reference "busybox" (must force) - '
        "container %s is using its referenced image %s\n" % (cid[:12], iid[7:19]))
    p = b.run("rmi", iid[7:19], check=False)
    assert p.returncode == 1
    assert p.stderr.decode() == (
        "Error: conflict: unable to delete %s (must be forced) - image is being used by "
        "stopped container %s\n" % (iid[7:19], cid[:12]))
    # a second name can go: the image keeps one
    b.run("tag", "busybox", "second:1")
    assert b.out("rmi", "second:1") == "Untagged: second:1\n"
    assert b.out("image", "prune", "-a", "-f") == "Total reclaimed space: 0B\n"
    df = b.out("system", "df").splitlines()[1].split()
    assert df[:3] == ["Images", "1", "1"] and df[-2:] == ["0B", "(0%)"]
    row = [l for l in b.out("system", "df", "-v").splitlines() if l.startswith("busybox")][0]
    assert row.split()[-1] == "1"  # CONTAINERS
    # -f: untagged; the container still starts from the image's layers
    assert b.out("rmi", "-f", "busybox") == "Untagged: busybox:latest\n"
    assert b.out("images", "-a", "-q", "--no-trunc") == iid + "\n"
    p = b.run("start", "-a", cid, check=False, timeout=60)
    assert p.returncode == 0 and p.stdout == b"still-runs\n", p.stderr
    # once the container is gone the image can be deleted
    b.run("rm", cid)
    out = b.out("rmi", iid[7:19])
    assert out.splitlines()[0] == "Deleted: " + iid
    assert os.listdir(os.path.join(b.root, "layers")) == []
