"""The stages of :func:`duelbandit.pipeline.run_pipeline`. Each takes the settings, the pool and its own folder,
reads what earlier stages wrote, writes its outputs atomically and returns a small JSON-able summary."""

from __future__ import annotations

import json

from pathlib import Path
from typing import Any

import numpy as np

from duelbandit.errors import PipelineError, RewardError
from duelbandit.io import dumps, write_json_atomic, write_text_atomic
from duelbandit.pipeline.run import PipelineConfig, PipelinePaused, default_batch, save_npy_atomic


def _features(out_embed: Path) -> Any:
    from duelbandit.pool import Features

    X = np.load(out_embed / "features.npy", allow_pickle=False)
    meta = json.loads((out_embed / "features.json").read_text())
    return Features(X=X, name=meta["name"], config=meta["config"])


def _judgeable(pool: Any) -> np.ndarray | None:
    from duelbandit.data.textpool import text_pool_rewards

    try:
        return text_pool_rewards(pool)
    except RewardError:
        return None


def _embedder(cfg: PipelineConfig) -> Any:
    from duelbandit.embed import get_embedder

    if cfg.embedder == "hashing":
        return get_embedder("hashing", dim=cfg.dim, seed=cfg.seed)
    # "minilm" or a local sentence-encoder directory; PCA to dim (0: keep the encoder's width)
    return get_embedder("transformer", model=cfg.embedder, dim=cfg.dim or None, seed=cfg.seed)


def embed_stage(cfg: PipelineConfig, pool: Any, d: Path) -> dict:
    feats = _embedder(cfg).embed(pool)
    save_npy_atomic(d / "features.npy", np.ascontiguousarray(feats.X))
    write_json_atomic(d / "features.json", {"name": feats.name, "config": feats.config})
    return {"dim": int(feats.X.shape[1]), "responses": int(feats.X.shape[0])}


def _annotator(cfg: PipelineConfig, pool: Any, state: Any):
    """(make_annotator(gen, committed), settings) for judge | simulated-bt | file:LABELS, as ``duelbandit collect``."""
    from duelbandit.annotate import FileAnnotator, JudgeAnnotator, Labels, SimulatedBT

    spec = cfg.annotator
    if spec == "judge":
        rewards = _judgeable(pool)
        if rewards is None:
            raise PipelineError(f"--annotator judge: the bundled judge only scores prompts of the bundled text pool "
                                f"(pool {pool.name!r} has others); use simulated-bt or file:LABELS")
        return (lambda gen, done: JudgeAnnotator(rewards, pool, rng=gen, temperature=cfg.judge_temperature),
                {"annotator": {"kind": "judge", "temperature": cfg.judge_temperature}})
    if spec == "simulated-bt":
        rewards = _judgeable(pool)
        if rewards is not None:
            from duelbandit.theory.experiment import best_linear_fit

            theta, _ = best_linear_fit(state, rewards)
        else:
            v = np.random.default_rng(cfg.seed).standard_normal(state.features.dim)
            theta = v / np.linalg.norm(v)
        return (lambda gen, done: SimulatedBT(theta, pool, state.features, rng=gen),
                {"annotator": {"kind": "simulated-bt"}})
    if spec.startswith("file:"):
        from duelbandit.io.human import read_human_labels

        path = Path(spec[5:])
        labels = read_human_labels(path, pool)[0] if path.exists() else \
            Labels(np.zeros(0, np.int64), np.zeros(0), source=f"file:{path.name}")
        return (lambda gen, done: FileAnnotator(labels, pool, consumed=done.pairs, name=f"file:{path.name}"),
                {"annotator": {"kind": "file", "path": str(path)}})
    raise PipelineError(f"--annotator: expected judge, simulated-bt or file:LABELS, got {spec!r}")


def collect_stage(cfg: PipelineConfig, pool: Any, embed_dir: Path, d: Path, verbose: bool) -> dict:
    from duelbandit.select import PLANNED, SelectionState, make_selector
    from duelbandit.select.loop import PENDING_FILE, collect

    state = SelectionState(pool=pool, features=_features(embed_dir))
    params = dict(cfg.selector_params)
    if cfg.selector in PLANNED:
        params.setdefault("total", cfg.budget)
    selector = make_selector(cfg.selector, **params)
    make_annotator, config = _annotator(cfg, pool, state)
    res = collect(state, selector, make_annotator, budget=cfg.budget, batch_size=default_batch(cfg),
                  seed=cfg.seed, state_dir=d, config=config, replayable=True, verbose=verbose)
    if res.pending is not None:
        raise PipelinePaused(f"the labels file has no answer yet for some pairs of round {res.rounds}; their tasks "
                             f"are in {d / PENDING_FILE}: label them and rerun the same command", d / PENDING_FILE)
    return {"labels": len(res.labels), "rounds": res.rounds, "seconds": res.seconds}


