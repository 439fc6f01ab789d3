#!/usr/bin/env python3
"""read_whole.py PATH SECONDS [WRITERS]

Open, read to the end and close PATH again and again for SECONDS, and
check that every read is one whole JSON document. With WRITERS, as many
threads of this process write PATH meanwhile (open with O_TRUNC, one
write, close), each value of another length. Prints the number of reads,
of reads that were not whole documents, and of refused writes; exits 1
when any read was not whole, any write was refused, or nothing was read.
"""
import json
import sys
import threading
import time

path, seconds = sys.argv[1], float(sys.argv[2])
writers = int(sys.argv[3]) if len(sys.argv) > 3 else 0
end = time.monotonic() + seconds
count = {"reads": 0, "broken": 0, "refused": 0}
first_broken = []


def write(w):
    n = 0
    while time.monotonic() < end:
        n += 1
        text = json.dumps({"w": w, "n": n, "pad": "x" * ((n * 37 + w * 11) % 300)})
        try:
            with open(path, "w") as f:
                f.write(text + "\n")
        except OSError as e:
            count["refused"] += 1
            if count["refused"] == 1:
                print("refused write:", e, file=sys.stderr)


threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
for t in threads:
    t.start()
while time.monotonic() < end:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        continue
    count["reads"] += 1
    try:
        json.loads(data)
    except ValueError:
        count["broken"] += 1
        if not first_broken:
            first_broken.append(data)
for t in threads:
    t.join()
print("reads %(reads)d broken %(broken)d refused %(refused)d" % count)
if first_broken:
    print("first broken read: %r" % first_broken[0][:200], file=sys.stderr)
sys.exit(1 if count["broken"] or count["refused"] or not count["reads"] else 0)
