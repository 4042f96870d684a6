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
