"""Imports the authors' CausalSTDiT2, iDDPM and autoregressive loop on a CPU-only PyTorch.

Ca2-VDM's code (github.com/Dawn-LX/CausalCache-VDM, commit ce3ab5f) is used unchanged from a
checkout given by path. Its imports that need GPUs or training infrastructure are replaced here by
small CPU stand-ins with the same semantics where numbers depend on them:

  flash_attn.flash_attn_func      softmax attention on [B, N, heads, D], causal aligned to the
                                  bottom-right corner (flash-attn >= 2.1), scale as given
  xformers memory_efficient_attention with BlockDiagonalMask.from_seqlens: per-sample cross-attention
  mmengine Registry, colossalai, opensora.utils.ckpt_utils, opensora.datasets, diffusers, tqdm:
                                  registration, device queries and logging only
  torchvision, PIL                imported by timm at import time only (Mlp and DropPath need neither)

The opensora package is mounted without running its __init__ (which imports every dataset and model).
"""

import importlib.abc
import importlib.machinery
import math
import sys
import types
from unittest import mock

import torch


class _Anything(types.ModuleType):
    __path__ = []  # a package, so submodules resolve to the same stand-in
    __version__ = "10.0.0"

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return mock.MagicMock(name=f"{self.__name__}.{name}")


class _StandInFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    roots = ("torchvision", "PIL", "diffusers")

    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in self.roots:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        return _Anything(spec.name)

    def exec_module(self, module):
        pass


def _module(name, **attrs):
    m = types.ModuleType(name)
    m.__spec__ = importlib.machinery.ModuleSpec(name, None)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False, **_):
    # q [B, Nq, H, D], k/v [B, Nk, H, D]
    D = q.shape[-1]
    scale = softmax_scale if softmax_scale is not None else D**-0.5
    qh, kh, vh = (t.permute(0, 2, 1, 3).float() for t in (q, k, v))
    s = (qh * scale) @ kh.transpose(-2, -1)
    if causal:
        nq, nk = q.shape[1], k.shape[1]
        i = torch.arange(nq)[:, None]
        j = torch.arange(nk)[None, :]
        s = s.masked_fill(j > i + (nk - nq), float("-inf"))
    o = s.softmax(-1) @ vh
    return o.permute(0, 2, 1, 3).to(q.dtype)


class BlockDiagonalMask:
    def __init__(self, q_lens, k_lens):
        self.q_lens, self.k_lens = list(q_lens), list(k_lens)

    @classmethod
    def from_seqlens(cls, q_seqlen, kv_seqlen=None):
        return cls(q_seqlen, kv_seqlen if kv_seqlen is not None else q_seqlen)


def memory_efficient_attention(q, k, v, p=0.0, attn_bias=None):
    # q [1, Mq, H, D], k/v [1, Mk, H, D]
    if attn_bias is None:
        return flash_attn_func(q, k, v)
    outs, qo, ko = [], 0, 0
    for nq, nk in zip(attn_bias.q_lens, attn_bias.k_lens):
        outs.append(flash_attn_func(q[:, qo : qo + nq], k[:, ko : ko + nk], v[:, ko : ko + nk]))
        qo += nq
        ko += nk
    return torch.cat(outs, dim=1)


class _Registry:
    def __init__(self, *args, **kwargs):
        self.modules = {}

    def register_module(self, name=None, *args, **kwargs):
        def deco(obj):
            self.modules[name or obj.__name__] = obj
            return obj

        return deco


def _package(name, path):
    m = types.ModuleType(name)
    m.__spec__ = importlib.machinery.ModuleSpec(name, None, is_package=True)
    m.__path__ = [path]
    sys.modules[name] = m
    return m


def load(repo):
    """Mounts the authors' code from the checkout `repo`; returns the modules the tools use."""
    sys.meta_path.insert(0, _StandInFinder())
    _module("flash_attn", flash_attn_func=flash_attn_func)
    ops = _module("xformers.ops", memory_efficient_attention=memory_efficient_attention)
    ops.fmha = types.SimpleNamespace(BlockDiagonalMask=BlockDiagonalMask)
    _module("xformers", ops=ops)
    _module("mmengine")
    _module("mmengine.registry", Registry=_Registry)
    cutils = _module("colossalai.utils", get_current_device=lambda: torch.device("cpu"), set_seed=torch.manual_seed)
    _module("colossalai", utils=cutils)
    _module("tqdm", tqdm=lambda it=None, *a, **k: it)
    _module("tqdm.auto", tqdm=lambda it=None, *a, **k: it)

    root = f"{repo}/opensora"
    _package("opensora", root)
    for sub in ("models", "models/layers", "models/causal_stdit2", "utils", "acceleration", "schedulers"):
        _package("opensora." + sub.replace("/", "."), f"{root}/{sub}")
    _module("opensora.utils.ckpt_utils", load_checkpoint=None, save_json=None)
    _module("opensora.datasets", save_sample=None)

    # The iDDPM classes run on the device they are given ("cuda" by default): run them on the CPU.
    import opensora.schedulers.iddpm.gaussian_diffusion as gd

    gd.GaussianDiffusion.__init__.__kwdefaults__["device"] = "cpu"
    gd.math = math  # build_progressive_noise uses math without importing it (unused at alpha <= 0)
    from opensora.schedulers.iddpm import IDDPM, CleanPrefixIDDPM, build_progressive_noise

    _module("opensora.utils.train_utils", build_progressive_noise=build_progressive_noise)
    import opensora.models.causal_stdit2.causal_stdit2 as model_module
    import opensora.utils.video_gen as video_gen

    return types.SimpleNamespace(CausalSTDiT2=model_module.CausalSTDiT2, IDDPM=IDDPM, CleanPrefixIDDPM=CleanPrefixIDDPM, video_gen=video_gen, gd=gd)
