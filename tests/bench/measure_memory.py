#!/usr/bin/env python3
"""Peak memory of training, each configuration in a fresh process (tests/bench/time_step).

1. One training step of ViT[128 4 L] (28x28, patch 4, batch 512, fp32) at L = 2, 5, 10 for CFF+M
   and BP: the process's peak resident memory during its first step, above the resident memory
   just before it (model, optimizer and the batch already allocated). CFF trains one layer at a
   time, so only one layer's activations are alive; BP keeps every layer's for its backward.
2. The contrastive loss alone (forward + backward) at 2N = 1k ... 16k rows, D = 500: the fused
   loss (whole matrix), the tiled loss (256-row tiles) and the plain autograd loss. Peak extra
   memory of the first evaluation, and the median time of 3 more at 2N = 8192.

    python3 tests/bench/measure_memory.py [--build build] [--quick] [--json out.json]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys


def probe(build, args):
    out = subprocess.run([f"{build}/tests/bench/time_step"] + args, capture_output=True, text=True, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"time_step {' '.join(args)}: {out.stderr.strip()[-400:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true", help="small sizes only (a smoke test)")
    ap.add_argument("--json")
    a = ap.parse_args()
    results = {"step": [], "loss": [], "loss_time": []}
    layers = [2] if a.quick else [2, 5, 10]
    batch = "64" if a.quick else "512"
    print(f"| ViT[128 4 L], batch {batch}, one step | CFF+M peak extra | BP peak extra |")
    print("|---|---|---|")
    for L in layers:
        row = {"layers": L}
        for algo in ("cff+m", "bp"):
            r = probe(a.build, ["step", "--arch", "vit", "--layers", str(L), "--batch", batch, "--algo", algo,
                                "--steps", "1", "--warmup", "0"])
            row[algo] = r["peak_extra_mib"]
        results["step"].append(row)
        print(f"| L = {L} | {row['cff+m']:.0f} MiB | {row['bp']:.0f} MiB |", flush=True)

    sizes = [1024] if a.quick else [1024, 2048, 4096, 8192, 16384]
    print("\n| loss, D = 500, 2N rows | fused (whole) | tiled (256 rows) | autograd |")
    print("|---|---|---|---|")
    for rows in sizes:
        row = {"rows": rows}
        for impl in ("fused", "tiled", "autograd"):
            r = probe(a.build, ["loss", "--rows", str(rows), "--dim", "500", "--impl", impl, "--steps", "1",
                                "--warmup", "0"])
            row[impl] = r["peak_extra_mib"]
        results["loss"].append(row)
        print(f"| {rows} | {row['fused']:.0f} MiB | {row['tiled']:.0f} MiB | {row['autograd']:.0f} MiB |", flush=True)

    rows = 1024 if a.quick else 8192
    times = {}
    for impl in ("fused", "tiled", "autograd"):
        r = probe(a.build, ["loss", "--rows", str(rows), "--dim", "500", "--impl", impl, "--steps", "3",
                            "--warmup", "1"])
        times[impl] = statistics.median(r["times_ms"])
    results["loss_time"].append({"rows": rows, **times})
    print(f"\nloss forward + backward at 2N = {rows}, D = 500: fused {times['fused']:.0f} ms, "
          f"tiled {times['tiled']:.0f} ms, autograd {times['autograd']:.0f} ms "
          f"(fused {times['autograd'] / times['fused']:.2f}x, tiled {times['autograd'] / times['tiled']:.2f}x "
          f"the autograd loss)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
