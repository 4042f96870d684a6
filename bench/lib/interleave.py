#!/usr/bin/python3
"""Time commands interleaved (round i runs every command once, in an order
shuffled per round), so that load changes on a shared machine, and the
after-effects of one command on the next (a namespace the kernel is still
tearing down), hit all of them alike.
Usage: interleave.py ROUNDS WARMUP NAME=CMD... ; prints JSON
{name: {"min": ms, "median": ms, "times": [ms...]}}.
A command is a shell-free argv string split on spaces; it must exit 0."""
import json
import random
import statistics
import subprocess
import sys
import time


def main():
    rounds, warmup = int(sys.argv[1]), int(sys.argv[2])
    cmds = [a.split("=", 1) for a in sys.argv[3:]]
    times = {n: [] for n, _ in cmds}
    rnd = random.Random(1)
    for i in range(warmup + rounds):
        order = list(cmds)
        rnd.shuffle(order)
        for name, cmd in order:
            t0 = time.perf_counter()
            subprocess.run(cmd.split(), check=True, stdout=subprocess.DEVNULL)
            dt = (time.perf_counter() - t0) * 1000
            if i >= warmup:
                times[name].append(dt)
    out = {n: {"min": min(t), "median": statistics.median(t), "times": t}
           for n, t in times.items()}
    json.dump(out, sys.stdout)


main()
