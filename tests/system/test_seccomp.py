"""Docker's default seccomp profile: berth's copy, the build-time table.

The behaviour of compiled filters (errno rules, argument ops, the default
profile blocking what Docker blocks) is tested in C, in forked children
(tests/unit/test_runtime_seccomp.c)."""
import filecmp
import os
import subprocess
import sys

import pytest

from conftest import BUILD, FIXTURES, REPO

PROFILE = os.path.join(REPO, "src", "runtime", "seccomp-default.json")
SHARED = os.path.join(os.path.dirname(FIXTURES), "specs", "docker-default-seccomp.json")
GENERATOR = os.path.join(REPO, "scripts", "gen-seccomp-default.py")
GENERATED = os.path.join(BUILD, "src", "runtime", "seccomp_default_table.c")


def test_profile_is_dockers():
    if not os.path.exists(SHARED):
        pytest.fail("shared spec %s is missing" % SHARED)
    assert filecmp.cmp(PROFILE, SHARED, shallow=False), \
        "src/runtime/seccomp-default.json differs from %s" % SHARED


def test_build_table_is_generated_from_profile(tmp_path):
    out = tmp_path / "table.c"
    subprocess.run([sys.executable, GENERATOR, PROFILE, str(out)], check=True)
    assert os.path.exists(GENERATED), "the build did not generate " + GENERATED
    with open(GENERATED) as a, open(out) as b:
        assert a.read() == b.read(), "build table is stale: rebuild"


def test_generator_refuses_unknown_rule_keys(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": '
                   '[{"names": ["read"], "action": "SCMP_ACT_ALLOW", "includes": {"gpu": 1}}]}')
    p = subprocess.run([sys.executable, GENERATOR, str(bad), str(tmp_path / "o.c")],
                       capture_output=True, text=True)
    assert p.returncode != 0
    assert "unknown keys" in p.stderr


# ---- through `berth runtime`, read from inside a busybox container ----

from conftest import require_root  # noqa: E402
from runtime_util import Runtime, cid, extract_rootfs, make_bundle  # noqa: E402


@pytest.fixture
def rt(tmp_path):
    require_root()
    r = Runtime(tmp_path / "state")
    yield r
    p = subprocess.run(r.cmd("list", "-q"), capture_output=True)
    for c in p.stdout.decode().split():
        subprocess.run(r.cmd("delete", "-f", c), capture_output=True)


@pytest.fixture(scope="module")
def bb_root(tmp_path_factory, busybox_rootfs_tar):
    d = tmp_path_factory.mktemp("bbroot")
    return extract_rootfs(str(d / "rootfs"), busybox_rootfs_tar)


def run_script(rt, tmp_path, root, script, seccomp=None):
    b = tmp_path / ("b" + cid())

    def edit(c):
        if seccomp is not None:
            c["linux"]["seccomp"] = seccomp
    make_bundle(str(b), root, ["sh", "-c", script], edit=edit)
    p = rt.run("run", "--bundle", b, cid(), check=False)
    return p.returncode, (p.stdout + p.stderr).decode()


def test_default_profile_in_container(rt, tmp_path, bb_root):
    rc, out = run_script(rt, tmp_path, bb_root,
                         "grep '^Seccomp:' /proc/self/status; unshare -u true; "
                         "echo unshare=$?; mkdir /tmp/ok && echo mkdir-ok")
    assert "Seccomp:\t2" in out, out
    assert "Operation not permitted" in out and "unshare=1" in out, out
    assert "mkdir-ok" in out, out


def test_custom_profile_errno_and_argument_filter(rt, tmp_path, bb_root):
    prof = {"defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28},
                # kill(pid, 0) only: signal 0 is refused, real signals pass
                {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 75,
                 "args": [{"index": 1, "value": 0, "op": "SCMP_CMP_EQ"}]},
                {"names": ["no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]}
    rc, out = run_script(rt, tmp_path, bb_root,
                         "mkdir /tmp/x; kill -0 1; echo k0=$?; kill -CONT 1; echo kc=$?", prof)
    assert "No space left on device" in out, out
    assert "Value too large for defined data type" in out and "k0=1" in out, out
    assert "kc=0" in out, out


def test_bad_profile_refused(rt, tmp_path, bb_root):
    prof = {"defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_SOMETIMES"}]}
    rc, out = run_script(rt, tmp_path, bb_root, "true", prof)
    assert rc != 0 and "SCMP_ACT_SOMETIMES" in out, out
