"""Trains the bundled tiny CausalSTDiT2 (lib/models/causal-stdit2-tiny) with the authors' own code.

Usage: python train_tiny.py AUTHORS_CHECKOUT VOCAB_JSON OUT_DIR [MINUTES]
(a run continues from the weights OUT_DIR holds, if any)

The model is the authors' CausalSTDiT2 class (see authors_env.py), trained as their
configs/causal_stdit/train_*.py recipe does, scaled down: clean-prefix training with the
CleanPrefixIDDPM loss (noise MSE + the learned-σ variational term), the prefix at timestep 0 with
mask channel 1 and perturbed to t = 50, loss on the chunk only, chunks of 3 after 1, 4 or 6 prefix
frames (half of the batches after 1: from a single frame only the caption tells the motion;
max_tpe_len 9: the longest clips take a random cyclic TPE start, as at inference once the 6-frame
cache is full), caption dropout 0.1 to the null caption. Data: moving_shapes.py. The
exponential moving average of the weights is saved, in the authors' state-dict names.

One departure from the authors' uniform weighting of the noise-MSE term (the learned-σ term is kept
as it is): where SNR(t) < 1 (t > 250) each sample's noise MSE is weighted by 1 / SNR, at most 100
(truncated-SNR weighting, Salimans and Ho 2022: the clean frame's MSE weighted evenly, here up to
t = 690). Unweighted, the noise a model this small predicts at high t, where the clean frame is the
noisy input divided by sqrt(alpha_bar) ~ 0.04, is not exact enough: the clean chunk it implies at
t = 800 carried the input's noise (MSE 0.43-0.51 against the truth, 0.05-0.06 with the weighting).
"""

import json
import math
import os
import random
import sys
import time

import torch

import authors_env
import moving_shapes
import st_io

CHUNK, MAX_TPE, CACHE, PREFIXES = 3, 9, 6, (1, 1, 4, 6)
BATCH, LR, EMA, MAX_WEIGHT = 8, 1e-3, 0.995, 100.0

MODEL = dict(
    input_size=[MAX_TPE, moving_shapes.SIZE, moving_shapes.SIZE],
    in_channels=3,
    patch_size=[1, 2, 2],
    hidden_size=96,
    depth=4,
    num_heads=4,
    mlp_ratio=4.0,
    pred_sigma=True,
    class_dropout_prob=0.0,  # dropped in the loop below (the class's own dropout calls .cuda())
    caption_channels=64,
    model_max_length=8,
    temp_extra_in_channels=1,
    temp_extra_in_all_block=False,
    max_tpe_len=MAX_TPE,
    relative_tpe_mode="cyclic",
    cross_frame_attn="prev_prefix_3",
    is_causal=True,
    enable_flashattn=False,
)


def encoder(vocab):
    table = torch.tensor(vocab["table"], dtype=torch.float32)
    rows, L = vocab["word_to_row"], vocab["model_max_length"]

    def encode(captions):
        y = torch.zeros(len(captions), 1, L, table.shape[1])
        mask = torch.zeros(len(captions), L, dtype=torch.int64)
        for b, c in enumerate(captions):
            for l, w in enumerate(c.split()):
                y[b, 0, l] = table[rows[w]]
                mask[b, l] = 1
        return y, mask

    return encode