def _d_efficiency(B: np.ndarray, w_opt: np.ndarray, w: np.ndarray, basis: np.ndarray | None) -> float:
    """(det M(w) / det M(w*))^(1/r) in the span the design lives in (0 when M(w) is singular there)."""
    Bp = B @ basis if basis is not None else B
    s1, l1 = np.linalg.slogdet(Bp.T @ (w[:, None] * Bp))
    s0, l0 = np.linalg.slogdet(Bp.T @ (w_opt[:, None] * Bp))
    return float(np.exp((l1 - l0) / Bp.shape[1])) if s1 > 0 and s0 > 0 else 0.0


def fit_stage(cfg: PipelineConfig, pool: Any, out: Path, d: Path) -> dict:
    from duelbandit.design import optimal_design
    from duelbandit.io.export import trl_rows
    from duelbandit.io.labels import read_label_log
    from duelbandit.reward import BradleyTerry

    feats = _features(out / "1_embed")
    log = read_label_log(out / "2_collect" / "labels.jsonl", pool)
    cand = pool.pairs()
    B = cand.differences(feats.X, log.labels.pairs)
    bt = BradleyTerry(lam=1.0 / feats.dim).fit(B, log.labels.y)
    save_npy_atomic(d / "theta.npy", bt.coef_)
    rows = trl_rows(pool, log.rows, log.labels.pairs)
    write_text_atomic(d / "trl.jsonl", "".join(dumps(r) + "\n" for r in rows))
    Ball = cand.differences(feats.X).astype(np.float64)
    design = optimal_design(Ball, method="auto")
    w = np.bincount(log.labels.pairs, minlength=len(cand)) / len(log)
    eff = _d_efficiency(Ball, design.weights, w, design.info.get("basis"))
    res = {"labels": len(log), "trl_pairs": len(rows), "theta_norm": float(np.linalg.norm(bt.coef_)),
           "certificate": design.certificate.as_dict(), "collected_d_efficiency": eff}
    rewards = _judgeable(pool)
    if rewards is not None:  # how often the fitted BT agrees with the judge on every candidate pair
        gap = rewards[cand.i] - rewards[cand.j]
        agree = np.sign(Ball @ bt.coef_) == np.sign(gap)
        res["bt_judge_pair_agreement"] = float(agree[gap != 0].mean())
    return res


def _bt_preference(cfg: PipelineConfig, pool: Any, out: Path) -> Any:
    from duelbandit.finetune.preference import BTPreference, feature_map_for

    theta = np.load(out / "3_fit" / "theta.npy", allow_pickle=False)
    return BTPreference(theta, feature_map_for(_embedder(cfg), pool))


def train_stage(cfg: PipelineConfig, pool: Any, out: Path, d: Path, verbose: bool) -> dict:
    from duelbandit.finetune.models import load_model

    model, tok = load_model(cfg.model, seed=cfg.seed, verbose=verbose)
    if cfg.method == "online_ipo":
        from duelbandit.finetune.online_lm import OnlineConfig, train_online

        ocfg = OnlineConfig(mode="online_ipo", tau=cfg.tau, lr=cfg.lr, steps=cfg.online_steps,
                            prompts_per_step=cfg.batch, max_new_tokens=cfg.max_new_tokens, seed=cfg.seed, save_every=5)
        summary = train_online(model, tok, list(pool.prompts), _bt_preference(cfg, pool, out), ocfg, d / "run",
                               device=cfg.device, verbose=verbose)
    else:
        from duelbandit.finetune.pairs import read_pairs
        from duelbandit.finetune.trainer import TrainConfig, train

        path = out / "3_fit" / "trl.jsonl"
        if not path.read_text().strip():
            raise PipelineError(f"{path}: no preference pair to train on (every label was a tie?)")
        rows = read_pairs(path)
        tcfg = TrainConfig(loss=cfg.method, beta=cfg.beta, tau=cfg.tau, lr=cfg.lr, batch_size=min(cfg.batch, len(rows)),
                           epochs=cfg.epochs, seed=cfg.seed, save_every=5)
        summary = train(model, tok, rows, tcfg, d / "run", model_name=cfg.model, device=cfg.device, verbose=verbose)
    return {"model": str(d / "run" / "final"), "steps": summary["steps"], "last": summary["last"]}


