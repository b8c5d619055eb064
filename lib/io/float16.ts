// float16 / bfloat16 <-> float32 conversions over typed arrays, bit-exact with native/src/core/half.h
// (round to nearest even, NaN stays NaN), so a tensor converted here equals one converted natively.

let halfTable: Float32Array | undefined;

// All 65,536 float16 values as float32: one table lookup per element beats decoding bit fields in JS.
function halfToFloatTable(): Float32Array {
  if (halfTable) return halfTable;
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    let exp = (h >> 10) & 0x1f;
    let man = h & 0x3ff;
    if (exp === 0) {
      if (man === 0) {
        bits[h] = sign;
        continue;
      }
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        exp--;
      }
      bits[h] = (sign | (exp << 23) | ((man & 0x3ff) << 13)) >>> 0;
    } else if (exp === 31) {
      bits[h] = (sign | 0x7f800000 | (man << 13)) >>> 0;
    } else {
      bits[h] = (sign | ((exp + 127 - 15) << 23) | (man << 13)) >>> 0;
    }
  }
  halfTable = new Float32Array(bits.buffer);
  return halfTable;
}

/** Decodes float16 bit patterns from `src` into `dst` starting at `dstOffset`. */
export function halfToFloat32(src: Uint16Array, dst: Float32Array, dstOffset = 0): void {
  const table = halfToFloatTable();
  for (let i = 0; i < src.length; i++) dst[dstOffset + i] = table[src[i]!]!;
}

/** Decodes bfloat16 bit patterns from `src` into `dst` starting at `dstOffset`. */
export function bf16ToFloat32(src: Uint16Array, dst: Float32Array, dstOffset = 0): void {
  const out = new Uint32Array(dst.buffer, dst.byteOffset + dstOffset * 4, src.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
}

/** Encodes `src` as bfloat16 bit patterns into `dst` starting at `dstOffset`, rounding to nearest even. */
export function float32ToBf16(src: Float32Array, dst: Uint16Array, dstOffset = 0): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const u = bits[i]!;
    dst[dstOffset + i] = (u & 0x7fffffff) > 0x7f800000 ? (u >>> 16) | 0x40 : (u + 0x7fff + ((u >>> 16) & 1)) >>> 16;
  }
}
