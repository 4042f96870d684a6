"""`berth run --help` and `berth create --help` list every flag they accept,
Docker-style: one line per option with its short form, argument type and a
description."""
import os
import re

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_C = os.path.join(HERE, "..", "..", "src", "cli", "run.c")

# the flags the container and network issues name, as a user types them
ISSUE_FLAGS = """-d -i -t --rm --name -e --env-file -w -u --group-add --entrypoint --hostname
-l --label-file -m --memory-swap --memory-reservation --cpus --cpu-shares --cpuset-cpus
--pids-limit --ulimit --cap-add --cap-drop --privileged --security-opt --read-only --tmpfs
--shm-size --device --restart --init --stop-signal --stop-timeout --health-cmd
--health-interval --health-timeout --health-retries --health-start-period
--no-healthcheck --log-opt --sig-proxy --detach-keys --userns --pull --platform -v --mount
--volumes-from --network --ip --ip6 --network-alias --mac-address --add-host --dns
--dns-search --dns-option -p -P --expose""".split()


def accepted_long_options():
    src = open(RUN_C).read()
    table = src[src.index("run_opts[] = {"):]
    table = table[:table.index("{NULL, 0, NULL, 0}")]
    # aliases Docker keeps out of its help text
    hidden = {"net", "dns-opt"}
    return [n for n in re.findall(r'\{"([a-z0-9-]+)",', table) if n not in hidden]


def option_lines(out):
    lines = {}
    for line in out.splitlines():
        m = re.match(r"^  (?:(-[A-Za-z]), |    )(--[a-z0-9-]+)(?: [a-z]+)?\s{2,}\S", line)
        if m:
            lines[m.group(2)] = m.group(1)
    return lines


def test_run_help_lists_every_accepted_flag(berth):
    p = berth.run("run", "--help")
    out = p.stdout.decode()
    assert out.splitlines()[0] == "Usage:  berth run [OPTIONS] IMAGE [COMMAND] [ARG...]"
    lines = option_lines(out)
    for name in accepted_long_options():
        assert "--" + name in lines, (name, out)
    shorts = {s for s in lines.values() if s}
    for f in ISSUE_FLAGS:
        assert f in shorts or f in lines, (f, out)
    assert lines["--hostname"] == "-h" and lines["--publish-all"] == "-P"
    assert p.stderr == b""


def test_create_help_omits_run_only_flags(berth):
    out = berth.out("create", "--help")
    assert out.splitlines()[0] == "Usage:  berth create [OPTIONS] IMAGE [COMMAND] [ARG...]"
    lines = option_lines(out)
    assert "--detach" not in lines and "--sig-proxy" not in lines
    assert "--rm" in lines and "--publish" in lines


HELP_CMDS = [("run",), ("create",), ("update",), ("network", "create"),
             ("network", "connect"), ("network", "disconnect"), ("network", "ls"),
             ("network", "inspect"), ("network", "rm"), ("network", "prune"),
             ("volume", "create"), ("volume", "ls"), ("volume", "inspect"), ("volume", "rm"),
             ("volume", "prune"), ("ps",), ("logs",), ("exec",), ("stats",)]
# a value each argument type accepts
SAMPLE = {"list": "a=b", "string": "x", "strings": "x", "int": "1", "decimal": "1",
          "bytes": "1m", "duration": "1s", "filter": "label=a", "map": "a=b", "mount":
          "type=tmpfs,dst=/x", "network": "none", "ulimit": "nofile=1:1"}


@pytest.mark.parametrize("cmd", HELP_CMDS, ids=lambda c: "-".join(c))
def test_every_flag_in_help_is_accepted(berth, cmd):
    """Each option a help text lists parses: `FLAG [VALUE] --help` prints the help
    (getopt reads the flag first), where an unknown flag is a usage error."""
    out = berth.out(*cmd, "--help")
    assert out.splitlines()[0].startswith("Usage:  berth "), out
    assert "\nOptions:\n" in out, out
    n = 0
    for line in out.splitlines():
        m = re.match(r"^  (?:(-[A-Za-z]), |    )(--[a-z0-9-]+)(?: ([a-z]+))?\s{2,}\S", line)
        if not m or m.group(2) == "--help":
            continue
        n += 1
        for flag in filter(None, (m.group(1), m.group(2))):
            args = [flag] + ([SAMPLE[m.group(3)]] if m.group(3) else [])
            p = berth.run(*cmd, *args, "--help", check=False)
            # the help, or a complaint about the sample value (an env file that
            # is not there), but never a usage error that points at --help
            assert b"--help" not in p.stderr, (flag, p.stderr)
            assert (p.returncode == 0 and p.stdout.decode() == out) or p.stderr, flag
    assert n > 0


def test_run_of_missing_image_whose_pull_fails_says_so_once(berth):
    """Docker's run: 'Unable to find image NAME:latest locally', then the pull's
    error, exit 125, and no container left behind."""
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    p = berth.run("run", "--rm", "127.0.0.1:%d/nothere" % port, "true", check=False)
    err = p.stderr.decode()
    assert p.returncode == 125, err
    lines = err.splitlines()
    assert lines[0] == "Unable to find image '127.0.0.1:%d/nothere:latest' locally" % port
    errors = [l for l in lines if l.startswith("Error")]
    assert len(errors) == 1 and "127.0.0.1" in errors[0], err
    assert berth.out("ps", "-aq") == ""


@pytest.mark.parametrize("flag,msg", [
    ("-d", "unknown shorthand flag: 'd' in -d"),
    ("-id", "unknown shorthand flag: 'd' in -id"),
    ("--detach", "unknown flag: --detach"),
    ("--detach-keys=ctrl-a", "unknown flag: --detach-keys"),
    ("--sig-proxy=false", "unknown flag: --sig-proxy"),
])
def test_create_rejects_run_only_flags(berth, flag, msg):
    """docker create has no -d, --detach-keys or --sig-proxy: neither has
    berth create (exit 125, nothing created)."""
    p = berth.run("create", flag, "busybox", "true", check=False)
    assert p.returncode == 125
    assert msg in p.stderr.decode(), p.stderr
    assert berth.out("ps", "-aq") == ""
