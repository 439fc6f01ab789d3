#!/usr/bin/env python3
"""model_check.py - random file operations on a kvfs mount and on an ordinary
directory side by side; both must answer every operation the same way and
hold the same tree afterwards.

    model_check.py MOUNT_DIR MODEL_DIR SEED STEPS [tx]

Operations: write a JSON value to a file, remove a file, mkdir, rmdir, and
rename a file or a directory, on paths of up to three parts drawn from a
few names, so that they collide often (existing targets, missing parents,
files where directories are expected and the reverse, a directory moved
into itself); and open an existing file for writing, to write and close
it some steps later, after whatever happened to it meanwhile (renamed,
removed, replaced). Values are written in the form kvfs shows them (compact JSON
and a newline), so the contents compare byte for byte. After each step the
errno (or success) of both sides is compared, and every few steps the whole
trees: names, types and contents. Prints the first difference and exits 1;
prints "ok SEED STEPS" and exits 0 when there was none. With "tx" (for a
directory inside a transaction) there are no dot-names, which are refused
there.
"""
import errno
import json
import os
import random
import sys

# plain strings and the names of other key types (numbers, a bigint, bytes,
# a boolean, a quoted string that would otherwise read as a number)
NAMES = ["a", "b", "x y", "1", "22", '"22"', "-1.5", "7n", "0x0a", "true"]
DOTS = [".t", ".u~"]


def outcome(fn, *args):
    try:
        fn(*args)
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def tree(root):
    """Every path under root with its type and, for files, its content."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        for d in dirnames:
            out[os.path.normpath(os.path.join(rel, d))] = "dir"
        for f in filenames:
            with open(os.path.join(dirpath, f)) as fh:
                out[os.path.normpath(os.path.join(rel, f))] = "file " + fh.read()
    return out


def random_value(rng):
    kind = rng.randrange(4)
    if kind == 0:
        return rng.randrange(-1000, 1000)
    if kind == 1:
        return "s%d" % rng.randrange(100)
    if kind == 2:
        return {"n": rng.randrange(10), "tags": ["t%d" % rng.randrange(3)]}
    return [rng.randrange(5), True, None]


def main():
    if len(sys.argv) not in (5, 6) or sys.argv[5:] not in ([], ["tx"]):
        sys.exit("usage: model_check.py MOUNT_DIR MODEL_DIR SEED STEPS [tx]")
    tx = len(sys.argv) == 6
    ops = ["write", "write", "write", "rm", "mkdir", "mkdir", "rmdir", "open", "close"]
    ops += ["rename", "rename"]
    roots = [sys.argv[1], sys.argv[2]]
    seed, steps = int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)

    def rpath(dot=False):
        parts = [rng.choice(NAMES) for _ in range(rng.randint(1, 3))]
        # a dot-name is a file kvfs keeps in memory (a scratch file): it
        # may end a file's path, never name a directory
        if dot and rng.randrange(4) == 0:
            parts[-1] = rng.choice(DOTS)
        return "/".join(parts)

    handles = []        # [(path, fd on the mount, fd on the model)]

    def open_both(a, b):
        fds = []
        for path in (a, b):
            try:
                # an existing file only, and never emptied before the
                # close: kvfs refuses to let an empty file replace a value,
                # which a rename before the close could ask for (a key's
                # value stays until the close anyway; a dot-file would be
                # emptied at once)
                fds.append(os.open(path, os.O_WRONLY))
            except OSError as e:
                fds.append(e)
        return fds

    def finish(fd, data):
        # the whole text at offset 0, then exactly its length: the content
        # is the text, wherever the file is now
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
        os.close(fd)

    for step in range(steps):
        op = rng.choice(ops)
        if op == "close" and not handles:
            op = "open"
        if op == "open" and len(handles) >= 3:
            op = "close"
        files = op in ("write", "rm", "rename", "open") and not tx
        p = rpath(files)
        q = rpath(files and not os.path.isdir(os.path.join(roots[1], p)))
        text = json.dumps(random_value(rng), separators=(",", ":")) + "\n"
        results = []
        if op == "open":
            fds = open_both(os.path.join(roots[0], p), os.path.join(roots[1], p))
            results = ["ok" if isinstance(f, int) else errno.errorcode.get(f.errno, str(f.errno))
                       for f in fds]
            if all(isinstance(f, int) for f in fds):
                handles.append((p, fds[0], fds[1]))
            else:
                for f in fds:
                    if isinstance(f, int):
                        os.close(f)
        elif op == "close":
            hp, f0, f1 = handles.pop(rng.randrange(len(handles)))
            p = hp
            results = [outcome(finish, f0, text.encode()), outcome(finish, f1, text.encode())]
        for root in roots if op not in ("open", "close") else []:
            a, b = os.path.join(root, p), os.path.join(root, q)
            if op == "write":
                results.append(outcome(write, a, text))
            elif op == "rm":
                results.append(outcome(os.unlink, a))
            elif op == "mkdir":
                results.append(outcome(os.mkdir, a))
            elif op == "rmdir":
                results.append(outcome(os.rmdir, a))
            else:
                results.append(outcome(os.rename, a, b))
        what = "step %d (seed %d): %s %s%s" % (step, seed, op, p,
                                               " " + q if op == "rename" else "")
        if results[0] != results[1]:
            print("%s: kvfs %s, model %s" % (what, results[0], results[1]))
            return 1
        if step == steps - 1:
            while handles:
                hp, f0, f1 = handles.pop()
                r = [outcome(finish, f0, text.encode()), outcome(finish, f1, text.encode())]
                if r[0] != r[1]:
                    print("%s: closing %s: kvfs %s, model %s" % (what, hp, r[0], r[1]))
                    return 1
        if (step % 10 == 9 and not handles) or step == steps - 1:
            got, want = tree(roots[0]), tree(roots[1])
            if got != want:
                for k in sorted(set(got) | set(want)):
                    if got.get(k) != want.get(k):
                        print("%s: then %r is %r in kvfs, %r in the model"
                              % (what, k, got.get(k), want.get(k)))
                        break
                return 1
    print("ok %d %d" % (seed, steps))
    return 0


if __name__ == "__main__":
    sys.exit(main())
