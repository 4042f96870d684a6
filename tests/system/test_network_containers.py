"""Containers on networks, as a user sees them: published ports from the
host (loopback and its own address), from other containers, UDP, DNS on
user networks, isolation, connect/disconnect, --internal, container: and
host modes, and recovery after kill -9 of berth. Traffic goes only to
loopback, the host's own addresses and the containers made here."""
import http.server
import json
import os
import ipaddress
import random
import secrets
import signal
import socket
import subprocess
import threading
import time

from conftest import free_test_subnet, require_root, unique_bridge

UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    d, a = s.recvfrom(100)
    s.sendto(b"udp-reply\\n", a)
"""
HTTPD = "mkdir -p /www && echo hello-$HOSTNAME > /www/index.html && httpd -f -p 80 -h /www"


def host_addr():
    d = subprocess.run(["ip", "-4", "-j", "route", "show", "default"], capture_output=True,
                       text=True, check=True)
    dev = json.loads(d.stdout)[0]["dev"]
    a = subprocess.run(["ip", "-4", "-j", "addr", "show", "dev", dev], capture_output=True,
                       text=True, check=True)
    return json.loads(a.stdout)[0]["addr_info"][0]["local"]


def free_port():
    for _ in range(100):
        p = random.randint(20000, 32000)
        s = socket.socket()
        try:
            s.bind(("0.0.0.0", p))
            return p
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


def fetch(url, timeout=3):
    p = subprocess.run(["curl", "-sS", "-m", str(timeout), url], capture_output=True, text=True)
    return p.stdout if p.returncode == 0 else None


def wait_http(url, tries=50):
    for _ in range(tries):
        out = fetch(url, 1)
        if out is not None:
            return out
        time.sleep(0.1)
    return None


def pid_of(b, c):
    return int(b.out("inspect", "-f", "{{.State.Pid}}", c).strip())


def ip_of(b, c, net=None):
    nets = json.loads(b.out("inspect", "-f", "{{json .NetworkSettings.Networks}}", c))
    return nets[net or "bridge"]["IPAddress"]


def veths(bridge):
    """The veths on this test's bridge (other tests run at the same time)."""
    p = subprocess.run(["ip", "-br", "link", "show", "master", bridge], capture_output=True,
                       text=True)
    return {l.split()[0].split("@")[0] for l in p.stdout.splitlines() if l.strip()}


def new_net(b, name, *extra):
    b.run("network", "create", "--subnet", free_test_subnet(),
          "-o", "com.docker.network.bridge.name=" + unique_bridge(), *extra, name)


def test_published_ports_tcp_udp(busybox):
    b = busybox
    p1, p2, pu = free_port(), free_port(), free_port()
    c = b.out("run", "-d", "--name", "web", "-p", "127.0.0.1:%d:80" % p1, "-p", "%d:80" % p2,
              "-p", "%d:5353/udp" % pu, "-p", "8080", "busybox", "sh", "-c", HTTPD).strip()
    # busybox has no UDP server: run one in the container's network namespace
    udp = subprocess.Popen(["nsenter", "-t", str(pid_of(b, c)), "-n", "/usr/bin/python3", "-c",
                            UDP_ECHO])
    try:
        assert wait_http("http://127.0.0.1:%d/index.html" % p1) == "hello-%s\n" % c[:12]
        addr = host_addr()
        # the host's other address: the all-addresses binding, not the 127.0.0.1 one
        assert fetch("http://%s:%d/index.html" % (addr, p2)) is not None
        assert fetch("http://%s:%d/index.html" % (addr, p1), 1) is None
        # another container through the host port (hairpin), and its own port
        out = b.out("run", "--rm", "busybox", "wget", "-qO-",
                    "http://%s:%d/index.html" % (addr, p2))
        assert out == "hello-%s\n" % c[:12]
        # UDP
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.5)
        for _ in range(20):
            s.sendto(b"ping\n", ("127.0.0.1", pu))
            try:
                data, src = s.recvfrom(100)
                break
            except TimeoutError:
                continue
        s.close()
        assert data == b"udp-reply\n"
        # berth port lists them, the random one too; ps shows them
        ports = b.out("port", "web").splitlines()
        assert "80/tcp -> 127.0.0.1:%d" % p1 in ports
        assert "80/tcp -> 0.0.0.0:%d" % p2 in ports
        assert "5353/udp -> 0.0.0.0:%d" % pu in ports
        rnd = [l for l in b.out("port", "web", "8080").splitlines()]
        assert len(rnd) == 1 and rnd[0].startswith("0.0.0.0:")
        assert int(rnd[0].split(":")[1]) >= 1024
        assert "127.0.0.1:%d->80/tcp" % p1 in b.out("ps", "--format", "{{.Ports}}")
        # a taken port: a clear error before the container starts
        p = b.run("run", "-d", "-p", "%d:80" % p2, "busybox", "true", check=False)
        assert p.returncode == 125 and b"port is already allocated" in p.stderr
    finally:
        udp.kill()
        udp.wait()
        b.run("rm", "-f", "web")
    # released: the port, the veth, the rule
    assert fetch("http://127.0.0.1:%d/index.html" % p1, 1) is None


