"""What `berth pull` stores and how it copes with others on the same root.

A pulled layer is kept as the registry sent it (compressed, so pushing it
anywhere sends the same bytes) plus its unpacked files and a tar-split of
the uncompressed tar (no second copy of it): save gives the exact tars
back. Pulls survive rmi of the layers they found stored (deterministic:
the pull is stopped at the store lock while rmi runs), run in parallel
with each other, rmi and load, and a hostile registry or kill -9 leaves
the store as it was or consistent."""
import fcntl
import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import time

import pytest

from regutil import BerthRegistry, Client, Proxy, client_env, sha256
from storeutil import blob_bytes
from test_store_crash import (_proc_state, _waiting_for_lock, check_consistent,
                              kill_under_store_lock)

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_TAR = "application/vnd.oci.image.layer.v1.tar"
MT_GZIP = MT_TAR + "+gzip"
MT_ZSTD = MT_TAR + "+zstd"


@pytest.fixture
def env(tmp_path):
    return client_env(tmp_path)


def layer_tar(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in files:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def compress(tar, kind):
    if kind == "gzip":
        # Python's gzip at level 9 with a name: not what berth's gzip makes
        buf = io.BytesIO()
        with gzip.GzipFile("layer.tar", "wb", 9, buf, mtime=1234) as g:
            g.write(tar)
        return buf.getvalue()
    if kind == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-7"], input=tar, check=True,
                              capture_output=True).stdout
    return tar


def push_image(addr, name, tag, layers):
    """layers: [(tar bytes, "gzip"|"zstd"|"none")]. Returns the manifest
    digest, its bytes and the diff IDs."""
    c = Client(addr)
    descs, diff_ids = [], []
    for tar, kind in layers:
        blob = compress(tar, kind)
        mt = {"gzip": MT_GZIP, "zstd": MT_ZSTD, "none": MT_TAR}[kind]
        descs.append({"mediaType": mt, "digest": c.push_blob(name, blob), "size": len(blob)})
        diff_ids.append(sha256(tar))
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diff_ids},
                      "history": [{"created_by": "test"} for _ in layers]}).encode()
    cd = c.push_blob(name, cfg)
    man = json.dumps({"schemaVersion": 2, "mediaType": MT_MANIFEST,
                      "config": {"mediaType": MT_CONFIG, "digest": cd, "size": len(cfg)},
                      "layers": descs}, indent=3).encode()
    st, h, body = c.req("PUT", "/v2/%s/manifests/%s" % (name, tag), body=man,
                        headers={"Content-Type": MT_MANIFEST})
    assert st == 201, body
    c.close()
    return sha256(man), man, diff_ids, descs


