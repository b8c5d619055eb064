"""Golden vectors of CausalSTDiT2 from the authors' own class (Ca2-VDM, CPU, float32).

Usage: python goldens.py AUTHORS_CHECKOUT OUT_DIR

For three small models shaped like the released configurations (configs/causal_stdit/*.py), with
random weights (every parameter drawn, so no branch is zero as at initialisation):
  sky   text-free, mask channel into temporal attention, cyclic TPE, prefix spatial attention
  text  captions with classifier-free guidance, cyclic TPE, prefix spatial attention
  rope  captions without guidance, RoPE temporal positions, no prefix spatial attention
each folder holds config.json + model.safetensors (the authors' state-dict names) and:
  forward_{a,b,c}.in/.out.safetensors  CausalSTDiT2.forward on [clean prefix; noisy chunk]
                                       (per-frame timesteps from 0 and offset 6, per-sample
                                       timesteps from 2), inputs named as forward's arguments
  cache.safetensors                    write_latents_to_cache(prefix) then the cached forward of
                                       the chunk, with both caches' contents
  ar.safetensors                       autoregressive_sample_kv_cache: iDDPM (20 respaced steps),
                                       first frame + 4 chunks of 3, cache of 5 frames (evictions),
                                       max_tpe_len 8 (the TPE wraps), prefix perturbation t=50,
                                       every random draw recorded, both caches after every write.
                                       The guided text model runs 2 chunks: with random weights its
                                       later chunks are chaotic in the authors' own code (a 1e-6
                                       change of the first frame moves them by 5 to 90).
and iddpm.safetensors holds the respaced schedules and one p_sample step.
"""

import json
import os
import sys

import torch

import authors_env
import st_io

B, C_IN, H, W = 2, 4, 8, 8
HIDDEN, HEADS, DEPTH = 32, 2, 3
MAX_TPE, CHUNK, CACHE, STEPS = 8, 3, 5, 20
L_TOKENS = 6

CASES = {
    "sky": dict(caption_channels=0, temp_extra_in_channels=1, relative_tpe_mode="cyclic", cross_frame_attn="prev_prefix_3", cfg_scale=1.0, ar_steps=4),
    "text": dict(caption_channels=16, temp_extra_in_channels=0, relative_tpe_mode="cyclic", cross_frame_attn="prev_prefix_3", cfg_scale=4.0, ar_steps=2),
    "rope": dict(caption_channels=16, temp_extra_in_channels=0, relative_tpe_mode="rope", cross_frame_attn=None, cfg_scale=1.0, ar_steps=4),
}


def model_kwargs(case):
    return dict(
        input_size=[16, H, W],
        in_channels=C_IN,
        patch_size=[1, 2, 2],
        hidden_size=HIDDEN,
        depth=DEPTH,
        num_heads=HEADS,
        mlp_ratio=4.0,
        pred_sigma=True,
        caption_channels=case["caption_channels"],
        model_max_length=L_TOKENS,
        space_scale=1.0,
        time_scale=1.0,
        temp_extra_in_channels=case["temp_extra_in_channels"],
        temp_extra_in_all_block=False,
        max_tpe_len=MAX_TPE,
        relative_tpe_mode=case["relative_tpe_mode"],
        cross_frame_attn=case["cross_frame_attn"],
        is_causal=True,
        enable_flashattn=True,
    )


def randomise(model, gen):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("scale_shift_table"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
            elif name.endswith("bias"):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)
        # With the output layer at full random scale, iDDPM with guidance turns chaotic over a few
        # chunks (a 1e-6 change of the first frame moves the text model's last chunk by ~1000 in the
        # authors' own code); a quarter of it keeps the sensitivity near 1e-4 of the values.
        model.final_layer.linear.weight.mul_(0.1)


def text_inputs(case, gen, b):
    if case["caption_channels"] == 0:
        return {}
    y = torch.randn(b, 1, L_TOKENS, case["caption_channels"], generator=gen)
    mask = torch.ones(b, L_TOKENS, dtype=torch.int64)
    if b > 1:
        mask[1, 4:] = 0
    return {"y": y, "mask": mask}


