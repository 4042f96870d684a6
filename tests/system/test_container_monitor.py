"""berth-monitor on its own: log, exit state, attach protocol, stop, restart
policy with backoff, RSS. The "container" is a plain child process here and
the berth helpers are a small script that records how it was called; the
end-to-end tests (test_run*.py) drive the monitor through the real berth."""
import os
import socket
import struct
import time

import pytest

from conftest import MONITOR

HELPER = r"""#!/bin/sh
# berth --root R --runroot RR container VERB [--rm] ID
verb=$6
echo "$verb $7 $8" >> "$(dirname "$0")/helper.log"
case "$verb" in
__restart)
  # The new "init" must not be this shell's child: dash reaps an exited
  # background job on its own (about half the time when the job ends before
  # the shell does), and the monitor, its subreaper, would then wait forever
  # for an exit it never sees. setsid -f forks and returns at once, so the
  # init is orphaned to the monitor as berth's own restart helper leaves it.
  setsid -f sh -c 'echo "ok $$" >&3; exec 3>&-; exec sh -c "$(cat "$1")"' sh \
    "$(dirname "$0")/cmd" ;;
esac
exit 0
"""


class Mon:
    def __init__(self, tmp):
        self.tmp = tmp
        self.dir = tmp / "ctr"
        self.rundir = tmp / "run"
        self.dir.mkdir()
        self.rundir.mkdir()
        self.helper = tmp / "helper.sh"
        self.helper.write_text(HELPER)
        self.helper.chmod(0o755)
        self.pid = None
        self.client = None

    def start(self, cmd, *extra, client=None, stdin=False):
        (self.tmp / "cmd").write_text(cmd)
        st_r, st_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r, in_w = os.pipe()
        cfd = None
        if client is not None:
            self.client, cfd = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            try:
                c = os.fork()
                if c == 0:
                    os.dup2(in_r if stdin else os.open("/dev/null", os.O_RDONLY), 0)
                    os.dup2(out_w, 1)
                    os.dup2(err_w, 2)
                    os.execv("/bin/sh", ["sh", "-c", cmd])
                args = [MONITOR, "--id", "c1", "--dir", str(self.dir), "--rundir",
                        str(self.rundir), "--pid", str(c), "--stdout-fd", str(out_r),
                        "--stderr-fd", str(err_r), "--status-fd", str(st_w),
                        "--berth", str(self.helper), "--root", "R", "--runroot", "RR"]
                fds = [out_r, err_r, st_w]
                if stdin:
                    args += ["--stdin-fd", str(in_w)]
                    fds.append(in_w)
                if cfd is not None:
                    args += ["--client-fd", str(cfd.fileno()), "--client-flags", client]
                    fds.append(cfd.fileno())
                for fd in fds:
                    os.set_inheritable(fd, True)
                os.execv(MONITOR, args + list(extra))
            finally:
                os._exit(99)
        for fd in (st_w, out_w, err_w, in_r, out_r, err_r, in_w):
            os.close(fd)
        if cfd is not None:
            cfd.close()
        self.pid = pid
        with os.fdopen(st_r) as f:
            line = f.read()
        assert line.startswith("ok "), line
        return int(line.split()[1])

    def state(self):
        d = {}
        for line in (self.dir / "state").read_text().splitlines():
            k, _, v = line.partition("=")
            d[k] = v
        return d

    def wait(self, timeout=15):
        end = time.time() + timeout
        while time.time() < end:
            p, status = os.waitpid(self.pid, os.WNOHANG)
            if p:
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        os.kill(self.pid, 9)
        os.waitpid(self.pid, 0)
        raise AssertionError("monitor did not exit")

    def log_entries(self):
        import json
        f = self.dir / "c1-json.log"
        return [json.loads(line) for line in f.read_text().splitlines()]

    def helper_calls(self):
        f = self.tmp / "helper.log"
        return f.read_text().splitlines() if f.exists() else []

    def request(self, line):
        s = socket.socket(socket.AF_UNIX)
        s.connect(str(self.rundir / "attach.sock"))
        s.sendall(line.encode() + b"\n")
        return s

    def kill(self):
        if self.pid:
            try:
                os.kill(self.pid, 9)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


@pytest.fixture
def mon(tmp_path):
    if not os.path.exists(MONITOR):
        pytest.fail("berth-monitor is not built")
    m = Mon(tmp_path)
    yield m
    m.kill()


