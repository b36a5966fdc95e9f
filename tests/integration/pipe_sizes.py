#!/usr/bin/env python3
"""Prints the sizes of a process's pipes, one per line, sorted and unique.

pipe_sizes.py PID

Only pipes whose two ends the process holds count (what splice uses): an
end inherited from whoever started it does not. Each is reached through
/proc/PID/fd and asked F_GETPIPE_SZ; nothing is read from it."""
import collections
import fcntl
import os
import sys

F_GETPIPE_SZ = 1032


def main():
    base = "/proc/%s/fd" % sys.argv[1]
    ends = collections.defaultdict(list)
    for name in os.listdir(base):
        path = os.path.join(base, name)
        try:
            target = os.readlink(path)
        except OSError:
            continue  # closed meanwhile
        if target.startswith("pipe:"):
            ends[target].append(path)
    sizes = set()
    for paths in ends.values():
        if len(paths) != 2:
            continue
        try:
            fd = os.open(paths[0], os.O_RDONLY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            sizes.add(fcntl.fcntl(fd, F_GETPIPE_SZ))
        finally:
            os.close(fd)
    for s in sorted(sizes):
        print(s)


if __name__ == "__main__":
    main()
