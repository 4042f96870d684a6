"""berth load / save against the Docker- and skopeo-written fixtures."""
import gzip
import hashlib
import io
import json
import os
import subprocess
import tarfile

import pytest

from conftest import FIXTURES, Berth, require_root
from storeutil import blob_bytes, blob_names, split_bytes

LAYERS_ID = "sha256:c625e13fa27f020ff66923ed2d6779c09d01e5d75e9e8ee472fa81c9e9bf0aa1"
BUSYBOX_ID = "sha256:d2cdb43fdcb782df1479598f40621cffd4d3f40cc71156951445bef5c70634b1"
OCI_ID = "sha256:013ba93eee3fca51d0212aa06c899bb4c717e5d4ce9f52c2b73cd16755f5a942"
DIFF_IDS = [
    "sha256:d848b80508bfe8fe971527426066a6e610a0a05f8908e60ddac169324004edb6",
    "sha256:c2c7273b06e4f04251c711df4c3ec1e13e59e050fe06bbcb55c5c44625490536",
    "sha256:42061d1174c14406f7ec339e1ace453c3ec3af97f2a23fd3e45803708d1ed93e",
    "sha256:a41f8662e2e0fe2c4c9d30fc02c7536d93b6a75e7054a4ae5a6c5c4a3dbe70c2",
    "sha256:e0d716a56e591b8672ba52da0d6b443be462176ef49fa6f596d6b0b560dceef4",
    "sha256:bfac5e2d7db9918dc50b75dd985c4904e40fb1d12255de03580e962620bc1f00",
]


def fixture(name):
    return os.path.join(FIXTURES, name)


def inspect(berth, name):
    return json.loads(berth.out("image", "inspect", name))[0]


def check_layers_config(img):
    c = img["Config"]
    assert img["RepoTags"] == ["fixture/layers:1"]
    assert img["RootFS"] == {"Type": "layers", "Layers": DIFF_IDS}
    assert c["User"] == "root"
    assert c["Env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                        "FIXTURE_NAME=layers", "FIXTURE_VERSION=1"]
    assert c["WorkingDir"] == "/data"
    assert c["ExposedPorts"] == {"8080/tcp": {}}
    assert c["Labels"] == {"org.example.fixture": "layers", "org.example.purpose": "format-compat"}
    assert c["Entrypoint"] == ["/bin/sh", "-c"]
    assert c["Cmd"] == ["cat /data/only"]


def lower_dirs(img):
    d = img["GraphDriver"]["Data"]
    dirs = [d["UpperDir"]]
    if "LowerDir" in d:
        dirs += d["LowerDir"].split(":")
    return dirs  # top first


def check_merged_view(tmp_path, img):
    """Mount the layer dirs as an overlay and check the fixture's facts."""
    require_root()
    mnt = tmp_path / "merged"
    mnt.mkdir()
    dirs = lower_dirs(img)
    assert len(dirs) == 6
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    "lowerdir=" + ":".join(dirs), str(mnt)], check=True)
    try:
        data = mnt / "data"
        assert sorted(os.listdir(data)) == ["hard", "only", "owned", "soft", "suid"]
        hard, only = os.stat(data / "hard"), os.stat(data / "only")
        assert hard.st_ino == only.st_ino and hard.st_nlink == 2
        assert oct(hard.st_mode & 0o7777) == "0o644" and (hard.st_uid, hard.st_gid) == (0, 0)
        assert (data / "only").read_text() == "new\n"
        assert os.readlink(data / "soft") == "only"
        assert (data / "soft").read_text() == "new\n"
        suid = os.stat(data / "suid")
        assert oct(suid.st_mode & 0o7777) == "0o4755" and suid.st_uid == 0
        assert (data / "suid").read_text() == "suid\n"
        owned = os.stat(data / "owned")
        assert (owned.st_uid, owned.st_gid) == (1000, 1000)
        assert oct(owned.st_mode & 0o7777) == "0o644"
        assert (mnt / "bin" / "busybox").is_file()
        assert oct(os.stat(mnt / "tmp").st_mode & 0o7777) == "0o1777"
    finally:
        subprocess.run(["umount", str(mnt)], check=True)
    # the layers themselves hold overlay whiteouts / opaque markers
    base = list(reversed(dirs))  # base first
    wb = os.stat(os.path.join(base[2], "data", "b"))
    assert os.major(wb.st_rdev) == 0 and os.minor(wb.st_rdev) == 0 and (wb.st_mode & 0o170000) == 0o020000
    assert os.getxattr(os.path.join(base[3], "data"), "trusted.overlay.opaque") == b"y"


