"""Our DPO trainer vs TRL's DPOTrainer: seconds per step, peak memory (RSS) and the loss curves, on the same
model (the tiny LM and SmolLM2-135M), data, batch, optimiser and length; 1 and 2 threads; with a reference
model run every step and with reference log-probs precomputed.

TRL is not a dependency of duelbandit: it runs in its own venv (``--trl-python``, default
/work/venvs/trl/bin/python: torch==2.13.0, then ``pip install -c constraints.txt trl==1.16.0``). Each
configuration runs in a fresh subprocess (``--worker``), so peak RSS is that run's alone.

    python benchmarks/bench_finetune.py --steps 4 --models tiny smollm2

Writes benchmarks/results/finetune.md and finetune.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------- workers
def _worker_ours(cfg: dict) -> dict:
    import torch

    from duelbandit.finetune.models import load_model
    from duelbandit.finetune.pairs import parse_row
    from duelbandit.finetune.trainer import TrainConfig, train

    rows = [r for k, x in enumerate(cfg["data"]) for r in parse_row(x, f"row {k}")]
    model, tok = load_model(cfg["model_dir"], verbose=False)
    t0 = time.perf_counter()
    tc = TrainConfig(loss="dpo", beta=cfg["beta"], lr=cfg["lr"], batch_size=cfg["batch"], max_steps=cfg["steps"],
                     max_length=cfg["max_length"], precompute_ref=cfg["precompute"], chat_template=False,
                     mask_special=False, max_grad_norm=1.0, seed=cfg["seed"])
    with tempfile.TemporaryDirectory() as d:
        train(model, tok, rows, tc, d, verbose=False)
        m = [json.loads(x) for x in (Path(d) / "metrics.jsonl").read_text().splitlines()]
    total = time.perf_counter() - t0
    return {"losses": [r["loss"] for r in m], "step_seconds": [r["seconds"] for r in m], "total_seconds": total,
            "threads": torch.get_num_threads()}


def _worker_trl(cfg: dict) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import DPOConfig, DPOTrainer

    tok = AutoTokenizer.from_pretrained(cfg["model_dir"])
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(cfg["model_dir"])
    ref = None if cfg["precompute"] else AutoModelForCausalLM.from_pretrained(cfg["model_dir"])
    data = Dataset.from_list([{k: r[k] for k in ("prompt", "chosen", "rejected")} for r in cfg["data"]])
    times: list[float] = []
    logs: list[dict] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times.append(time.perf_counter() - self.t)

        def on_log(self, args, state, control, logs=None, **kw):
            if logs and "loss" in logs:
                logs_.append(dict(logs))

    logs_ = logs
    with tempfile.TemporaryDirectory() as d:
        args = DPOConfig(output_dir=d, per_device_train_batch_size=cfg["batch"], gradient_accumulation_steps=1,
                         learning_rate=cfg["lr"], max_steps=cfg["steps"], logging_steps=1, save_strategy="no",
                         report_to=[], beta=cfg["beta"], loss_type=["sigmoid"], max_length=cfg["max_length"],
                         precompute_ref_log_probs=cfg["precompute"], use_cpu=True, seed=cfg["seed"],
                         lr_scheduler_type="constant", warmup_steps=0, max_grad_norm=1.0, weight_decay=0.0,
                         dataloader_num_workers=0, disable_tqdm=True, bf16=False,
                         gradient_checkpointing=cfg.get("trl_checkpointing", True))
        t0 = time.perf_counter()
        trainer = DPOTrainer(model=model, ref_model=ref, args=args, train_dataset=data, processing_class=tok,
                             callbacks=[Clock()])
        trainer.train()
        total = time.perf_counter() - t0
    return {"losses": [r["loss"] for r in logs], "step_seconds": times, "total_seconds": total,
            "threads": torch.get_num_threads(), "first_log": logs[0] if logs else {}}


def _worker(kind: str, cfg_path: str) -> None:
    cfg = json.loads(Path(cfg_path).read_text())
    import torch

    torch.set_num_threads(cfg["threads"])
    torch.manual_seed(cfg["seed"])
    res = _worker_ours(cfg) if kind == "ours" else _worker_trl(cfg)
    res["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("RESULT " + json.dumps(res))


# ------------------------------------------------------------------------------------------ orchestration
def _data(n: int, seed: int) -> list[dict]:
    """(best, worst) judge-ranked response pairs of the bundled text pool's first n prompts."""
    from duelbandit.data.textpool import make_text_pool, text_pool_rewards

    pool = make_text_pool(max(n, 10), seed=seed)
    r = text_pool_rewards(pool)
    rows = []
    for k in range(n):
        lo = int(pool.offsets[k])
        resp = pool.responses_of(k)
        rk = r[lo:lo + len(resp)]
        rows.append({"prompt": pool.prompts[k], "chosen": resp[int(rk.argmax())], "rejected": resp[int(rk.argmin())]})
    return rows


