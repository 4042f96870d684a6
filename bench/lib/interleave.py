#!/usr/bin/python3
"""Time commands interleaved (round i runs every command once, in turn),
so that load changes on a shared machine hit all of them alike.
Usage: interleave.py ROUNDS WARMUP NAME=CMD... ; prints JSON
{name: {"min": ms, "median": ms, "times": [ms...]}, "pairs": {...}}.
A command is a shell-free argv string split on spaces; it must exit 0."""
import json
import statistics
import subprocess
import sys
import time


def main():
    rounds, warmup = int(sys.argv[1]), int(sys.argv[2])
    cmds = [a.split("=", 1) for a in sys.argv[3:]]
    times = {n: [] for n, _ in cmds}
    for i in range(warmup + rounds):
        for name, cmd in cmds:
            t0 = time.perf_counter()
            subprocess.run(cmd.split(), check=True, stdout=subprocess.DEVNULL)
            dt = (time.perf_counter() - t0) * 1000
            if i >= warmup:
                times[name].append(dt)
    out = {n: {"min": min(t), "median": statistics.median(t), "times": t}
           for n, t in times.items()}
    json.dump(out, sys.stdout)


main()