def test_load_layers_docker_save(berth, tmp_path):
    out = berth.out("load", "-i", fixture("layers-docker-save.tar"))
    assert out == "Loaded image: fixture/layers:1\n"
    img = inspect(berth, "fixture/layers:1")
    assert img["Id"] == LAYERS_ID
    check_layers_config(img)
    assert img["Architecture"] == "amd64" and img["Os"] == "linux"
    assert img["DockerVersion"] == "20.10.24+dfsg1"
    check_merged_view(tmp_path, img)
    assert os.listdir(os.path.join(berth.root, "tmp")) == []


def test_load_oci_archive(berth, tmp_path):
    out = berth.out("load", "-i", fixture("layers-oci-archive.tar"))
    assert out == "Loaded image: fixture/layers:1\n"
    img = inspect(berth, "fixture/layers:1")
    assert img["Id"] == OCI_ID
    check_layers_config(img)
    check_merged_view(tmp_path, img)


def test_load_two_images_shared_symlinked_layer(berth, tmp_path):
    out = berth.out("load", "-i", fixture("two-images-docker-save.tar"))
    assert out == "Loaded image: busybox:latest\nLoaded image: fixture/layers:1\n"
    bb = inspect(berth, "busybox")
    assert bb["Id"] == BUSYBOX_ID
    assert bb["RootFS"]["Layers"] == DIFF_IDS[:1]
    assert bb["Config"]["Cmd"] == ["/bin/sh"] and bb["Comment"] == "Imported from -"
    lay = inspect(berth, "fixture/layers:1")
    assert lay["Id"] == LAYERS_ID
    # one shared base layer on disk
    assert bb["GraphDriver"]["Data"]["UpperDir"] == lower_dirs(lay)[-1]
    assert len(os.listdir(os.path.join(berth.root, "layers"))) == 6
    check_merged_view(tmp_path, lay)
    # removing one image keeps the shared layer
    berth.run("rmi", "fixture/layers:1")
    assert os.path.isdir(bb["GraphDriver"]["Data"]["UpperDir"])
    assert len(os.listdir(os.path.join(berth.root, "layers"))) == 1


def test_load_busybox_stdin_and_quiet(berth):
    with open(fixture("busybox-docker-save.tar"), "rb") as f:
        out = berth.out("load", "-q", input=f.read())
    assert out == "Loaded image: busybox:latest\n"
    img = inspect(berth, "busybox:latest")
    assert img["Id"] == BUSYBOX_ID
    up = img["GraphDriver"]["Data"]["UpperDir"]
    assert os.stat(os.path.join(up, "bin", "busybox")).st_size == 1982256
    assert os.readlink(os.path.join(up, "bin", "sh")) == "/bin/busybox"
    assert oct(os.stat(os.path.join(up, "tmp")).st_mode & 0o7777) == "0o1777"
    # loading again is idempotent
    assert berth.out("load", "-i", fixture("busybox-docker-save.tar")) == "Loaded image: busybox:latest\n"
    assert berth.out("images", "-q") == BUSYBOX_ID[7:19] + "\n"


@pytest.mark.parametrize("comp", ["gzip", "zstd"])
def test_load_compressed(berth, tmp_path, comp):
    src = fixture("busybox-docker-save.tar")
    dst = tmp_path / ("bb.tar." + comp)
    with open(dst, "wb") as out:
        subprocess.run([comp, "-c", src], stdout=out, check=True)
    assert berth.out("load", "-i", dst) == "Loaded image: busybox:latest\n"
    assert inspect(berth, "busybox")["Id"] == BUSYBOX_ID


