/**
 * Moving Fashion-MNIST: one item drifting slowly across a canvas (bouncing off its edges) with
 * occasional +-1 px camera shake and optional brightness flicker. Consecutive frames are mostly
 * alike, which is what a delta (temporal-sparsity) layer exploits. Deterministic for a seed.
 */
import { ConfigError, Rng, ShapeError, requireFiniteNumber, requireNonNegative, requirePositiveInt } from '@tinyblocks/core/base';

const ITEM = 28;
const PX = ITEM * ITEM;

export interface MovingOptions {
  /** Drift speed in pixels per frame (default 0.5); the direction is random per seed. */
  drift?: number;
  /** Probability per frame and axis of a +-1 px shake on top of the drift (default 0.25). */
  jitter?: number;
  /** Brightness flicker: each frame is scaled by 1 + U(-b, b), clamped to 255 (default 0). */
  brightness?: number;
  /** Canvas side in pixels, >= 28 (default 28). The item starts centred. */
  size?: number;
}

export interface MovingFashionMnistOptions extends MovingOptions {
  /** One 28x28 uint8 image. */
  image: Uint8Array;
  frames: number;
  seed: number;
}

interface Checked {
  frames: number;
  drift: number;
  jitter: number;
  brightness: number;
  size: number;
}

function check(op: string, o: MovingOptions & { frames: number; seed: number }): Checked {
  const where = { op };
  requireFiniteNumber(where, 'seed', o.seed);
  const jitter = requireNonNegative(where, 'jitter', o.jitter ?? 0.25);
  if (jitter > 1) throw new ConfigError(where, 'jitter', 'a probability in [0, 1]', jitter);
  const size = o.size ?? ITEM;
  if (!Number.isInteger(size) || size < ITEM) throw new ConfigError(where, 'size', `an integer >= ${ITEM}`, size);
  return {
    frames: requirePositiveInt(where, 'frames', o.frames),
    drift: requireNonNegative(where, 'drift', o.drift ?? 0.5),
    jitter,
    brightness: requireNonNegative(where, 'brightness', o.brightness ?? 0),
    size,
  };
}

/** Reflects an unbounded coordinate into [lo, hi] (a triangle wave: bouncing). */
function bounce(u: number, lo: number, hi: number): number {
  const span = hi - lo;
  if (span <= 0) return lo;
  const r = (((u - lo) % (2 * span)) + 2 * span) % (2 * span);
  return lo + (r <= span ? r : 2 * span - r);
}

function renderClip(image: Uint8Array, c: Checked, seed: number, out: Uint8Array, offset: number): void {
  const { size } = c;
  // bounding box of the item's non-zero pixels: it must stay inside the canvas
  let top = ITEM, bottom = -1, left = ITEM, right = -1;
  for (let y = 0; y < ITEM; y++) {
    for (let x = 0; x < ITEM; x++) {
      if (image[y * ITEM + x]! > 0) {
        top = Math.min(top, y); bottom = Math.max(bottom, y);
        left = Math.min(left, x); right = Math.max(right, x);
      }
    }
  }
  if (bottom < 0) return; // blank item: blank frames
  const lo = [-left, -top];
  const hi = [size - 1 - right, size - 1 - bottom];
  const start = Math.floor((size - ITEM) / 2);
  const rng = new Rng(seed);
  const angle = rng.uniform(0, 2 * Math.PI);
  const v = [c.drift * Math.cos(angle), c.drift * Math.sin(angle)];
  const clamp = (p: number, axis: number) => Math.min(hi[axis]!, Math.max(lo[axis]!, p));
  for (let t = 0; t < c.frames; t++) {
    // always draw the same numbers per frame, so options do not shift the random stream
    const shake = [rng.next(), rng.next()].map((u) => (u < c.jitter ? (u < c.jitter / 2 ? -1 : 1) : 0));
    const flicker = 1 + c.brightness * rng.uniform(-1, 1);
    const pos = [0, 1].map((a) => clamp(Math.round(bounce(start + v[a]! * t, lo[a]!, hi[a]!)) + shake[a]!, a));
    const base = offset + t * size * size;
    for (let y = 0; y < ITEM; y++) {
      const cy = y + pos[1]!;
      if (cy < 0 || cy >= size) continue;
      for (let x = 0; x < ITEM; x++) {
        const cx = x + pos[0]!;
        const p = image[y * ITEM + x]!;
        if (p === 0 || cx < 0 || cx >= size) continue;
        out[base + cy * size + cx] = flicker === 1 ? p : Math.min(255, Math.round(p * flicker));
      }
    }
  }
}

/** frames * size * size uint8 pixels: `image` moving over `frames` frames. */
export function movingFashionMnist(options: MovingFashionMnistOptions): Uint8Array {
  const c = check('movingFashionMnist', options);
  if (!(options.image instanceof Uint8Array) || options.image.length !== PX) {
    throw new ShapeError({ op: 'movingFashionMnist' }, 'image', `a Uint8Array of ${PX} pixels (28x28)`, `${options.image?.length} values`);
  }
  const out = new Uint8Array(c.frames * c.size * c.size);
  renderClip(options.image, c, options.seed, out, 0);
  return out;
}

export interface ClipOptions extends MovingOptions {
  /** count * 784 uint8 pixels and count labels (e.g. from loadFashionMnist). */
  images: Uint8Array;
  labels: Uint8Array;
  clips: number;
  /** Frames per clip. */
  frames: number;
  seed: number;
}

export interface Clips {
  /** clips * frames * size * size pixels, clip-major then frame-major. */
  frames: Uint8Array;
  /** The label of every frame: clips * frames. */
  labels: Uint8Array;
  /** Which source image each clip shows. */
  indices: Uint32Array;
  clips: number;
  framesPerClip: number;
  size: number;
}

/** A batch of moving clips; images are drawn without repetition (until all were used). */
export function movingFashionMnistClips(options: ClipOptions): Clips {
  const op = 'movingFashionMnistClips';
  const c = check(op, options);
  const clips = requirePositiveInt({ op }, 'clips', options.clips);
  const count = options.labels?.length ?? 0;
  if (count === 0 || options.images?.length !== count * PX) {
    throw new ShapeError({ op }, 'images', `labels.length * ${PX} pixels (labels.length = ${count} > 0)`, `${options.images?.length} values`);
  }
  const rng = new Rng(options.seed);
  const order: number[] = [];
  const indices = new Uint32Array(clips);
  const frameSize = c.size * c.size;
  const frames = new Uint8Array(clips * c.frames * frameSize);
  const labels = new Uint8Array(clips * c.frames);
  for (let i = 0; i < clips; i++) {
    if (order.length === 0) order.push(...rng.shuffle(Array.from({ length: count }, (_, j) => j)));
    const src = order.pop()!;
    indices[i] = src;
    renderClip(options.images.subarray(src * PX, (src + 1) * PX), c, rng.seed(), frames, i * c.frames * frameSize);
    labels.fill(options.labels[src]!, i * c.frames, (i + 1) * c.frames);
  }
  return { frames, labels, indices, clips, framesPerClip: c.frames, size: c.size };
}
