"""Every symbol src/base/lazylib.h routes through dlopen() must exist in the
library it names, with the soname lazylib.c opens."""
import ctypes
import os
import re

from conftest import REPO


def test_lazy_symbols_resolve():
    hdr = open(os.path.join(REPO, "src/base/lazylib.h")).read()
    src = open(os.path.join(REPO, "src/base/lazylib.c")).read()
    sonames = dict(re.findall(r'\[(LAZY_[A-Z]+)\]\s*=\s*"([^"]+)"', src))
    enum = re.search(r"enum lazy_lib \{([^}]*)\}", hdr).group(1)
    libs = [x.strip() for x in enum.split(",") if x.strip()]
    assert sorted(libs) == sorted(sonames), "every lazy library needs a soname"
    calls = re.findall(r"LAZY_CALL\((LAZY_[A-Z]+),\s*(\w+)\)", hdr)
    assert len(calls) > 30
    missing = []
    for lib, sym in calls:
        if lib == "lib":
            continue
        handle = ctypes.CDLL(sonames[lib])
        if not hasattr(handle, sym):
            missing.append("%s in %s" % (sym, sonames[lib]))
    assert not missing, "unresolvable: " + ", ".join(missing)
