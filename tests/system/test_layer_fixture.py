"""Layer apply and diff against the real image archives in shared/fixtures
(written by Docker and skopeo): digests, the unpacked result seen through
an overlay mount, and byte-compatibility of layer diff with Docker's tars."""
import hashlib
import json
import os
import subprocess
import tarfile

import pytest

from conftest import BERTH, FIXTURES, require_root


def apply(src, dest):
    p = subprocess.run([BERTH, "__layer-apply", str(src), str(dest)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


@pytest.fixture(scope="module")
def docker_save(tmp_path_factory):
    """fixture/layers:1 as Docker saved it: (dir, config, [layer.tar paths])."""
    d = tmp_path_factory.mktemp("layers-save")
    with tarfile.open(os.path.join(FIXTURES, "layers-docker-save.tar")) as t:
        t.extractall(d)
    manifest = json.loads((d / "manifest.json").read_text())[0]
    config = json.loads((d / manifest["Config"]).read_text())
    return d, config, [d / l for l in manifest["Layers"]]


def test_fixture_layers_diff_ids_and_overlay(docker_save, tmp_path):
    require_root()
    _, config, layers = docker_save
    assert len(layers) == 6
    dirs = []
    for i, l in enumerate(layers):
        res = apply(l, tmp_path / str(i))
        # uncompressed: digest and diff ID are the tar's sha256, as in the config
        assert res["diff_id"] == config["rootfs"]["diff_ids"][i] == sha256_file(l)
        assert res["digest"] == res["diff_id"]
        dirs.append(str(tmp_path / str(i)))
    # the whiteouts and the opaque dir in their lower-dir form
    wh = os.lstat(tmp_path / "2" / "data" / "b")
    assert (wh.st_mode & 0o170000, os.major(wh.st_rdev), os.minor(wh.st_rdev)) == \
        (0o020000, 0, 0)
    assert os.getxattr(tmp_path / "3" / "data", "trusted.overlay.opaque") == b"y"
    assert not os.path.lexists(tmp_path / "3" / "data" / ".wh..wh..opq")

    mnt = tmp_path / "mnt"
    mnt.mkdir()
    lower = ":".join(reversed(dirs))
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o", "lowerdir=" + lower, str(mnt)],
                   check=True, capture_output=True)
    try:
        data = mnt / "data"
        assert sorted(os.listdir(data)) == ["hard", "only", "owned", "soft", "suid"]
        for gone in ("a", "b", "c", "sub"):
            assert not os.path.lexists(data / gone)
        hard, only = os.lstat(data / "hard"), os.lstat(data / "only")
        assert hard.st_ino == only.st_ino and hard.st_nlink == 2
        assert (hard.st_mode & 0o7777, hard.st_uid, hard.st_gid) == (0o644, 0, 0)
        assert (data / "only").read_text() == "new\n"
        assert os.readlink(data / "soft") == "only"
        assert (data / "soft").read_text() == "new\n"
        suid = os.lstat(data / "suid")
        assert (suid.st_mode & 0o7777, suid.st_uid, suid.st_gid) == (0o4755, 0, 0)
        assert (data / "suid").read_text() == "suid\n"
        owned = os.lstat(data / "owned")
        assert (owned.st_mode & 0o7777, owned.st_uid, owned.st_gid) == (0o644, 1000, 1000)
        assert (data / "owned").read_text() == "owned\n"
        assert os.stat(mnt / "tmp").st_mode & 0o7777 == 0o1777
        assert os.readlink(mnt / "bin" / "sh") == "/bin/busybox"
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_fixture_oci_gzip_layers(tmp_path):
    """skopeo's gzip layers: digest = the blob's name, diff ID = the config's."""
    require_root()
    d = tmp_path / "oci"
    with tarfile.open(os.path.join(FIXTURES, "layers-oci-archive.tar")) as t:
        t.extractall(d)

    def blob(desc):
        return d / "blobs" / "sha256" / desc["digest"].split(":", 1)[1]

    index = json.loads((d / "index.json").read_text())
    manifest = json.loads(blob(index["manifests"][0]).read_text())
    config = json.loads(blob(manifest["config"]).read_text())
    assert len(manifest["layers"]) == 6
    for i, desc in enumerate(manifest["layers"]):
        assert desc["mediaType"].endswith("tar+gzip")
        res = apply(blob(desc), tmp_path / ("l%d" % i))
        assert res["digest"] == desc["digest"] == sha256_file(blob(desc))
        assert res["diff_id"] == config["rootfs"]["diff_ids"][i]
        assert res["digest"] != res["diff_id"]


def docker_normalised(data):
    """A Docker (Go archive/tar) layer tar with empty uname/gname, as berth
    writes them; also drops the link name Docker leaves on a whiteout that
    overlayfs had hard-linked to another one (moby copies it over)."""
    out = bytearray(data)
    off = 0
    while off + 512 <= len(out):
        blk = out[off:off + 512]
        if blk == bytes(512):
            break
        size = int(blk[124:136].rstrip(b"\0 ") or b"0", 8)
        out[off + 265:off + 329] = bytes(64)
        name = blk[0:100].rstrip(b"\0")
        if blk[156:157] == b"0" and b".wh." in name:
            out[off + 157:off + 257] = bytes(100)
        chk = out[off:off + 512]
        chk[148:156] = b" " * 8
        out[off + 148:off + 156] = b"%06o\0 " % sum(chk)
        off += 512
        if blk[156:157] in (b"0", b"\0", b"x", b"L", b"K"):
            off += (size + 511) // 512 * 512
    return bytes(out)


def test_layer_diff_reproduces_docker_tars(docker_save, tmp_path):
    """Apply each Dockerfile layer of the fixture and diff it back with
    overlay whiteouts: the bytes are Docker's (up to uname/gname). Layer 0
    came from `docker import` (names with "./") and is not one Docker wrote."""
    require_root()
    _, _, layers = docker_save
    for i, l in enumerate(layers[1:], 1):
        dest = tmp_path / str(i)
        apply(l, dest)
        p = subprocess.run([BERTH, "__layer-diff", "--whiteouts", str(dest)],
                           capture_output=True, timeout=60)
        assert p.returncode == 0, p.stderr
        res = json.loads(p.stderr)
        assert res["diff_id"] == "sha256:" + hashlib.sha256(p.stdout).hexdigest()
        with open(l, "rb") as fh:
            want = docker_normalised(fh.read())
        assert p.stdout == want, "layer %d differs from Docker's tar" % i
        # and re-applying our tar then diffing it gives the same bytes again
        again = tmp_path / ("again%d" % i)
        src = tmp_path / ("ours%d.tar" % i)
        src.write_bytes(p.stdout)
        assert apply(src, again)["diff_id"] == res["diff_id"]
        p2 = subprocess.run([BERTH, "__layer-diff", "--whiteouts", str(again)],
                            capture_output=True, timeout=60)
        assert p2.returncode == 0 and p2.stdout == p.stdout
