"""cppcheck over src/ and the C tests, with a fixed set of checks.

Enabled: cppcheck's errors, warnings, portability, performance and style
checks, except the style checks below, each suppressed for a reason:
  unreadVariable, redundantAssignment, redundantInitialization,
  unusedStructMember: cppcheck does not know __attribute__((cleanup)), so
      every _cleanup_ guard (transactions, locks, fds) looks unread;
  knownConditionTrueFalse, pointerLessThanZero: false positives here (it
      loses track of values through our helpers and of stat vs. stat());
  variableScope, constParameter, shadowFunction: taste, not defects.
A finding that is a false positive at one place gets an inline
"// cppcheck-suppress <id>" with the reason next to it."""
import os
import subprocess

from conftest import BUILD, REPO

SUPPRESS = ["unreadVariable", "redundantAssignment", "redundantInitialization",
            "unusedStructMember", "knownConditionTrueFalse", "pointerLessThanZero",
            "variableScope", "constParameter", "shadowFunction"]


def test_cppcheck_clean():
    cache = os.path.join(BUILD, "cppcheck-cache")
    os.makedirs(cache, exist_ok=True)
    cmd = ["cppcheck", "--quiet", "-j2", "--inline-suppr", "--error-exitcode=1",
           "--enable=warning,style,performance,portability",
           "--library=" + os.path.join(REPO, "tests", "cppcheck.cfg"),
           "--cppcheck-build-dir=" + cache,
           "-D_GNU_SOURCE", "-D__linux__", "-D__x86_64__", "-D__CPPCHECK__", "-I", "src",
           "--template={file}:{line}: {severity}({id}): {message}"]
    cmd += ["--suppress=" + s for s in SUPPRESS]
    cmd += ["src", "tests/unit", "tests/fuzz"]
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and not p.stderr.strip(), p.stderr[-8000:]
