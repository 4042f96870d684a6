"""Helpers for the `berth runtime` tests: busybox bundles and a runner."""
import json
import os
import subprocess
import tempfile
import uuid

from conftest import BERTH, REPO


class Runtime:
    def __init__(self, root):
        self.root = str(root)

    def cmd(self, *args):
        return [BERTH, "runtime", "--root", self.root] + [str(a) for a in args]

    def run(self, *args, check=True, timeout=60, **kw):
        # files, not pipes: a detached container keeps its stdio open
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.run(self.cmd(*args), stdout=out, stderr=err, timeout=timeout,
                               stdin=kw.pop("stdin", subprocess.DEVNULL), **kw)
            out.seek(0)
            err.seek(0)
            p.stdout = out.read()
            p.stderr = err.read()
        if check and p.returncode != 0:
            raise AssertionError("berth runtime %s failed (%d): %s%s" % (
                " ".join(map(str, args)), p.returncode, p.stdout.decode(errors="replace"),
                p.stderr.decode(errors="replace")))
        return p

    def state(self, cid):
        return json.loads(self.run("state", cid).stdout)


def extract_rootfs(path, rootfs_tar):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["tar", "-C", path, "-xf", rootfs_tar], check=True)
    return path


def make_bundle(path, rootfs, args=None, edit=None, spec_cmd=None):
    """A bundle dir with `berth runtime spec`'s config. rootfs: a directory
    (shared, used in place) or a tar (extracted into the bundle)."""
    os.makedirs(path, exist_ok=True)
    subprocess.run(spec_cmd or [BERTH, "runtime", "spec", "--bundle", path], check=True)
    if os.path.isdir(rootfs):
        root = os.path.abspath(rootfs)
    else:
        root = "rootfs"
        extract_rootfs(os.path.join(path, "rootfs"), rootfs)
    cfg_path = os.path.join(path, "config.json")
    with open(cfg_path) as f:
        cfg = json.load(f)
    cfg["root"]["readonly"] = False
    cfg["root"]["path"] = root
    if args is not None:
        cfg["process"]["args"] = args
    if edit:
        edit(cfg)
    with open(cfg_path, "w") as f:
        json.dump(cfg, f, indent=2)
    return cfg


def cid():
    return "t" + uuid.uuid4().hex[:10]
