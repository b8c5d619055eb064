"""Open-Sora 1.2's STDiT3 forward in PyTorch: the reference ditcache's end-to-end benchmark times
and checks itself against.

Written from the architecture (hpcaitech/Open-Sora v1.2.0, opensora/models/stdit/stdit3.py:
STDiT3Block.forward lines 89-157 and STDiT3.forward lines 354-423; opensora/models/layers/blocks.py:
LlamaRMSNorm 32-46, Attention 132-218, MultiHeadCrossAttention 444-475, T2IFinalLayer 549-590,
TimestepEmbedder/SizeEmbedder 593-697, CaptionEmbedder 699-744, PositionEmbedding2D 747-802;
rotary_embedding_torch's RotaryEmbedding(dim) defaults), with the official parameter names, so a
checkpoint folder (config.json + model.safetensors) that ditcache loads loads here by name, strictly.

Attention runs on torch.nn.functional.scaled_dot_product_attention, PyTorch's fused CPU kernel (the
official code's flash-attn and xformers paths are CUDA-only; its fallback materialises the scores):
the same mathematics, softmax in float32 in both. The caption's padding is a key mask, equivalent to
the official packed sequences with a block-diagonal mask. The frame mask (x_mask) path is not here.

dtype: the model runs in the dtype of its parameters. bf16 is the whole module converted with
.to(torch.bfloat16), as Open-Sora's inference script runs it (the forward casts x, timestep and y to
the weights' dtype and returns float32): every activation, the residual stream included, is bf16;
norms' statistics and the softmax are computed in float32 inside their kernels, and the RoPE angles
are computed in bf16 as rotary_embedding_torch does with bf16 frequencies.

Safetensors files are read and written here with the standard library (an 8-byte header length, a
JSON header, little-endian tensor bytes) so that torch is the only package the benchmark needs.
"""

import ctypes
import json
import math
import os
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

ST_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
ST_NAMES = {dtype: name for name, dtype in ST_DTYPES.items()}

if sys.byteorder != "little":
    raise RuntimeError("safetensors data is little-endian; this reader expects a little-endian machine")


def read_safetensors(path):
    """{name: tensor} of a safetensors file; each tensor owns its (aligned) memory."""
    tensors = {}
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        base = 8 + length
        for name, entry in header.items():
            if name == "__metadata__":
                continue
            begin, end = entry["data_offsets"]
            f.seek(base + begin)
            data = bytearray(f.read(end - begin))
            dtype = ST_DTYPES[entry["dtype"]]
            flat = torch.frombuffer(data, dtype=dtype) if data else torch.empty(0, dtype=dtype)
            tensors[name] = flat.reshape(entry["shape"])
    return tensors


def write_safetensors(path, tensors):
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        dense = torch.empty(t.shape, dtype=t.dtype).copy_(t)  # its own row-major memory
        chunk = ctypes.string_at(dense.data_ptr(), dense.numel() * dense.element_size()) if dense.numel() else b""
        header[name] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(chunk)]}
        chunks.append(chunk)
        offset += len(chunk)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for chunk in chunks:
            f.write(chunk)


# ---------------------------------------------------------------------------------------- layers


def t2i_modulate(x, shift, scale):
    return x * (1 + scale) + shift


class RMSNorm(nn.Module):
    """q_norm / k_norm (LlamaRMSNorm): statistics in float32, weight applied in the input dtype."""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


class Rope(nn.Module):
    """Rotary embedding over the sequence axis (-2), interleaved pairs (2i, 2i + 1); key rope.freqs."""

    def __init__(self, dim):
        super().__init__()
        self.freqs = nn.Parameter(1.0 / 10000 ** (torch.arange(0, dim, 2).float() / dim), requires_grad=False)

    def forward(self, x):
        positions = torch.arange(x.shape[-2], dtype=self.freqs.dtype)
        angles = (positions[:, None] * self.freqs[None]).repeat_interleave(2, dim=-1)
        pairs = x.unflatten(-1, (-1, 2))
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return x * angles.cos() + rotated * angles.sin()


class Mlp(nn.Module):
    """timm's Mlp with the tanh GELU: fc1, fc2."""

    def __init__(self, features, hidden, out):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.fc2 = nn.Linear(hidden, out)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class SelfAttention(nn.Module):
    def __init__(self, dim, heads, qk_norm):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.q_norm = RMSNorm(dim // heads) if qk_norm else nn.Identity()
        self.k_norm = RMSNorm(dim // heads) if qk_norm else nn.Identity()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, rope=None, causal=False):
        # qkv output channel j·C + head·D + d is q (j = 0), k (1), v (2)
        q, k, v = self.qkv(x).unflatten(-1, (3, self.heads, -1)).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = rope(q), rope(k)
        o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        return self.proj(o.transpose(1, 2).flatten(2))


class CrossAttention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.q_linear = nn.Linear(dim, dim)
        self.kv_linear = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, y, mask):
        q = self.q_linear(x).unflatten(-1, (self.heads, -1)).transpose(1, 2)
        k, v = self.kv_linear(y).unflatten(-1, (2, self.heads, -1)).permute(2, 0, 3, 1, 4).unbind(0)
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None, None, :])
        return self.proj(o.transpose(1, 2).flatten(2))


