// Looking at results: latent previews as frames, GIF and PNG encodings, and caching-schedule charts.
export { decodePreview, MAX_PREVIEW_SCALE, type LatentData, type Preview, type PreviewOptions } from './preview.js';
export { encodeGif, type GifOptions } from './gif.js';
export { encodePng, encodePngStrip, type PngStripOptions } from './png.js';
export { frameStrip } from './frames.js';
export { scheduleSvg, type ScheduleEvaluation, type ScheduleTrace } from './schedule-svg.js';
