"""berth search against a v1 search index written for the test
(searchserver.py, on 127.0.0.1): Docker's table, --limit, --filter,
--format, --no-trunc, credentials, and the errors, worded as Docker (20.10
daemon, 28 CLI) words them."""
import base64
import json
import os
import urllib.parse

import pytest

from regutil import client_env

from searchserver import REPOS, SearchServer


@pytest.fixture
def env(tmp_path):
    return client_env(tmp_path)


@pytest.fixture
def index():
    with SearchServer() as s:
        yield s


def search(berth, env, *args, check=True):
    p = berth.run("search", *args, check=False, env=env)
    if check:
        assert p.returncode == 0, p.stderr.decode()
    return p


def ellipsis(s, n):
    return s if len(s) <= n else s[:n - 1] + "…"


def hits(term, n=25):
    return [r for r in REPOS if term in r["name"] or term in r["description"]][:n]


def table(rows, trunc=True):
    """Docker's default table (tabwriter: minwidth 10, padding 3; widths in
    code points) over rows as the index sends them."""
    cells = [["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]]
    for r in rows:
        d = r["description"].replace("\n", " ").replace("\r", " ")
        cells.append([r["name"], ellipsis(d, 45) if trunc else d, str(r["star_count"]),
                      "[OK]" if r["is_official"] else ""])
    widths = [max(10, max(len(c[i]) for c in cells) + 3) for i in range(3)]
    return "".join("".join(c[i].ljust(widths[i]) for i in range(3)) + c[3] + "\n"
                   for c in cells)


def test_table_truncation_and_order(berth, env, index):
    out = search(berth, env, index.addr + "/example").stdout.decode()
    want = hits("example")
    assert len(want) >= 4
    assert out == table(want)
    # the registry's order is kept (not sorted by stars)
    names = [l.split()[0] for l in out.splitlines()[1:]]
    assert names == [r["name"] for r in want]
    long = [r for r in want if len(r["description"]) > 45][0]
    assert ellipsis(long["description"], 45) in out and long["description"] not in out
    # multi-byte descriptions are cut and aligned by code points
    uni = [l for l in out.splitlines() if l.startswith("example/unicode")][0]
    assert uni.index("12") == out.splitlines()[0].index("STARS")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(index.searches()[-1]).query)
    assert q == {"q": ["example"], "n": ["25"]}


def test_no_trunc(berth, env, index):
    out = search(berth, env, "--no-trunc", index.addr + "/e").stdout.decode()
    assert out == table(hits("e"), trunc=False)
    assert "first line second third" in out


def test_limit(berth, env, index):
    out = search(berth, env, "--limit", "2", index.addr + "/e").stdout.decode()
    assert out == table(hits("e", 2))
    assert index.searches()[-1].endswith("&n=2")
    for lim in ("0", "-1"):
        search(berth, env, "--limit", lim, index.addr + "/e")
        assert index.searches()[-1].endswith("&n=25")
    search(berth, env, "--limit=100", index.addr + "/e")
    assert index.searches()[-1].endswith("&n=100")
    before = len(index.searches())
    p = search(berth, env, "--limit", "101", index.addr + "/e", check=False)
    assert p.returncode == 1
    assert p.stderr.decode() == "Error: Limit 101 is outside the range of [1, 100]\n"
    assert len(index.searches()) == before
    p = search(berth, env, "--limit", "x", index.addr + "/e", check=False)
    assert p.returncode == 125
    assert p.stderr.decode().startswith(
        'invalid argument "x" for "--limit" flag: strconv.ParseInt: parsing "x": invalid syntax\n')


def test_filters(berth, env, index):
    def names(*args):
        out = search(berth, env, *args, index.addr + "/e").stdout.decode()
        return [l.split()[0] for l in out.splitlines()[1:]]

    every = hits("e")
    assert names("-f", "stars=10") == [r["name"] for r in every if r["star_count"] >= 10]
    # the largest stars= wins; names and values are trimmed, names lower-cased
    assert names("-f", "stars=10", "--filter", "stars= 100 ") == \
        [r["name"] for r in every if r["star_count"] >= 100]
    assert names("-f", "is-official=true") == [r["name"] for r in every if r["is_official"]]
    assert names("-f", " IS-OFFICIAL=false", "-f", "stars=5") == \
        [r["name"] for r in every if not r["is_official"] and r["star_count"] >= 5]
    p = search(berth, env, "-f", "is-automated=true", index.addr + "/e")
    assert [l.split()[0] for l in p.stdout.decode().splitlines()[1:]] == \
        [r["name"] for r in every if r["is_automated"]]
    assert p.stderr.decode() == ('WARNING: the "is-automated" filter is deprecated, and '
                                 'searching for "is-automated=true" will not yield any '
                                 'results in future.\n')


@pytest.mark.parametrize("args,msg", [
    (["-f", "foo=bar"], "Invalid filter 'foo'"),
    (["-f", "stars=x", "-f", "foo=1"], "Invalid filter 'foo'"),
    (["-f", "stars=x"], "Invalid filter 'stars=x'"),
    (["-f", "stars="], "Invalid filter 'stars='"),
    (["-f", "is-official=1"], "Invalid filter 'is-official=[1]'"),
    (["-f", "is-official=TRUE"], "Invalid filter 'is-official=[TRUE]'"),
    (["-f", "is-official=true", "-f", "is-official=false"],
     "Invalid filter 'is-official=[false true]'"),
])
def test_filter_errors(berth, env, index, args, msg):
    p = search(berth, env, *args, index.addr + "/e", check=False)
    assert p.returncode == 1
    assert p.stderr.decode() == "Error: %s\n" % msg
    assert p.stdout == b""
    assert index.searches() == []


def test_filter_flag_syntax(berth, env, index):
    p = search(berth, env, "-f", "stars", index.addr + "/e", check=False)
    assert p.returncode == 125
    assert p.stderr.decode() == (
        'invalid argument "stars" for "-f, --filter" flag: bad format of filter '
        "(expected name=value)\n\nUsage:  berth search [OPTIONS] TERM\n\n"
        "Run 'berth search --help' for more information\n")


def test_format(berth, env, index):
    want = hits("e")
    out = search(berth, env, "--format", "{{.Name}}:{{.StarCount}}:{{.IsOfficial}}",
                 index.addr + "/e").stdout.decode()
    assert out.splitlines() == ["%s:%d:%s" % (r["name"], r["star_count"],
                                              "[OK]" if r["is_official"] else "")
                                for r in want]
    for fmt in ("json", "{{json .}}"):
        lines = search(berth, env, "--format", fmt, index.addr + "/e").stdout.decode().splitlines()
        assert [json.loads(l) for l in lines] == [
            {"Name": r["name"], "StarCount": str(r["star_count"]),
             "IsOfficial": "true" if r["is_official"] else "false",
             "Description": ellipsis(r["description"].replace("\n", " ").replace("\r", " "),
                                     45)}
            for r in want]
        # Go sorts the keys
        assert lines[0].startswith('{"Description":')
    out = search(berth, env, "--format", "table {{.Name}}\t{{.IsOfficial}}",
                 index.addr + "/busybox").stdout.decode()
    width = max(len(r["name"]) for r in hits("busybox")) + 3
    assert out == "".join("%s%s\n" % (n.ljust(width), o) for n, o in
                          [("NAME", "OFFICIAL")] +
                          [(r["name"], "[OK]" if r["is_official"] else "")
                           for r in hits("busybox")])


def test_term_is_escaped_and_empty_answer(berth, env, index):
    out = search(berth, env, index.addr + "/no such&thing").stdout.decode()
    assert out == "NAME      DESCRIPTION   STARS     OFFICIAL\n"
    assert index.searches()[-1] == "/v1/search?q=no%20such%26thing&n=25"


@pytest.mark.parametrize("mode,msg", [
    ("status:500", "Unexpected status code 500"),
    ("status:404", "Unexpected status code 404"),
    ("badjson", "error decoding registry search results: "),
])
def test_registry_errors(berth, env, mode, msg):
    with SearchServer(mode) as s:
        p = search(berth, env, s.addr + "/e", check=False)
    assert p.returncode == 1
    assert p.stderr.decode().startswith("Error: " + msg), p.stderr
    assert p.stdout == b""


def test_unreachable_and_usage(berth, env):
    s = SearchServer()  # bound, never started: a port nobody answers on
    addr = s.addr
    s.httpd.server_close()
    p = search(berth, env, addr + "/e", check=False)
    assert p.returncode == 1 and p.stderr.decode().startswith("Error: ")
    assert addr.split(":")[1] in p.stderr.decode()
    p = search(berth, env, "http://%s/e" % addr, check=False)
    assert p.returncode == 1
    assert p.stderr.decode() == \
        'Error: Invalid repository name (ex: "registry.domain.tld/myrepos")\n'
    for args in ([], ["a", "b"]):
        p = search(berth, env, *args, check=False)
        assert p.returncode == 1
        assert p.stderr.decode() == ("berth: 'berth search' requires 1 argument\n\n"
                                     "Usage:  berth search [OPTIONS] TERM\n\n"
                                     "Run 'berth search --help' for more information\n")
    p = search(berth, env, "--bogus", "x", check=False)
    assert p.returncode == 125 and p.stderr.decode().startswith("unknown flag: --bogus\n")
    out = search(berth, env, "--help").stdout.decode()
    assert out.startswith("Usage:  berth search [OPTIONS] TERM\n\nSearch Docker Hub for images\n")
    for flag in ("--filter filter", "--format string", "--limit int", "--no-trunc"):
        assert flag in out


def test_credentials_from_docker_config(berth, env):
    with SearchServer("auth:alice:s3cret") as s:
        p = search(berth, env, s.addr + "/busybox", check=False)
        assert p.returncode == 1
        assert p.stderr.decode() == "Error: Unexpected status code 401\n"
        cfg = os.path.join(env["HOME"], ".docker")
        os.makedirs(cfg)
        with open(os.path.join(cfg, "config.json"), "w") as f:
            json.dump({"auths": {s.addr: {
                "auth": base64.b64encode(b"alice:s3cret").decode()}}}, f)
        out = search(berth, env, s.addr + "/busybox").stdout.decode()
        assert out == table(hits("busybox"))
        assert s.requests[-1][1]["authorization"] == \
            "Basic " + base64.b64encode(b"alice:s3cret").decode()
