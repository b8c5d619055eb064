"""The synthetic world of the bundled models, as RGB-like latents (3 channels in [-1, 1], 12x12 cells).

One soft-edged object (circle or square; red, yellow, blue or white) on a background tint (night,
forest or desert) rests, or moves left/right/up/down slowly (0.5 cell per frame) or quickly (1.2),
bouncing off the borders. lib/video/scene.ts renders the same first frames for the command line.
"""

import torch

SIZE = 12
RADIUS = 2.0
COLOURS = {"red": (0.9, -0.75, -0.7), "yellow": (0.95, 0.85, -0.8), "blue": (-0.75, -0.45, 0.95), "white": (0.95, 0.95, 0.95)}
BACKGROUNDS = {"night": (-0.85, -0.8, -0.45), "forest": (-0.55, 0.05, -0.6), "desert": (0.45, 0.15, -0.35)}
DIRECTIONS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}
SPEEDS = {"slowly": 0.5, "quickly": 1.2}


def coverage(shape, cx, cy):
    """Object coverage in [0, 1] of every cell: 1 inside, a one-cell soft edge."""
    ys = torch.arange(SIZE, dtype=torch.float32)[:, None] + 0.5
    xs = torch.arange(SIZE, dtype=torch.float32)[None, :] + 0.5
    dx, dy = xs - cx, ys - cy
    d = torch.sqrt(dx * dx + dy * dy) if shape == "circle" else torch.maximum(dx.abs(), dy.abs())
    return (RADIUS + 0.5 - d).clamp(0, 1)


def bounce(p, v, lo, hi):
    """Position and velocity after one step, reflected off [lo, hi]."""
    p = p + v
    if p < lo:
        return 2 * lo - p, -v
    if p > hi:
        return 2 * hi - p, -v
    return p, v


def clip(colour, shape, background, motion, frames, x0, y0):
    """[3, frames, SIZE, SIZE]; motion is None (resting) or (direction, speed)."""
    c = torch.tensor(COLOURS[colour])[:, None, None]
    bg = torch.tensor(BACKGROUNDS[background])[:, None, None]
    vx, vy = (0.0, 0.0)
    if motion:
        (ux, uy), s = DIRECTIONS[motion[0]], SPEEDS[motion[1]]
        vx, vy = ux * s, uy * s
    lo, hi = RADIUS, SIZE - RADIUS
    out = []
    x, y = x0, y0
    for _ in range(frames):
        cov = coverage(shape, x, y)[None]
        out.append(bg * (1 - cov) + c * cov)
        x, vx = bounce(x, vx, lo, hi)
        y, vy = bounce(y, vy, lo, hi)
    return torch.stack(out, dim=1)


def caption(colour, shape, background, motion):
    if motion:
        return f"a {colour} {shape} moving {motion[0]} {motion[1]} on {background}"
    return f"a {colour} {shape} resting on {background}"


def random_clip(gen, frames):
    pick = lambda d: list(d)[int(torch.randint(len(d), (1,), generator=gen))]
    colour, shape, background = pick(COLOURS), pick(["circle", "square"]), pick(BACKGROUNDS)
    motion = None if torch.rand(1, generator=gen).item() < 0.15 else (pick(DIRECTIONS), pick(SPEEDS))
    lo, hi = RADIUS, SIZE - RADIUS
    x0, y0 = (lo + (hi - lo) * torch.rand(2, generator=gen)).tolist()
    return clip(colour, shape, background, motion, frames, x0, y0), caption(colour, shape, background, motion)
