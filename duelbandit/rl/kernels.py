"""Compiled (numba) kernels for the tabular agents: greedy play, exact greedy-policy evaluation, and a
sparse empirical model (only the next states seen) with its backward induction.

Randomness comes from the caller's ``numpy.random.Generator``: either passed in (numba draws from its bit
generator, so the Python-side Generator advances too and a run is reproducible from its seed) or as
uniforms it drew. Compiled once and cached on disk (``cache=True``).

Ties. ``tie_first=False`` breaks ties uniformly at random;
``tie_first=True`` takes the first maximal action, as ``numpy.argmax`` does in the reference code. Ties are
exact float equality, as in :func:`duelbandit.rl.mdp.greedy_policy`.
"""

from __future__ import annotations

import numba
import numpy as np

_jit = numba.njit(cache=True, nogil=True)


@_jit
def greedy_action(q: np.ndarray, tie_first: bool, u: float) -> int:
    """argmax_a q[a]; ties broken by the uniform ``u`` in [0, 1) (the floor(u m)-th of the m maximal
    actions: uniform among them) or, with ``tie_first``, the first maximal action."""
    best = q[0]
    a_best = 0
    n_best = 1
    for a in range(1, q.shape[0]):
        if q[a] > best:
            best = q[a]
            a_best = a
            n_best = 1
        elif q[a] == best:
            n_best += 1
    if n_best == 1 or tie_first:
        return a_best
    r = min(int(u * n_best), n_best - 1)
    for a in range(q.shape[0]):
        if q[a] == best:
            if r == 0:
                return a
            r -= 1
    return a_best


@_jit
def sample_row(indptr: np.ndarray, indices: np.ndarray, cum: np.ndarray, x: int, u: float) -> int:
    """s' = F^{-1}_x(u) for row x of a CSR kernel whose row-wise cumulative sums are ``cum``."""
    hi = indptr[x + 1] - 1
    for i in range(indptr[x], hi):
        if u < cum[i]:
            return indices[i]
    return indices[hi]


@_jit
def play_greedy(Q, indptr, indices, cum, R, mu0_cdf, tie_first, u, states, actions, rewards) -> None:
    """One episode of each of the K runs, acting greedily on Q (K, H, S, A); fills states (K, H + 1),
    actions (K, H), rewards (K, H). Transitions from the CSR kernel (indptr, indices, cum). ``u`` (K, 2H + 1)
    holds the episode's uniforms: the initial state, then per step the tie-break and the transition.
    (Uniforms drawn by the caller with numpy: passing a Generator into a kernel costs ~20 us per call.)"""
    K, H, S, A = Q.shape
    for k in range(K):
        s = S - 1
        for i in range(S):
            if u[k, 0] < mu0_cdf[i]:
                s = i
                break
        states[k, 0] = s
        for h in range(H):
            a = greedy_action(Q[k, h, s], tie_first, u[k, 2 * h + 1])
            actions[k, h] = a
            rewards[k, h] = R[s, a]
            s = sample_row(indptr, indices, cum, s * A + a, u[k, 2 * h + 2])
            states[k, h + 1] = s


@_jit
def greedy_values0(Q, indptr, indices, data, R, tie_first, out) -> None:
    """Exact V^pi_0 (K, S) of the greedy policy on Q (K, H, S, A), ties split uniformly (or the first
    action): V_h(s) = mean over a in argmax Q_h(s, .) of [R(s, a) + sum_s' P(s'|s, a) V_{h+1}(s')]."""
    K, H, S, A = Q.shape
    V = np.zeros(S)
    Vn = np.zeros(S)
    for k in range(K):
        V[:] = 0.0
        for h in range(H - 1, -1, -1):
            for s in range(S):
                best = Q[k, h, s, 0]
                for a in range(1, A):
                    if Q[k, h, s, a] > best:
                        best = Q[k, h, s, a]
                tot = 0.0
                cnt = 0
                for a in range(A):
                    if Q[k, h, s, a] == best:
                        x = s * A + a
                        v = R[s, a]
                        for i in range(indptr[x], indptr[x + 1]):
                            v += data[i] * V[indices[i]]
                        tot += v
                        cnt += 1
                        if tie_first:
                            break
                Vn[s] = tot / cnt
            V, Vn = Vn, V
        out[k] = V