def stored(root, sub):
    d = os.path.join(root, "blobs", sub)
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def test_pull_keeps_compressed_once_save_and_push_exact(berth, env, tmp_path):
    tars = [
        layer_tar([("etc/a%d" % i, os.urandom(3000)) for i in range(20)]),
        layer_tar([("usr/z%d" % i, b"zstd " * 4000) for i in range(5)]),
        # an entry replaced by a later one of the same layer: no tar-split
        layer_tar([("dup", b"first" * 100), ("dup", b"second" * 100)]),
        layer_tar([("plain/p", b"uncompressed" * 1000)]),
        # incompressible: gzip makes stored blocks, kept as references
        layer_tar([("rand/r%d" % i, os.urandom(300000)) for i in range(4)]),
    ]
    kinds = ["gzip", "zstd", "gzip", "none", "gzip"]
    with BerthRegistry(tmp_path / "a") as a, BerthRegistry(tmp_path / "b") as b:
        mdig, man, diff_ids, descs = push_image(a.addr, "src/img", "v1", list(zip(tars, kinds)))
        name = "%s/src/img:v1" % a.addr
        out = berth.out("pull", name, env=env)
        assert "Digest: " + mdig in out, out
        check_consistent(berth.root)
        sha, split = stored(berth.root, "sha256"), stored(berth.root, "tarsplit")
        # compressed forms kept as pulled; the uncompressed tar only as a
        # tar-split, except for the layer that replaces its own entry
        for d in descs[:3]:
            assert d["digest"][7:] in sha, d
            assert d["digest"][7:] not in split, d
        assert diff_ids[0][7:] in split and diff_ids[0][7:] not in sha
        assert diff_ids[1][7:] in split and diff_ids[1][7:] not in sha
        assert diff_ids[2][7:] in sha and diff_ids[2][7:] not in split
        assert diff_ids[3][7:] in split and diff_ids[3][7:] not in sha
        assert descs[4]["digest"][7:] in split and descs[4]["digest"][7:] not in sha
        assert diff_ids[4][7:] in split and diff_ids[4][7:] not in sha
        small = os.path.getsize(os.path.join(berth.root, "blobs", "tarsplit",
                                             descs[4]["digest"][7:]))
        # (blocks holding a tar header are deflated: those stay raw)
        assert small < descs[4]["size"] // 8, (small, descs[4])
        for tar, d in zip(tars, diff_ids):
            assert blob_bytes(berth.root, d) == tar
        for d in descs:
            st, _, blob = Client(a.addr).req("GET", "/v2/src/img/blobs/" + d["digest"])
            assert st == 200 and blob_bytes(berth.root, d["digest"]) == blob
        # save gives the very tars back
        archive = tmp_path / "img.tar"
        berth.run("save", "-o", str(archive), name)
        with tarfile.open(archive) as t:
            m = json.load(t.extractfile("manifest.json"))[0]
            assert [t.extractfile(n).read() for n in m["Layers"]] == tars
        # pushed to another registry: the same layer bytes and manifest
        berth.run("tag", name, "%s/dst/img:v2" % b.addr)
        out = berth.out("push", "--chunk-size", "20000", "%s/dst/img:v2" % b.addr, env=env)
        assert "v2: digest: %s size: %d" % (mdig, len(man)) in out, out
        st, _, body = Client(b.addr).req("GET", "/v2/dst/img/manifests/v2")
        assert st == 200 and body == man
        for d in descs:
            st, _, blob = Client(b.addr).req("GET", "/v2/dst/img/blobs/" + d["digest"])
            assert st == 200 and sha256(blob) == d["digest"]
        # and removing the image removes every form of its layers
        berth.run("rmi", name, "%s/dst/img:v2" % b.addr)
        check_consistent(berth.root)
        assert os.listdir(os.path.join(berth.root, "layers")) == []
        left = stored(berth.root, "sha256") | stored(berth.root, "tarsplit")
        for d in descs + [{"digest": x} for x in diff_ids]:
            assert d["digest"][7:] not in left, d


def store_state(berth):
    files = []
    for sub in ("blobs", "layers"):
        for d, dirs, fs in os.walk(os.path.join(berth.root, sub)):
            for f in fs + dirs:
                files.append(os.path.relpath(os.path.join(d, f), berth.root))
    return sorted(files), berth.out("images", "-a", "--no-trunc", "--format",
                                    "{{.ID}} {{.Repository}}:{{.Tag}}")


@pytest.mark.parametrize("bad", ["gzip", "truncated-gzip", "zstd", "diff-id"])
def test_hostile_layers_fail_in_one_line_and_change_nothing(busybox, env, tmp_path, bad):
    """Blobs whose digest is right but whose content is not: not gzip, a
    gzip stream cut short, broken zstd, or a tar that is not the config's
    diff ID. One error line, exit 1, the store as it was."""
    good = layer_tar([("ok/f", b"fine" * 1000)])
    tar = layer_tar([("x/y", os.urandom(50000))])
    blob = {"gzip": b"\x1f\x8b\x08\x00" + os.urandom(4000),
            "truncated-gzip": compress(tar, "gzip")[:20000],
            "zstd": b"\x28\xb5\x2f\xfd" + os.urandom(4000),
            "diff-id": compress(layer_tar([("other", b"not the one")]), "gzip")}[bad]
    with BerthRegistry(tmp_path / "a") as a:
        c = Client(a.addr)
        d_good = c.push_blob("h/img", compress(good, "gzip"))
        d_bad = c.push_blob("h/img", blob)
        cfg = json.dumps({"architecture": "amd64", "os": "linux",
                          "rootfs": {"type": "layers",
                                     "diff_ids": [sha256(good), sha256(tar)]}}).encode()
        cd = c.push_blob("h/img", cfg)
        man = json.dumps({"schemaVersion": 2, "mediaType": MT_MANIFEST,
                          "config": {"mediaType": MT_CONFIG, "digest": cd, "size": len(cfg)},
                          "layers": [
                              {"mediaType": MT_GZIP, "digest": d_good,
                               "size": len(compress(good, "gzip"))},
                              {"mediaType": MT_ZSTD if bad == "zstd" else MT_GZIP,
                               "digest": d_bad, "size": len(blob)}]}).encode()
        st, _, _ = c.req("PUT", "/v2/h/img/manifests/v1", body=man,
                         headers={"Content-Type": MT_MANIFEST})
        assert st == 201
        before = store_state(busybox)
        p = busybox.run("pull", "%s/h/img:v1" % a.addr, env=env, check=False)
        err = p.stderr.decode()
        assert p.returncode == 1, (p.stdout, err)
        assert err.startswith("Error: ") and err.count("\n") == 1, err
        assert store_state(busybox) == before
        assert os.listdir(os.path.join(busybox.root, "tmp")) == []
        check_consistent(busybox.root)


