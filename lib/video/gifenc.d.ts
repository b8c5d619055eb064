// Types for the parts of the gifenc package this project uses (the package ships none), as the
// CommonJS build's exports object.
declare module 'gifenc' {
  type PaletteFormat = 'rgb565' | 'rgb444' | 'rgba4444';
  type Palette = number[][];

  interface FrameOptions {
    palette?: Palette;
    /** Frame delay in milliseconds (stored in hundredths of a second). */
    delay?: number;
    /** -1: play once, 0: loop forever, n > 0: n extra loops. */
    repeat?: number;
  }

  interface Encoder {
    writeFrame(index: Uint8Array, width: number, height: number, options?: FrameOptions): void;
    finish(): void;
    bytes(): Uint8Array;
  }

  export interface Gifenc {
    GIFEncoder(options?: { initialCapacity?: number }): Encoder;
    /** `rgba` must own its whole ArrayBuffer: gifenc reads the buffer from offset 0. */
    quantize(rgba: Uint8Array, maxColors: number, options?: { format?: PaletteFormat }): Palette;
    applyPalette(rgba: Uint8Array, palette: Palette, format?: PaletteFormat): Uint8Array;
  }
}