# --- sparse empirical model: per run and (s, a), a linked list of the next states seen -------------
@_jit
def model_add(states, actions, rewards, n, rsum, head, link, dst, cnt, used) -> None:
    """Count the episode's transitions (k, s, a, r, s'), in time order: n (K, S, A) += 1, rsum += r, and
    the count of s' in the list of (k, s, a) (a new entry from the pool when s' is new).
    The pool (link, dst, cnt) must have room for K * H new entries; used[0] is its fill."""
    K, H = actions.shape
    A = n.shape[2]
    for k in range(K):
        for h in range(H):
            s, a, s2 = states[k, h], actions[k, h], states[k, h + 1]
            n[k, s, a] += 1.0
            rsum[k, s, a] += rewards[k, h]
            x = s * A + a
            e = head[k, x]
            while e >= 0 and dst[e] != s2:
                e = link[e]
            if e < 0:
                e = used[0]
                used[0] += 1
                dst[e] = s2
                cnt[e] = 0.0
                link[e] = head[k, x]
                head[k, x] = e
            cnt[e] += 1.0


@_jit
def _q_value(k, h, s, a, n, rsum, head, link, dst, cnt, B, V, mean_next) -> float:
    """Q_h(s, a) = R_hat(s, a) + B_h(s, a) + sum_{s' seen} N(s, a, s') / n(s, a) V_{h+1}(s'), walking the
    sparse list of observed next states; P_hat uniform (mean of V_{h+1}) while n(s, a) = 0."""
    nn = n[k, s, a]
    q = B[k, h, s, a]
    if nn > 0:
        pv = 0.0
        e = head[k, s * n.shape[2] + a]
        while e >= 0:
            pv += cnt[e] * V[k, h + 1, dst[e]]
            e = link[e]
        q += (rsum[k, s, a] + pv) / nn
    else:
        q += mean_next
    return q


@_jit
def ucb_backward_induction(n, rsum, head, link, dst, cnt, B, v_max, v_clip, Q, V) -> None:
    """UCBVI planning on the sparse model, O(H (S A + entries)) per run:

        Q_h(s, a) = R_hat(s, a) + B_h(s, a) + sum_{s' seen} N(s, a, s') / n(s, a) V_{h+1}(s')
        V_h(s) = min(v_clip[h], max_a Q_h(s, a)),   V_H = 0,

    with P_hat(. | s, a) uniform while n(s, a) = 0 (R_hat = 0 there). B (K, H, S, A) is the bonus.
    Writes Q (K, H, S, A) and V (K, H + 1, S)."""
    K, S, A = n.shape
    H = v_max.shape[0]
    for k in range(K):
        V[k, H] = 0.0
        for h in range(H - 1, -1, -1):
            mean_next = V[k, h + 1].mean()
            for s in range(S):
                best = -np.inf
                for a in range(A):
                    q = _q_value(k, h, s, a, n, rsum, head, link, dst, cnt, B, V, mean_next)
                    Q[k, h, s, a] = q
                    if q > best:
                        best = q
                V[k, h, s] = min(v_clip[h], best)


@_jit
def ucb_lookahead(n, rsum, head, link, dst, cnt, B, V, Q) -> None:
    """One-step lookahead on stored values (Greedy-UCBVI): Q_h = R_hat + B_h + P_hat V_{h+1} for every h."""
    K, S, A = n.shape
    H = V.shape[1] - 1
    for k in range(K):
        for h in range(H):
            mean_next = V[k, h + 1].mean()
            for s in range(S):
                for a in range(A):
                    q = _q_value(k, h, s, a, n, rsum, head, link, dst, cnt, B, V, mean_next)
                    Q[k, h, s, a] = q


@_jit
def ucb_bonus(n: float, v_max_h: float, c: float) -> float:
    """b = min(c sqrt(1/n) + v_max_h / n, v_max_h), and v_max_h when n = 0."""
    if n <= 0:
        return v_max_h
    return min(c * np.sqrt(1.0 / n) + v_max_h / n, v_max_h)


