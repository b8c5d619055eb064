// Multiply-adds of one STDiT3 block's branches for one batch row: what a computed fraction weighs.
import type { STDiT3Config } from './config.js';

export interface BranchCost {
  /** qkv, attention (Q·Kᵀ and P·V), projection */
  attn: number;
  /** query, attention over the caption, projection */
  cross: number;
  /** two MLP layers */
  mlp: number;
}

/** FLOPs per row of a spatial and a temporal block for T frames of S tokens and a caption of L tokens. */
export function blockCosts(cfg: STDiT3Config, T: number, S: number, L: number): { spatial: BranchCost; temporal: BranchCost } {
  const C = cfg.hiddenSize, N = T * S;
  const gemm = (k: number, n: number) => 2 * N * k * n;
  const shared = { cross: gemm(C, C) + 4 * N * L * C + gemm(C, C), mlp: gemm(C, cfg.mlpRatio * C) + gemm(cfg.mlpRatio * C, C) };
  const selfAttn = (pairs: number) => gemm(C, 3 * C) + 4 * pairs * C + gemm(C, C);
  return {
    spatial: { attn: selfAttn(T * S * S), ...shared },
    temporal: { attn: selfAttn(S * T * T), ...shared },
  };
}
