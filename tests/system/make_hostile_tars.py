#!/usr/bin/python3
"""Generate the hostile layer tar corpus for test_layer_hostile.py.

Each tar tries to make layer extraction write outside its target
directory. OUTSIDE is an absolute directory next to the target that the
symlinks and hard links aim at (it holds a file named "victim").

  make_hostile_tars.py OUTDIR OUTSIDE   writes OUTDIR/<case>.tar and prints
                                        "<case> <entry named in the error>"
"""
import io
import os
import sys
import tarfile


def _info(name, type_=tarfile.REGTYPE, linkname="", mode=0o644, data=b""):
    ti = tarfile.TarInfo(name)
    ti.type = type_
    ti.linkname = linkname
    ti.mode = mode
    ti.mtime = 1700000000
    if type_ == tarfile.REGTYPE:
        ti.size = len(data)
    return ti, (io.BytesIO(data) if type_ == tarfile.REGTYPE else None)


def f(name, data=b"evil\n", mode=0o644):
    return _info(name, data=data, mode=mode)


def d(name, mode=0o755):
    return _info(name, tarfile.DIRTYPE, mode=mode)


def sym(name, target):
    return _info(name, tarfile.SYMTYPE, linkname=target, mode=0o777)


def hard(name, target):
    return _info(name, tarfile.LNKTYPE, linkname=target)


def chr_(name, major=1, minor=3):
    ti, _ = _info(name, tarfile.CHRTYPE, mode=0o666)
    ti.devmajor, ti.devminor = major, minor
    return ti, None


def blk(name, major=7, minor=0):
    ti, _ = _info(name, tarfile.BLKTYPE, mode=0o600)
    ti.devmajor, ti.devminor = major, minor
    return ti, None


def fifo(name):
    return _info(name, tarfile.FIFOTYPE)


def cases(outside, token):
    """(case name, entries, the entry the error must name). token makes the
    names written through "/" unique, so the test can look for them."""
    o = outside
    evil = "berth-hostile-" + token
    return [
        ("dotdot", [f("../evil")], "../evil"),
        ("dotdot_dir", [d("../evil-dir/")], "../evil-dir/"),
        ("absolute", [f("/abs/" + evil)], "/abs/" + evil),
        ("absolute_outside", [f(o + "/abs-evil")], o + "/abs-evil"),
        ("nested_dotdot", [d("a/"), f("a/../../evil")], "a/../../evil"),
        ("deep_dotdot", [f("./a/b/../../../evil")], "./a/b/../../../evil"),
        ("symlink_root", [sym("s", "/"), f("s/tmp/" + evil)], "s/tmp/" + evil),
        ("symlink_parent", [sym("s", ".."), f("s/x")], "s/x"),
        ("symlink_outside", [sym("s", o), f("s/evil")], "s/evil"),
        ("symlink_outside_dir", [sym("s", o), d("s/evil-dir/")], "s/evil-dir/"),
        ("symlink_chain", [d("a/"), sym("a/b", "../c"), sym("c", o), f("a/b/evil")],
         "a/b/evil"),
        ("symlink_swapped",
         [d("d/"), f("d/ok"), sym("d", o), f("d/evil")], "d/evil"),
        ("symlink_swapped_deep",
         [d("d/"), d("d/e/"), sym("d", o), f("d/e/evil")], "d/e/evil"),
        ("hardlink_etc_passwd", [hard("passwd", "/etc/passwd")], "passwd"),
        ("hardlink_dotdot", [hard("l", "../" + os.path.basename(o) + "/victim")], "l"),
        ("hardlink_outside_abs", [hard("l", o + "/victim")], "l"),
        ("hardlink_through_symlink", [sym("s", o), hard("l", "s/victim")], "l"),
        ("hardlink_through_symlink_root", [sym("s", "/"), hard("l", "s/etc/passwd")], "l"),
        ("hardlink_into_symlink_dir", [sym("s", o), f("t"), hard("s/l", "t")], "s/l"),
        ("whiteout_dotdot", [d("d/"), f("d/.wh...")], "d/.wh..."),
        ("whiteout_escape", [f("../.wh.victim")], "../.wh.victim"),
        ("whiteout_through_symlink", [sym("s", o), f("s/.wh.victim")], "s/.wh.victim"),
        ("opaque_through_symlink", [sym("s", o), f("s/.wh..wh..opq")], "s/.wh..wh..opq"),
        ("chardev_dotdot", [chr_("../dev-evil")], "../dev-evil"),
        ("chardev_through_symlink", [sym("dev", o), chr_("dev/null")], "dev/null"),
        ("blockdev_absolute", [blk("/dev/" + evil)], "/dev/" + evil),
        ("fifo_through_symlink", [sym("s", o), fifo("s/fifo")], "s/fifo"),
        ("chardev_name_dotdot_in_middle", [d("dev/"), chr_("dev/../../dev-evil")],
         "dev/../../dev-evil"),
    ]


def write_tar(path, entries):
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
        for ti, data in entries:
            t.addfile(ti, data)


def build_corpus(outdir, outside, token="x"):
    """Write the corpus; returns [(case, tar path, entry)]."""
    out = []
    for name, entries, entry in cases(outside, token):
        p = os.path.join(outdir, name + ".tar")
        write_tar(p, entries)
        out.append((name, p, entry))
    return out


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    for name, _, entry in build_corpus(sys.argv[1], os.path.abspath(sys.argv[2])):
        print(name, entry)
    return 0


if __name__ == "__main__":
    sys.exit(main())