@_jit
def ucb_bonus_update(states, actions, n_before, v_max, c, visited, B) -> None:
    """Refresh the bonus B (K, H, S, A) after an episode, its transitions in time order.

    ``visited=False``: B_h(s, a) = bonus(n(s, a)) for every h of each (s, a) the episode visited (the
    bonus follows the current pooled count). ``visited=True`` (rlberry 0.4's bookkeeping): only
    B_h(s, a) of the visited (h, s, a), with the count just after that visit. ``n_before`` holds the
    counts before the episode and is advanced in place to the counts after it.
    """
    K, H = actions.shape
    for k in range(K):
        for h in range(H):
            s, a = states[k, h], actions[k, h]
            n_before[k, s, a] += 1.0
            if visited:
                B[k, h, s, a] = ucb_bonus(n_before[k, s, a], v_max[h], c)
        if not visited:
            for h in range(H):
                s, a = states[k, h], actions[k, h]
                for g in range(H):
                    B[k, g, s, a] = ucb_bonus(n_before[k, s, a], v_max[g], c)


@_jit
def psrl_sample_rows(k, n, head, link, dst, cnt, success, failure, alpha0, reward_prior, tol, gen,
                     idx, w, length, rest, Rs, mark) -> None:
    """Draw run k's posterior MDP (PSRL): R~ (S*A,) and the rows of P~ as atoms (idx, w)[x, :length[x]]
    plus ``rest[x]``, mass spread evenly over the S - length[x] states not in idx[x].

    Rewards: R~(s, a) ~ Beta(a0 + successes, a0 + failures). Transitions: P~(. | s, a) ~
    Dirichlet(alpha0 + N(s, a, .)) over all S next states, drawn as normalised Gammas: Gamma(alpha0 + N)
    for the m states seen, and the unseen ones' total Gamma(alpha0 (S - m)), split by the size-biased
    stick-breaking of a symmetric Dirichlet(alpha0, ..., alpha0) over the S - m unseen states (the i-th
    stick takes a Beta(alpha0 + 1, (S - m - i) alpha0) fraction of the rest, on a uniformly chosen unseen
    state not drawn yet). Sticks stop once the unseen mass left is below ``tol`` (or the row is full);
    that remainder is spread evenly over the unseen states not drawn, its posterior mean. So each row is
    an exact posterior draw except for at most ``tol`` of its mass, which takes its mean value
    (``tol=0``: exact). ``mark`` (S,) is scratch space.
    """
    S, A = n.shape[1], n.shape[2]
    cap = idx.shape[1]
    mark[:] = -1
    for x in range(S * A):
        s, a = x // A, x % A
        Rs[x] = gen.beta(reward_prior + success[k, s, a], reward_prior + failure[k, s, a])
        m = 0
        tot = 0.0
        e = head[k, x]
        while e >= 0:
            g = gen.standard_gamma(alpha0 + cnt[e])
            idx[x, m] = dst[e]
            mark[dst[e]] = x
            w[x, m] = g
            tot += g
            m += 1
            e = link[e]
        left = S - m
        mass = 0.0
        if left > 0:
            g_u = gen.standard_gamma(alpha0 * left)
            tot += g_u
            mass = g_u / tot  # the unseen states' share of the row
        for i in range(m):
            w[x, i] /= tot
        L = m
        while left > 0 and mass > tol and L < cap:
            cand = gen.integers(0, S)
            while mark[cand] == x:  # rejection: uniform over the states not holding mass yet
                cand = gen.integers(0, S)
            frac = 1.0 if left == 1 else gen.beta(alpha0 + 1.0, (left - 1) * alpha0)
            mark[cand] = x
            idx[x, L] = cand
            w[x, L] = mass * frac
            mass *= 1.0 - frac
            L += 1
            left -= 1
        length[x] = L
        rest[x] = mass if left > 0 else 0.0