def _stop_at_store_lock(berth, args, env, then):
    """Run berth args while the store lock is held here; once it waits for
    the lock, stop it, release the lock, run then(), let it go on.
    Returns the process (finished) and its output."""
    lock = os.path.join(berth.runroot, "store.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    proc = None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        proc = subprocess.Popen(berth.cmd(*args), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while not _waiting_for_lock(proc.pid):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "%s never waited for the store lock" % (args,)
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGSTOP)
        while _proc_state(proc.pid) != "T":
            assert time.monotonic() < deadline, "did not stop"
            time.sleep(0.005)
        fcntl.flock(fd, fcntl.LOCK_UN)
        then()
        os.kill(proc.pid, signal.SIGCONT)
        out, err = proc.communicate(timeout=120)
        return proc, out.decode(), err.decode()
    finally:
        os.close(fd)
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()


def test_rmi_right_after_the_pull_commit(berth, env, tmp_path):
    """The pull commits the image, then records its repo digest and manifest
    in a second transaction; an rmi in between removed the image, and the
    pull failed with "recording repo digest: FOREIGN KEY constraint failed"
    (seen in test_parallel_pull_load_rmi). Made certain: strace holds the
    pull for 3 s as it releases the store lock after its commit, and rmi
    runs then. The pull succeeds (the rmi came after it), the store is
    consistent."""
    with BerthRegistry(tmp_path / "a") as a:
        push_image(a.addr, "r/gone", "v1", [(layer_tar([("f", b"x" * 5000)]), "gzip")])
        name = "%s/r/gone:v1" % a.addr
        berth.run("images")  # a new root's first command takes one flock more
        trace = tmp_path / "trace"
        subprocess.run(["strace", "-f", "-qq", "-o", trace, "-e", "trace=flock"] +
                       berth.cmd("pull", name), check=True, capture_output=True, env=env,
                       timeout=120)
        flocks = [ln for ln in trace.read_text().splitlines() if " flock(" in ln]
        unlock = next(i for i, ln in enumerate(flocks) if "LOCK_UN" in ln) + 1
        berth.run("rmi", name)
        p = subprocess.Popen(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=flock",
                              "-e", "inject=flock:delay_exit=3000000:when=%d" % unlock] +
                             berth.cmd("pull", name), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env)
        deadline = time.monotonic() + 60
        while name not in berth.out("images", "--format", "{{.Repository}}:{{.Tag}}"):
            assert p.poll() is None, p.communicate()
            assert time.monotonic() < deadline, "the pull never committed"
            time.sleep(0.01)
        assert "Untagged: " + name in berth.out("rmi", name)
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
        assert name not in berth.out("images", "--format", "{{.Repository}}:{{.Tag}}")
        check_consistent(berth.root)
        berth.run("pull", name, env=env)
        assert json.loads(berth.out("image", "inspect", name))[0]["RepoDigests"]


