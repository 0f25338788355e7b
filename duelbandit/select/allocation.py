"""RandQL allocates the label budget: an episodic "allocation" MDP over a pool's skill clusters.

A collection campaign spends T = H m labels in H batches of m. Before batch h the allocator picks ONE
cluster of prompts (action a in 0..C-1); the m pairs of the batch are then chosen inside that cluster by
the design criterion, greedy log-det under the current information V restricted to the cluster's
candidates (:func:`cluster_batch`, which composes :func:`duelbandit.select.online.leverage_batch`):

    pick argmax_{b in cluster a} b^T V^{-1} b,   V <- V + b b^T   (m times),   V = lam I + sum_labels b b^T.

The annotator's noise differs by cluster and is unknown to the allocator (:class:`ClusterNoiseBT`: label
flips with probability eps_c, so eps_c = 1/2 is a coin). V does not depend on the labels' values, so a
design criterion alone cannot see the noise; the reward has to.

MDP (finite, small, so tabular RandQL applies):

- steps h = 0..H-1, one per batch; actions a = cluster (A = C);
- state ``"step"`` (default): S = 1, the state is the step index alone (RandQL keeps per-h tables), so a
  policy is an open-loop plan h -> cluster. ``"visited"``: S = 2^C, s = bit mask of the clusters that have
  received a batch in this campaign, s' = s | 2^a (deterministic); it lets values depend on coverage;
- reward: the information the batch actually added. Two choices (``AllocationConfig.reward``):

  ``"logdet"`` (default), the noise-weighted log-det gain. Under label flips with probability eps_c a label
  at a small reward gap carries rho_c^2 = (1 - 2 eps_c)^2 times the Fisher information of a clean one, so the
  information of the campaign's labels is Phi = log det(lam I + sum_c w_c V_c), V_c = sum over the labels of
  cluster c of b b^T and w_c = rho_hat_c^2 estimated by held-out agreement: with theta_ref the BT fit on a
  gold validation set, x_s = 2 sigma(<theta_ref, b_s>) - 1 and t_s = 2 y_s - 1, E[t_s] = rho_c x*_s, so

      rho_hat_c = clip( [sum_{s in c} t_s x_s / sum_{s in c} x_s^2] / rho_hat_gold, 0, 1 ),

  the least-squares slope of the cluster's labels on the reference predictions, divided by the same slope
  on the gold labels themselves (reliability 1 by definition: this calibrates theta_ref's scale). The
  reward is gain_h = Phi_{h+1} - Phi_h (rho_hat_c re-estimated from all of the campaign's labels of c)
  over g_h, the log-det gain of step h in a noise-free round-robin reference campaign:
  r_h = clip(gain_h / g_h, 0, 1). A clean batch earns ~1, a coin-flip batch ~0. The normaliser g_h is
  fixed per step (not per action): without it the first batch's gain from lam I would dwarf every later
  one and the agent could not see its late decisions.

  ``"loglik"``, the held-out log-likelihood gain of the Bradley–Terry fit on the gold validation set:

      lbar(theta) = mean_v [y_v log sigma(<theta, b_v>) + (1 - y_v) log sigma(-<theta, b_v>)],
      gain_h = lbar(theta_{h+1}) - lbar(theta_h),    r_h = clip(1/2 + gain_h / (2 c), 0, 1),

  theta_h the regularised BT MLE on the campaign's labels before batch h (theta_0 = 0), c the reward
  scale. Without clipping the return is H/2 + (lbar(theta_H) - lbar(0)) / (2 c): it maximises the final
  held-out likelihood. Measured on the benchmark's pool, its gains after the first few batches are
  ~0 +- noise for every cluster (the likelihood saturates while the ranking still improves), which is why
  it is not the default.

Why not the plain log-det gain: V is label-blind, so it cannot see the noise; the weights must come from
the labels. Both rewards need a gold validation set (a common practice: a few hundred expert-labelled
pairs; in the simulator, BT labels of theta* without cluster noise).

Training and deployment (docs/rl.md): the agent is trained on simulated campaigns on the SAME pool whose
annotator has the deployment's per-cluster noise, never shown to the agent except through the rewards - the
model of "repeated collection campaigns with the same workforce". Labels of training campaigns are not
reused in the deployed run. The deployed :class:`~duelbandit.select.allocator.RandQLAllocator` acts with
the trained agent's acting policy (greedy on Qbar, ties split uniformly) and never sees a reward.

Reference: Tiapkin et al., "Model-free Posterior Sampling via Learning Rate Randomization", NeurIPS 2023
(the agent, :mod:`duelbandit.rl.randql`, used unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, log_expit

from duelbandit.annotate import Labels, bt_rewards
from duelbandit.errors import ConfigError, LabelError, PoolError
from duelbandit.types import Features, Pool
from duelbandit.reward import BradleyTerry
from duelbandit.rl.mdp import Episode, greedy_policy, sample_actions
from duelbandit.rl.randql import RandQL
from duelbandit.rng import as_generator, seed_of
from duelbandit.select.base import Batch
from duelbandit.select.online import leverage_batch

STATES = ("step", "visited")
MAX_VISITED_CLUSTERS = 12  # "visited" has 2^C states


# --- clusters ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Clusters:
    """A partition of a pool's prompts.

    Attributes:
        of_prompt: (N,) cluster index of every prompt, in 0..C-1, every cluster non-empty.
        names: (C,) cluster names (the skills, or "kmeans0", ...).
        source: "skills" (``Pool.skills``) or "kmeans".
    """

    of_prompt: np.ndarray
    names: tuple[str, ...]
    source: str

    @property
    def n(self) -> int:
        return len(self.names)

    def of_candidates(self, pool: Pool) -> np.ndarray:
        """(L,) cluster of every candidate pair (the cluster of its prompt)."""
        return self.of_prompt[pool.pairs().prompt]


def prompt_clusters(
    pool: Pool, features: Features | np.ndarray, *, n_clusters: int = 4, rng: int | np.random.Generator = 0
) -> Clusters:
    """The pool's skill clusters: ``Pool.skills`` when present, else k-means on per-prompt mean features.

    k-means: scikit-learn ``KMeans(n_clusters, n_init=10)`` on x_n = mean_k psi(x_n, y_n^k), seeded from
    ``rng`` (n_clusters is capped at the number of distinct prompt means).
    """
    N = pool.n_prompts
    if pool.skills is not None:
        names, of_prompt = np.unique(np.asarray(pool.skills, dtype=object).astype(str), return_inverse=True)
        return Clusters(of_prompt.astype(np.int64), tuple(str(s) for s in names), "skills")
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise ConfigError(f"n_clusters: expected an integer >= 1, got {n_clusters!r}")
    from sklearn.cluster import KMeans

    X = features.X if isinstance(features, Features) else np.asarray(features, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] != pool.n_responses:
        raise PoolError(f"features: expected shape ({pool.n_responses}, d) for pool {pool.name!r}, got {X.shape}")
    means = np.add.reduceat(X.astype(np.float64), pool.offsets[:-1], axis=0) / pool.response_counts[:, None]
    k = int(min(n_clusters, N, np.unique(means.round(12), axis=0).shape[0]))
    seed = int(as_generator(rng).integers(2**31 - 1))
    of_prompt = KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(means)
    # relabel by first appearance so the ids do not depend on k-means' internal order
    _, first, inv = np.unique(of_prompt, return_index=True, return_inverse=True)
    rank = np.argsort(np.argsort(first))
    return Clusters(rank[inv].astype(np.int64), tuple(f"kmeans{c}" for c in range(k)), "kmeans")


# --- annotator ---------------------------------------------------------------------------------------
class ClusterNoiseBT:
    """Bradley–Terry labels flipped with a probability that depends on the prompt's cluster:

        P(y = 1) = eps_c + (1 - 2 eps_c) sigma(<theta*, psi_i - psi_j>),   c = cluster of the pair's prompt,

    i.e. the BT label flipped with probability eps_c (eps_c = 1/2: a fair coin, the label carries nothing).
    One uniform draw per label in ``batch.expanded()`` order from one Generator kept across calls.

    Args:
        theta_star: (d,) true parameter.
        pool: the pool the batches refer to.
        features: psi aligned with the pool.
        clusters: (N,) cluster index per prompt (e.g. ``prompt_clusters(...).of_prompt``).
        flip: (C,) flip probability eps_c in [0, 1/2] per cluster.
        rng: int seed or Generator.
        name: recorded as the labels' ``source``.
    """

    def __init__(
        self,
        theta_star: np.ndarray,
        pool: Pool,
        features: Features | np.ndarray,
        clusters: np.ndarray,
        flip: np.ndarray,
        *,
        rng: int | np.random.Generator,
        name: str = "cluster-noise-bt",
    ) -> None:
        theta, rewards = bt_rewards(theta_star, pool, features)
        cl = np.asarray(clusters)
        if cl.shape != (pool.n_prompts,) or not np.issubdtype(cl.dtype, np.integer) or cl.min() < 0:
            raise LabelError(f"clusters: expected ({pool.n_prompts},) non-negative integers, got shape {cl.shape} "
                             f"dtype {cl.dtype}")
        eps = np.asarray(flip, dtype=np.float64)
        if eps.ndim != 1 or eps.shape[0] <= int(cl.max()):
            raise LabelError(f"flip: expected one probability per cluster ({int(cl.max()) + 1}), got shape {eps.shape}")
        if not np.all((eps >= 0) & (eps <= 0.5)):
            raise LabelError(f"flip: expected probabilities in [0, 0.5], got {eps.tolist()}")
        self.theta_star, self.pool, self.features = theta, pool, features
        self.rewards = rewards
        self.clusters, self.flip = cl.astype(np.int64), eps
        self.name = name
        self.seed = seed_of(rng)
        self._gen = as_generator(rng)

    def prob_first(self, pairs: np.ndarray) -> np.ndarray:
        """(n,) P(y = 1) for candidate indices ``pairs`` (the closed form above)."""
        cand = self.pool.pairs()
        eps = self.flip[self.clusters[cand.prompt[pairs]]]
        return eps + (1.0 - 2.0 * eps) * expit(self.rewards[cand.i[pairs]] - self.rewards[cand.j[pairs]])

    def label(self, batch: Batch) -> Labels:
        """One label per requested label of ``batch``, in ``batch.expanded()`` order."""
        idx = batch.expanded()
        L = self.pool.n_pairs
        if idx.size and (idx.min() < 0 or idx.max() >= L):
            raise LabelError(f"batch: candidate index outside this pool's {L} pairs (pool {self.pool.name!r})")
        y = (self._gen.random(idx.shape[0]) < self.prob_first(idx)).astype(np.float64)
        return Labels(pairs=idx, y=y, source=self.name, seed=self.seed)


def gold_validation(
    pool: Pool, features: Features, theta_star: np.ndarray, n: int, *, rng: int | np.random.Generator
) -> Labels:
    """A gold validation set for the simulator: n distinct pairs drawn uniformly from all candidates, one
    Bradley–Terry label each, y ~ Bernoulli(sigma(<theta*, b>)), without the cluster noise."""
    L = pool.n_pairs
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= L:
        raise ConfigError(f"n: expected an integer in [1, {L}] (the number of candidate pairs), got {n!r}")
    gen = as_generator(rng)
    pairs = np.sort(gen.choice(L, size=int(n), replace=False))
    z = pool.pairs().differences(features.X, pairs) @ np.asarray(theta_star, dtype=np.float64)
    y = (gen.random(pairs.shape[0]) < expit(z)).astype(np.float64)
    return Labels(pairs=pairs, y=y, source="gold-bt", seed=seed_of(rng))


# --- pure pieces -------------------------------------------------------------------------------------
def heldout_loglik(theta: np.ndarray, B: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per-pair log-likelihood y log sigma(<theta, b>) + (1 - y) log sigma(-<theta, b>) -> (n,)."""
    z = np.asarray(B, dtype=np.float64) @ np.asarray(theta, dtype=np.float64)
    return y * log_expit(z) + (1.0 - y) * log_expit(-z)