@_jit
def psrl_plan(k, idx, w, length, rest, Rs, Q) -> None:
    """Backward induction on run k's sampled MDP: Q_h = R~ + P~ V_{h+1}, V_h = max_a Q_h, V_H = 0."""
    H, S, A = Q.shape[1], Q.shape[2], Q.shape[3]
    V = np.zeros(S)
    Vn = np.zeros(S)
    for h in range(H - 1, -1, -1):
        total_v = V.sum()
        for s in range(S):
            best = -np.inf
            for a in range(A):
                x = s * A + a
                q = Rs[x]
                held = 0.0
                for i in range(length[x]):
                    v = V[idx[x, i]]
                    q += w[x, i] * v
                    held += v
                if rest[x] > 0.0:
                    q += rest[x] * (total_v - held) / (S - length[x])
                Q[k, h, s, a] = q
                if q > best:
                    best = q
            Vn[s] = best
        V, Vn = Vn, V


@_jit
def psrl_sample_plan(n, head, link, dst, cnt, success, failure, alpha0, reward_prior, tol, max_atoms,
                     gen, Q) -> None:
    """PSRL's episode start for every run: :func:`psrl_sample_rows` then :func:`psrl_plan` into Q
    (K, H, S, A). Rows hold the seen next states plus at most ``max_atoms`` sticks."""
    K, S, A = n.shape
    cap = 0
    for k in range(K):
        for x in range(S * A):
            m = 0
            e = head[k, x]
            while e >= 0:
                m += 1
                e = link[e]
            cap = max(cap, m + max_atoms)
    idx = np.empty((S * A, cap), dtype=np.int64)
    w = np.empty((S * A, cap))
    length = np.empty(S * A, dtype=np.int64)
    rest = np.empty(S * A)
    Rs = np.empty(S * A)
    mark = np.empty(S, dtype=np.int64)
    for k in range(K):
        psrl_sample_rows(k, n, head, link, dst, cnt, success, failure, alpha0, reward_prior, tol, gen,
                         idx, w, length, rest, Rs, mark)
        psrl_plan(k, idx, w, length, rest, Rs, Q)


def csr_tables(mdp) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, data, cum) of the MDP's (S*A, S) kernel; cum holds the row-wise cumulative
    sums, the last entry of each row set to exactly 1 (round-off never leaves u past the row)."""
    csr = mdp._P_csr
    indptr = csr.indptr.astype(np.int64)
    data = csr.data.astype(np.float64)
    cum = np.empty_like(data)
    for x in range(len(indptr) - 1):
        lo, hi = indptr[x], indptr[x + 1]
        cum[lo:hi] = np.cumsum(data[lo:hi])
        cum[hi - 1] = 1.0
    return indptr, csr.indices.astype(np.int64), data, cum


class SparseModel:
    """Counts of K runs' transitions, sparse in the next state: n (K, S, A), reward sums rsum (K, S, A),
    and per (k, s, a) a linked list (head (K, S*A) -> link, dst, cnt) of the next states seen with their
    counts. Memory and planning cost grow with the number of distinct (k, s, a, s') observed, not S^2 A."""

    def __init__(self, K: int, S: int, A: int, capacity: int = 4096) -> None:
        self.n = np.zeros((K, S, A))
        self.rsum = np.zeros((K, S, A))
        self.head = np.full((K, S * A), -1, dtype=np.int64)
        self.link = np.empty(capacity, dtype=np.int64)
        self.dst = np.empty(capacity, dtype=np.int64)
        self.cnt = np.empty(capacity)
        self.used = np.zeros(1, dtype=np.int64)

    def add(self, states: np.ndarray, actions: np.ndarray, rewards: np.ndarray) -> None:
        """Count one episode of every run (states (K, H + 1), actions (K, H), rewards (K, H))."""
        need = int(self.used[0]) + actions.size
        if need > len(self.dst):  # grow the pool geometrically: amortised O(1) per transition
            size = max(need, 2 * len(self.dst))
            for name in ("link", "dst", "cnt"):
                old = getattr(self, name)
                new = np.empty(size, dtype=old.dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        model_add(states, actions, np.asarray(rewards, dtype=np.float64), self.n, self.rsum, self.head,
                  self.link, self.dst, self.cnt, self.used)

    def arrays(self) -> tuple:
        """(n, rsum, head, link, dst, cnt) for the planning kernels."""
        return self.n, self.rsum, self.head, self.link, self.dst, self.cnt