def test_client_source_address_kept(busybox):
    b = busybox
    port = free_port()
    c = b.out("run", "-d", "-p", "%d:7000" % port, "busybox", "sh", "-c",
              "sleep 60 | nc -l -p 7000").strip()
    try:
        addr = host_addr()
        for _ in range(50):
            try:
                s = socket.create_connection((addr, port), timeout=3)
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.3)
        out = b.out("exec", c, "netstat", "-tn")
        s.close()
        est = [l.split() for l in out.splitlines() if "ESTABLISHED" in l]
        assert est and all(f[4].rsplit(":", 1)[0].replace("::ffff:", "") == addr
                           for f in est), out
    finally:
        b.run("rm", "-f", c)


def test_user_network_dns_and_isolation(busybox):
    b = busybox
    new_net(b, "front")
    new_net(b, "back")
    try:
        b.run("run", "-d", "--name", "api", "--network", "front", "--network-alias", "svc",
              "busybox", "sh", "-c", HTTPD)
        out = b.out("run", "--rm", "--network", "front", "busybox", "sh", "-c",
                    "ping -c1 -W2 api >/dev/null && ping -c1 -W2 svc >/dev/null && "
                    "wget -qO- http://api/index.html && wget -qO- http://svc/index.html")
        assert out.count("hello-") == 2
        # a container started later resolves at once
        b.run("run", "-d", "--name", "late", "--network", "front", "busybox", "sleep", "60")
        b.run("run", "--rm", "--network", "front", "busybox", "ping", "-c1", "-W2", "late")
        # the default bridge has no name resolution
        p = b.run("run", "--rm", "busybox", "ping", "-c1", "-W1", "api", check=False)
        assert p.returncode != 0
        # another network cannot reach it, by name or address
        api_ip = ip_of(b, "api", "front")
        p = b.run("run", "--rm", "--network", "back", "busybox", "sh", "-c",
                  "nc -w 2 %s 80 </dev/null" % api_ip, check=False, timeout=30)
        assert p.returncode != 0
        # connect gives reachability and the alias; disconnect takes it away
        b.run("run", "-d", "--name", "roamer", "--network", "back", "busybox", "sleep", "60")
        p = b.run("exec", "roamer", "sh", "-c", "nc -w 2 %s 80 </dev/null" % api_ip,
                  check=False, timeout=30)
        assert p.returncode != 0
        b.run("network", "connect", "--alias", "wanderer", "front", "roamer")
        assert b.out("exec", "roamer", "wget", "-qO-",
                     "http://api/index.html").startswith("hello-")
        b.run("run", "--rm", "--network", "front", "busybox", "ping", "-c1", "-W2", "wanderer")
        nets = json.loads(b.out("inspect", "-f", "{{json .NetworkSettings.Networks}}",
                                "roamer"))
        assert set(nets) == {"front", "back"}
        [fj] = json.loads(b.out("network", "inspect", "front"))
        assert {v["Name"] for v in fj["Containers"].values()} == {"api", "late", "roamer"}
        b.run("network", "disconnect", "front", "roamer")
        p = b.run("exec", "roamer", "sh", "-c", "nc -w 2 %s 80 </dev/null" % api_ip,
                  check=False, timeout=30)
        assert p.returncode != 0
        p = b.run("network", "rm", "front", check=False)
        assert p.returncode == 1 and b"active endpoints" in p.stderr
    finally:
        for c in ("api", "late", "roamer"):
            b.run("rm", "-f", c, check=False)
        b.run("network", "rm", "front", "back", check=False)