class Block(nn.Module):
    """One spatial or temporal block on x [B, T·S, C] (tokens ordered frame, row, column)."""

    def __init__(self, dim, heads, mlp_ratio, qk_norm, temporal):
        super().__init__()
        self.temporal = temporal
        self.attn = SelfAttention(dim, heads, qk_norm)
        self.cross_attn = CrossAttention(dim, heads)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), dim)
        self.scale_shift_table = nn.Parameter(torch.zeros(6, dim))

    def forward(self, x, y, mask, t_mlp, T, S, rope, causal):
        B, N, C = x.shape
        mods = (self.scale_shift_table[None] + t_mlp.reshape(B, 6, C)).chunk(6, dim=1)
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mods
        a = t2i_modulate(F.layer_norm(x, (C,), eps=1e-6), shift_msa, scale_msa)
        if self.temporal:
            a = a.unflatten(1, (T, S)).transpose(1, 2).flatten(0, 1)  # [B·S, T, C]
            a = self.attn(a, rope, causal)
            a = a.unflatten(0, (B, S)).transpose(1, 2).flatten(1, 2)
        else:
            a = self.attn(a.reshape(B * T, S, C)).reshape(B, N, C)
        x = x + gate_msa * a
        x = x + self.cross_attn(x, y, mask)
        m = t2i_modulate(F.layer_norm(x, (C,), eps=1e-6), shift_mlp, scale_mlp)
        return x + gate_mlp * self.mlp(m)


