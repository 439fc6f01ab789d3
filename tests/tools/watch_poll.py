#!/usr/bin/env python3
"""watch_poll.py MOUNT select|edge | MOUNT nonblock LOADER: watch files in one event loop.

Prints one line per step; the bats test compares them. Waits are bounds
(5 s), never timings: a step that waits prints only what it got.

  select    two watch files; select/epoll after the first lines, after a
            write to one of them through the mount, and after reading it;
            then a key file (always ready, like a file on disk)
  edge      edge-triggered epoll: after each event the reader drains to
            EAGAIN and writes the key again; each write must wake it
  nonblock  O_NONBLOCK: a read at the end fails with EAGAIN; a change by
            another process (LOADER, run with no arguments, sets ["a"])
            wakes poll, for .watch/a and for .watch/.all
"""
import errno
import os
import select
import selectors
import subprocess
import sys


def ready(sel, timeout):
    return sorted(k.data for k, _ in sel.select(timeout))


def line(fd):
    data = os.read(fd, 65536).decode()
    return data.rstrip("\n")


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def case_select(m):
    fa = os.open(m + "/.watch/a", os.O_RDONLY)
    fb = os.open(m + "/.watch/b", os.O_RDONLY)
    r, _, _ = select.select([fa, fb], [], [], 5)
    print("select before reading:", "a" if fa in r else "", "b" if fb in r else "")
    print("first a:", line(fa))
    print("first b:", line(fb))
    r, _, _ = select.select([fa, fb], [], [], 0.3)
    print("select after the first lines:", len(r))
    sel = selectors.EpollSelector()
    sel.register(fa, selectors.EVENT_READ, "a")
    sel.register(fb, selectors.EVENT_READ, "b")
    print("epoll after the first lines:", ready(sel, 0.3))
    write(m + "/b", "22\n")
    print("epoll after a write of b:", ready(sel, 5))
    print("b:", line(fb))
    print("epoll after reading b:", ready(sel, 0.3))
    k = os.open(m + "/a", os.O_RDONLY)
    r, w, _ = select.select([k], [k], [], 0)
    print("key file:", len(r), len(w))


def case_edge(m):
    write(m + "/e", "0\n")
    fd = os.open(m + "/.watch/e", os.O_RDONLY | os.O_NONBLOCK)
    ep = select.epoll()
    ep.register(fd, select.EPOLLIN | select.EPOLLET)
    for i in range(1, 5):
        events = ep.poll(5)
        lines = 0
        while events:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                break
            lines += data.count(b"\n")
        print("round %d: %d event(s), %d line(s)" % (i, len(events), lines))
        write(m + "/e", "%d\n" % i)


def case_nonblock(m, load):
    fa = os.open(m + "/.watch/a", os.O_RDONLY | os.O_NONBLOCK)
    print("first a:", line(fa))
    try:
        os.read(fa, 65536)
        print("read at the end: no error")
    except OSError as e:
        print("read at the end:", errno.errorcode[e.errno])
    fall = os.open(m + "/.watch/.all", os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.read(fall, 65536)
        print(".all at the end: no error")
    except OSError as e:
        print(".all at the end:", errno.errorcode[e.errno])
    p = select.poll()
    p.register(fa, select.POLLIN)
    p.register(fall, select.POLLIN)
    print("poll before the change:", p.poll(300))
    subprocess.run([load], check=True)
    got = set()
    for _ in range(10):
        # a file found ready stays ready until read: wait for the other one alone
        ready = {fd for fd, ev in p.poll(5000) if ev & select.POLLIN}
        for fd in ready:
            p.unregister(fd)
        got |= ready
        if got == {fa, fall}:
            break
    print("poll after the change:", "a" if fa in got else "", ".all" if fall in got else "")
    print("a:", line(fa))
    print(".all:", line(fall))


if __name__ == "__main__":
    mount, case = sys.argv[1], sys.argv[2]
    if case == "select":
        case_select(mount)
    elif case == "edge":
        case_edge(mount)
    else:
        case_nonblock(mount, sys.argv[3])
