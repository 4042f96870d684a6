"""Differential tests: the same bundle under Debian's crun and under
`berth runtime` shows the same view from inside the container."""
import os
import shutil
import subprocess

import pytest

from conftest import require_root
from runtime_util import Runtime, cid, extract_rootfs, make_bundle

VIEW = r"""
echo '== status'; grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp|Seccomp_filters):' /proc/self/status
echo '== id'; id
echo '== hostname'; hostname
echo '== ulimit'; ulimit -a
echo '== ns'; for n in cgroup ipc mnt net pid time user uts; do
  if [ "$(readlink /proc/self/ns/$n)" = "$(cat /hostns/$n)" ]; then echo "$n host"; else echo "$n new"; fi; done
echo '== dev'; ls -l /dev | awk '{print $1, $NF}' | sort
echo '== mounts'; cat /proc/self/mountinfo
echo '== cwd'; pwd
echo '== env'; env | sort
"""


def hybrid_wrapper():
    """crun 1.8.1 refuses hybrid hosts whose cgroup2 holds controllers. As the
    issue says, give hugetlb a v1 hierarchy if it has none; if the kernel
    refuses (hugetlb is in use under cgroup2 here), run crun in a private
    mount namespace where cgroup2's controller list reads empty."""
    ctl = "/sys/fs/cgroup/unified/cgroup.controllers"
    try:
        with open(ctl) as f:
            busy = f.read().strip()
    except OSError:
        return []
    if not busy:
        return []
    if not os.path.ismount("/sys/fs/cgroup/hugetlb"):
        os.makedirs("/sys/fs/cgroup/hugetlb", exist_ok=True)
        subprocess.run(["mount", "-t", "cgroup", "-o", "hugetlb", "cgroup",
                        "/sys/fs/cgroup/hugetlb"], capture_output=True)
        with open(ctl) as f:
            if not f.read().strip():
                return []
    return ["unshare", "-m", "--propagation", "slave", "sh", "-c",
            'mount --bind /dev/null %s && exec "$@"' % ctl, "sh"]


def sections(text):
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            cur = line[3:]
            out[cur] = []
        elif cur:
            out[cur].append(line)
    return out


def norm_mounts(lines, readonly=()):
    """(mount point, fs type, per-mount options, sorted super options) for each
    mount, without ids, devices or propagation; cgroup mounts apart. On
    readonlyPaths berth keeps nosuid/nodev/noexec of the mount it remounts
    (as runc and Docker do); crun drops them: only "ro" is compared there."""
    res = []
    for l in lines:
        pre, post = l.split(" - ")
        f = pre.split()
        fstype, src, sup = post.split()
        if f[4].startswith("/sys/fs/cgroup"):
            continue
        sup = ",".join(sorted(o for o in sup.split(",") if o != "inode64"))
        opts = f[5]
        if f[4] in readonly:
            opts = ",".join(o for o in opts.split(",") if o not in ("nosuid", "nodev", "noexec"))
        res.append((f[4], fstype, opts, sup))
    return sorted(res)


@pytest.fixture
def crun_bin():
    require_root()
    c = shutil.which("crun")
    if c is None:
        pytest.fail("crun is not installed (apt-get install crun)")
    return c


def run_both(tmp_path, tar, crun_bin, edit=None):
    root = extract_rootfs(str(tmp_path / "rootfs"), tar)
    os.makedirs(os.path.join(root, "hostns"), exist_ok=True)
    with open(os.path.join(root, "secret.txt"), "w") as f:
        f.write("secret")
    for n in os.listdir("/proc/self/ns"):
        if n.endswith("_for_children"):
            continue
        with open(os.path.join(root, "hostns", n), "w") as f:
            f.write(os.readlink("/proc/self/ns/" + n))
    b = str(tmp_path / "bundle")
    cfg = make_bundle(b, root, ["sh", "-c", VIEW], edit=edit)
    name = cid()
    crun_root = str(tmp_path / "crun-state")
    p1 = subprocess.run(hybrid_wrapper() + [crun_bin, "--root", crun_root, "run", name],
                        cwd=b, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    subprocess.run([crun_bin, "--root", crun_root, "delete", "-f", name], capture_output=True)
    assert p1.returncode == 0, p1.stderr
    rt = Runtime(tmp_path / "berth-state")
    p2 = rt.run("run", "--bundle", b, name)
    return (sections(p1.stdout.decode()), sections(p2.stdout.decode()),
            cfg["linux"]["readonlyPaths"])


def compare(c, b, readonly):
    for key in ("status", "id", "hostname", "ulimit", "ns", "dev", "cwd", "env"):
        assert c[key] == b[key], (key, c[key], b[key])
    assert norm_mounts(c["mounts"], readonly) == norm_mounts(b["mounts"], readonly)


def test_same_view_default_spec(tmp_path, busybox_rootfs_tar, crun_bin):
    c, b, ro = run_both(tmp_path, busybox_rootfs_tar, crun_bin)
    compare(c, b, ro)
    assert any(l.startswith("Seccomp:\t2") for l in b["status"])


def test_same_view_custom(tmp_path, busybox_rootfs_tar, crun_bin):
    def edit(cfg):
        cfg["hostname"] = "diffhost"
        cfg["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 6]}
        cfg["process"]["cwd"] = "/tmp"
        cfg["process"]["env"].append("FOO=bar")
        cfg["process"]["noNewPrivileges"] = False
        cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512},
                                     {"type": "RLIMIT_NPROC", "soft": 100, "hard": 200}]
        caps = ["CAP_NET_BIND_SERVICE", "CAP_KILL"]
        cfg["process"]["capabilities"] = {"bounding": caps, "effective": caps,
                                          "permitted": caps, "inheritable": caps,
                                          "ambient": caps}
        cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"]
                                      if n["type"] != "cgroup"]
        cfg["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                              "options": ["nosuid", "nodev", "size=2m", "mode=1777"]})
        cfg["linux"]["maskedPaths"] += ["/secret.txt", "/var/spool"]
        cfg["linux"]["readonlyPaths"].append("/etc")
    c, b, ro = run_both(tmp_path, busybox_rootfs_tar, crun_bin, edit=edit)
    compare(c, b, ro)
    assert "uid=1000 gid=1000 groups=5,6" in b["id"][0]
