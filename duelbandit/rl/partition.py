"""Adaptive dyadic partitions of [0, 1): the "balls" of adaptive Q-learning in a 1-D metric state space.

Each tree (one per step h and action a, since distinct actions are infinitely far apart) is a complete
binary tree stored in heap order up to ``max_level``: node i at level l covers
[j 2^-l, (j + 1) 2^-l) with i = 2^l - 1 + j, children 2i + 1 and 2i + 2. The active partition is the set
of nodes whose ancestors are all split and which are not split themselves. A node's radius is its
length 2^-l (the metric is |x - y|). Sinclair, Banerjee, Yu 2019 ("Adaptive discretization for episodic
reinforcement learning in metric spaces") split a ball of radius r once it has been visited ~ (1/r)^2
times; agents hold per-node statistics in arrays indexed like the nodes.
"""

from __future__ import annotations

import numpy as np


class DyadicTrees:
    """``n_trees`` adaptive dyadic partitions of [0, 1), refined down to ``max_level``.

    Attributes:
        split_: (n_trees, n_nodes) bool, whether each node has been split.
        level: (n_nodes,) level of each heap index; radius = 2 ** -level.
    """

    def __init__(self, n_trees: int, max_level: int) -> None:
        self.n_trees, self.max_level = n_trees, max_level
        self.n_nodes = 2 ** (max_level + 1) - 1
        self.split_ = np.zeros((n_trees, self.n_nodes), dtype=bool)
        self.level = np.floor(np.log2(np.arange(1, self.n_nodes + 1))).astype(np.int64)
        self.radius = 2.0 ** -self.level

    def leaf(self, tree: int, x: float) -> int:
        """Heap index of the active node of ``tree`` that contains x."""
        split = self.split_[tree]
        for lev in range(self.max_level + 1):
            i = (1 << lev) - 1 + min(int(x * (1 << lev)), (1 << lev) - 1)
            if not split[i]:
                return i
        raise AssertionError("unreachable: nodes at max_level are never split")

    def leaves(self, tree: int, x: np.ndarray) -> np.ndarray:
        """Vectorised :meth:`leaf` for many points x -> (len(x),) heap indices."""
        x = np.asarray(x, dtype=np.float64)
        out = np.full(x.shape, -1, dtype=np.int64)
        todo = np.ones(x.shape, dtype=bool)
        split = self.split_[tree]
        for lev in range(self.max_level + 1):
            cells = (1 << lev) - 1 + np.minimum((x * (1 << lev)).astype(np.int64), (1 << lev) - 1)
            here = todo & ~split[cells]
            out[here] = cells[here]
            todo &= ~here
            if not todo.any():
                break
        return out

    def children(self, i: int) -> tuple[int, int]:
        return 2 * i + 1, 2 * i + 2

    def can_split(self, i: int) -> bool:
        return self.level[i] < self.max_level

    def split(self, tree: int, i: int) -> tuple[int, int]:
        """Mark node i of ``tree`` split; returns its children (the caller copies statistics into them)."""
        self.split_[tree, i] = True
        return self.children(i)


def tree_values(Q: np.ndarray, trees: DyadicTrees, A: int, h: int, x: float) -> np.ndarray:
    """(A,) the estimate of each action at step h and point x: the leaf holding x in tree h * A + a.

    Args:
        Q: (H * A, n_nodes) per-ball estimates, one tree per (h, a).
    """
    return np.array([Q[h * A + a, trees.leaf(h * A + a, x)] for a in range(A)])


def tree_greedy_policy(Q: np.ndarray, trees: DyadicTrees, H: int, A: int, x: np.ndarray) -> np.ndarray:
    """(H, len(x), A) probabilities of the greedy policy of Q (ties split evenly) at the points x."""
    q = np.empty((H, len(x), A))
    for h in range(H):
        for a in range(A):
            q[h, :, a] = Q[h * A + a, trees.leaves(h * A + a, x)]
    ties = q >= q.max(axis=2, keepdims=True)
    return ties / ties.sum(axis=2, keepdims=True)
