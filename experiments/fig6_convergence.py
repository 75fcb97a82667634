#!/usr/bin/env python3
"""Fig. 6 of the paper: how fast each method converges. For the Table 1 runs (MLP[500 3],
10 + 10 epochs, seeds 0-2): the stage-1 epoch at which the selection loss (last layer's
validation loss; FF/SymBa: summed over layers 2..L; BP: cross-entropy) first comes within 2% of
its best over the budget (the plateau), and the validation loss curves (seed 0).

    python3 experiments/fig6_convergence.py [--quick]
"""
import statistics

import table1_methods
from common import Study, parser


def selection(h, method):
    v = h["val_loss"] or h["train_loss"]
    return sum(v[1:]) if method in ("FF", "SymBa") and len(v) > 1 else v[-1]


def plateau(hist, method, tolerance=0.02):
    curve = [selection(h, method) for h in hist if h["stage"] == 1]
    best = min(curve)
    return next(i + 1 for i, c in enumerate(curve) if c <= best + tolerance * abs(best)), curve


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    s = Study("fig6", args)
    t1 = Study("table1", args)
    results = table1_methods.runs(t1, "mlp")
    rows, curves = [], {}
    for (title, method), res in results.items():
        eps = [plateau(r["history"], method)[0] for r in res]
        curves[method] = plateau(res[0]["history"], method)[1]
        rows.append([title, method, len(res), "/".join(map(str, eps)), f"{statistics.mean(eps):.1f}"])

    def draw(ax):
        for method, c in curves.items():
            ax.plot(range(1, len(c) + 1), [x / c[0] for x in c], "o-", label=method)
        ax.set_xlabel("stage-1 epoch")
        ax.set_ylabel("selection loss / its epoch-1 value")
        ax.set_title("MLP[500 3]: validation loss by epoch (seed 0)")
        ax.legend()
    s.figure("convergence", draw)
    s.write_table("fig6", ["model", "method", "seeds", "epochs to the plateau (per seed)", "mean"], rows)


if __name__ == "__main__":
    main()