def _run(kind: str, python: str, cfg: dict, env: dict) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(cfg, f)
    try:
        p = subprocess.run([python, __file__, "--worker", kind, f.name], capture_output=True, text=True, env=env,
                           cwd=ROOT, timeout=1800)
    finally:
        os.unlink(f.name)
    for line in p.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{kind} worker failed:\n{p.stderr[-3000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--worker", nargs=2, metavar=("KIND", "CONFIG"), help=argparse.SUPPRESS)
    ap.add_argument("--models", nargs="+", default=["tiny", "smollm2"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--ref-model-threads", nargs="*", type=int, default=None,
                    help="thread counts at which the 'reference model every step' mode also runs (default: all)")
    ap.add_argument("--steps", type=int, default=4, help="optimiser steps per run (default 4)")
    ap.add_argument("--tiny-steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trl-python", default="/work/venvs/trl/bin/python")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args()
    if args.worker:
        _worker(*args.worker)
        return
    from duelbandit.finetune.models import convert_smollm2, tiny_lm

    work = Path(tempfile.mkdtemp(prefix="bench_finetune_"))
    dirs = {}
    if "tiny" in args.models:
        m, t = tiny_lm(seed=args.seed)
        m.save_pretrained(work / "tiny")
        t.save_pretrained(work / "tiny")
        dirs["tiny"] = str(work / "tiny")
    if "smollm2" in args.models:
        dirs["smollm2"] = str(convert_smollm2(verbose=False))
    trl_version = subprocess.run([args.trl_python, "-c", "import trl; print(trl.__version__)"], capture_output=True,
                                 text=True).stdout.strip()
    rows, curves = [], {}
    for model in args.models:
        steps = args.tiny_steps if model == "tiny" else args.steps
        data = _data(args.batch * steps, args.seed)
        for threads in args.threads:
            for precompute in (False, True):
                if not precompute and args.ref_model_threads is not None and threads not in args.ref_model_threads:
                    continue
                cfg = {"model_dir": dirs[model], "data": data, "batch": args.batch, "steps": steps, "lr": 1e-5 if model
                       != "tiny" else 1e-3, "beta": 0.1, "max_length": args.max_length, "precompute": precompute,
                       "threads": threads, "seed": args.seed}
                env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
                       "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                       "TOKENIZERS_PARALLELISM": "false"}
                res = {}
                # TRL twice: its defaults (gradient checkpointing on, what a user gets) and without it, as ours
                # runs (the like-for-like comparison)
                for kind, py, extra in (("ours", sys.executable, {}), ("trl", args.trl_python, {}),
                                        ("trl_nogc", args.trl_python, {"trl_checkpointing": False})):
                    load = os.getloadavg()[0]
                    res[kind] = _run("trl" if kind == "trl_nogc" else kind, py, {**cfg, **extra}, env)
                    res[kind]["load"] = load
                    print(f"{model} threads={threads} precompute={precompute} {kind}: "
                          f"median step {statistics.median(res[kind]['step_seconds'][1:] or res[kind]['step_seconds']):.3f} s, "
                          f"peak RSS {res[kind]['peak_rss_mb']:.0f} MB, loss0 {res[kind]['losses'][0]:.4f}", flush=True)
                rows.append((model, threads, precompute, res))
                curves[(model, threads, precompute)] = res
                _write(args, rows, curves, trl_version)  # after every configuration: a cut-short run keeps its rows
    _write(args, rows, curves, trl_version)


def _med(r: dict) -> float:
    s = r["step_seconds"][1:] or r["step_seconds"]  # the first step includes one-off warm-up
    return statistics.median(s)


def _write(args, rows, curves, trl_version) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Fine-tuning: our DPO trainer vs TRL's DPOTrainer",
        "",
        (f"Measured on a shared 2-core CPU machine ({platform.machine()}, {os.cpu_count()} cores; load "
        f"average at each run in the table: it counts the benchmark's own threads and any nice-19 job beside it), torch {torch.__version__}, TRL {trl_version}. Same model weights, same "
        f"{args.batch}-pair batches, max length {args.max_length}, AdamW (constant lr, no weight decay, grad clip 1), "
        "beta 0.1, DPO sigmoid loss, no chat template, fp32. Each run is a fresh process "
        "(OMP/torch threads set). Step time: median over steps 2..n (step 1 includes warm-up); "
        "'total' includes data preparation and the reference pass. Peak RSS: the process's maximum resident "
        "memory (model load included). TRL runs twice: with its defaults (gradient checkpointing on, fused "
        "AdamW: what a user gets) and with gradient checkpointing off (ours never checkpoints unless asked: "
        "the like-for-like row). Command: `python benchmarks/bench_finetune.py "
        f"--models {' '.join(args.models)} --steps {args.steps} --tiny-steps {args.tiny_steps}`."),
        "",
        ("| model | threads | reference | ours s/step | TRL s/step (defaults) | ratio | TRL s/step (no "
         "checkpointing) | ratio | ours total s | TRL total s | ours peak RSS MB | TRL peak RSS MB (defaults / no "
         "ckpt) | loss step 0 ours / TRL | load |"),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for model, threads, pre, res in rows:
        o, t = res["ours"], res["trl"]
        n = res.get("trl_nogc", t)
        lines.append(
            f"| {model} | {threads} | {'precomputed' if pre else 'model each step'} | {_med(o):.3f} | {_med(t):.3f} | "
            f"**{_med(t) / _med(o):.2f}x** | {_med(n):.3f} | **{_med(n) / _med(o):.2f}x** | {o['total_seconds']:.1f} | "
            f"{t['total_seconds']:.1f} | {o['peak_rss_mb']:.0f} | {t['peak_rss_mb']:.0f} / {n['peak_rss_mb']:.0f} | "
            f"{o['losses'][0]:.4f} / {t['losses'][0]:.4f} | {o['load']:.1f} / {t['load']:.1f} / {n['load']:.1f} |")
    lines += ["", "Ratios above 1 mean our trainer takes more steps per second than TRL's in the same run.", "",
              "![loss curves](finetune.png)", ""]
    (out / "finetune.md").write_text("\n".join(lines))
    (out / "finetune.json").write_text(json.dumps([{"model": m, "threads": th, "precompute": p, **res}
                                                   for m, th, p, res in rows], indent=1))
    models = sorted({m for m, *_ in rows})
    fig, axes = plt.subplots(1, len(models), figsize=(5 * len(models), 3.5), squeeze=False)
    for ax, model in zip(axes[0], models):
        for (m, th, pre), res in curves.items():
            if m != model or th != max(args.threads) or not pre:
                continue
            for kind, style in (("ours", "-o"), ("trl", "--x")):
                ax.plot(range(1, len(res[kind]["losses"]) + 1), res[kind]["losses"], style, label=kind)
        ax.set(title=f"{model}: DPO loss per step (same data)", xlabel="step", ylabel="loss")
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "finetune.png", dpi=110)


if __name__ == "__main__":
    main()