def agreement_terms(theta_ref: np.ndarray, B: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-label (t_s x_s, x_s^2) with x_s = 2 sigma(<theta_ref, b_s>) - 1, t_s = 2 y_s - 1 -> two (n,).

    sum(t x) / sum(x^2) is the least-squares slope rho_hat of E[t] = rho x under label flips with
    probability (1 - rho) / 2 (the caller sums over a cluster's labels)."""
    x = 2.0 * expit(np.asarray(B, dtype=np.float64) @ theta_ref) - 1.0
    return (2.0 * np.asarray(y, dtype=np.float64) - 1.0) * x, x * x


def logdet(A: np.ndarray) -> float:
    """log det A of a symmetric positive definite matrix (Cholesky)."""
    return float(2.0 * np.log(np.diag(np.linalg.cholesky(A))).sum())


def loglik_reward(gain: float, scale: float) -> float:
    """r = clip(1/2 + gain / (2 scale), 0, 1): an affine map of the held-out gain into RandQL's [0, 1]."""
    return float(np.clip(0.5 + gain / (2.0 * scale), 0.0, 1.0))


def logdet_reward(gain: float, reference_gain: float) -> float:
    """r = clip(gain / g_h, 0, 1): the noise-weighted log-det gain as a fraction of a clean batch's."""
    return float(np.clip(gain / reference_gain, 0.0, 1.0))


def cluster_batch(B: np.ndarray, members: np.ndarray, V: np.ndarray, m: int) -> np.ndarray:
    """m pairs of one cluster by greedy log-det under V: argmax_{b in cluster} b^T V^{-1} b, V += b b^T,
    m times (repeats allowed: a pair stays a candidate after it is picked). Returns global indices (m,)."""
    return members[leverage_batch(B[members], V, m, allow_repeats=True)]


def n_states(kind: str, n_clusters: int) -> int:
    """S of the allocation MDP: 1 for "step", 2^C for "visited"."""
    if kind not in STATES:
        raise ConfigError(f"state: expected one of {STATES}, got {kind!r}")
    if kind == "step":
        return 1
    if n_clusters > MAX_VISITED_CLUSTERS:
        raise ConfigError(f"state='visited' has 2^C states; expected C <= {MAX_VISITED_CLUSTERS}, got C = {n_clusters}")
    return 1 << n_clusters


def next_state(kind: str, s: int, a: int) -> int:
    """The deterministic transition: s for "step" (always 0), s | 2^a for "visited"."""
    return 0 if kind == "step" else s | (1 << a)


def state_of(kind: str, clusters_seen: np.ndarray) -> int:
    """The state after batches went to ``clusters_seen`` (any order): 0, or the bit mask of those clusters."""
    if kind == "step":
        return 0
    return int(sum(1 << int(c) for c in np.unique(clusters_seen)))


def acting_policy(agent: RandQL, run: int = 0) -> np.ndarray:
    """(H, S, A) the policy a trained RandQL agent acts with: greedy on Qbar, ties split uniformly."""
    return greedy_policy(agent.Qbar_[run])


# --- the environment ---------------------------------------------------------------------------------
REWARDS = ("logdet", "loglik")


@dataclass(frozen=True)
class AllocationConfig:
    """Settings of the allocation MDP.

    Attributes:
        batch_size: m, labels per batch (one MDP step).
        horizon: H, batches per campaign (T = H m labels).
        state: "step" (S = 1) or "visited" (S = 2^C).
        reward: "logdet" (noise-weighted log-det gain, default) or "loglik" (held-out log-likelihood gain).
        reward_scale: "loglik" only: c in r = clip(1/2 + gain / (2 c), 0, 1); None calibrates
            c = lbar(theta_val) - lbar(0), what a fit on the validation set itself gains over theta = 0.
        lam: ridge of V, of Phi and of the BT fits; None means 1/d.
    """

    batch_size: int = 40
    horizon: int = 10
    state: str = "step"
    reward: str = "logdet"
    reward_scale: float | None = None
    lam: float | None = None

    def __post_init__(self) -> None:
        for nm in ("batch_size", "horizon"):
            v = getattr(self, nm)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"AllocationConfig.{nm}: expected an integer >= 1, got {v!r}")
        if self.state not in STATES:
            raise ConfigError(f"AllocationConfig.state: expected one of {STATES}, got {self.state!r}")
        if self.reward not in REWARDS:
            raise ConfigError(f"AllocationConfig.reward: expected one of {REWARDS}, got {self.reward!r}")
        if self.reward_scale is not None and not (np.isfinite(self.reward_scale) and self.reward_scale > 0):
            raise ConfigError(f"AllocationConfig.reward_scale: expected > 0 or None, got {self.reward_scale!r}")
        if self.lam is not None and not (np.isfinite(self.lam) and self.lam > 0):
            raise ConfigError(f"AllocationConfig.lam: expected > 0 or None, got {self.lam!r}")


class AllocationEnv:
    """The allocation MDP on one pool (module docstring): ``reset() -> s``, ``step(a) -> (s', r)``.

    One campaign's labels live in the environment between ``reset`` calls; the annotator's Generator is
    kept across campaigns (fresh noise every campaign). After each step: ``gain_`` (the raw gain of the
    configured reward), ``weights_`` (C,) the current w_c = rho_hat_c^2, ``theta_`` and ``loglik_`` (the
    BT fit and its held-out mean log-likelihood; refitted every step for "loglik", at the end of the
    campaign only for "logdet").

    Args:
        pool, features: the pool and psi.
        clusters: the partition (:func:`prompt_clusters`); actions are its cluster indices.
        annotator: answers the batches (e.g. :class:`ClusterNoiseBT`); its noise is not read here.
        validation: gold labels of validation pairs (:func:`gold_validation`).
        config: :class:`AllocationConfig`.
    """

    def __init__(
        self,
        pool: Pool,
        features: Features,
        clusters: Clusters,
        annotator,
        validation: Labels,
        config: AllocationConfig | None = None,
    ) -> None:
        features.check_aligned(pool)
        self.config = c = config if config is not None else AllocationConfig()
        if clusters.of_prompt.shape != (pool.n_prompts,):
            raise ConfigError(f"clusters: expected one cluster per prompt ({pool.n_prompts}), got "
                              f"{clusters.of_prompt.shape}")
        L = pool.n_pairs
        if len(validation) == 0 or validation.pairs.min() < 0 or validation.pairs.max() >= L:
            raise ConfigError(f"validation: expected >= 1 label on candidate pairs 0..{L - 1} of pool {pool.name!r}")
        self.pool, self.features, self.clusters, self.annotator = pool, features, clusters, annotator
        self.B = pool.pairs().differences(features.X).astype(np.float64)
        self.d = self.B.shape[1]
        self.lam = c.lam if c.lam is not None else 1.0 / self.d
        self.of_cand = clusters.of_candidates(pool)
        self.members = [np.flatnonzero(self.of_cand == a) for a in range(clusters.n)]
        for a, mem in enumerate(self.members):
            if mem.size == 0:
                raise ConfigError(f"clusters: cluster {clusters.names[a]!r} has no candidate pair")
        self.S, self.A, self.H = n_states(c.state, clusters.n), clusters.n, c.horizon
        self._picks_cache: dict[tuple[int, ...], np.ndarray] = {}
        # the gold validation set: reference fit, its own agreement slope, held-out likelihood at theta = 0
        self.B_val, self.y_val = self.B[validation.pairs], validation.y
        self.theta_ref = BradleyTerry(lam=self.lam).fit(self.B_val, self.y_val).coef_
        tx, xx = agreement_terms(self.theta_ref, self.B_val, self.y_val)
        if not xx.sum() > 0 or not tx.sum() > 0:
            raise ConfigError("validation: the BT fit on the gold labels does not agree with them (agreement slope "
                              f"{tx.sum() / max(xx.sum(), 1e-300):.3g} <= 0); a larger validation set is needed")
        self.rho_gold = float(tx.sum() / xx.sum())
        self.ll_zero = float(heldout_loglik(np.zeros(self.d), self.B_val, self.y_val).mean())
        ll_ref = float(heldout_loglik(self.theta_ref, self.B_val, self.y_val).mean())
        self.reward_scale = float(c.reward_scale) if c.reward_scale is not None else max(ll_ref - self.ll_zero, 1e-12)
        self.reference_gains = self._reference_gains()
        self.reset()

    def _reference_gains(self) -> np.ndarray:
        """(H,) g_h: the log-det gains of a noise-free campaign that sends batch h to cluster h mod C."""
        self.reset()
        g = np.empty(self.H)
        V = self.lam * np.eye(self.d)
        prev = logdet(V)
        for h in range(self.H):
            picks = self.picks(h % self.A)
            V = V + self.B[picks].T @ self.B[picks]
            self.V_, self.actions_ = V, [*self.actions_, h % self.A]
            cur = logdet(V)
            g[h], prev = cur - prev, cur
        return g

    def reset(self) -> int:
        """Start a campaign with no labels: theta = 0, V = lam I, h = 0; returns s_0 = 0."""
        L, C, d = self.B.shape[0], self.A, self.d
        self.counts_ = np.zeros(L)
        self.ysum_ = np.zeros(L)
        self.V_ = self.lam * np.eye(d)  # label-blind, drives the design inside a cluster
        self.Vc_ = np.zeros((C, d, d))  # per-cluster sum of b b^T over the labels
        self.agree_ = np.zeros((C, 2))  # per-cluster sums of t x and x^2
        self.weights_ = np.zeros(C)
        self.phi_ = logdet(self.lam * np.eye(d))
        self.theta_ = np.zeros(d)
        self.loglik_ = self.ll_zero
        self.h_, self.s_ = 0, 0
        self.actions_: list[int] = []
        return 0

    def fit(self) -> np.ndarray:
        """theta = the regularised BT MLE on the campaign's labels (repeats pooled: weight n_b, label mean)."""
        u = np.flatnonzero(self.counts_)
        if u.size == 0:
            return np.zeros(self.d)
        return BradleyTerry(lam=self.lam).fit(self.B[u], self.ysum_[u] / self.counts_[u],
                                              sample_weight=self.counts_[u]).coef_

    def picks(self, a: int) -> np.ndarray:
        """The batch's pairs if cluster a gets step h: greedy log-det in the cluster under the current V.
        V depends only on the pairs chosen so far, i.e. on the actions: cached by the action sequence."""
        key = (*self.actions_, a)
        hit = self._picks_cache.get(key)
        if hit is None:
            hit = cluster_batch(self.B, self.members[a], self.V_, self.config.batch_size)
            if len(self._picks_cache) < 200_000:
                self._picks_cache[key] = hit
        return hit

    def step(self, a: int) -> tuple[int, float]:
        """Send batch h to cluster a: label it, update the information, return (s', reward)."""
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)) or not 0 <= a < self.A:
            raise ConfigError(f"action: expected a cluster index in 0..{self.A - 1}, got {a!r}")
        if self.h_ >= self.H:
            raise ConfigError(f"step: the campaign has ended after H = {self.H} batches; call reset()")
        a = int(a)
        picks = self.picks(a)
        labels = self.annotator.label(Batch.from_indices(picks, selector="allocation-env"))
        np.add.at(self.counts_, labels.pairs, 1.0)
        np.add.at(self.ysum_, labels.pairs, labels.y)
        Bl = self.B[labels.pairs]
        self.V_ = self.V_ + Bl.T @ Bl
        self.Vc_[a] += Bl.T @ Bl
        tx, xx = agreement_terms(self.theta_ref, Bl, labels.y)
        self.agree_[a] += (tx.sum(), xx.sum())
        self.actions_.append(a)
        self.h_ += 1
        self.s_ = next_state(self.config.state, self.s_, a)
        if self.config.reward == "loglik" or self.h_ == self.H:
            self.theta_ = self.fit()
            ll = float(heldout_loglik(self.theta_, self.B_val, self.y_val).mean())
            ll_gain, self.loglik_ = ll - self.loglik_, ll
        self.weights_ = self.reliability() ** 2
        phi = logdet(self.lam * np.eye(self.d) + np.einsum("c,cij->ij", self.weights_, self.Vc_))
        ld_gain, self.phi_ = phi - self.phi_, phi
        if self.config.reward == "loglik":
            self.gain_ = ll_gain
            return self.s_, loglik_reward(ll_gain, self.reward_scale)
        self.gain_ = ld_gain
        return self.s_, logdet_reward(ld_gain, float(self.reference_gains[self.h_ - 1]))

    def reliability(self) -> np.ndarray:
        """(C,) rho_hat_c = clip(slope_c / slope_gold, 0, 1) from the campaign's labels (0 for a cluster
        with none)."""
        tx, xx = self.agree_[:, 0], self.agree_[:, 1]
        slope = np.divide(tx, xx, out=np.zeros_like(tx), where=xx > 0)
        return np.clip(slope / self.rho_gold, 0.0, 1.0)