def forward_case(model, case, gen, prefix, start, per_frame):
    k, n = prefix, CHUNK
    T = k + n
    x = torch.randn(B, C_IN, T, H, W, generator=gen)
    t_noisy = torch.tensor([731.0, 285.0])
    timestep = t_noisy[:, None].repeat(1, T) if per_frame else t_noisy
    if per_frame:
        timestep[:, :k] = 0
    mask_channel = torch.zeros(B, 1, T, 1, 1)
    mask_channel[:, :, :k] = 1
    inputs = {"x": x, "timestep": timestep, "mask_channel": mask_channel, "x_temporal_start": torch.tensor([start], dtype=torch.int64)}
    inputs.update(text_inputs(case, gen, B))
    with torch.no_grad():
        out = model(
            x, timestep, inputs.get("y"), mask=inputs.get("mask"), mask_channel=mask_channel, x_temporal_start=start
        )
    return inputs, {"out": out}


def cache_case(model, case, fwd_inputs, prefix):
    """The clean prefix of forward_a written to the cache, then its noisy chunk read against it."""
    x = fwd_inputs["x"]
    clean, chunk = x[:, :, :prefix], x[:, :, prefix:]
    y, mask = fwd_inputs.get("y"), fwd_inputs.get("mask")
    model.empty_kv_cache()
    model.register_kv_cache(B, max_seq_len=CACHE)
    model.write_latents_to_cache(clean, y, mask)
    t = {"prefix": clean, "chunk": chunk, "timestep": torch.tensor([731.0, 285.0])}
    t.update({k: v for k, v in (("y", y), ("mask", mask)) if v is not None})
    t.update(snapshot(model, "after_write"))
    with torch.no_grad():
        t["out"] = model(chunk, t["timestep"], y, mask=mask)
    model.empty_kv_cache()
    return t


def snapshot(model, tag):
    n = int(model.cache_indicator.sum().item())
    held = min(n, len(model.cache_indicator))
    s = {f"{tag}.cache_t": model.cache_kv[:, :, :held].clone(), f"{tag}.frames_written": torch.tensor([n])}
    if model.spatial_attn_enhance is not None:
        s[f"{tag}.cache_s"] = model.spatial_ctx_kv.clone()
    return s


class TextEncoder:
    def __init__(self, model, y, mask):
        self.model, self.y, self.mask = model, y, mask

    def encode(self, prompts):
        return {"y": self.y, "mask": self.mask}

    def null(self, n):
        return self.model.y_embedder.y_embedding[None].repeat(n, 1, 1)[:, None]


def ar_case(A, model, case, gen):
    AR_STEPS = case["ar_steps"]
    scheduler = A.IDDPM(num_sampling_steps=STEPS, cfg_scale=case["cfg_scale"])
    first = torch.randn(1, C_IN, 1, H, W, generator=gen)
    text = text_inputs(case, gen, 1)
    encoder = TextEncoder(model, text["y"], text["mask"]) if text else None

    draws = []
    randn_like = torch.randn_like

    def recording_randn_like(t, *a, **k):
        r = randn_like(t, *a, **k)
        draws.append(r.clone())
        return r

    snaps = {}
    write = model.write_latents_to_cache

    def recording_write(*a, **k):
        write(*a, **k)
        snaps.update(snapshot(model, f"write{len([s for s in snaps if s.endswith('frames_written')])}"))

    model.empty_kv_cache()
    model.write_latents_to_cache = recording_write
    torch.randn_like = recording_randn_like
    try:
        torch.manual_seed(1234)
        z, _, _ = A.video_gen.autoregressive_sample_kv_cache(
            scheduler, model, encoder, z_size=(C_IN, CHUNK, H, W), prompts=["p"], cond_frame_latents=first,
            ar_steps=AR_STEPS, kv_cache_dequeue=True, kv_cache_max_seqlen=CACHE, verbose=False,
            prefix_perturb_t=50, seed=77,
        )
    finally:
        torch.randn_like = randn_like
        del model.write_latents_to_cache
    model.empty_kv_cache()
    gen_init = torch.Generator().manual_seed(77)
    init_noise = torch.randn((1, C_IN, 1 + CHUNK * AR_STEPS, H, W), generator=gen_init)
    # Draw order: the first frame's perturbation, then per chunk STEPS sampler draws and the
    # perturbation of the chunk written to the cache.
    assert len(draws) == 1 + AR_STEPS * (STEPS + 1), len(draws)
    t = {"first": first, "init_noise": init_noise, "out": z, "prefix_noise.0": draws[0]}
    for j in range(AR_STEPS):
        base = 1 + j * (STEPS + 1)
        t[f"step_noise.{j}"] = torch.stack(draws[base : base + STEPS])
        t[f"prefix_noise.{j + 1}"] = draws[base + STEPS]
    t.update(text)
    t.update(snaps)
    return t, dict(steps=STEPS, cfg_scale=case["cfg_scale"], chunk=CHUNK, cache_frames=CACHE, ar_steps=AR_STEPS, prefix_perturb_t=50)