def test_save_load_roundtrip_and_skopeo(berth, tmp_path, tmp_path_factory):
    berth.run("load", "-i", fixture("two-images-docker-save.tar"))
    out = tmp_path / "saved.tar"
    berth.run("save", "-o", out, "busybox", "fixture/layers:1")
    with tarfile.open(out) as t:
        man = json.load(t.extractfile("manifest.json"))
        names = t.getnames()
        repos = json.load(t.extractfile("repositories"))
        assert [m["RepoTags"] for m in man] == [["busybox:latest"], ["fixture/layers:1"]]
        assert man[1]["Config"] == LAYERS_ID[7:] + ".json"
        assert set(repos) == {"busybox", "fixture/layers"}
        # the shared layer appears once, the other image links to it
        links = [m for m in t.getmembers() if m.issym()]
        assert len(links) == 1 and links[0].name.endswith("/layer.tar")
        for m in man:
            for i, l in enumerate(m["Layers"]):
                assert os.path.dirname(l) + "/VERSION" in names
    for ref, iid, nl in (("busybox:latest", BUSYBOX_ID, 1), ("fixture/layers:1", LAYERS_ID, 6)):
        p = subprocess.run(["skopeo", "inspect", "--raw", "docker-archive:%s:%s" % (out, ref)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        p = subprocess.run(["skopeo", "inspect", "--config", "docker-archive:%s:%s" % (out, ref)],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        assert len(json.loads(p.stdout)["rootfs"]["diff_ids"]) == nl
    # into a fresh root: same IDs
    other = type(berth)(str(tmp_path / "r2"), str(tmp_path / "run2"))
    assert other.out("load", "-i", out) == "Loaded image: busybox:latest\nLoaded image: fixture/layers:1\n"
    assert inspect(other, "busybox")["Id"] == BUSYBOX_ID
    assert inspect(other, "fixture/layers:1")["Id"] == LAYERS_ID
    # to stdout
    p = berth.run("save", "busybox")
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as t:
        assert json.load(t.extractfile("manifest.json"))[0]["RepoTags"] == ["busybox:latest"]


def test_save_oci_and_skopeo(berth, tmp_path):
    berth.run("load", "-i", fixture("layers-docker-save.tar"))
    out = tmp_path / "oci.tar"
    berth.run("save", "--format", "oci", "-o", out, "fixture/layers:1")
    p = subprocess.run(["skopeo", "inspect", "oci-archive:%s" % out], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["Layers"] == DIFF_IDS  # uncompressed layers: digest == diff ID
    with tarfile.open(out) as t:
        for m in t.getmembers():
            if m.name.startswith("blobs/sha256/") and m.isfile():
                data = t.extractfile(m).read()
                assert hashlib.sha256(data).hexdigest() == m.name.split("/")[-1]
    other = type(berth)(str(tmp_path / "r2"), str(tmp_path / "run2"))
    assert other.out("load", "-i", out) == "Loaded image: fixture/layers:1\n"
    assert inspect(other, "fixture/layers:1")["Id"] == LAYERS_ID


def test_save_errors(berth, tmp_path):
    p = berth.run("save", "-o", tmp_path / "x.tar", "nosuch", check=False)
    assert p.returncode == 1 and p.stderr.decode() == "Error: No such image: nosuch\n"
    assert not (tmp_path / "x.tar").exists()
    assert os.listdir(tmp_path) == [] or all(not f.startswith("x.tar") for f in os.listdir(tmp_path))


def make_tar(path, files):
    with tarfile.open(path, "w") as t:
        for name, data in files.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))


def store_state(berth):
    return (berth.out("images", "-a", "--no-trunc"),
            sorted(blob_names(berth.root)),
            sorted(os.listdir(os.path.join(berth.root, "layers"))),
            os.listdir(os.path.join(berth.root, "tmp")))


def test_load_bad_input_leaves_store_unchanged(berth, tmp_path):
    berth.run("load", "-i", fixture("busybox-docker-save.tar"))
    before = store_state(berth)
    with tarfile.open(fixture("layers-docker-save.tar")) as t:
        files = {m.name: t.extractfile(m).read() for m in t.getmembers() if m.isfile()}
    cases = {}
    bad = dict(files)
    bad["manifest.json"] = b"[{not json"
    cases["malformed-manifest"] = bad
    bad = dict(files)
    layer = next(n for n in files if n.endswith("/layer.tar") and n.startswith("558975"))
    del bad[layer]
    cases["missing-layer"] = bad
    bad = dict(files)
    cfg = LAYERS_ID[7:] + ".json"
    del bad[cfg]
    cases["missing-config"] = bad
    bad = dict(files)
    data = bytearray(files[layer])
    i = data.index(b"owned\n", 512)
    data[i] = ord("O")
    bad[layer] = bytes(data)
    cases["wrong-digest"] = bad
    bad = dict(files)
    bad["manifest.json"] = json.dumps([{"Config": cfg, "RepoTags": ["x:1"], "Layers": []}]).encode()
    cases["layer-count"] = bad
    for name, content in cases.items():
        path = tmp_path / (name + ".tar")
        make_tar(path, content)
        p = berth.run("load", "-i", path, check=False)
        err = p.stderr.decode()
        assert p.returncode == 125, (name, err)
        assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, (name, err)
        assert store_state(berth) == before, name
    notatar = tmp_path / "junk.tar"
    notatar.write_bytes(os.urandom(5000))
    p = berth.run("load", "-i", notatar, check=False)
    assert p.returncode == 125 and p.stderr.decode().startswith("Error: ")
    assert store_state(berth) == before
    p = berth.run("load", "-i", tmp_path / "does-not-exist.tar", check=False)
    assert p.returncode == 125 and p.stderr.decode().startswith("Error: ")


def _tar_bytes(entries, fmt=tarfile.USTAR_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in entries:
            if data is None:
                ti = tarfile.TarInfo(name)
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                t.addfile(ti)
            else:
                ti = tarfile.TarInfo(name)
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def test_load_from_file_region_and_stream_agree(tmp_path):
    """A docker-save archive on disk is read in place (layers copied from
    their region, entries skipped by seeking); through a pipe it streams.
    Both give the same image, blobs and files; manifest.json first or last,
    a gzip-compressed layer.tar, and stdin opened at an offset."""
    big = os.urandom(3 * 1000 * 1000 + 17)
    l1 = _tar_bytes([("etc", None), ("etc/big", big), ("etc/small", b"x" * 1000)])
    l2raw = _tar_bytes([("etc/two", b"second layer\n")], fmt=tarfile.PAX_FORMAT)
    l2 = gzip.compress(l2raw)
    diffs = ["sha256:" + hashlib.sha256(x).hexdigest() for x in (l1, l2raw)]
    cfg = json.dumps({"architecture": "amd64", "config": {}, "created": "2026-01-01T00:00:00Z",
                      "os": "linux", "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    man = json.dumps([{"Config": cid + ".json", "RepoTags": ["region:1"],
                       "Layers": ["a/layer.tar", "b/layer.tar"]}]).encode()
    members = [("a/layer.tar", l1), ("b/layer.tar", l2), (cid + ".json", cfg)]
    first = tmp_path / "first.tar"
    make_tar(first, dict([("manifest.json", man)] + members))
    last = tmp_path / "last.tar"
    make_tar(last, dict(members + [("manifest.json", man)]))
    shifted = tmp_path / "shifted.bin"
    shifted.write_bytes(b"\0" * 1000 + last.read_bytes())

    stores = []
    for i, how in enumerate(("first", "last", "pipe", "offset")):
        b = Berth(str(tmp_path / ("r%d" % i)), str(tmp_path / ("u%d" % i)))
        if how == "first":
            out = b.out("load", "-i", first)
        elif how == "last":
            out = b.out("load", "-i", last)
        elif how == "pipe":
            out = b.out("load", input=last.read_bytes())
        else:
            with open(shifted, "rb") as f:
                f.seek(1000)
                p = subprocess.run(b.cmd("load"), stdin=f, capture_output=True)
            assert p.returncode == 0, p.stderr
            out = p.stdout.decode()
        assert out == "Loaded image: region:1\n", how
        img = inspect(b, "region:1")
        assert img["Id"] == "sha256:" + cid
        assert img["RootFS"]["Layers"] == diffs
        names = sorted(blob_names(b.root))
        for n in names:
            assert hashlib.sha256(blob_bytes(b.root, n)).hexdigest() == n, (how, n)
        # the layer blobs are the uncompressed tars, byte for byte; a plain
        # layer.tar read in place is kept as a tar-split of its files
        assert blob_bytes(b.root, diffs[0]) == l1
        assert blob_bytes(b.root, diffs[1]) == l2raw
        assert (split_bytes(b.root, diffs[0]) is not None) == (how != "pipe"), how
        dirs = lower_dirs(img)
        with open(os.path.join(dirs[1], "etc", "big"), "rb") as f:
            assert f.read() == big
        with open(os.path.join(dirs[0], "etc", "two"), "rb") as f:
            assert f.read() == b"second layer\n"
        assert os.listdir(os.path.join(b.root, "tmp")) == []
        stores.append(names)
    assert all(s == stores[0] for s in stores)
    # save writes the same layer bytes back
    b = Berth(str(tmp_path / "r0"), str(tmp_path / "u0"))
    saved = tmp_path / "saved.tar"
    b.run("save", "-o", saved, "region:1")
    with tarfile.open(saved) as t:
        m = json.load(t.extractfile("manifest.json"))[0]
        assert [t.extractfile(x).read() for x in m["Layers"]] == [l1, l2raw]


def test_load_truncated_layer_region(berth, tmp_path):
    """A layer.tar whose region runs past the end of the file (a cut
    archive) fails cleanly, read in place or streamed."""
    l1 = _tar_bytes([("f", os.urandom(200000))])
    diff = "sha256:" + hashlib.sha256(l1).hexdigest()
    cfg = json.dumps({"architecture": "amd64", "config": {}, "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    man = json.dumps([{"Config": cid + ".json", "RepoTags": ["cut:1"],
                       "Layers": ["a/layer.tar"]}]).encode()
    full = tmp_path / "full.tar"
    make_tar(full, {"manifest.json": man, cid + ".json": cfg, "a/layer.tar": l1})
    cut = tmp_path / "cut.tar"
    data = full.read_bytes()
    cut.write_bytes(data[:len(data) - 1024 - 100000])
    before = store_state(berth)
    for args, inp in ((("load", "-i", cut), None), (("load",), cut.read_bytes())):
        p = berth.run(*args, input=inp, check=False)
        err = p.stderr.decode()
        assert p.returncode == 125, err
        assert err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
        assert store_state(berth) == before


def test_layer_blob_forms_and_save_gives_the_same_bytes(berth, tmp_path):
    """A plain layer.tar read in place is kept as a tar-split, one whose
    entries replace earlier ones (their bytes are gone from the layer) as a
    copy, and one with bytes after its end blocks as a split that keeps
    them: save gives each layer.tar back byte for byte, and an edited
    layer file makes save fail instead of giving other bytes."""
    plain = _tar_bytes([("etc", None), ("etc/a", os.urandom(70000)), ("etc/e", b"")],
                       fmt=tarfile.PAX_FORMAT)
    replaced = _tar_bytes([("f", b"first version"), ("f", b"second")])
    trailing = _tar_bytes([("t", b"t\n")]) + b"garbage after the end"
    layers = [plain, replaced, trailing]
    diffs = ["sha256:" + hashlib.sha256(x).hexdigest() for x in layers]
    cfg = json.dumps({"architecture": "amd64", "config": {}, "created": "2026-01-01T00:00:00Z",
                      "os": "linux", "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    names = ["l%d/layer.tar" % i for i in range(3)]
    man = json.dumps([{"Config": cid + ".json", "RepoTags": ["forms:1"], "Layers": names}])
    arch = tmp_path / "forms.tar"
    make_tar(arch, dict([("manifest.json", man.encode()), (cid + ".json", cfg)] +
                        list(zip(names, layers))))
    assert berth.out("load", "-i", arch) == "Loaded image: forms:1\n"
    assert split_bytes(berth.root, diffs[0]) == plain
    assert split_bytes(berth.root, diffs[1]) is None
    assert os.path.isfile(os.path.join(berth.root, "blobs", "sha256", diffs[1][7:]))
    assert split_bytes(berth.root, diffs[2]) == trailing
    out = tmp_path / "saved.tar"
    berth.run("save", "-o", out, "forms:1")
    with tarfile.open(out) as t:
        saved = json.loads(t.extractfile("manifest.json").read())[0]
        got = [t.extractfile(n).read() for n in saved["Layers"]]
    assert got == layers
    # a save into a fresh root loads the same image
    b2 = Berth(str(tmp_path / "r2"), str(tmp_path / "u2"))
    b2.run("load", "-i", out)
    assert inspect(b2, "forms:1")["Id"] == "sha256:" + cid
    # a layer file changed behind berth's back: refused, never other bytes
    img = inspect(berth, "forms:1")
    with open(os.path.join(lower_dirs(img)[-1], "etc", "a"), "r+b") as f:
        first = f.read(1)
        f.seek(0)
        f.write(bytes([first[0] ^ 0xFF]))  # a byte that differs (random data)
    p = berth.run("save", "-o", tmp_path / "bad.tar", "forms:1", check=False)
    assert p.returncode == 125
    assert p.stderr.decode().startswith("Error: ") and "digest" in p.stderr.decode()