# --- training ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AllocationTraining:
    """What training RandQL on the allocation MDP produced.

    Attributes:
        agent: the trained agent (K runs).
        actions: (K, E, H) cluster of every batch of every training campaign.
        rewards: (K, E, H) rewards.
        gains: (K, E, H) raw held-out log-likelihood gains.
        final_loglik: (K, E) held-out mean log-likelihood at the end of each campaign.
    """

    agent: RandQL
    actions: np.ndarray
    rewards: np.ndarray
    gains: np.ndarray
    final_loglik: np.ndarray

    def policy(self, run: int = 0) -> np.ndarray:
        """(H, S, A) the acting policy of run ``run`` (:func:`acting_policy`)."""
        return acting_policy(self.agent, run)


def train_allocator(
    env: AllocationEnv,
    n_episodes: int,
    *,
    rng: int | np.random.Generator,
    agent: RandQL | None = None,
    n_runs: int = 1,
) -> AllocationTraining:
    """Train RandQL (:mod:`duelbandit.rl.randql`, unchanged) on ``n_episodes`` simulated campaigns.

    Each episode: ``pi = agent.policy()``; for each of the K runs, play H batches with actions drawn from
    pi (the env labels them with its annotator); then ``agent.update(Episode(...))`` - the episode-level
    update equals RandQL's online per-step update (see randql.py). Runs share the env one after the other.
    """
    for nm, v in (("n_episodes", n_episodes), ("n_runs", n_runs)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ConfigError(f"{nm}: expected an integer >= 1, got {v!r}")
    gen = as_generator(rng)
    agent = agent if agent is not None else RandQL()
    K, H = int(n_runs), env.H
    agent.reset(env.S, env.A, H, K, gen)
    actions = np.empty((K, n_episodes, H), dtype=np.int64)
    rewards = np.empty((K, n_episodes, H))
    gains = np.empty((K, n_episodes, H))
    final = np.empty((K, n_episodes))
    for t in range(n_episodes):
        pi = agent.policy()
        states = np.zeros((K, H + 1), dtype=np.int64)
        for k in range(K):
            s = env.reset()
            for h in range(H):
                a = int(sample_actions(pi[k, h, s][None, :], gen)[0])
                s2, r = env.step(a)
                actions[k, t, h], rewards[k, t, h], gains[k, t, h] = a, r, env.gain_
                states[k, h + 1] = s = s2
            final[k, t] = env.loglik_
        agent.update(Episode(states, actions[:, t], rewards[:, t]))
    return AllocationTraining(agent, actions, rewards, gains, final)