def iddpm_vectors(A):
    t = {}
    for n in (20, 100, 1000):
        s = A.IDDPM(num_sampling_steps=n)
        t[f"n{n}.timestep_map"] = torch.tensor(s.timestep_map, dtype=torch.int64)
        for name in ("betas", "sqrt_alphas_cumprod", "sqrt_one_minus_alphas_cumprod", "posterior_log_variance_clipped",
                     "posterior_mean_coef1", "posterior_mean_coef2", "sqrt_recip_alphas_cumprod", "sqrt_recipm1_alphas_cumprod"):
            t[f"n{n}.{name}"] = getattr(s, name).float()
    s = A.IDDPM(num_sampling_steps=100, cfg_scale=1.0)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(1, C_IN, 3, H, W, generator=gen)
    out = torch.randn(1, 2 * C_IN, 3, H, W, generator=gen)
    noise = torch.randn(1, C_IN, 3, H, W, generator=gen)
    randn_like = torch.randn_like
    torch.randn_like = lambda *a, **k: noise
    try:
        for i in (99, 37, 0):
            r = s.p_sample(lambda xx, tt, **k: out, x, torch.tensor([i]), clip_denoised=False, model_kwargs={})
            t[f"step{i}.sample"] = r["sample"]
    finally:
        torch.randn_like = randn_like
    t.update({"step.x": x, "step.model_out": out, "step.noise": noise})
    return t


def main():
    repo, out_dir = sys.argv[1], sys.argv[2]
    A = authors_env.load(repo)
    torch.set_grad_enabled(False)
    manifest = {"source": "github.com/Dawn-LX/CausalCache-VDM @ ce3ab5f, CPU float32", "cases": {}}
    for seed, (name, case) in enumerate(CASES.items()):
        gen = torch.Generator().manual_seed(100 + seed)
        kw = model_kwargs(case)
        model = A.CausalSTDiT2(**kw)
        randomise(model, gen)
        model.eval()
        folder = os.path.join(out_dir, name)
        os.makedirs(folder, exist_ok=True)
        state = {k: v for k, v in model.state_dict().items()}
        st_io.write(os.path.join(folder, "model.safetensors"), state)
        config = {"model_type": "CausalSTDiT2", **kw,
                  "scheduler": {"type": "iddpm", "num_sampling_steps": STEPS, "cfg_scale": case["cfg_scale"]},
                  "sample_cfgs": {"auto_regre_chunk_len": CHUNK}, "kv_cache_max_seqlen": CACHE, "prefix_perturb_t": 50}
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
        entry = {}
        for tag, prefix, start, per_frame in (("a", 2, 0, True), ("b", 1, 6, True), ("c", 2, 2, False)):
            inputs, outputs = forward_case(model, case, gen, prefix, start, per_frame)
            st_io.write(os.path.join(folder, f"forward_{tag}.in.safetensors"), inputs)
            st_io.write(os.path.join(folder, f"forward_{tag}.out.safetensors"), outputs)
            entry[f"forward_{tag}"] = dict(prefix=prefix, x_temporal_start=start, per_frame_timestep=per_frame)
            if tag == "a":
                st_io.write(os.path.join(folder, "cache.safetensors"), cache_case(model, case, inputs, prefix))
                entry["cache"] = dict(prefix=prefix, cache_frames=CACHE)
        ar, info = ar_case(A, model, case, gen)
        st_io.write(os.path.join(folder, "ar.safetensors"), ar)
        entry["ar"] = info
        manifest["cases"][name] = entry
        print(name, "done")
    st_io.write(os.path.join(out_dir, "iddpm.safetensors"), iddpm_vectors(A))
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)


if __name__ == "__main__":
    main()
