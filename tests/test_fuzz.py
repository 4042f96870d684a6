"""Runs every libFuzzer harness (tests/fuzz/fuzz_*.c) for a few seconds.

Builds (or refreshes) build-fuzz inside the repository with clang and
-Dfuzz=true, then runs each fuzz_* binary found there with its seed corpus
(tests/fuzz/corpus/<name>/, if any) for FUZZ_SECONDS seconds; any crash,
sanitizer report, leak or timeout fails the test with the reproducer kept
under build-fuzz/fuzz-artifacts/."""
import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import REPO

FUZZ_BUILD = os.path.join(REPO, "build-fuzz")
FUZZ_SRC = os.path.join(REPO, "tests", "fuzz")
FUZZ_SECONDS = int(os.environ.get("BERTH_FUZZ_SECONDS", "5"))


def _run(cmd, **kw):
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        pytest.fail("%s failed (%d):\n%s%s" % (" ".join(cmd), p.returncode,
                                               p.stdout[-4000:], p.stderr[-4000:]))
    return p


def _sources():
    return sorted(os.path.basename(f)[:-2] for f in glob.glob(os.path.join(FUZZ_SRC, "fuzz_*.c")))


def _binaries():
    d = os.path.join(FUZZ_BUILD, "tests", "fuzz")
    return sorted(os.path.basename(f) for f in glob.glob(os.path.join(d, "fuzz_*"))
                  if os.path.isfile(f) and os.access(f, os.X_OK))


def _build():
    if shutil.which("clang") is None:
        pytest.fail("clang is needed for the fuzz build (scripts/install-deps.sh installs it)")
    env = dict(os.environ, CC="clang")
    if not os.path.exists(os.path.join(FUZZ_BUILD, "build.ninja")):
        shutil.rmtree(FUZZ_BUILD, ignore_errors=True)
        _run(["meson", "setup", FUZZ_BUILD, "-Dfuzz=true"], env=env)
    elif set(_sources()) - set(_binaries()):
        # A harness appeared since the last configure: meson only sees new
        # files when it runs again.
        _run(["meson", "setup", "--reconfigure", FUZZ_BUILD, "-Dfuzz=true"], env=env)
    # Only the harnesses (and the library they link), not the whole tree.
    _run(["ninja", "-C", FUZZ_BUILD] + ["tests/fuzz/" + n for n in _sources()],
         env=env, timeout=600)


def test_fuzz_harnesses():
    _build()
    # A binary whose source is gone (a stale build) is not run.
    names = sorted(set(_binaries()) & set(_sources()))
    missing = set(_sources()) - set(names)
    assert not missing, "harness sources not built: %s" % " ".join(sorted(missing))
    assert names, "no fuzz harnesses built"
    artifacts = os.path.join(FUZZ_BUILD, "fuzz-artifacts")
    os.makedirs(artifacts, exist_ok=True)
    env = dict(os.environ,
               ASAN_OPTIONS="detect_leaks=1:abort_on_error=0",
               UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1")
    jobs = max(2, os.cpu_count() or 2)
    failures = []
    with tempfile.TemporaryDirectory(prefix="berth-fuzz-") as tmp:
        pending = list(names)
        running = []
        while pending or running:
            while pending and len(running) < jobs:
                name = pending.pop(0)
                work = os.path.join(tmp, name)
                os.makedirs(work)
                cmd = [os.path.join(FUZZ_BUILD, "tests", "fuzz", name),
                       "-max_total_time=%d" % FUZZ_SECONDS, "-timeout=10",
                       "-rss_limit_mb=2048", "-print_final_stats=0",
                       "-artifact_prefix=%s/%s-" % (artifacts, name), work]
                seeds = os.path.join(FUZZ_SRC, "corpus", name)
                if os.path.isdir(seeds):
                    cmd.append(seeds)
                log = open(os.path.join(tmp, name + ".log"), "w+")
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
                running.append((name, proc, log))
            name, proc, log = running.pop(0)
            try:
                rc = proc.wait(timeout=FUZZ_SECONDS + 60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                rc = "hung"
            if rc != 0:
                log.seek(0)
                failures.append("%s exited %s:\n%s" % (name, rc, log.read()[-3000:]))
            log.close()
    assert not failures, "\n\n".join(failures)
