"""Skill discovery: cluster the prompts of a pool by their embeddings and name each cluster by its terms.

1. Prompt vectors v_n (any embedder's prompt encoding), rows normalised to unit length so that Euclidean
   k-means groups by cosine similarity.
2. k-means (Lloyd, k-means++ seeding; scikit-learn ``KMeans``, or ``MiniBatchKMeans`` for large pools),
   seeded: same vectors + same seed, same clusters.
3. Names by class-based tf-idf (c-TF-IDF, Grootendorst 2022, BERTopic): with tf_{c,t} the count of term t
   in the prompts of cluster c,

       W_{c,t} = (tf_{c,t} / sum_t' tf_{c,t'}) * log(1 + A / f_t),   f_t = sum_c tf_{c,t},
       A = average number of terms per cluster,

   the name of c joins its ``n_terms`` highest-scoring terms: terms frequent in c and rare elsewhere.

The pool gets a ``skill`` per prompt (``Pool.skills``), which ``two_stage`` and the RandQL allocator read.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from duelbandit.errors import FeatureError
from duelbandit.pool import Pool


@dataclass(frozen=True)
class SkillClusters:
    """Result of :func:`discover_skills`.

    Attributes:
        labels: (N,) cluster index of every prompt.
        names: k cluster names (unique strings).
        terms: k lists of the most distinctive terms, best first.
        sizes: (k,) prompts per cluster.
    """

    labels: np.ndarray
    names: list[str]
    terms: list[list[str]]
    sizes: np.ndarray

    def skills(self) -> list[str]:
        """The skill name of every prompt."""
        return [self.names[int(c)] for c in self.labels]


def ctfidf_terms(texts: list[str], labels: np.ndarray, k: int, n_terms: int = 3) -> list[list[str]]:
    """The ``n_terms`` highest c-TF-IDF terms of each of the k clusters (see the module docstring).

    Terms are words of 2+ letters, lower-cased, English stop words removed; a cluster with no term gets [].
    """
    from sklearn.feature_extraction.text import CountVectorizer

    docs = [" ".join(t for t, c in zip(texts, labels) if c == j) for j in range(k)]
    vec = CountVectorizer(token_pattern=r"(?u)\b[^\W\d_]{2,}\b", stop_words="english", lowercase=True)
    try:
        tf = vec.fit_transform(docs).toarray().astype(np.float64)
    except ValueError:  # empty vocabulary: every prompt is digits / stop words
        return [[] for _ in range(k)]
    vocab = vec.get_feature_names_out()
    per_class = tf.sum(axis=1, keepdims=True)
    A = per_class.mean()
    W = np.divide(tf, per_class, out=np.zeros_like(tf), where=per_class > 0) * np.log1p(A / tf.sum(axis=0))
    out = []
    for j in range(k):
        top = np.argsort(-W[j], kind="stable")[:n_terms]
        out.append([str(vocab[t]) for t in top if W[j, t] > 0])
    return out


def discover_skills(
    prompts: list[str],
    V: np.ndarray,
    k: int,
    *,
    seed: int = 0,
    method: str = "kmeans",
    n_terms: int = 3,
) -> SkillClusters:
    """Cluster prompt vectors ``V`` (N, h) into k skills and name them (module docstring).

    Args:
        prompts: the N prompt texts (for the names).
        V: (N, h) prompt vectors.
        k: number of clusters, 1 <= k <= N.
        seed: k-means ``random_state``.
        method: ``"kmeans"`` (exact Lloyd, ``n_init=4``) or ``"minibatch"`` (MiniBatchKMeans, for large N).
        n_terms: terms per name.
    """
    V = np.asarray(V, dtype=np.float64)
    N = V.shape[0]
    if V.ndim != 2 or N != len(prompts):
        raise FeatureError(f"prompt vectors: expected shape ({len(prompts)}, h), got {V.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= N:
        raise FeatureError(f"k: expected an integer in [1, {N}] (the number of prompts), got {k!r}")
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    U = np.divide(V, norms, out=np.zeros_like(V), where=norms > 0)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        km = KMeans(n_clusters=int(k), n_init=4, random_state=seed)
    elif method == "minibatch":
        from sklearn.cluster import MiniBatchKMeans

        km = MiniBatchKMeans(n_clusters=int(k), n_init=3, random_state=seed, batch_size=4096)
    else:
        raise FeatureError(f"method: expected 'kmeans' or 'minibatch', got {method!r}")
    labels = km.fit_predict(U).astype(np.int64)
    terms = ctfidf_terms(prompts, labels, int(k), n_terms)
    names: list[str] = []
    for j, ts in enumerate(terms):
        base = "-".join(ts) or f"cluster{j}"
        names.append(base if base not in names else f"{base}#{j}")
    return SkillClusters(labels=labels, names=names, terms=terms, sizes=np.bincount(labels, minlength=int(k)))


def purity(true: list[str] | np.ndarray, pred: np.ndarray) -> float:
    """Cluster purity (1/N) sum_c max_s |{n : pred_n = c, true_n = s}|: 1 when every cluster holds one true
    skill; at least (largest true class)/N."""
    true = np.asarray(true)
    pred = np.asarray(pred)
    if true.shape != pred.shape or true.ndim != 1:
        raise FeatureError(f"purity: expected two label arrays of one shape, got {true.shape} and {pred.shape}")
    _, t = np.unique(true, return_inverse=True)
    _, p = np.unique(pred, return_inverse=True)
    table = np.zeros((p.max() + 1, t.max() + 1), dtype=np.int64)
    np.add.at(table, (p, t), 1)
    return float(table.max(axis=1).sum() / true.shape[0])


def with_skills(pool: Pool, skills: list[str]) -> Pool:
    """The same pool with ``skills`` as its per-prompt skill labels."""
    if len(skills) != pool.n_prompts:
        raise FeatureError(f"skills: {len(skills)} labels for {pool.n_prompts} prompts")
    return dataclasses.replace(pool, skills=tuple(str(s) for s in skills))