def test_internal_container_and_host_modes(busybox):
    b = busybox
    addr = host_addr()
    # a web server on the host's own address (the tests' only "outside")
    srv = http.server.HTTPServer((addr, 0), http.server.SimpleHTTPRequestHandler)
    port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    new_net(b, "sealed", "--internal")
    try:
        # the default bridge reaches the host's address; --internal does not
        b.run("run", "--rm", "busybox", "wget", "-qO", "/dev/null",
              "http://%s:%d/" % (addr, port), timeout=30)
        p = b.run("run", "--rm", "--network", "sealed", "busybox", "sh", "-c",
                  "nc -w 2 %s %d </dev/null" % (addr, port), check=False, timeout=30)
        assert p.returncode != 0
        assert "default" not in b.out("run", "--rm", "--network", "sealed", "busybox", "ip",
                                      "route")
        # container:X shares X's interfaces
        b.run("run", "-d", "--name", "x", "busybox", "sleep", "60")
        xip = ip_of(b, "x")
        out = b.out("run", "--rm", "--network", "container:x", "busybox", "ip", "-4", "addr")
        assert xip in out
        # host mode sees the host's interfaces
        out = b.out("run", "--rm", "--network", "host", "busybox", "ip", "-4", "addr")
        assert addr in out
        # none: loopback only
        out = b.out("run", "--rm", "--network", "none", "busybox", "ip", "link")
        assert "lo:" in out and "eth0" not in out
        assert "<LOOPBACK,UP,LOWER_UP>" in out, out  # loopback is up, as Docker's
        out = b.out("run", "--rm", "--network", "none", "busybox", "sh", "-c",
                    "httpd -p 127.0.0.1:8080 -h /etc && wget -qO- http://127.0.0.1:8080/hostname")
        assert out.strip(), "loopback unusable under --network none"
    finally:
        srv.shutdown()
        srv.server_close()
        b.run("rm", "-f", "x", check=False)
        b.run("network", "rm", "sealed", check=False)


def test_etc_files_and_flags(busybox):
    b = busybox
    new_net(b, "flags")
    try:
        sub = json.loads(b.out("network", "inspect", "flags"))[0]["IPAM"]["Config"][0]["Subnet"]
        ip = sub.rsplit(".", 1)[0] + ".77"
        out = b.out("run", "--rm", "--network", "flags", "--ip", ip, "--hostname", "h1",
                    "--mac-address", "02:42:12:34:56:78", "--add-host", "db:10.9.8.7",
                    "--add-host", "gw:host-gateway", "--dns-search", "example.test",
                    "busybox", "sh", "-c", "ip addr show eth0; cat /etc/hosts /etc/resolv.conf")
        assert "inet %s/24" % ip in out and "02:42:12:34:56:78" in out
        assert "10.9.8.7\tdb\n" in out and "%s\th1\n" % ip in out
        assert "\tgw\n" in out
        assert "search example.test" in out
        out = b.out("run", "--rm", "--dns", "192.0.2.53", "--dns-option", "ndots:2", "busybox",
                    "cat", "/etc/resolv.conf")
        assert "nameserver 192.0.2.53" in out and "options ndots:2" in out
        p = b.run("run", "--rm", "-p", "99999:80", "busybox", "true", check=False)
        assert p.returncode == 125 and b"invalid hostPort" in p.stderr
        p = b.run("run", "--rm", "--network", "nosuch", "busybox", "true", check=False)
        assert p.returncode == 125 and b"network nosuch not found" in p.stderr
    finally:
        b.run("network", "rm", "flags", check=False)


