"""The code style checks: clang-format clean, no banned functions."""
import glob
import os
import re
import subprocess

from conftest import REPO


def _sources():
    files = []
    for pat in ("src/**/*.c", "src/**/*.h", "tests/unit/*.c", "tests/unit/*.h", "tests/fuzz/*.c"):
        files += glob.glob(os.path.join(REPO, pat), recursive=True)
    return sorted(files)


def test_clang_format_clean():
    files = _sources()
    # one clang-format process for all files: per-file processes cost far more
    p = subprocess.run(["clang-format", "--dry-run", "--Werror"] + files,
                       capture_output=True, text=True)
    bad = sorted({os.path.relpath(line.split(":", 1)[0], REPO)
                  for line in p.stderr.splitlines()
                  if ": error: code should be clang-formatted" in line})
    assert p.returncode == 0 and not bad, \
        "not clang-formatted (run clang-format -i): " + " ".join(bad) + "\n" + p.stderr[-2000:]


BANNED = re.compile(r"\b(sprintf|vsprintf|strcpy|strcat|gets|system)\s*\(")


def test_no_banned_functions():
    hits = []
    for f in _sources():
        with open(f, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                code = line.split("//")[0]
                if BANNED.search(code) and not code.lstrip().startswith(("*", "/*")):
                    hits.append("%s:%d: %s" % (os.path.relpath(f, REPO), n, line.strip()))
    assert not hits, "banned functions:\n" + "\n".join(hits)
