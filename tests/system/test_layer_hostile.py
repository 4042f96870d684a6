"""Layer extraction never writes outside its target directory, whatever
the tar says: each hostile tar of make_hostile_tars.py is refused with an
error naming the entry, nothing changes around the target, and no partial
layer directory is left. Driven through `berth __layer-apply`."""
import io
import os
import secrets
import subprocess
import sys
import tarfile

import pytest

from conftest import BERTH, require_root

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_hostile_tars  # noqa: E402


def snapshot(top, skip):
    """Everything below top (but skip): path -> (mode, uid, size, nlink,
    mtime, content or link target, xattr names)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [n for n in dirnames if os.path.join(dirpath, n) != skip]
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            extra = None
            if os.path.islink(p):
                extra = os.readlink(p)
            elif os.path.isfile(p):
                with open(p, "rb") as fh:
                    extra = fh.read()
            try:
                xattrs = sorted(os.listxattr(p, follow_symlinks=False))
            except OSError:
                xattrs = None
            snap[p] = (st.st_mode, st.st_uid, st.st_size, st.st_nlink, st.st_mtime_ns,
                       extra, xattrs)
    return snap


@pytest.fixture
def arena(tmp_path):
    """tmp/outside (sentinel files) next to where the layer goes."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim").write_text("untouched\n")
    (outside / "sub").mkdir()
    (outside / "sub" / "file").write_text("sub\n")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    return tmp_path, outside, corpus


def test_hostile_corpus_refused(arena):
    require_root()
    top, outside, corpus = arena
    token = secrets.token_hex(6)
    cases = make_hostile_tars.build_corpus(str(corpus), str(outside), token)
    assert len(cases) >= 20
    passwd = os.stat("/etc/passwd")
    with open("/etc/passwd", "rb") as fh:
        passwd_data = fh.read()
    before = snapshot(str(top), skip=str(top / "layer"))
    failures = []
    for name, path, entry in cases:
        target = top / "layer"
        p = subprocess.run([BERTH, "__layer-apply", path, str(target)],
                           capture_output=True, text=True, timeout=60)
        want = 'layer entry "%s"' % entry
        if p.returncode != 125:
            failures.append("%s: exit %d (stderr %r)" % (name, p.returncode, p.stderr))
        elif not p.stderr.startswith("Error: ") or want not in p.stderr:
            failures.append("%s: error %r does not name %s" % (name, p.stderr, want))
        if target.exists() or os.path.lexists(target):
            failures.append("%s: partial layer directory left" % name)
            subprocess.run(["rm", "-rf", str(target)], check=True)
        after = snapshot(str(top), skip=str(top / "layer"))
        if after != before:
            changed = sorted(set(after.items()) ^ set(before.items()))
            failures.append("%s: wrote outside the target: %s" % (name, changed[:4]))
            before = after
    # nothing reached through "/" either
    for p in ("/abs/berth-hostile-", "/tmp/berth-hostile-", "/dev/berth-hostile-"):
        if os.path.lexists(p + token):
            failures.append("%s exists" % (p + token))
    st = os.stat("/etc/passwd")
    assert (st.st_nlink, st.st_mtime_ns) == (passwd.st_nlink, passwd.st_mtime_ns)
    with open("/etc/passwd", "rb") as fh:
        assert fh.read() == passwd_data
    assert not failures, "\n".join(failures)


def _tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for ti, data in entries:
            t.addfile(ti, data)
    return buf.getvalue()


def test_tricky_but_harmless_entries_stay_inside(arena):
    """Symlinks are data: a symlink to anywhere is stored as is and never
    followed; replacing it with a file or directory replaces the link."""
    require_root()
    top, outside, corpus = arena
    m = make_hostile_tars
    data = _tar([
        m.sym("abs", str(outside / "victim")),
        m.sym("up", "../../../../.."),
        m.f("abs", b"replaced\n"),  # replaces the symlink, not its target
        m.sym("dir", str(outside)),
        m.d("dir/"),  # replaces the symlink with a real directory
        m.f("dir/victim", b"inside\n"),
        m.hard("abs2", "abs"),
        m.f("a/b/c", b"implied parents\n"),
    ])
    src = corpus / "tricky.tar"
    src.write_bytes(data)
    before = snapshot(str(top), skip=str(top / "layer"))
    p = subprocess.run([BERTH, "__layer-apply", str(src), str(top / "layer")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    layer = top / "layer"
    assert (layer / "abs").read_text() == "replaced\n"
    assert os.stat(layer / "abs").st_ino == os.stat(layer / "abs2").st_ino
    assert os.readlink(layer / "up") == "../../../../.."
    assert not os.path.islink(layer / "dir") and (layer / "dir").is_dir()
    assert (layer / "dir" / "victim").read_text() == "inside\n"
    assert (layer / "a" / "b" / "c").read_text() == "implied parents\n"
    assert snapshot(str(top), skip=str(layer)) == before
    assert (outside / "victim").read_text() == "untouched\n"