def test_kill9_mid_run_recovers(busybox):
    b = busybox
    with open(b.config) as f:
        bridge = json.load(f)["bridge"]
    port = free_port()
    # start runs and kill them at different moments
    for delay in (0.02, 0.05, 0.1, 0.2):
        p = subprocess.Popen(b.cmd("run", "-d", "-p", "%d:80" % port, "busybox", "sleep", "30"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        for c in b.out("ps", "-aq").split():
            b.run("rm", "-f", c, check=False)
    # the next run works, the port is free again, nothing leaked
    c = b.out("run", "-d", "-p", "%d:80" % port, "busybox", "sh", "-c", HTTPD).strip()
    assert wait_http("http://127.0.0.1:%d/index.html" % port) is not None
    b.run("rm", "-f", c)
    # a dead container's namespace (and its veth) goes away asynchronously
    for _ in range(100):
        if veths(bridge) == set():
            break
        time.sleep(0.1)
    assert veths(bridge) == set()
    [j] = json.loads(b.out("network", "inspect", "bridge"))
    rules = subprocess.run(["nft", "list", "table", "inet", "berth_" + j["Id"][:12]],
                           capture_output=True, text=True).stdout
    assert ":%d " % port not in rules and ". %d :" % port not in rules
    assert j["Containers"] == {}


def host_addrs6():
    """Global v6 addresses of the host's own interfaces (not bridges or veths)."""
    p = subprocess.run(["ip", "-6", "-j", "-d", "addr", "show", "scope", "global"],
                       capture_output=True, text=True, check=True)
    return [a["local"] for l in json.loads(p.stdout)
            if l.get("linkinfo", {}).get("info_kind") not in ("bridge", "veth")
            and l["ifname"] != "lo" for a in l["addr_info"] if a.get("scope") == "global"]


def random_ula64():
    """A random fdXX:XXXX:XXXX:XXXX::/64 (RFC 4193 unique local)."""
    g = secrets.token_hex(7)
    return "fd%s:%s:%s:%s::/64" % (g[:2], g[2:6], g[6:10], g[10:14])


def test_ipv6_end_to_end(busybox):
    b = busybox
    sub6 = random_ula64()
    net6 = ipaddress.ip_network(sub6)
    new_net(b, "v6net", "--ipv6", "--subnet", sub6)
    port = free_port()
    try:
        [nj] = json.loads(b.out("network", "inspect", "v6net"))
        assert nj["EnableIPv6"] is True
        # shown in canonical form, as Docker does: fd12:0d59:: reads fd12:d59::
        assert str(net6) in [c["Subnet"] for c in nj["IPAM"]["Config"]]
        b.run("run", "-d", "--name", "six", "--network", "v6net",
              "-p", "%d:80" % port, "busybox", "sh", "-c", HTTPD)
        b.run("run", "-d", "--name", "peer", "--network", "v6net", "busybox", "sleep", "60")
        addrs = {}
        for c in ("six", "peer"):
            n = json.loads(b.out("inspect", "-f", "{{json .NetworkSettings.Networks}}",
                                 c))["v6net"]
            a6 = ipaddress.ip_address(n["GlobalIPv6Address"])
            assert a6 in net6 and n["GlobalIPv6PrefixLen"] == 64, n
            assert ipaddress.ip_address(n["IPv6Gateway"]) in net6, n
            assert n["IPAddress"], n  # dual stack: a v4 address as well
            addrs[c] = str(a6)
        assert addrs["six"] != addrs["peer"]
        # the kernel has the address on eth0 and a default v6 route
        out = b.out("exec", "peer", "ip", "-6", "addr", "show", "dev", "eth0")
        assert addrs["peer"] in out
        assert "default via" in b.out("exec", "peer", "ip", "-6", "route")
        # reach each other over v6, by address and by name (AAAA)
        b.run("exec", "peer", "ping", "-6", "-c1", "-W3", addrs["six"], timeout=30)
        out = b.out("exec", "peer", "wget", "-qO-", "http://[%s]/index.html" % addrs["six"])
        assert out.startswith("hello-")
        out = b.out("exec", "peer", "nslookup", "-type=AAAA", "six")
        assert addrs["six"] in out, out
        b.run("exec", "peer", "ping", "-6", "-c1", "-W3", "six", timeout=30)
        # the published port from the host over v6: the network's gateway
        # address and the host's own global v6 addresses (DNAT, the client's
        # address kept), [::1] (a relay: the kernel cannot NAT ::1), and v4
        gw6 = json.loads(b.out("inspect", "-f", "{{json .NetworkSettings.Networks}}",
                               "six"))["v6net"]["IPv6Gateway"]
        for a in [gw6] + host_addrs6() + ["::1"]:
            assert wait_http("http://[%s]:%d/index.html" % (a, port)).startswith("hello-"), a
        assert wait_http("http://127.0.0.1:%d/index.html" % port).startswith("hello-")
    finally:
        for c in ("six", "peer"):
            b.run("rm", "-f", c, check=False)
        b.run("network", "rm", "v6net", check=False)


def test_run_rm_releases_address(busybox):
    """run --rm on the default bridge leaves no lease behind: the next
    container gets the same address, inspect lists no container, and a
    live container's address is never handed out twice."""
    b = busybox
    ip = "ip -4 -o addr show dev eth0 | awk '{print $4}'"
    first = b.out("run", "--rm", "busybox", "sh", "-c", ip).strip()
    assert b.out("run", "--rm", "busybox", "sh", "-c", ip).strip() == first
    c = b.out("run", "-d", "busybox", "sleep", "60").strip()
    try:
        assert first.startswith(ip_of(b, c) + "/")
        other = b.out("run", "--rm", "busybox", "sh", "-c", ip).strip()
        assert other != first
        [j] = json.loads(b.out("network", "inspect", "bridge"))
        assert list(j["Containers"]) == [c]
    finally:
        b.run("rm", "-f", c)
    [j] = json.loads(b.out("network", "inspect", "bridge"))
    assert j["Containers"] == {}


def test_ipv6_only_on_ipv6_networks(busybox):
    """As Docker: an interface on a network without IPv6 has IPv6 disabled
    (no link-local address either); loopback keeps ::1; an interface on an
    IPv6 network has its addresses, also when connected later."""
    b = busybox
    sub6 = random_ula64()
    new_net(b, "v6only", "--ipv6", "--subnet", sub6)
    show = ("ip -6 addr show dev eth0; echo ==; ip -6 addr show dev lo; echo ==;"
            " cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6")
    try:
        v6eth, lo, disabled = b.out("run", "--rm", "busybox", "sh", "-c", show).split("==")
        assert "inet6" not in v6eth, v6eth
        assert "::1/128" in lo, lo
        assert disabled.strip() == "1"
        v6eth, lo, disabled = b.out("run", "--rm", "--network", "v6only", "busybox", "sh",
                                    "-c", show).split("==")
        assert "scope global" in v6eth and "fe80::" in v6eth, v6eth
        assert ipaddress.ip_address(v6eth.split("inet6 ")[1].split("/")[0]) in \
            ipaddress.ip_network(sub6), v6eth
        assert disabled.strip() == "0"
        # connected later: eth1 on the IPv6 network, eth0 stays without
        c = b.out("run", "-d", "busybox", "sleep", "60").strip()
        b.run("network", "connect", "v6only", c)
        out = b.out("exec", c, "ip", "-6", "addr", "show", "dev", "eth1")
        assert "scope global" in out, out
        assert "inet6" not in b.out("exec", c, "ip", "-6", "addr", "show", "dev", "eth0")
        assert b.out("exec", c, "cat", "/proc/sys/net/ipv6/conf/eth1/disable_ipv6").strip() == "0"
        b.run("rm", "-f", c)
    finally:
        for c in b.out("ps", "-aq").split():
            b.run("rm", "-f", c, check=False)
        b.run("network", "rm", "v6only", check=False)


def test_coexists_with_docker_forward_drop(busybox, tmp_path):
    """Docker's iptables-nft sets `ip filter FORWARD policy drop`; a drop in
    any base chain wins in nftables, so berth must accept its bridges'
    traffic there (in DOCKER-USER, where docker expects other rules),
    readable by iptables-nft, and take it away again; also for a bridge
    made before docker's rules appeared. All of it inside a private network
    namespace with an "uplink" to a second one."""
    b = busybox
    ns = "btns" + secrets.token_hex(4)
    outside = ns + "o"
    N = ["nsenter", "--net=/run/netns/" + ns]
    O = ["nsenter", "--net=/run/netns/" + outside]
    www = tmp_path / "www"
    www.mkdir()
    (www / "hello").write_text("from-outside\n")
    server = None

    def sh(*cmd, check=True):
        return subprocess.run(list(cmd), capture_output=True, text=True, check=check,
                              timeout=120)

    def bn(*args, check=True):  # berth inside the namespace
        p = subprocess.run(N + b.cmd(*args), capture_output=True, text=True, timeout=120)
        if check and p.returncode != 0:
            raise AssertionError("berth %s: %s" % (" ".join(args), p.stderr))
        return p

    sh("ip", "netns", "add", ns)
    sh("ip", "netns", "add", outside)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        sh("ip", "-n", outside, "link", "set", "lo", "up")
        sh("ip", "-n", ns, "link", "add", "up0", "type", "veth", "peer", "name", "up1",
           "netns", outside)
        sh("ip", "-n", ns, "addr", "add", "192.168.77.1/24", "dev", "up0")
        sh("ip", "-n", outside, "addr", "add", "192.168.77.2/24", "dev", "up1")
        sh("ip", "-n", ns, "link", "set", "up0", "up")
        sh("ip", "-n", outside, "link", "set", "up1", "up")
        # berth's default bridge is there before docker's firewall appears
        bn("run", "--rm", "busybox", "true")
        # docker's firewall, as dockerd leaves it
        sh(*N, "iptables-nft", "-P", "FORWARD", "DROP")
        sh(*N, "iptables-nft", "-N", "DOCKER-USER")
        sh(*N, "iptables-nft", "-A", "DOCKER-USER", "-j", "RETURN")
        sh(*N, "iptables-nft", "-I", "FORWARD", "-j", "DOCKER-USER")
        sh(*N, "iptables-nft", "-A", "FORWARD", "-i", "docker0", "-j", "ACCEPT")
        server = subprocess.Popen(O + ["/usr/bin/python3", "-m", "http.server", "--bind",
                                       "192.168.77.2", "--directory", str(www), "8000"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(50):
            if sh(*O, "curl", "-s", "-m", "1", "http://192.168.77.2:8000/hello",
                  check=False).stdout:
                break
            time.sleep(0.1)
        br = unique_bridge()
        bn("network", "create", "--subnet", free_test_subnet(),
           "-o", "com.docker.network.bridge.name=" + br, "coex")
        url = "http://192.168.77.2:8000/hello"
        # outbound (forwarded, masqueraded) from a user network and the default bridge
        # (a shell as pid 1: a signal from timeout to pid 1 would be ignored)
        fetch_out = "timeout 5 wget -qO- " + url
        assert bn("run", "--rm", "--network", "coex", "busybox", "sh", "-c",
                  fetch_out).stdout == "from-outside\n"
        with open(b.config) as f:
            default_br = json.load(f)["bridge"]
        assert bn("run", "--rm", "busybox", "sh", "-c", fetch_out).stdout == "from-outside\n"
        # iptables-nft still reads its table; berth's rules are in DOCKER-USER,
        # docker's own rules and policy are as they were
        rules = sh(*N, "iptables-nft", "-S").stdout.splitlines()
        assert "-P FORWARD DROP" in rules
        assert "-A FORWARD -j DOCKER-USER" in rules
        assert "-A FORWARD -i docker0 -j ACCEPT" in rules
        for bridge in (br, default_br):
            tag = '-m comment --comment "berth:%s" -j ACCEPT' % bridge
            assert "-A DOCKER-USER -i %s %s" % (bridge, tag) in rules, rules
            assert "-A DOCKER-USER -o %s %s" % (bridge, tag) in rules, rules
        assert rules.index("-A DOCKER-USER -j RETURN") > max(
            i for i, r in enumerate(rules) if "berth:" in r)
        # iptables-nft can still change the table (docker does at start)
        sh(*N, "iptables-nft", "-C", "FORWARD", "-i", "docker0", "-j", "ACCEPT")
        # removing the network takes its rules away, and only those
        bn("network", "rm", "coex")
        rules = sh(*N, "iptables-nft", "-S").stdout.splitlines()
        assert not [r for r in rules if "berth:%s" % br in r], rules
        assert [r for r in rules if "berth:%s" % default_br in r]
        assert "-A DOCKER-USER -j RETURN" in rules and "-P FORWARD DROP" in rules
    finally:
        if server:
            server.kill()
            server.wait()
        for c in bn("ps", "-aq", check=False).stdout.split():
            bn("rm", "-f", c, check=False)
        bn("network", "rm", "coex", check=False)
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "netns", "del", outside, check=False)