def test_pull_survives_rmi_of_its_existing_layers(berth, env, tmp_path):
    """pull of an image whose layers are all stored ("Already exists")
    reaches the commit; rmi removes image and layers right then; the pull
    must download them after all and succeed. The old code failed with
    "layer ... was removed concurrently"."""
    tars = [layer_tar([("l%d/f" % i, os.urandom(20000))]) for i in range(3)]
    with BerthRegistry(tmp_path / "a") as a:
        push_image(a.addr, "r/one", "v1", [(t, "gzip") for t in tars])
        # the same layers under another image, so that the pull finds them
        push_image(a.addr, "r/two", "v1", [(t, "gzip") for t in tars[:2]] +
                   [(layer_tar([("other", b"x")]), "gzip")])
        one, two = "%s/r/one:v1" % a.addr, "%s/r/two:v1" % a.addr
        for _ in range(4):
            berth.run("pull", one, env=env)
            iid = berth.out("image", "inspect", "-f", "{{.Id}}", one).strip()

            def rmi_one():
                out = berth.out("rmi", one)
                assert "Deleted: " + iid in out
                assert os.listdir(os.path.join(berth.root, "layers")) == []

            # two's first two layers are stored (one's) when it starts
            p, out, err = _stop_at_store_lock(berth, ["pull", two], env, rmi_one)
            assert p.returncode == 0, err
            assert out.count("Already exists") == 2, out
            check_consistent(berth.root)
            berth.run("image", "inspect", two)
            berth.run("rmi", two)
            assert os.listdir(os.path.join(berth.root, "layers")) == []
            # all of one's layers (and one itself) are stored when it starts
            berth.run("pull", one, env=env)
            p, out, err = _stop_at_store_lock(berth, ["pull", one], env, rmi_one)
            assert p.returncode == 0, err
            assert out.count("Already exists") == 3, out
            assert "Status: Downloaded newer image" in out, out
            check_consistent(berth.root)
            assert berth.out("image", "inspect", "-f", "{{.Id}}", one).strip() == iid
            berth.run("rmi", one)
            assert os.listdir(os.path.join(berth.root, "layers")) == []
            assert os.listdir(os.path.join(berth.root, "tmp")) == []