def read_frames(sock):
    buf = b""
    frames = []
    while True:
        data = sock.recv(65536)
        if not data:
            break
        buf += data
        while len(buf) >= 8:
            t, n = buf[0], struct.unpack(">I", buf[4:8])[0]
            if len(buf) < 8 + n:
                break
            frames.append((t, buf[8:8 + n]))
            buf = buf[8 + n:]
            if t == 3:
                return frames
    return frames


def test_log_and_exit_state(mon):
    mon.start("echo out; echo err >&2; printf partial; exit 3")
    assert mon.wait() == 0
    st = mon.state()
    assert st["status"] == "exited"
    assert st["exit_code"] == "3"
    assert int(st["finished"]) >= int(st["started"]) > 0
    entries = mon.log_entries()
    got = sorted((e["stream"], e["log"]) for e in entries)
    assert got == [("stderr", "err\n"), ("stdout", "out\n"), ("stdout", "partial")]
    assert all(e["time"].endswith("Z") for e in entries)
    # nobody attached to clean up, so the monitor ran berth's cleanup helper
    assert mon.helper_calls() == ["__cleanup c1 "]
    assert not (mon.rundir / "attach.sock").exists()


def test_attached_client_gets_output_and_exit_and_cleans(mon):
    mon.start("read x; echo got $x; echo e >&2; exit 5", client="stdin,stdout,stderr,cleanup",
              stdin=True)
    c = mon.client
    c.sendall(struct.pack(">BxxxI", 0, 4) + b"abc\n")
    frames = read_frames(c)
    assert (1, b"got abc\n") in frames
    assert (2, b"e\n") in frames
    assert frames[-1] == (3, b"5")
    # the client did the cleanup: say so, and the monitor skips its helper
    c.sendall(struct.pack(">BxxxI", 5, 0))
    c.close()
    assert mon.wait() == 0
    assert mon.helper_calls() == []
    assert mon.state()["exit_code"] == "5"


def test_client_gone_means_monitor_cleans_up(mon):
    mon.start("sleep 0.3; exit 0", "--rm", client="stdout,stderr,cleanup")
    mon.client.close()  # the attached berth died
    assert mon.wait() == 0
    assert mon.helper_calls() == ["__cleanup --rm c1"]


def test_stop_kill_wait_requests(mon):
    pid = mon.start("exec sleep 100")
    assert mon.state()["status"] == "running"
    assert mon.state()["pid"] == str(pid)
    w = mon.request("wait")
    k = mon.request("kill 0")
    assert k.recv(100).startswith(b"err")
    s = mon.request("stop 15 5")
    assert s.recv(100) == b"exit 143\n"
    assert w.recv(100) == b"exit 143\n"
    assert mon.wait() == 0
    st = mon.state()
    assert st["status"] == "exited" and st["manual_stop"] == "1"


def test_stop_escalates_to_sigkill(mon):
    mon.start("trap '' TERM; echo ready; while :; do sleep 0.05; done")
    log = mon.dir / "c1-json.log"
    end = time.time() + 5
    while "ready" not in (log.read_text() if log.exists() else "") and time.time() < end:
        time.sleep(0.02)
    t0 = time.time()
    s = mon.request("stop 15 1")
    assert s.recv(100) == b"exit 137\n"
    assert 0.9 < time.time() - t0 < 5
    mon.wait()


def test_restart_on_failure_exactly_n_times_with_backoff(mon):
    t0 = time.time()
    mon.start("exit 1", "--restart", "on-failure:3")
    assert mon.wait() == 0
    elapsed = time.time() - t0
    st = mon.state()
    assert st["status"] == "exited"
    assert st["restart_count"] == "3"
    assert st["exit_code"] == "1"
    calls = mon.helper_calls()
    assert calls.count("__restart c1 ") == 3
    assert calls[-1] == "__cleanup c1 "
    # Docker's backoff: 100 ms, 200 ms, 400 ms
    assert elapsed >= 0.7


def test_restart_always_stops_on_manual_stop(mon):
    mon.start("sleep 0.1; exit 0", "--restart", "always")
    time.sleep(0.5)
    s = mon.request("stop 9 1")
    assert s.recv(100).startswith(b"exit ")
    assert mon.wait() == 0
    st = mon.state()
    assert int(st["restart_count"]) >= 1
    assert st["status"] == "exited"


def test_monitor_rss_is_small(mon):
    mon.start("exec sleep 100")
    with open("/proc/%d/status" % mon.pid) as f:
        rss = [int(line.split()[1]) for line in f if line.startswith("VmRSS")][0]
    assert rss < 300, "berth-monitor RSS %d KiB" % rss
    mon.request("stop 9 0").recv(100)
    mon.wait()
