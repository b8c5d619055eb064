"""Measures the object's motion in a generated moving-shapes video against its caption.

Usage: python motion.py LATENT.safetensors "CAPTION" [FIRST_FRAMES]
(LATENT: the tensor "latent" [1, 3, T, 12, 12] that `ditcache extend --latent` writes;
FIRST_FRAMES: how many leading frames were given, default 1)

Per frame, the object's coverage of every cell is read off the caption's two colours (the
projection of the cell onto the background-to-object colour line, clamped to [0, 1]); from it the
coverage-weighted centroid, the mass (covered cells) and the compactness (the share of the mass
within 3.5 cells of the centroid: 1 for one object, low for fragments). A frame holds one coherent
object when its mass is within 0.6x to 1.5x that of the first frame and its compactness is at least
0.85. The reference path starts at the first frame's centroid and moves as moving_shapes.py moves
objects (the caption's direction and speed, bouncing off the borders).

Prints one line per frame, then a JSON summary: coherent frames, the mean step along the captioned
axis signed by the reference's direction of travel (the captioned speed, 0.5 or 1.2 cells per
frame, for an exact model; a little less where a step straddles a bounce: see ref_step), the mean
sideways step, and the mean and largest distance from the reference path.
"""

import json
import sys

import torch

import moving_shapes as ms
import st_io


def coverage(frame, colour, background):
    """[H, W] coverage in [0, 1] of a [3, H, W] frame."""
    c = torch.tensor(ms.COLOURS[colour])[:, None, None]
    bg = torch.tensor(ms.BACKGROUNDS[background])[:, None, None]
    axis = c - bg
    return (((frame - bg) * axis).sum(0) / (axis * axis).sum()).clamp(0, 1)


def centroid(cov):
    ys = torch.arange(cov.shape[0], dtype=torch.float32)[:, None] + 0.5
    xs = torch.arange(cov.shape[1], dtype=torch.float32)[None, :] + 0.5
    m = cov.sum().clamp(min=1e-6)
    return (cov * xs).sum() / m, (cov * ys).sum() / m


def parse(caption):
    words = caption.split()
    colour = next(w for w in words if w in ms.COLOURS)
    background = next(w for w in words if w in ms.BACKGROUNDS)
    direction = next((w for w in words if w in ms.DIRECTIONS), None)
    speed = next((w for w in words if w in ms.SPEEDS), None)
    return colour, background, (direction, speed) if direction else None


def measure(latent, caption, given=1):
    colour, background, motion = parse(caption)
    video = latent[0]
    ux, uy = ms.DIRECTIONS[motion[0]] if motion else (1.0, 0.0)
    speed = ms.SPEEDS[motion[1]] if motion else 0.0
    vx, vy = ux * speed, uy * speed
    lo, hi = ms.RADIUS, ms.SIZE - ms.RADIUS
    rows, ref = [], None
    for k in range(video.shape[1]):
        cov = coverage(video[:, k], colour, background)
        gx, gy = (float(v) for v in centroid(cov))
        ys = torch.arange(ms.SIZE, dtype=torch.float32)[:, None] + 0.5
        xs = torch.arange(ms.SIZE, dtype=torch.float32)[None, :] + 0.5
        near = ((xs - gx) ** 2 + (ys - gy) ** 2) <= 3.5**2
        mass = float(cov.sum())
        compact = float((cov * near).sum()) / max(mass, 1e-6)
        if ref is None:
            ref = (gx, gy)
        else:
            px, vx = ms.bounce(ref[0], vx, lo, hi)
            py, vy = ms.bounce(ref[1], vy, lo, hi)
            ref = (px, py)
        rows.append(dict(frame=k, x=gx, y=gy, ref_x=ref[0], ref_y=ref[1], mass=mass, compact=compact))
    m0 = rows[0]["mass"]
    gen = rows[given:]
    coherent = [0.6 * m0 <= r["mass"] <= 1.5 * m0 and r["compact"] >= 0.85 for r in gen]
    along, side, ref_step = [], [], []
    for a, b in zip(rows[given - 1 :], gen):
        dx, dy = b["x"] - a["x"], b["y"] - a["y"]
        rdx, rdy = b["ref_x"] - a["ref_x"], b["ref_y"] - a["ref_y"]
        sign = 1.0 if rdx * ux + rdy * uy >= 0 else -1.0
        along.append(sign * (dx * ux + dy * uy))
        side.append(abs(dx * uy - dy * ux))
        ref_step.append(abs(rdx * ux + rdy * uy))
    dist = [((r["x"] - r["ref_x"]) ** 2 + (r["y"] - r["ref_y"]) ** 2) ** 0.5 for r in gen]
    mean = lambda v: sum(v) / max(len(v), 1)
    summary = dict(
        caption=caption,
        frames=len(gen),
        coherent=sum(coherent),
        speed=speed,
        step_along=mean(along),
        ref_step=mean(ref_step),
        step_sideways=mean(side),
        dist_mean=mean(dist),
        dist_max=max(dist) if dist else 0.0,
    )
    return rows, summary


def main():
    path, caption = sys.argv[1:3]
    given = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    rows, summary = measure(st_io.read(path)["latent"], caption, given)
    for r in rows:
        print(" ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()))
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
