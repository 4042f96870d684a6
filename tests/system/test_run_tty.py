"""Terminals and signals: -it with a real pty and window size, detach keys,
attach, --init as PID 1 reaping zombies, --sig-proxy."""
import os
import pty
import select
import signal
import subprocess
import time

import pytest


@pytest.fixture
def bb(busybox):
    yield busybox
    ids = busybox.out("ps", "-aq", "--no-trunc", check=False).split()
    if ids:
        busybox.run("rm", "-f", *ids, check=False)


def spawn(cmd):
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(cmd[0], cmd)
    return pid, fd


def read_until(fd, needle, timeout=10):
    buf = b""
    end = time.time() + timeout
    while needle not in buf and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                d = os.read(fd, 4096)
            except OSError:
                break
            if not d:
                break
            buf += d
    return buf


def finish(pid, fd=None, timeout=10):
    end = time.time() + timeout
    while time.time() < end:
        p, st = os.waitpid(pid, os.WNOHANG)
        if p:
            return os.waitstatus_to_exitcode(st)
        if fd is not None:
            # keep draining the terminal: a closing tty waits for its output
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                try:
                    os.read(fd, 4096)
                except OSError:
                    fd = None
        else:
            time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    raise AssertionError("berth did not exit")


def test_run_it_pty_and_exit_code(bb):
    pid, fd = spawn(bb.cmd("run", "-it", "--rm", "busybox", "sh"))
    read_until(fd, b"# ")
    os.write(fd, b"tty; echo TERM=$TERM; stty size\n")
    out = read_until(fd, b"TERM=xterm")
    assert b"/dev/pts/" in out
    os.write(fd, b"exit 5\n")
    assert finish(pid, fd) == 5


def test_detach_keys_and_attach(bb):
    pid, fd = spawn(bb.cmd("run", "-it", "--name", "det", "busybox", "sh"))
    assert b"# " in read_until(fd, b"# ")  # the shell's prompt: raw mode is on
    os.write(fd, b"echo one\n")
    assert b"\none" in read_until(fd, b"\none")
    os.write(fd, b"\x10\x11")  # ctrl-p ctrl-q
    assert finish(pid, fd) == 0
    assert bb.out("inspect", "-f", "{{.State.Status}}", "det").strip() == "running"
    pid, fd = spawn(bb.cmd("attach", "det"))
    time.sleep(0.3)
    os.write(fd, b"echo two\n")
    assert b"two" in read_until(fd, b"two")
    os.write(fd, b"exit 3\n")
    assert finish(pid, fd) == 3
    assert bb.out("wait", "det").strip() == "3"


def test_init_reaps_zombies_and_forwards_signals(bb):
    out = bb.out("run", "--rm", "--init", "busybox", "sh", "-c",
                 "cat /proc/1/cmdline | tr '\\0' ' '; echo")
    assert "docker-init" in out
    # without a reaper the orphaned sleep stays a zombie under sh; with --init it is reaped
    out = bb.out("run", "--rm", "--init", "busybox", "sh", "-c",
                 "(sleep 0.1 &) ; sleep 0.5; ps -o stat,comm | grep -c '^Z' || true")
    assert out.strip() == "0"
    bb.run("run", "-d", "--name", "ini", "--init", "busybox", "sleep", "100")
    t0 = time.time()
    bb.run("stop", "ini")
    assert time.time() - t0 < 5
    assert bb.out("inspect", "-f", "{{.State.ExitCode}}", "ini").strip() == "143"


def test_sig_proxy(bb):
    p = subprocess.Popen(bb.cmd("run", "--name", "sp", "busybox", "sh", "-c",
                                "trap 'echo got-int; exit 7' INT; echo ready; "
                                "while :; do sleep 0.1; done"),
                         stdout=subprocess.PIPE)
    assert p.stdout.readline() == b"ready\n"
    p.send_signal(signal.SIGINT)
    assert p.wait(timeout=10) == 7
    assert b"got-int" in p.stdout.read()


def test_restart_policy_with_a_terminal(bb):
    bb.run("run", "-dit", "--name", "rtty", "--restart", "on-failure:2", "busybox", "sh", "-c",
           "tty; exit 1")
    end = time.time() + 15
    while time.time() < end and bb.out("inspect", "-f", "{{.State.Status}}",
                                       "rtty").strip() != "exited":
        time.sleep(0.1)
    assert bb.out("inspect", "-f", "{{.RestartCount}} {{.State.ExitCode}}", "rtty").strip() == \
        "2 1"
    assert bb.out("logs", "rtty").count("/dev/pts/0") == 3
