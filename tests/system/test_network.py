"""berth network: create/ls/inspect/rm/prune as a user sees them, checked
against the kernel (ip link, nft). Each test has its own root, bridge
names and subnets, and removes what it made."""
import json
import subprocess

from conftest import free_test_subnet, require_root, unique_bridge


def link(name):
    p = subprocess.run(["ip", "-j", "-d", "addr", "show", "dev", name], capture_output=True,
                       text=True)
    if p.returncode != 0:
        return None
    return json.loads(p.stdout)[0]


def nft_tables():
    p = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=True)
    return p.stdout


def test_create_inspect_ls_rm(berth):
    require_root()
    sub = free_test_subnet()
    prefix = sub.rsplit(".", 1)[0]
    br = unique_bridge()
    nid = berth.out("network", "create", "--subnet", sub, "--gateway", prefix + ".254",
                    "--ip-range", prefix + ".128/25", "--label", "team=net",
                    "-o", "com.docker.network.bridge.name=" + br,
                    "-o", "com.docker.network.driver.mtu=1400", "n1").strip()
    assert len(nid) == 64
    try:
        [j] = json.loads(berth.out("network", "inspect", "n1"))
        assert j["Name"] == "n1" and j["Id"] == nid and j["Driver"] == "bridge"
        assert j["IPAM"]["Config"] == [{"Subnet": sub, "IPRange": prefix + ".128/25",
                                        "Gateway": prefix + ".254"}]
        assert j["Labels"] == {"team": "net"}
        assert j["Options"]["com.docker.network.bridge.name"] == br
        assert j["Internal"] is False and j["Containers"] == {}
        # the kernel has the bridge with the gateway address and MTU
        l = link(br)
        assert l is not None and l["mtu"] == 1400
        assert l["linkinfo"]["info_kind"] == "bridge"
        assert {"local": prefix + ".254", "prefixlen": 24} in [
            {"local": a["local"], "prefixlen": a["prefixlen"]} for a in l["addr_info"]]
        assert "berth_" + nid[:12] in nft_tables()
        # by id prefix, ls, -q, --filter, --format
        assert json.loads(berth.out("network", "inspect", nid[:10]))[0]["Name"] == "n1"
        ls = berth.out("network", "ls")
        assert ls.splitlines()[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
        assert any(l.split()[:2] == [nid[:12], "n1"] for l in ls.splitlines())
        assert nid[:12] in berth.out("network", "ls", "-q").split()
        assert berth.out("network", "ls", "--filter", "label=team=net",
                         "--format", "{{.Name}} {{.Driver}}") == "n1 bridge\n"
        assert berth.out("network", "ls", "-q", "--filter", "name=nomatch") == ""
        assert berth.out("network", "inspect", "-f", "{{.Name}} {{json .Labels}}",
                         "n1") == 'n1 {"team":"net"}\n'
    finally:
        assert berth.out("network", "rm", "n1") == "n1\n"
    assert link(br) is None
    assert "berth_" + nid[:12] not in nft_tables()
    p = berth.run("network", "inspect", "n1", check=False)
    assert p.returncode == 1 and b"network n1 not found" in p.stderr


def test_create_errors_leave_nothing(berth):
    require_root()
    sub = free_test_subnet()
    br = unique_bridge()
    berth.run("network", "create", "--subnet", sub,
              "-o", "com.docker.network.bridge.name=" + br, "a")
    try:
        p = berth.run("network", "create", "a", check=False)
        assert p.returncode == 125 and b"network with name a already exists" in p.stderr
        p = berth.run("network", "create", "--subnet", sub, "b", check=False)
        assert p.returncode == 125 and b"overlaps" in p.stderr
        # a subnet the host already routes (our own bridge's) is refused too
        p = berth.run("network", "create", "--subnet", sub.rsplit(".", 1)[0] + ".0/25",
                      "c", check=False)
        assert p.returncode == 125 and b"overlaps" in p.stderr
        p = berth.run("network", "create", "--subnet", "10.1.2.0/33", "d", check=False)
        assert p.returncode == 125 and b"invalid CIDR" in p.stderr
        p = berth.run("network", "create", "host", check=False)
        assert p.returncode == 125 and b"pre-defined" in p.stderr
        p = berth.run("network", "create", "bad/name", check=False)
        assert p.returncode == 125 and b"invalid network name" in p.stderr
        p = berth.run("network", "rm", "bridge", check=False)
        assert p.returncode == 1 and b"pre-defined network" in p.stderr
        names = [l.split()[1] for l in berth.out("network", "ls").splitlines()[1:]]
        assert names == ["a", "bridge", "host", "none"]
    finally:
        berth.run("network", "rm", "a")
    assert link(br) is None


def test_default_bridge_from_config(berth):
    require_root()
    with open(berth.config) as f:
        cfg = json.load(f)
    [j] = json.loads(berth.out("network", "inspect", "bridge"))
    assert j["IPAM"]["Config"][0]["Subnet"] == cfg["default-subnet"]
    assert j["Options"]["com.docker.network.bridge.name"] == cfg["bridge"]
    assert j["Options"]["com.docker.network.bridge.default_bridge"] == "true"
    # the bridge itself is made when the first container needs it
    assert link(cfg["bridge"]) is None


def test_default_subnet_clash_is_an_error(berth, tmp_path):
    require_root()
    # a subnet the host routes: eth0's (or loopback's) own
    # the link route of the device the default route uses (stable; other
    # tests' bridges come and go)
    d = subprocess.run(["ip", "-4", "-j", "route", "show", "default"],
                       capture_output=True, text=True, check=True)
    dev = json.loads(d.stdout)[0]["dev"]
    r = subprocess.run(["ip", "-4", "-j", "route", "show", "dev", dev, "scope", "link"],
                       capture_output=True, text=True, check=True)
    routes = [x["dst"] for x in json.loads(r.stdout) if "/" in x["dst"]]
    assert routes, "the host has no link route to clash with"
    cfgfile = tmp_path / "clash.json"
    cfgfile.write_text(json.dumps({"bridge": unique_bridge(), "default-subnet": routes[0]}))
    b2 = type(berth)(berth.root, berth.runroot, str(cfgfile))
    p = b2.run("network", "ls", check=False)
    assert p.returncode == 125 and b"overlaps with the host's route" in p.stderr


def test_prune_and_internal(berth):
    require_root()
    b1, b2 = unique_bridge(), unique_bridge()
    berth.run("network", "create", "--subnet", free_test_subnet(), "--internal",
              "-o", "com.docker.network.bridge.name=" + b1, "p1")
    berth.run("network", "create", "--subnet", free_test_subnet(),
              "-o", "com.docker.network.bridge.name=" + b2, "p2")
    [j] = json.loads(berth.out("network", "inspect", "p1"))
    assert j["Internal"] is True
    ruleset = subprocess.run(["nft", "list", "table", "inet", "berth_" + j["Id"][:12]],
                             capture_output=True, text=True, check=True).stdout
    assert 'iifname "%s" oifname != "%s" drop' % (b1, b1) in ruleset
    assert "masquerade" in ruleset and 'oifname != "%s" masquerade' % b1 not in ruleset
    out = berth.out("network", "prune", "-f")
    assert out.splitlines()[0] == "Deleted Networks:"
    assert sorted(out.splitlines()[1:]) == ["p1", "p2"]
    assert link(b1) is None and link(b2) is None
    assert [l.split()[1] for l in berth.out("network", "ls").splitlines()[1:]] == [
        "bridge", "host", "none"]
    [h] = json.loads(berth.out("network", "inspect", "host"))
    assert h["Driver"] == "host" and h["IPAM"]["Config"] == []
    p = berth.run("network", "rm", "none", check=False)
    assert p.returncode == 1 and b"pre-defined network" in p.stderr


def test_config_file_errors(berth, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"bridge": 3}')
    b2 = type(berth)(berth.root, berth.runroot, str(bad))
    p = b2.run("network", "ls", check=False)
    assert p.returncode == 125 and b'"bridge" must be a string' in p.stderr
    b3 = type(berth)(berth.root, berth.runroot, str(tmp_path / "missing.json"))
    p = b3.run("network", "ls", check=False)
    assert p.returncode == 125 and b"missing.json" in p.stderr


def test_second_root_on_a_bridge_gets_its_own_table(busybox, tmp_path, busybox_rootfs_tar):
    """Roots share a bridge by name (the default berth0 is every root's).
    A root whose bridge another root made first still gets its network's
    nftables table (masquerade, isolation) at its first container, not
    only once it publishes a port."""
    from conftest import Berth, cleanup_networks
    busybox.run("run", "--rm", "busybox", "true")  # the bridge and the first table
    other = Berth(str(tmp_path / "root2"), str(tmp_path / "run2"), busybox.config)
    try:
        other.run("import", "-c", 'CMD ["/bin/sh"]', busybox_rootfs_tar, "busybox:latest")
        other.run("run", "--rm", "busybox", "true")
        nid = other.out("network", "inspect", "-f", "{{.Id}}", "bridge").strip()
        assert "berth_" + nid[:12] in nft_tables()
    finally:
        cleanup_networks(other.root)
