#!/usr/bin/env python3
"""Write a safetensors file's F32 tensors in half precision (F16), other dtypes unchanged.

wildfer ships its built-in trained weights this way (half the size; wildfer widens them back
to f32 when it loads them, exactly). Standard library only.

Usage: scripts/half_weights.py IN.safetensors OUT.safetensors
"""
import json
import os
import struct
import sys
from array import array


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: scripts/half_weights.py IN.safetensors OUT.safetensors")
    src, dst = sys.argv[1:]
    data = open(src, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    meta = header.pop("__metadata__", None)
    out_header, chunks, offset = {}, [], 0
    for name in sorted(header, key=lambda k: header[k]["data_offsets"][0]):
        t = header[name]
        a, b = t["data_offsets"]
        raw = body[a:b]
        dtype = t["dtype"]
        if dtype == "F32":
            values = array("f")
            values.frombytes(raw)
            if sys.byteorder != "little":
                values.byteswap()
            big = max((abs(v) for v in values), default=0.0)
            if big > 65504.0:
                sys.exit(f"{src}: {name} has a value {big} beyond half precision's range")
            raw = struct.pack(f"<{len(values)}e", *values)
            dtype = "F16"
        out_header[name] = {"dtype": dtype, "shape": t["shape"], "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if meta is not None:
        out_header["__metadata__"] = meta
    head = json.dumps(out_header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for c in chunks:
            f.write(c)
    os.replace(tmp, dst)
    print(f"{dst}: {len(out_header) - (meta is not None)} tensors, {8 + len(head) + offset} bytes")


if __name__ == "__main__":
    main()