class TimestepEmbedder(nn.Module):
    """t_embedder and fps_embedder: [cos | sin] of 256 frequencies, mlp.0 → SiLU → mlp.2."""

    def __init__(self, dim, frequencies=256):
        super().__init__()
        self.frequencies = frequencies
        self.mlp = nn.Sequential(nn.Linear(frequencies, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t):
        half = self.frequencies // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        return self.mlp(emb.to(self.mlp[0].weight.dtype))


class PatchEmbed(nn.Module):
    def __init__(self, patch, channels, dim):
        super().__init__()
        self.patch = patch
        self.proj = nn.Conv3d(channels, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        _, _, T, H, W = x.shape
        pt, ph, pw = self.patch
        x = F.pad(x, (0, -W % pw, 0, -H % ph, 0, -T % pt))  # zeros at the end of each axis
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, T'·H'·W', C]


class CaptionEmbedder(nn.Module):
    def __init__(self, channels, dim, tokens):
        super().__init__()
        self.y_proj = Mlp(channels, dim, dim)
        self.register_buffer("y_embedding", torch.zeros(tokens, channels))  # the null caption

    def forward(self, y):
        return self.y_proj(y)


class FinalLayer(nn.Module):
    def __init__(self, dim, outputs):
        super().__init__()
        self.linear = nn.Linear(dim, outputs)
        self.scale_shift_table = nn.Parameter(torch.zeros(2, dim))

    def forward(self, x, t):
        shift, scale = (self.scale_shift_table[None] + t[:, None]).chunk(2, dim=1)
        return self.linear(t2i_modulate(F.layer_norm(x, (x.shape[-1],), eps=1e-6), shift, scale))


def position_embedding(dim, h, w, scale, base_size):
    """[h·w, dim]: sin, cos of the column coordinate, then sin, cos of the row coordinate."""
    half = dim // 2
    inv_freq = 1.0 / (10000 ** (torch.arange(0, half, 2).float() / half))
    rows = torch.arange(h) / scale * (base_size / h)
    cols = torch.arange(w) / scale * (base_size / w)

    def sincos(p):
        angles = p[:, None] * inv_freq[None]
        return torch.cat([angles.sin(), angles.cos()], dim=-1)

    return torch.cat([sincos(cols.repeat(h)), sincos(rows.repeat_interleave(w))], dim=-1)


# ----------------------------------------------------------------------------------------- model


class STDiT3(nn.Module):
    def __init__(self, config):
        super().__init__()
        C = config["hidden_size"]
        heads = config["num_heads"]
        depth = config["depth"]
        mlp_ratio = config.get("mlp_ratio", 4.0)
        qk_norm = config.get("qk_norm", True)
        self.patch = tuple(config.get("patch_size", (1, 2, 2)))
        self.in_channels = config.get("in_channels", 4)
        self.out_channels = 2 * self.in_channels if config.get("pred_sigma", True) else self.in_channels
        self.input_sq_size = config.get("input_sq_size", 512)
        self.causal_temporal = config.get("causal_temporal", False)
        self.hidden = C

        self.rope = Rope(C // heads)
        self.x_embedder = PatchEmbed(self.patch, self.in_channels, C)
        self.t_embedder = TimestepEmbedder(C)
        self.fps_embedder = TimestepEmbedder(C)
        self.t_block = nn.Sequential(nn.SiLU(), nn.Linear(C, 6 * C))
        self.y_embedder = CaptionEmbedder(config["caption_channels"], C, config["model_max_length"])
        self.spatial_blocks = nn.ModuleList(Block(C, heads, mlp_ratio, qk_norm, False) for _ in range(depth))
        self.temporal_blocks = nn.ModuleList(Block(C, heads, mlp_ratio, qk_norm, True) for _ in range(depth))
        self.final_layer = FinalLayer(C, math.prod(self.patch) * self.out_channels)

    def forward(self, x, timestep, y, mask=None, fps=None, height=None, width=None):
        dtype = self.x_embedder.proj.weight.dtype
        B, _, Tx, Hx, Wx = x.shape
        x, timestep, y = x.to(dtype), timestep.to(dtype), y.to(dtype)
        pt, ph, pw = self.patch
        T, H, W = -(-Tx // pt), -(-Hx // ph), -(-Wx // pw)
        S = H * W
        height = torch.full((B,), 8.0 * Hx) if height is None else height
        width = torch.full((B,), 8.0 * Wx) if width is None else width
        scale = (height[0].item() * width[0].item()) ** 0.5 / self.input_sq_size
        pos = position_embedding(self.hidden, H, W, scale, round(S**0.5)).to(dtype)

        fps = torch.full((B,), 24.0) if fps is None else fps.reshape(-1)
        t = self.t_embedder(timestep) + self.fps_embedder(fps.repeat(B // fps.shape[0]))
        t_mlp = self.t_block(t)

        y = self.y_embedder(y).squeeze(1)  # [B, L, C]
        L = y.shape[1]
        mask = torch.ones(B, L, dtype=torch.bool) if mask is None else mask.reshape(-1, L) != 0
        mask = mask.repeat(B // mask.shape[0], 1)

        x = self.x_embedder(x)
        x = (x.unflatten(1, (T, S)) + pos).flatten(1, 2)
        for spatial, temporal in zip(self.spatial_blocks, self.temporal_blocks):
            x = spatial(x, y, mask, t_mlp, T, S, None, False)
            x = temporal(x, y, mask, t_mlp, T, S, self.rope, self.causal_temporal)

        x = self.final_layer(x, t)  # modulated by t, not t_mlp
        # [B, (T' H' W'), (pt ph pw c)] -> [B, c, T'·pt, H'·ph, W'·pw], cropped to the input
        x = x.reshape(B, T, H, W, pt, ph, pw, self.out_channels).permute(0, 7, 1, 4, 2, 5, 3, 6)
        x = x.reshape(B, self.out_channels, T * pt, H * ph, W * pw)[:, :, :Tx, :Hx, :Wx]
        return x.float()


# ----------------------------------------------------------------------------------- checkpoints


def read_checkpoint(folder):
    """(config, tensors) of a checkpoint folder."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    return config, read_safetensors(os.path.join(folder, "model.safetensors"))


def build(config, tensors, dtype):
    """The model with the checkpoint's tensors (strictly every parameter, by name), in `dtype`."""
    with torch.device("meta"):
        model = STDiT3(config)
    model.load_state_dict(tensors, strict=True, assign=True)
    return model.to(dtype).eval()


def read_inputs(path):
    """The forward's keyword arguments from a safetensors file: x, timestep, y and optionally mask, fps, height, width."""
    names = ("x", "timestep", "y", "mask", "fps", "height", "width")
    tensors = read_safetensors(path)
    unknown = set(tensors) - set(names)
    if unknown:
        raise ValueError(f"{path}: unexpected inputs {sorted(unknown)}")
    return {name: tensors[name] for name in names if name in tensors}


def main():
    import argparse

    parser = argparse.ArgumentParser(description="One STDiT3 forward of a checkpoint folder on the inputs of a safetensors file.")
    parser.add_argument("checkpoint", help="folder with config.json and model.safetensors")
    parser.add_argument("inputs", help="safetensors file with x, timestep, y (and mask, fps, height, width)")
    parser.add_argument("output", help="safetensors file to write the output to (tensor 'out')")
    parser.add_argument("--dtype", choices=("f32", "bf16"), default="f32")
    args = parser.parse_args()
    config, tensors = read_checkpoint(args.checkpoint)
    model = build(config, tensors, torch.bfloat16 if args.dtype == "bf16" else torch.float32)
    with torch.inference_mode():
        out = model(**read_inputs(args.inputs))
    write_safetensors(args.output, {"out": out})


if __name__ == "__main__":
    main()
