"""berth exec into a running container, checked from inside it."""
import pytest


@pytest.fixture
def running(busybox):
    busybox.run("run", "-d", "--name", "ex", "-e", "FOO=bar", "busybox", "sleep", "100")
    yield busybox
    busybox.run("rm", "-f", "ex", check=False)


def test_exec_basic(running):
    b = running
    assert b.out("exec", "ex", "sh", "-c", "echo $FOO $HOME") == "bar /root\n"
    assert b.out("exec", "-e", "FOO=baz", "-w", "/tmp", "ex", "sh", "-c", "echo $FOO $PWD") == \
        "baz /tmp\n"
    assert b.out("exec", "-u", "nobody", "ex", "id", "-u") == "65534\n"
    assert b.run("exec", "ex", "sh", "-c", "exit 7", check=False).returncode == 7
    assert b.run("exec", "ex", "nosuchcmd", check=False).returncode == 127
    assert b.run("exec", "-i", "ex", "cat", input=b"piped\n").stdout == b"piped\n"
    b.run("exec", "-d", "ex", "sh", "-c", "echo detached > /tmp/d")
    assert b.out("exec", "ex", "sh", "-c", "sleep 0.2; cat /tmp/d") == "detached\n"
    # the exec'd process is in the container's pid namespace
    assert b.out("exec", "ex", "sh", "-c", "echo $$") != ""
    assert "sleep 100" in b.out("exec", "ex", "ps")


def test_exec_privileged(running):
    b = running
    caps = b.out("exec", "ex", "sh", "-c", "grep CapEff /proc/self/status").split()[1]
    pcaps = b.out("exec", "--privileged", "ex", "sh", "-c",
                  "grep CapEff /proc/self/status").split()[1]
    assert int(pcaps, 16) > int(caps, 16)


def test_exec_into_stopped(running):
    b = running
    b.run("stop", "-t", "0", "ex")
    p = b.run("exec", "ex", "true", check=False)
    assert p.returncode != 0 and b"is not running" in p.stderr