def main():
    repo, vocab_path, out_dir = sys.argv[1:4]
    torch.set_num_threads(1)  # a tiny model: more threads only spin on a shared machine
    minutes = float(sys.argv[4]) if len(sys.argv) > 4 else 25
    torch.manual_seed(0)
    random.seed(0)
    gen = torch.Generator().manual_seed(1)
    A = authors_env.load(repo)
    encode = encoder(json.load(open(vocab_path)))
    model = A.CausalSTDiT2(**MODEL)
    # The class initialises its caption MLP with std 0.02 (made for 4096-wide T5 features): on this
    # vocabulary's 64-wide word vectors every caption token then leaves it near zero, all words look
    # alike to the cross-attention. Xavier instead, as the class initialises its other linear
    # layers. (Either way the model has yet to read the direction word: flipping it moves the
    # predicted frames by about 0.001 rms; see the README beside the weights.)
    for fc in (model.y_embedder.y_proj.fc1, model.y_embedder.y_proj.fc2):
        torch.nn.init.xavier_uniform_(fc.weight)
    done = {"steps": 0, "minutes": 0.0}
    if os.path.exists(os.path.join(out_dir, "model.safetensors")):
        model.load_state_dict(st_io.read(os.path.join(out_dir, "model.safetensors")))
        done = json.load(open(os.path.join(out_dir, "training.json")))
    model.train()
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    scheduler = A.CleanPrefixIDDPM(timestep_respacing="")
    snr = scheduler.alphas_cumprod / (1 - scheduler.alphas_cumprod)
    mse_weight = (1 / snr).clamp(min=1, max=MAX_WEIGHT).float()
    opt = torch.optim.AdamW(model.parameters(), lr=LR, weight_decay=0)
    os.makedirs(out_dir, exist_ok=True)
    log = open(os.path.join(out_dir, "train.log"), "a")
    started, step, smooth = time.time(), done["steps"], None
    while time.time() - started < minutes * 60:
        prefix = PREFIXES[step % len(PREFIXES)]
        T = prefix + CHUNK
        clips, captions = zip(*(moving_shapes.random_clip(gen, T) for _ in range(BATCH)))
        x = torch.stack(clips)
        y, mask = encode(captions)
        drop = torch.rand(BATCH, generator=gen) < 0.1
        y = torch.where(drop[:, None, None, None], model.y_embedder.y_embedding[None, None], y)
        mask_channel = torch.zeros(BATCH, 1, T, 1, 1)
        mask_channel[:, :, :prefix] = 1
        loss_mask = torch.zeros_like(x)
        loss_mask[:, :, prefix:] = 1
        t = torch.randint(0, scheduler.num_timesteps, (BATCH,), generator=gen)
        t_input = t[:, None].repeat(1, T)
        t_input[:, :prefix] = 0
        kwargs = dict(y=y, mask=mask, mask_channel=mask_channel, loss_mask=loss_mask, prefix_perturb_t=50, t_input=t_input)
        # Warm-up, then a cosine decay over the run's time; a continued run starts lower.
        peak = LR if done["steps"] == 0 else 0.3 * LR
        progress = min(1.0, (time.time() - started) / (minutes * 60))
        for g in opt.param_groups:
            g["lr"] = peak * min(1.0, (step + 1 - done["steps"]) / 50) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress)))
        terms = scheduler.training_losses_clean_prefix(model, x, t, kwargs)
        loss = (mse_weight[t] * terms["mse"] + terms["vb"]).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            for k, v in model.state_dict().items():
                ema[k].mul_(EMA).add_(v.detach(), alpha=1 - EMA) if v.dtype.is_floating_point else ema[k].copy_(v)
        smooth = loss.item() if smooth is None else 0.98 * smooth + 0.02 * loss.item()
        step += 1
        if step % 25 == 0:
            print(f"step {step} loss {smooth:.4f} {time.time() - started:.0f}s", file=log, flush=True)
        if step % 100 == 0:
            save(ema, out_dir, step, smooth, done["minutes"] + (time.time() - started) / 60)
    save(ema, out_dir, step, smooth, done["minutes"] + (time.time() - started) / 60)


def save(state, out_dir, step, loss, minutes):
    st_io.write(os.path.join(out_dir, "model.safetensors"), {k: v.float() for k, v in state.items()})
    config = {
        "model_type": "CausalSTDiT2",
        **{k: v for k, v in MODEL.items() if k not in ("class_dropout_prob",)},
        "scheduler": {"type": "iddpm", "num_sampling_steps": 50, "cfg_scale": 4.0},
        "sample_cfgs": {"auto_regre_chunk_len": CHUNK},
        "kv_cache_max_seqlen": CACHE,
        "prefix_perturb_t": 50,
    }
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(out_dir, "training.json"), "w") as f:
        json.dump({"steps": step, "smoothed_loss": loss, "minutes": minutes, "batch": BATCH, "lr": LR, "ema": EMA, "max_weight": MAX_WEIGHT}, f, indent=2)


if __name__ == "__main__":
    main()
