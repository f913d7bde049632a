#!/usr/bin/env python3
"""How much relevance rank accuracy a map that follows the patch grid can reach.

For every object of a `sightline scenes` dataset, the map that gives each pixel its patch's share
of the object (the best a map constant on patches can do) is ranked as `sightline eval` ranks
relevance (src/eval/metrics.rs): the K = mask-size top pixels, ties within a patch filled in
patch order; its rank accuracy is the share of those pixels on the object. Prints the mean for
several grids, so a model's patch size can be chosen for a rank-accuracy target.

With --json it also writes, for the first grid, every object's ceiling in dataset order (objects
without a visible pixel left out): the fixture tests/eval.rs checks `sightline eval`'s rank
accuracy of the same map against, an oracle that the metric must score at exactly this ceiling.

Usage (numpy only):
  target/release/sightline scenes --count 400 --seed 1000002 --size 96 --min-objects 2 --out /tmp/scenes
  python3 tools/patch_grid_rank_cap.py /tmp/scenes --grids 8 12 16
  target/release/sightline scenes --count 30 --seed 1000002 --size 96 --min-objects 2 --out /tmp/s30
  python3 tools/patch_grid_rank_cap.py /tmp/s30 --grids 8 --json tests/fixtures/eval/rank-cap.json
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_default_model import SceneSet, patch_coverage  # noqa: E402


def rank_cap(mask: np.ndarray, grid: int) -> float:
    size = mask.shape[0]
    patch_pixels = (size // grid) ** 2
    coverage = patch_coverage(mask, grid)
    wanted = int(mask.sum())
    on_object = 0.0
    for share in sorted(coverage[coverage > 0], reverse=True):
        taken = min(wanted, patch_pixels)
        on_object += taken * share
        wanted -= taken
        if wanted == 0:
            break
    return on_object / mask.sum()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenes", help="a folder written by `sightline scenes`")
    ap.add_argument("--grids", type=int, nargs="+", default=[8, 12, 16])
    ap.add_argument("--json", help="write the first grid's per-object ceilings here")
    args = ap.parse_args()
    scenes = SceneSet(args.scenes, keep_masks=True)
    masks = [np.asarray(m, dtype=bool) for per_scene in scenes.masks for m in per_scene if np.any(m)]
    for grid in args.grids:
        caps = [rank_cap(m, grid) for m in masks]
        print(f"{grid}x{grid} patches: rank accuracy of the patch-share map {np.mean(caps):.3f} ({len(masks)} objects)")
    if args.json:
        spec = scenes.meta["spec"]
        fixture = {"seed": scenes.meta["seed"], "count": scenes.count, "size": scenes.size,
                   "min_objects": spec["min_objects"], "max_objects": spec["max_objects"], "grid": args.grids[0],
                   "caps": [rank_cap(m, args.grids[0]) for m in masks]}
        with open(args.json, "w") as f:
            json.dump(fixture, f, indent=None)
            f.write("\n")


if __name__ == "__main__":
    main()
