"""Synthetic stimuli for Assignment 5: a stand-in for real images.

Each stimulus is a small grey-level image of one bar, described by two binary latent
variables: its orientation (latent 0: -1 horizontal, +1 vertical) and its position (latent 1:
-1 near the top/left edge, +1 near the bottom/right edge), plus independent pixel noise. The
bar is drawn with a soft (Gaussian) profile, so neighbouring pixels respond too.

A real data set (for instance the scikit-learn digits of the book's last chapter) can replace
it: all the assignment needs is images and the latent labels of each image.
"""
from __future__ import annotations

import numpy as np


def bar_images(n_per_condition: int = 20, *, size: int = 8, noise: float = 0.3, seed: int = 0):
    """Noisy images of bars, ``n_per_condition`` for each of the four conditions.

    Returns
    -------
    images : (n, size, size) array, n = 4 * n_per_condition
    latents : (n, 2) array of +-1: (orientation, position) of each image
    """
    rng = np.random.default_rng(seed)
    grid = np.arange(size)
    images, latents = [], []
    for orientation in (-1.0, 1.0):
        for position in (-1.0, 1.0):
            centre = size / 4 if position < 0 else 3 * size / 4 - 1
            profile = np.exp(-0.5 * ((grid - centre) / 0.7) ** 2)      # across the bar
            bar = np.outer(profile, np.ones(size)) if orientation < 0 else np.outer(np.ones(size), profile)
            for _ in range(n_per_condition):
                images.append(bar + noise * rng.standard_normal((size, size)))
                latents.append((orientation, position))
    order = rng.permutation(len(images))               # the images come shuffled, as data do
    return np.array(images)[order], np.array(latents)[order]
