"""`berth run --help` and `berth create --help` list every flag they accept,
Docker-style: one line per option with its short form, argument type and a
description."""
import os
import re

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
