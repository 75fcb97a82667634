"""Shared pieces of the experiments: run `cff train` once per setting (cached), summarise seeds,
write CSV/JSON tables and SVG/PNG figures.

Every run is `cff train DATA --out MODEL --json ...` with the experiment's flags and a seed; its
JSON result and the model's history (`cff info --json`) are kept in
experiments/results/<experiment>/runs/<key>.json, so rerunning a script reuses finished runs
(delete the folder, or pass --fresh, to run them again; CFF_EXPERIMENTS_OUT moves the results
folder). Quick mode (--quick) trains seed 0 on a seeded 5% subset for one epoch per stage: a smoke
test of the scripts, not a measurement.
"""
import argparse
import csv
import hashlib
import json
import math
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FMNIST = "/usr/share/datasets/fashion-mnist"
SEEDS = (0, 1, 2)

# The study's two models: MLP[500 3] and a small ViT (patch 7 on 28x28: 16 tokens).
MLP = ["--arch", "mlp", "-E", "500", "-L", "3"]
VIT = ["--arch", "vit", "-E", "64", "-H", "4", "-L", "3", "--patch", "7"]


def parser(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--cff", default=os.path.join(ROOT, "build", "tools", "cff"), help="the cff program")
    ap.add_argument("--data", default=FMNIST)
    ap.add_argument("--quick", action="store_true", help="a few minutes: seed 0, a 5%% subset, 1 epoch per stage")
    ap.add_argument("--fresh", action="store_true", help="rerun settings whose results are cached")
    ap.add_argument("--out", default=None, help="results folder (default experiments/results/<name>[-quick])")
    return ap


class Study:
    """One experiment's runs and outputs."""

    def __init__(self, name, args):
        self.name, self.args = name, args
        root = os.environ.get("CFF_EXPERIMENTS_OUT") or os.path.join(HERE, "results")
        self.out = args.out or os.path.join(root, name + ("-quick" if args.quick else ""))
        self.runs = os.path.join(self.out, "runs")
        os.makedirs(self.runs, exist_ok=True)
        self.seeds = SEEDS[:1] if args.quick else SEEDS
        self.need_models = False  # set by scripts that read the trained models (not only results)

    def epochs(self, full):
        """A budget of `full` epochs, or 1 in quick mode."""
        return 1 if self.args.quick else full

    def train(self, flags, seed, label=""):
        """The result of `cff train` with `flags` and `seed` (cached): its --json object plus
        'history' (per-epoch losses and seconds) and 'command'."""
        extra = ["--drop", "0.95"] if self.args.quick else []
        argv = ["train", self.args.data] + list(flags) + extra + ["--seed", str(seed)]
        key = hashlib.sha1(json.dumps(argv).encode()).hexdigest()[:16]
        path = os.path.join(self.runs, key + ".json")
        model = os.path.join(self.runs, key + ".cff")
        # Models are not committed (only results): a script that reads models retrains without one.
        if os.path.exists(path) and not self.args.fresh and (os.path.exists(model) or not self.need_models):
            with open(path) as f:
                return json.load(f)
        cmd = [self.args.cff] + argv + ["--out", model, "--force", "--json", "--quiet"]
        t0 = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            sys.exit(f"{self.name}: failed: {' '.join(cmd)}\n{p.stderr.strip()}")
        result = json.loads(p.stdout.strip().splitlines()[-1])
        info = subprocess.run([self.args.cff, "info", model, "--json"], capture_output=True, text=True, check=True)
        result["history"] = json.loads(info.stdout)["history"]
        result["command"] = "cff " + " ".join(argv) + " --out MODEL"
        result["label"] = label
        result["wall_seconds"] = time.time() - t0
        result["model_file"] = model
        with open(path, "w") as f:
            json.dump(result, f)
        print(f"  {label or key}: seed {seed}: {100 * result['test']['top1']:.2f}% ({result['wall_seconds']:.0f} s)",
              flush=True)
        return result

    def model_path(self, result):
        return result["model_file"]

    def write_table(self, name, header, rows):
        """rows: lists of cells; written as CSV, and returned as a Markdown table."""
        with open(os.path.join(self.out, name + ".csv"), "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(header)
            w.writerows(rows)
        md = "| " + " | ".join(header) + " |\n|" + "---|" * len(header) + "\n"
        md += "".join("| " + " | ".join(str(c) for c in r) + " |\n" for r in rows)
        with open(os.path.join(self.out, name + ".md"), "w") as f:
            f.write(md)
        print(md)
        return md

    def figure(self, name, draw):
        """draw(ax) on a fresh figure, saved as SVG and PNG."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(6, 4))
        draw(ax)
        fig.tight_layout()
        for ext in ("svg", "png"):
            fig.savefig(os.path.join(self.out, f"{name}.{ext}"), dpi=110)
        plt.close(fig)


def mean_std(values, scale=100.0, digits=2):
    """'mean ± std' of `values` x scale (sample std; one value: no ±)."""
    v = [scale * x for x in values]
    if len(v) == 1:
        return f"{v[0]:.{digits}f}"
    return f"{statistics.mean(v):.{digits}f} ± {statistics.stdev(v):.{digits}f}"


def top1(result):
    return result["test"]["top1"]


def best_epoch(result):
    return result.get("best_epoch", 0)
