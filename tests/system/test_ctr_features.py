"""Container features checked from the user's side: NET I/O in `stats`,
log attributes (--log-opt labels/env/env-regex, `logs --details`),
`container prune --filter`, and user namespaces (--userns, userns-remap)."""
import json
import re
import time

from conftest import free_test_subnet, unique_bridge

UNITS = {"B": 1, "kB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3}


def size(text):
    m = re.fullmatch(r"([0-9.]+)([kMG]?B)", text.strip())
    assert m, text
    return float(m.group(1)) * UNITS[m.group(2)]


def net_io(b, name):
    out = b.out("stats", "--no-stream", "--format", "{{json .}}", name)
    row = json.loads(out)
    assert row["Name"] == name
    rx, tx = row["NetIO"].split(" / ")
    return size(rx), size(tx)


def test_stats_net_io_counts_traffic_between_containers(busybox):
    b = busybox
    b.run("network", "create", "--subnet", free_test_subnet(),
          "-o", "com.docker.network.bridge.name=" + unique_bridge(), "statnet")
    try:
        b.run("run", "-d", "--name", "srv", "--network", "statnet", "busybox", "sh", "-c",
              "sleep 60 | nc -l -p 7000 >/dev/null")
        b.run("run", "-d", "--name", "idle", "--network", "none", "busybox", "sleep", "60")
        b.run("run", "-d", "--name", "hostnet", "--network", "host", "busybox", "sleep", "60")
        rx0, tx0 = net_io(b, "srv")
        assert rx0 < 100000 and tx0 < 100000
        # 600 kB from one container to the other
        b.run("run", "-d", "--name", "cli", "--network", "statnet", "busybox", "sh", "-c",
              "until dd if=/dev/zero bs=1000 count=600 2>/dev/null | nc srv 7000; "
              "do sleep 0.2; done; sleep 60")
        deadline = time.time() + 30
        while True:
            srx, stx = net_io(b, "srv")
            crx, ctx = net_io(b, "cli")
            if srx >= 600000 and ctx >= 600000 or time.time() > deadline:
                break
            time.sleep(0.3)
        assert srx >= 600000 and ctx >= 600000, (srx, stx, crx, ctx)
        # the acknowledgements went the other way: far less than the data
        assert stx < srx and crx < ctx
        # no network namespace of its own, or only lo: nothing to count
        assert net_io(b, "idle") == (0, 0)
        assert net_io(b, "hostnet") == (0, 0)
        # the default table has the column
        table = b.out("stats", "--no-stream", "srv").splitlines()
        assert "NET I/O" in table[0]
        assert re.search(r"\d(\.\d+)?[kM]B / ", table[1]), table
    finally:
        b.run("rm", "-f", "srv", "cli", "idle", "hostnet", check=False)
        b.run("network", "rm", "statnet", check=False)