def docker_save(path, tars, tag):
    diff_ids = [sha256(t) for t in tars]
    cfg = json.dumps({"architecture": "amd64", "os": "linux",
                      "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    cid = hashlib.sha256(cfg).hexdigest()
    with tarfile.open(path, "w") as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        names = []
        for tar, d in zip(tars, diff_ids):
            names.append(d[7:] + "/layer.tar")
            add(names[-1], tar)
        add(cid + ".json", cfg)
        add("manifest.json", json.dumps([{"Config": cid + ".json", "RepoTags": [tag],
                                          "Layers": names}]).encode())


def test_parallel_pull_load_rmi(berth, env, tmp_path):
    """Pulls of images sharing layers, at the same time as each other, as
    rmi of those images and as a load of an archive sharing a layer: only
    "No such image" from rmi may fail, and the store stays consistent."""
    L = [layer_tar([("p%d/f" % i, os.urandom(200000))]) for i in range(6)]
    with BerthRegistry(tmp_path / "a") as a:
        push_image(a.addr, "par/one", "v1", [(L[0], "gzip"), (L[1], "zstd"), (L[2], "gzip")])
        push_image(a.addr, "par/two", "v1", [(L[0], "gzip"), (L[1], "zstd"), (L[3], "none")])
        push_image(a.addr, "par/three", "v1", [(L[0], "gzip"), (L[4], "gzip")])
        archive = tmp_path / "four.tar"
        docker_save(str(archive), [L[0], L[5]], "par/four:v1")
        one, two, three = ("%s/par/%s:v1" % (a.addr, n) for n in ("one", "two", "three"))
        cmds = [("pull", one), ("pull", two), ("pull", three), ("pull", one),
                ("rmi", one), ("load", "-i", str(archive)), ("rmi", two), ("pull", two),
                ("rmi", "par/four:v1"), ("pull", three)]
        for _ in range(3):
            procs = [subprocess.Popen(berth.cmd(*c), stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, env=env) for c in cmds]
            for c, p in zip(cmds, procs):
                out, err = p.communicate(timeout=120)
                err = err.decode()
                if p.returncode != 0:
                    assert c[0] == "rmi" and "No such image" in err, (c, err)
            check_consistent(berth.root)
            assert os.listdir(os.path.join(berth.root, "tmp")) == []
        for name in (one, two, three):
            berth.run("pull", name, env=env)
        berth.run("load", "-i", str(archive))
        archive2 = tmp_path / "all.tar"
        berth.run("save", "-o", str(archive2), one, two, three, "par/four:v1")
        for name in (one, two, three, "par/four:v1"):
            berth.run("rmi", name)
        check_consistent(berth.root)
        assert os.listdir(os.path.join(berth.root, "layers")) == []
        left = stored(berth.root, "sha256") | stored(berth.root, "tarsplit")
        assert not any(sha256(t)[7:] in left for t in L), left
        # what save wrote loads back to the same layers
        berth.run("load", "-i", str(archive2))
        for name in (one, two, three, "par/four:v1"):
            berth.run("image", "inspect", name)
        check_consistent(berth.root)


def _staged_bytes(root):
    n = 0
    for d, _, files in os.walk(os.path.join(root, "tmp")):
        for f in files:
            try:
                n += os.lstat(os.path.join(d, f)).st_size
            except OSError:
                pass  # removed as we looked
    return n


def test_kill_during_pull(berth, env, tmp_path):
    """kill -9 at several points of a pull (download, unpack, commit): the
    next command cleans the staging, the store is consistent, and the
    pull then works. The kills are certain, not timed (kills after fixed
    sleeps could all land after the pull ended): while the store lock is
    held here (a pull cannot commit without it) once its staging exists,
    once half the big layer's size is staged and once it waits for the
    lock; then, with strace, at each rename and each flock and at the first
    database write after the last rename, for a pull of a small image."""
    size = 20 << 20
    big = layer_tar([("big.bin", os.urandom(size)), ("etc/hello", b"hi\n")])
    base = layer_tar([("base", b"b" * 1000)])
    with BerthRegistry(tmp_path / "a") as a, Proxy(a.addr) as px:
        push_image(a.addr, "k/big", "v1", [(base, "gzip"), (big, "zstd")])
        push_image(a.addr, "k/small", "v1", [(base, "gzip"),
                                             (layer_tar([("s", b"s" * 5000)]), "zstd")])
        name = "%s/k/big:v1" % px.addr
        small = "%s/k/small:v1" % px.addr

        def after_kill():
            berth.run("images")
            assert os.listdir(os.path.join(berth.root, "tmp")) == []
            check_consistent(berth.root)
            for n in (name, small):
                if n in berth.out("images", "--format", "{{.Repository}}:{{.Tag}}"):
                    berth.run("rmi", n)
                    check_consistent(berth.root)

        berth.run("images")  # makes the root and runroot
        stages = {
            "staging made": lambda pid: os.listdir(os.path.join(berth.root, "tmp")) != [],
            "half staged": lambda pid: _staged_bytes(berth.root) >= size // 2,
            "all staged": _waiting_for_lock,
        }
        for what, reached in stages.items():
            kill_under_store_lock(berth, ["pull", name], what, reached, env=env)
            after_kill()
        trace = tmp_path / "trace"
        subprocess.run(["strace", "-f", "-qq", "-o", trace, "-e", "trace=renameat,pwrite64"] +
                       berth.cmd("pull", small), check=True, capture_output=True, env=env,
                       timeout=120)
        calls = [ln.split()[1].split("(")[0] for ln in trace.read_text().splitlines()]
        last_rename = len(calls) - 1 - calls[::-1].index("renameat")
        writes_before = calls[:last_rename].count("pwrite64")
        berth.run("rmi", small)
        points = [("renameat", n) for n in range(1, 60)] + [("pwrite64", writes_before + 1)]
        points += [("flock", n) for n in range(1, 60)]
        done = set()
        for syscall, n in points:
            if syscall in done:
                continue
            p = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e",
                                "trace=" + syscall, "-e",
                                "inject=%s:signal=SIGKILL:when=%d" % (syscall, n)] +
                               berth.cmd("pull", small), capture_output=True, env=env,
                               timeout=120)
            after_kill()
            if p.returncode == 0 and syscall != "pwrite64":
                done.add(syscall)  # fewer calls than n: ran to its end
                continue
            assert p.returncode == -signal.SIGKILL, (syscall, n, p.stderr)
        assert done == {"renameat", "flock"}, "a pull made 60 renames or flocks?"
        berth.run("pull", name, env=env)
        check_consistent(berth.root)
        up = json.loads(berth.out("image", "inspect", name))[0]["GraphDriver"]["Data"]["UpperDir"]
        assert os.path.getsize(os.path.join(up, "big.bin")) == size
