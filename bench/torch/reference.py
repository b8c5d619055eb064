"""PyTorch timings of the cases ditcache's benchmarks measure, run by bench/torch.ts.

Reads one JSON request on stdin:
  {"threads": n, "repeat": r, "warmup": w, "cases": [case, ...]}
where a case is
  {"op": "linear", "M", "N", "K", "dtype": "f32"|"bf16", "bias": bool}   torch.nn.functional.linear
  {"op": "sdpa", "B", "H", "Nq", "Nk", "D", "dtype", "causal"?: bool, "visible"?: int}
      torch.nn.functional.scaled_dot_product_attention on [B, H, N, D] tensors; causal is aligned
      bottom-right as ditcache's (is_causal when Nq == Nk, an explicit mask otherwise); visible: only
      the first `visible` keys of each batch item are attended (a boolean key mask)
  {"op": "stdit3", "dir", "inputs", "dtype", "output"?: path}
      one STDiT3 forward (bench/torch/stdit3.py) of the checkpoint folder `dir` on the inputs of the
      safetensors file `inputs`; the output of the last run is written to `output`
and writes {"torch": version, "threads": n, "capability": cpu capability, "cases": [{"seconds": [...]}]}
on stdout: per case, the wall time of each of `repeat` runs after `warmup` untimed runs, inputs made
before the timing.
"""

import json
import sys
import time

import torch
import torch.nn.functional as F

import stdit3

DTYPES = {"f32": torch.float32, "bf16": torch.bfloat16}


def random(*shape, dtype):
    return (torch.rand(*shape) * 2 - 1).to(dtype)


def linear_case(case):
    dtype = DTYPES[case["dtype"]]
    x = random(case["M"], case["K"], dtype=dtype)
    w = random(case["N"], case["K"], dtype=dtype) / case["K"] ** 0.5
    b = random(case["N"], dtype=dtype) if case["bias"] else None
    return lambda: F.linear(x, w, b)


def sdpa_case(case):
    dtype = DTYPES[case["dtype"]]
    b, h, nq, nk, d = case["B"], case["H"], case["Nq"], case["Nk"], case["D"]
    q = random(b, h, nq, d, dtype=dtype)
    k = random(b, h, nk, d, dtype=dtype)
    v = random(b, h, nk, d, dtype=dtype)
    causal = bool(case.get("causal", False))
    mask = None
    if causal and nq != nk:
        # query i sees key j when j <= i + (nk - nq)
        mask = torch.ones(nq, nk, dtype=torch.bool).tril(nk - nq)
        causal = False
    visible = case.get("visible")
    if visible is not None:
        keys = torch.arange(nk) < visible
        keys = keys.expand(b, 1, 1, nk)
        mask = keys if mask is None else keys & mask
    return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal)


class Checkpoints:
    """Checkpoint tensors read once per folder, shared by the cases of a request."""

    def __init__(self):
        self.loaded = {}

    def model(self, folder, dtype):
        if folder not in self.loaded:
            self.loaded[folder] = stdit3.read_checkpoint(folder)
        config, tensors = self.loaded[folder]
        return stdit3.build(config, tensors, dtype)


def stdit3_case(case, checkpoints):
    dtype = DTYPES[case["dtype"]]
    model = checkpoints.model(case["dir"], dtype)
    inputs = stdit3.read_inputs(case["inputs"])
    result = {}

    def run():
        result["out"] = model(**inputs)

    def finish():
        if case.get("output"):
            if "out" not in result:
                run()
            stdit3.write_safetensors(case["output"], {"out": result["out"]})

    return run, finish


def time_case(fn, repeat, warmup):
    for _ in range(warmup):
        fn()
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return seconds


def main():
    request = json.load(sys.stdin)
    torch.manual_seed(0)
    threads = int(request["threads"])
    torch.set_num_threads(threads)
    repeat = int(request["repeat"])
    warmup = int(request.get("warmup", 1))
    checkpoints = Checkpoints()
    results = []
    with torch.inference_mode():
        for case in request["cases"]:
            finish = None
            if case["op"] == "linear":
                fn = linear_case(case)
            elif case["op"] == "sdpa":
                fn = sdpa_case(case)
            elif case["op"] == "stdit3":
                fn, finish = stdit3_case(case, checkpoints)
            else:
                raise ValueError(f"unknown op {case['op']!r}")
            results.append({"seconds": time_case(fn, repeat, warmup)})
            if finish:
                finish()
    json.dump(
        {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "capability": torch.backends.cpu.get_cpu_capability(),
            "cases": results,
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
