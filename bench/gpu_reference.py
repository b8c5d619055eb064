"""Reference timings for bench/gpu.ts, measured in the same run: torch's
scaled_dot_product_attention and torch.matmul on the shapes and dtypes of ditcache's cases.

Reads {"cases": [...], "runs": n, "samples": s} as JSON on stdin and prints
{"device": name, "torch": version, "seconds": [...]} with one median seconds-per-run per case, timed
the way bench/gpu.ts times ditcache: `runs` back-to-back calls, then a device synchronisation,
repeated `samples` times.
"""

import json
import sys
import time

import torch
import torch.nn.functional as F

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


def median_seconds(fn, runs, samples):
    fn()
    torch.cuda.synchronize()
    per_run = []
    for _ in range(samples):
        start = time.perf_counter()
        for _ in range(runs):
            fn()
        torch.cuda.synchronize()
        per_run.append((time.perf_counter() - start) / runs)
    per_run.sort()
    return per_run[len(per_run) // 2]


def attention_case(case):
    b, h, n, d = case["B"], case["H"], case["N"], case["D"]
    dtype = DTYPES[case["dtype"]]
    q, k, v = (torch.rand(b, h, n, d, device="cuda", dtype=dtype) * 2 - 1 for _ in range(3))
    return lambda: F.scaled_dot_product_attention(q, k, v)


def gemm_case(case):
    m, n, k = case["M"], case["N"], case["K"]
    dtype = DTYPES[case["dtype"]]
    a = torch.rand(m, k, device="cuda", dtype=dtype) * 2 - 1
    w = torch.rand(n, k, device="cuda", dtype=dtype) * 2 - 1
    return lambda: torch.matmul(a, w.t())


def main():
    spec = json.load(sys.stdin)
    torch.backends.cuda.matmul.allow_tf32 = False  # ditcache's f32 GEMM is full fp32
    seconds = []
    for case in spec["cases"]:
        fn = attention_case(case) if case["op"] == "attention" else gemm_case(case)
        seconds.append(median_seconds(fn, spec["runs"], spec["samples"]))
    json.dump(
        {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "seconds": seconds},
        sys.stdout,
    )


if __name__ == "__main__":
    main()
