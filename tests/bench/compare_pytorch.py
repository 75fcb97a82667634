#!/usr/bin/env python3
"""libcff's CFF+M stage-1 step side by side with the same step in plain PyTorch eager.

Both sides do the same work in every timed step: augment two views of the batch (MLP: random
horizontal flip; ViT: random crop with 4 pixels of zero padding + flip), then for every layer:
forward of both views, the marginal contrastive loss (tau 0.15, margins 0.4 -> 0.1 linear over
the layers), backward, AdamW. The PyTorch side is written from the paper, as a PyTorch user
would write it (nn.Linear / nn.LayerNorm, matmul attention, the loss as autograd ops); libcff's
side is `time_step step` (tests/bench/time_step.cpp) through the public C++ API.

Each side runs in fresh processes at its best thread setting (LibTorch intra-op threads x
OpenBLAS threads, probed first), and the timed rounds alternate between the sides. The same run
measures the machine's GEMM ceiling (2048^3, fp32 and bf16, best thread setting) and prints the
achieved GFLOP/s of both sides from a FLOP count of the step's products (below).

    python3 tests/bench/compare_pytorch.py [--build build] [--rounds 3] [--steps 10] [--only mlp-fp32,...]

Needs Debian's python3-torch (1.13); without it the script says so and exits 0.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

CONFIGS = {  # name: (arch, precision, batch, layers)
    "mlp-fp32": ("mlp", "fp32", 512, 3),
    "mlp-bf16": ("mlp", "bf16", 512, 3),
    "vit-fp32": ("vit", "fp32", 128, 5),
    "vit-bf16": ("vit", "bf16", 128, 5),
}
THREADS = [(1, 1), (1, 2), (2, 1), (2, 2)]  # (LibTorch intra-op, OpenBLAS); capped at the core count
E_VIT, HEADS, PATCH, SIDE, CLASSES, TAU = 128, 4, 4, 28, 10, 0.15


def step_gflop(arch, batch, layers):
    """GFLOP of one CFF+M stage-1 step: 2 per multiply-add of every product the step needs.
    Layers: forward, plus weight gradients, plus input gradients inside a layer (a layer's own
    input is detached, so its first product has none). Loss: S = Z Z^T and dZ = (G + G^T) Z."""
    r = 2 * batch  # rows: two views
    total = 0.0
    if arch == "mlp":
        e, d_in = 500, SIDE * SIDE
        for l in range(layers):
            i = d_in if l == 0 else e
            total += 2 * (2 * r * i * e)  # forward + weight gradient
            total += 2 * (2 * r * r * e)  # loss: S and dZ
    else:
        t, e, h = (SIDE // PATCH) ** 2, E_VIT, 2 * E_VIT
        rt, dh = r * t, E_VIT // HEADS
        block = 2 * rt * e * 3 * e + 2 * rt * e * e + 2 * rt * e * h + 2 * rt * h * e  # qkv, proj, fc1, fc2
        block += 2 * (2 * r * HEADS * t * t * dh)  # Q K^T and A V
        stem = 2 * rt * PATCH * PATCH * e
        for l in range(layers):
            total += 3 * block + (2 * stem if l == 0 else 0)  # forward, weight and input gradients
            total += 2 * (2 * r * r * e)
    return total / 1e9


# ---- the PyTorch side (runs in a worker process) ----------------------------------------------

def pytorch_worker(arch, precision, batch, layers, steps, warmup):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)
    bf16 = precision == "bf16"

    class Block(nn.Module):
        def __init__(self, e, heads):
            super().__init__()
            self.heads = heads
            self.norm1, self.norm2 = nn.LayerNorm(e), nn.LayerNorm(e)
            self.qkv, self.proj = nn.Linear(e, 3 * e), nn.Linear(e, e)
            self.fc1, self.fc2 = nn.Linear(e, 2 * e), nn.Linear(2 * e, e)

        def attn(self, x):
            n, t, e = x.shape
            q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, e // self.heads).permute(2, 0, 3, 1, 4)
            a = torch.softmax(q @ k.transpose(-2, -1) / (e // self.heads) ** 0.5, -1)
            return self.proj((a @ v).transpose(1, 2).reshape(n, t, e))

        def forward(self, x):
            u = x + self.attn(self.norm1(x))
            return u + self.fc2(F.gelu(self.fc1(self.norm2(u))))

    class Stem(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Linear(PATCH * PATCH, E_VIT)
            self.pos = nn.Parameter(torch.randn(1, (SIDE // PATCH) ** 2, E_VIT))
            self.block = Block(E_VIT, HEADS)

        def forward(self, x):
            return self.block(F.relu(self.embed(x)) + self.pos)

    if arch == "mlp":
        net = [nn.Sequential(nn.Linear(SIDE * SIDE if l == 0 else 500, 500), nn.ReLU()) for l in range(layers)]
    else:
        net = [Stem() if l == 0 else Block(E_VIT, HEADS) for l in range(layers)]
    opts = [torch.optim.AdamW(m.parameters(), lr=0.004) for m in net]
    margins = [0.4 + (0.1 - 0.4) * l / max(layers - 1, 1) for l in range(layers)]

    def mcl(z, y, m):  # the marginal supervised contrastive loss, as autograd ops
        z = F.normalize(z, dim=1)
        y = y.repeat(2)
        s = z @ z.t()
        self_mask = torch.eye(z.shape[0], dtype=torch.bool)
        pos = (y[:, None] == y[None, :]) & ~self_mask
        s = torch.where(pos, torch.clamp(s + m, max=1.0), s) / TAU
        log_prob = s - torch.logsumexp(s.masked_fill(self_mask, float("-inf")), 1, keepdim=True)
        posf = pos.float()
        return -((posf * log_prob).sum(1) / posf.sum(1).clamp(min=1)).mean()

    def augment(x):
        n = x.shape[0]
        if arch == "vit":  # random crop after zero padding
            p = 4
            padded = F.pad(x, (p, p, p, p))
            oy, ox = torch.randint(0, 2 * p + 1, (n,)), torch.randint(0, 2 * p + 1, (n,))
            rows = (oy[:, None] + torch.arange(SIDE))[:, :, None]
            cols = (ox[:, None] + torch.arange(SIDE))[:, None, :]
            x = padded[torch.arange(n)[:, None, None], 0, rows, cols].unsqueeze(1)
        flip = torch.rand(n) < 0.5
        return torch.where(flip[:, None, None, None], x.flip(3), x)

    def encode(x):
        if arch == "mlp":
            return x.flatten(1)
        n = x.shape[0]
        return x.reshape(n, 1, SIDE // PATCH, PATCH, SIDE // PATCH, PATCH).permute(0, 2, 4, 1, 3, 5).reshape(
            n, (SIDE // PATCH) ** 2, PATCH * PATCH)

    images = torch.randint(0, 256, (batch, 1, SIDE, SIDE), dtype=torch.uint8)
    labels = torch.randint(0, CLASSES, (batch,))

    def step():
        x = images.float() / 255
        h = torch.cat([encode(augment(x)), encode(augment(x))])
        for layer, opt, m in zip(net, opts, margins):
            h = h.detach()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = layer(h)
                z = out if arch == "mlp" else out.mean(1)
            loss = mcl(z.float(), labels, m)
            opt.zero_grad()
            loss.backward()
            opt.step()
            h = out.detach().float()

    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    print(json.dumps({"times_ms": times, "torch_threads": torch.get_num_threads()}))


def gemm_worker(precision, size=2048, reps=5):
    import torch
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(reps))
    print(json.dumps({"gflops": 2 * size ** 3 / best / 1e9}))


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---- the driver --------------------------------------------------------------------------------

def run_json(cmd, env_extra, timeout=900):
    env = dict(os.environ, **env_extra)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.stderr.strip()[-500:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def side_cmd(side, build, name, threads, steps, warmup):
    arch, precision, batch, layers = CONFIGS[name]
    torch_threads, blas = threads
    if side == "libcff":
        return ([f"{build}/tests/bench/time_step", "step", "--arch", arch, "--precision", precision,
                 "--batch", str(batch), "--layers", str(layers), "--threads", str(torch_threads),
                 "--blas", str(blas), "--steps", str(steps), "--warmup", str(warmup)], {})
    return ([PYTHON, __file__, "--worker", "pytorch", "--only", name, "--steps", str(steps), "--warmup",
             str(warmup)], {"OMP_NUM_THREADS": str(torch_threads), "OPENBLAS_NUM_THREADS": str(blas)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--only", default=",".join(CONFIGS))
    ap.add_argument("--json", help="also write the results to this file")
    ap.add_argument("--worker", choices=["pytorch", "gemm-fp32", "gemm-bf16"], help=argparse.SUPPRESS)
    a = ap.parse_args()
    names = [n for n in a.only.split(",") if n]

    if a.worker == "pytorch":
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        arch, precision, batch, layers = CONFIGS[names[0]]
        return pytorch_worker(arch, precision, batch, layers, a.steps, a.warmup)
    if a.worker:
        import torch
        torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        return gemm_worker(a.worker.split("-")[1])

    try:
        subprocess.run([PYTHON, "-c", "import torch"], check=True, capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError):
        print(f"compare_pytorch: skipped: {PYTHON} cannot import torch (install Debian's python3-torch)")
        return 0
    cores = os.cpu_count() or 1
    settings = sorted({(min(t, cores), min(b, cores)) for t, b in THREADS})
    load = os.getloadavg()[0]
    print(f"machine: {cores} cores, load average {load:.2f} at start", flush=True)

    ceiling = {}
    for prec in ("fp32", "bf16"):
        best = 0.0
        for t, b in settings:
            r = run_json([PYTHON, __file__, "--worker", f"gemm-{prec}"],
                         {"OMP_NUM_THREADS": str(t), "OPENBLAS_NUM_THREADS": str(b)})
            best = max(best, r["gflops"])
        ceiling[prec] = best
        print(f"GEMM ceiling 2048^3 {prec}: {best:.0f} GFLOP/s", flush=True)

    results = []
    for name in names:
        arch, precision, batch, layers = CONFIGS[name]
        best = {}
        for side in ("pytorch", "libcff"):  # probe every thread setting briefly, keep the fastest
            probe = {}
            for s in settings:
                cmd, env = side_cmd(side, a.build, name, s, 3, 1)
                probe[s] = statistics.median(run_json(cmd, env)["times_ms"])
            best[side] = min(probe, key=probe.get)
            print(f"{name} {side}: probe " + ", ".join(f"{t}/{b}: {ms:.1f} ms" for (t, b), ms in probe.items()),
                  flush=True)
        times = {"pytorch": [], "libcff": []}
        peak = {}
        for _ in range(a.rounds):
            for side in ("pytorch", "libcff"):
                cmd, env = side_cmd(side, a.build, name, best[side], a.steps, a.warmup)
                r = run_json(cmd, env)
                times[side] += r["times_ms"]
                if "peak_extra_mib" in r:
                    peak[side] = r["peak_extra_mib"]
        med = {s: statistics.median(t) for s, t in times.items()}
        gflop = step_gflop(arch, batch, layers)
        row = {"config": name, "gflop_per_step": gflop, "ceiling_gflops": ceiling[precision],
               "ratio": med["pytorch"] / med["libcff"]}
        for s in ("pytorch", "libcff"):
            row[s] = {"median_ms": med[s], "threads": list(best[s]), "gflops": gflop / med[s] * 1e3,
                      "ceiling_share": gflop / med[s] * 1e3 / ceiling[precision]}
        results.append(row)
        print(f"{name}: PyTorch {med['pytorch']:.1f} ms (threads {best['pytorch'][0]}/{best['pytorch'][1]}), "
              f"libcff {med['libcff']:.1f} ms (threads {best['libcff'][0]}/{best['libcff'][1]}), "
              f"ratio {row['ratio']:.2f}x; GFLOP/s {row['pytorch']['gflops']:.0f} vs {row['libcff']['gflops']:.0f} "
              f"({100 * row['pytorch']['ceiling_share']:.0f}% vs {100 * row['libcff']['ceiling_share']:.0f}% of "
              f"the {precision} ceiling)", flush=True)

    print("\n| CFF+M stage-1 step | PyTorch eager | libcff | ratio | libcff GFLOP/s (share of ceiling) |")
    print("|---|---|---|---|---|")
    for r in results:
        print(f"| {r['config']} | {r['pytorch']['median_ms']:.1f} ms | {r['libcff']['median_ms']:.1f} ms | "
              f"{r['ratio']:.2f}x | {r['libcff']['gflops']:.0f} ({100 * r['libcff']['ceiling_share']:.0f}%) |")
    print(f"GEMM ceiling: fp32 {ceiling['fp32']:.0f}, bf16 {ceiling['bf16']:.0f} GFLOP/s; "
          f"load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at the end")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"ceiling": ceiling, "results": results}, f, indent=1)
    return 0


PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

if __name__ == "__main__":
    sys.exit(main())
