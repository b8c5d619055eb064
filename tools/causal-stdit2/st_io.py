"""Minimal safetensors reading and writing for the tools (float32 and int64 tensors, as the format specifies)."""

import json
import struct

import torch

_DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def write(path, tensors, metadata=None):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if t.dtype not in _DTYPES:
            t = t.float()
        data = t.numpy().tobytes()
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def read(path):
    """The float32 tensors of a file this module wrote."""
    import numpy as np

    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        s, t = e["data_offsets"]
        dtype = np.float32 if e["dtype"] == "F32" else np.int64
        out[name] = torch.from_numpy(np.frombuffer(raw[8 + n + s : 8 + n + t], dtype=dtype).reshape(e["shape"]).copy())
    return out
