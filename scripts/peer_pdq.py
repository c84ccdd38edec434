#!/usr/bin/env python3
"""Peer timings for the PDQ benchmark: what a hotline engineer runs today.

PyPI `pdqhash` (Meta's C++ PDQ core) on pixels decoded by Pillow, with and without Pillow's
`draft()` (libjpeg-turbo DCT-domain scaling to about 512 px). Prints one JSON object per file:
{"file", "full_ms", "draft_ms", "full_pdq", "draft_pdq"} with medians over RUNS runs, reading
from memory (file I/O excluded), one thread.

usage: peer_pdq.py RUNS FILE...
"""
import io
import json
import statistics
import sys
import time

import numpy as np
import pdqhash
from PIL import Image


def to_hex(bits):
    # pdqhash lists the most significant bit first; print 64 hex digits as the reference does.
    value = 0
    for k, b in enumerate(bits):
        if b:
            value |= 1 << (255 - k)
    return "%064x" % value


def run(data, draft):
    im = Image.open(io.BytesIO(data))
    if draft:
        im.draft("RGB", (512, 512))
    arr = np.asarray(im.convert("RGB"))
    bits, quality = pdqhash.compute(arr)
    return to_hex(bits), quality


def main():
    runs = int(sys.argv[1])
    for path in sys.argv[2:]:
        data = open(path, "rb").read()
        out = {"file": path}
        for name, draft in (("full", False), ("draft", True)):
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                h, _q = run(data, draft)
                times.append((time.perf_counter() - t) * 1000)
            out[name + "_ms"] = statistics.median(times)
            out[name + "_pdq"] = h
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
