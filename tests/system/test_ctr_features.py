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


def test_logs_details_shows_label_and_env_attributes(busybox):
    b = busybox
    out = b.out("run", "--name", "lg", "-l", "app=web", "-l", "tier=front end/1",
                "-e", "REGION=eu-1", "-e", "OTHER=x", "-e", "SKIP=no",
                "--log-opt", "labels=app,tier,missing", "--log-opt", "env=REGION",
                "--log-opt", "env-regex=^OTH", "busybox", "sh", "-c",
                "echo hello; echo oops >&2")
    assert out == "hello\n"
    p = b.run("logs", "--details", "lg")
    # sorted, query-escaped, before the line (Docker's daemon/logs.go)
    assert p.stdout.decode() == "OTHER=x,REGION=eu-1,app=web,tier=front+end%2F1 hello\n"
    assert p.stderr.decode() == "OTHER=x,REGION=eu-1,app=web,tier=front+end%2F1 oops\n"
    assert b.out("logs", "lg") == "hello\n"
    ts = b.out("logs", "-t", "--details", "lg")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT[0-9:.]+Z OTHER=x,\S+ hello\n", ts), ts
    # the json-file entries carry them as "attrs", between stream and time
    path = b.out("inspect", "-f", "{{.LogPath}}", "lg").strip()
    with open(path) as f:
        line = f.readline()
    assert '"stream":"stdout","attrs":{"OTHER":"x","REGION":"eu-1","app":"web",' in line
    assert json.loads(line)["attrs"]["tier"] == "front end/1"
    # without attribute options: just the separating space
    b.run("run", "--name", "plain", "busybox", "echo", "hi")
    assert b.out("logs", "--details", "plain") == " hi\n"
    # a bad regex fails the start with a clear error; an unknown option at once
    p = b.run("run", "--log-opt", "env-regex=(", "busybox", "true", check=False)
    assert p.returncode == 125 and b"env-regex" in p.stderr, p.stderr
    p = b.run("run", "--log-opt", "colour=red", "busybox", "true", check=False)
    assert p.returncode == 125 and b"unknown log opt 'colour'" in p.stderr
    b.run("rm", "-f", "lg", "plain")


def test_container_prune_filters(busybox):
    b = busybox

    def ids(*names):
        return {b.out("inspect", "-f", "{{.Id}}", n).strip() for n in names}

    def prune(*filters):
        out = b.out("container", "prune", "-f", *["--filter=" + f for f in filters])
        lines = out.splitlines()
        assert lines[-1].startswith("Total reclaimed space: ")
        return set(lines[1:-2]) if lines[0] == "Deleted Containers:" else set()

    b.run("create", "--name", "old", "-l", "tier=a", "busybox", "true")
    time.sleep(1.1)
    cut = time.time()
    time.sleep(1.1)
    b.run("create", "--name", "new_a", "-l", "tier=a", "busybox", "true")
    b.run("run", "--name", "keepme", "-l", "tier=a", "-l", "keep", "busybox", "true")
    b.run("create", "--name", "new_b", "-l", "tier=b", "busybox", "true")
    b.run("run", "-d", "--name", "running", "-l", "tier=a", "busybox", "sleep", "60")
    try:
        want = ids("old")
        assert prune("until=%.3f" % cut) == want
        assert prune("until=1h") == set()
        want = ids("new_a")
        assert prune("label=tier=a", "label!=keep") == want
        want = ids("keepme", "new_b")
        assert prune("label=tier") == want
        names = b.out("ps", "-a", "--format", "{{.Names}}").split()
        assert names == ["running"]
        p = b.run("container", "prune", "-f", "--filter", "colour=red", check=False)
        assert p.returncode == 125 and b"invalid filter 'colour'" in p.stderr
        p = b.run("container", "prune", "-f", "--filter", "until=yesterday", check=False)
        assert p.returncode == 125
    finally:
        b.run("rm", "-f", "running", check=False)
