#!/usr/bin/env python3
"""Layer-parallel training throughput, side by side in one run (a benchmark, not a test).

For MLP[500 3] (batch 512) and ViT[128 4 5] (batch 128, patch 4) on Fashion-MNIST, one stage-1
epoch of `cff train` in each mode: the sequential trainer (its default threads), the in-process
pipeline (2 stages, 1 thread each), and 2- and 4-rank runs on c10d (pipeline, data,
pipeline,data), every rank given cores / ranks threads. Prints images/s over the epoch itself
(the model's history: start-up, normalisation statistics and the rendezvous excluded), the ratio to
sequential, each stage's (or rank's) measured busy seconds, the schedule's prediction for a
pipeline (B*S stage-steps sequentially vs B+S-1 pipelined, so at best sum(t) / (max(t) (B+S-1)/B)
times faster), and each rank's peak RSS. The machine's GEMM ceiling (2048^3, fp32 and bf16,
LibTorch through python3-torch) is measured in the same run.

    python3 tests/bench/bench_parallel.py [--cff build/tools/cff] [--images N] [--only mlp|vit]
    python3 tests/bench/bench_parallel.py --quick    # a smoke run on generated data (ctest)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FMNIST = "/usr/share/datasets/fashion-mnist"
FMNIST_TRAIN = 60000

MODELS = {
    "mlp": ("MLP[500 3] b512", ["--arch", "mlp", "-E", "500", "-L", "3", "--batch", "512"], 3),
    "vit": ("ViT[128 4 5] b128", ["--arch", "vit", "-E", "128", "-H", "4", "-L", "5", "--patch", "4",
                                  "--batch", "128"], 5),
}


def modes(layers):
    """(name, extra flags, ranks, pipeline stages)."""
    out = [("sequential", [], 1, 1),
           ("in-process pipeline, 2 stages", ["--pipeline", "--stages", "2", "--threads", "1"], 1, 2),
           ("2 ranks: pipeline", ["--nproc", "2", "--parallel", "pipeline"], 2, 2),
           ("2 ranks: data", ["--nproc", "2", "--parallel", "data"], 2, 1)]
    if layers >= 4:
        out.append(("4 ranks: pipeline", ["--nproc", "4", "--parallel", "pipeline"], 4, 4))
    out.append(("4 ranks: data", ["--nproc", "4", "--parallel", "data"], 4, 1))
    out.append(("4 ranks: pipeline,data 2x2", ["--nproc", "4", "--parallel", "pipeline,data", "--stages", "2"], 4, 2))
    return out


def gemm_ceiling():
    try:
        import torch
    except ImportError:  # another python3 (pyenv) first on PATH: ask Debian's, which has python3-torch
        if sys.executable != "/usr/bin/python3" and os.path.exists("/usr/bin/python3"):
            p = subprocess.run(["/usr/bin/python3", os.path.abspath(__file__), "--gemm-only"], capture_output=True,
                               text=True)
            if p.returncode == 0:
                return json.loads(p.stdout)
        return None
    torch.set_num_threads(os.cpu_count() or 1)
    out = {}
    for name, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        a, b = torch.randn(2048, 2048).to(dtype), torch.randn(2048, 2048).to(dtype)
        torch.mm(a, b)
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            torch.mm(a, b)
            best = min(best, time.perf_counter() - t0)
        out[name] = 2 * 2048 ** 3 / best / 1e9
    return out


def run(cff, data, out, model_flags, extra, drop, precision):
    cmd = [cff, "train", data, "--out", out, "--force", "--json", "--quiet", "--epochs", "1", "--head-epochs", "0",
           "--val-fraction", "0", "--precision", precision, "--drop", str(drop)] + model_flags + extra
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=3600)
    if p.returncode != 0:
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
    lead = next(r for r in lines if "model" in r)
    others = sorted((r for r in lines if "model" not in r), key=lambda r: r["rank"])
    # The epoch's own time (history): without start-up, normalisation statistics and rendezvous.
    info = subprocess.run([cff, "info", out, "--json"], capture_output=True, text=True, check=True)
    lead["epoch_seconds"] = json.loads(info.stdout)["history"][0]["seconds"]
    return lead, others


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cff", default=os.path.join(HERE, "..", "..", "build", "tools", "cff"))
    ap.add_argument("--images", type=int, default=12000, help="training images per run (a seeded subset)")
    ap.add_argument("--only", choices=sorted(MODELS))
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--quick", action="store_true", help="a smoke run on tiny generated data")
    ap.add_argument("--gemm-only", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.gemm_only:
        print(json.dumps(gemm_ceiling()))
        return

    tmp = tempfile.mkdtemp()
    data, total = FMNIST, FMNIST_TRAIN
    models = {k: v for k, v in MODELS.items() if a.only in (None, k)}
    if a.quick:
        subprocess.run([sys.executable, os.path.join(HERE, "..", "tools", "make_idx.py"), tmp], check=True)
        data, total, a.images = tmp, 400, 400
        models = {"mlp": ("MLP[32 3] b32", ["-E", "32", "-L", "3", "--batch", "32"], 3),
                  "vit": ("ViT[16 2 4] b32", ["--arch", "vit", "-E", "16", "-H", "2", "-L", "4", "--patch", "4",
                                              "--batch", "32"], 4)}
    drop = max(0.0, 1.0 - a.images / total)
    cores = os.cpu_count() or 1
    print(f"# {cores} cores, one stage-1 epoch of {a.images} images per run, precision {a.precision}")
    ceiling = None if a.quick else gemm_ceiling()
    if ceiling:
        print(f"# GEMM ceiling, 2048^3 on {cores} threads (same run): fp32 {ceiling['fp32']:.0f} GFLOP/s, "
              f"bf16 {ceiling['bf16']:.0f} GFLOP/s")
    for key, (title, flags, layers) in models.items():
        print(f"\n## {title}\n")
        print("| mode | images/s | vs sequential | busy s per stage (or rank) | schedule's best | peak RSS MiB per rank |")
        print("|---|---|---|---|---|---|")
        base = None
        for name, extra, ranks, stages in modes(layers):
            lead, others = run(a.cff, data, os.path.join(tmp, "m.cff"), flags, extra, drop, a.precision)
            rate = lead["train_images"] / lead["epoch_seconds"]
            base = base or rate
            busy = lead.get("parallel", {}).get("stage_seconds", [])
            if ranks > 1 and stages > 1:  # one busy time per rank: stage s is rank s x replicas
                per_rank = [busy[0] if busy else 0.0] + [r["stage_seconds"][0] if r["stage_seconds"] else 0.0
                                                         for r in others]
                busy = per_rank[:: ranks // stages]
            batch = int(flags[flags.index("--batch") + 1])
            b = -(-lead["train_images"] // batch)
            best = ""
            if len(busy) > 1 and max(busy) > 0:
                best = f"{sum(busy) / (max(busy) * (b + stages - 1) / b):.2f}x (B={b}, S={stages}: {b * stages} vs {b + stages - 1} stage-steps)"
            rss = [lead["peak_rss_mib"]] + [r["peak_rss_mib"] for r in others]
            print(f"| {name} | {rate:.0f} | {rate / base:.2f}x | {' / '.join(f'{t:.1f}' for t in busy) or '-'} | "
                  f"{best or '-'} | {' / '.join(f'{m:.0f}' for m in rss)} |", flush=True)


if __name__ == "__main__":
    main()