def realign_stage(cfg: PipelineConfig, pool: Any, out: Path, d: Path, verbose: bool) -> dict:
    from duelbandit.finetune.dera import plot_sweep, realign_sweep
    from duelbandit.finetune.models import load_model

    aligned, tok = load_model(out / "4_train" / "run" / "final", device=cfg.device, verbose=verbose)
    reference, _ = load_model(cfg.model, seed=cfg.seed, device=cfg.device, verbose=verbose)
    prompts = list(pool.prompts[: cfg.eval_prompts])
    if _judgeable(pool) is not None:
        from duelbandit.finetune.preference import JudgePreference

        judge = JudgePreference(temperature=cfg.judge_temperature)
        reward, prefer, scorer = judge.reward, judge.prob, "judge"
    else:
        bt = _bt_preference(cfg, pool, out)
        reward, prefer, scorer = bt.reward, bt.prob, "fitted BT"
    lambdas = sorted(set(cfg.lambdas) | {1.0})
    rows, texts = realign_sweep(aligned, reference, tok, prompts, lambdas, reward=reward, prefer=prefer,
                                max_new_tokens=cfg.max_new_tokens, seed=cfg.seed, verbose=verbose)
    write_json_atomic(d / "sweep.json", {"scorer": scorer, "rows": rows})
    write_text_atomic(d / "samples.jsonl", "".join(dumps({"lambda": k, "prompt": x, "completion": y}) + "\n"
                                                   for k, ys in texts.items() for x, y in zip(prompts, ys)))
    plot_sweep(rows, d / "reward_vs_kl.png", title=f"DeRa sweep ({scorer}): reward vs KL to the reference")
    return {"scorer": scorer, "rows": rows, "plot": str(d / "reward_vs_kl.png")}


def _loss_plot(metrics: Path, path: Path) -> bool:
    if not metrics.is_file():
        return False
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    rows = [json.loads(x) for x in metrics.read_text().splitlines() if x.strip()]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], "o-", ms=2)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def report_stage(cfg: PipelineConfig, pool: Any, out: Path, d: Path, done: dict) -> dict:
    import shutil

    from duelbandit.finetune.dera import sweep_table

    col, fit, tr, rl = done["collect"], done["fit"], done["train"], done["realign"]
    shutil.copyfile(rl["plot"], d / "reward_vs_kl.png")
    has_loss = _loss_plot(out / "4_train" / "run" / "metrics.jsonl", d / "training_loss.png")
    at1 = next(r for r in rl["rows"] if r["lambda"] == 1.0)
    cert = fit["certificate"]
    lines = [f"# duelbandit pipeline report: {pool.name}", "",
             (f"pool {pool.name!r}: {pool.n_prompts} prompts, {pool.n_responses} responses, {pool.n_pairs} candidate "
             f"pairs; embedder {cfg.embedder} (d = {cfg.dim}); selector **{cfg.selector}**, budget {cfg.budget}, "
             f"annotator {cfg.annotator}; model {cfg.model}, method **{cfg.method}**; seed {cfg.seed}."), "",
             "## Labels and design certificate", "",
             f"- {col['labels']} labels in {col['rounds']} round(s); {fit['trl_pairs']} non-tie preference pairs.",
             (f"- D-optimal design over all candidate pairs: efficiency lower bound {cert['efficiency_lower_bound']:.4f} "
             f"(max leverage / d = {cert['max_leverage_over_d']:.4f}, {cert['rank_handling']}, support "
             f"{cert['support_size']})."),
             f"- D-efficiency of the collected labels relative to that design: {fit['collected_d_efficiency']:.3f}.",
             f"- Bradley–Terry fit: ||theta|| = {fit['theta_norm']:.3f}"
             + (f"; agrees with the judge on {fit['bt_judge_pair_agreement']:.1%} of candidate pairs."
                if "bt_judge_pair_agreement" in fit else "."), "",
             "## Training", "", f"- {tr['steps']} steps; last: " + ", ".join(
                 f"{k} {v:.4g}" for k, v in tr["last"].items() if isinstance(v, float)), "",
             "## Aligned model vs reference (DeRa sweep)", "",
             f"Scorer: {rl['scorer']}; {cfg.eval_prompts} pool prompts, one sampled completion per prompt and lambda.", "",
             sweep_table(rl["rows"]), ""]
    if "win_rate" in at1:
        lines.append(f"**Win rate of the aligned model (lambda = 1) against the reference: {at1['win_rate']:.3f}** "
                     f"(P(aligned > reference) under the {rl['scorer']}, averaged over prompts).")
        lines.append("")
    lines += ["![reward vs KL](reward_vs_kl.png)", ""] + (["![training loss](training_loss.png)", ""] if has_loss else [])
    write_text_atomic(d / "report.md", "\n".join(lines))
    return {"report": str(d / "report.md"), "win_rate": at1.get("win_rate"), "reward": at1.get("reward"),
            "collected_d_efficiency": fit["collected_d_efficiency"]}


__all__ = ["collect_stage", "embed_stage", "fit_stage", "realign_stage", "report_stage", "train_stage"]
