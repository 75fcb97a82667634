#!/usr/bin/env python3
"""Fig. 4 of the paper: CFF+M's margin grid. The margin falls linearly from m0 at the first layer
to mL at the last (`--loss mcl:m0=..,mL=..`); MLP[500 3], 5 + 5 epochs, seeds 0-2: test top-1 for
m0 in {0.2, 0.4, 0.6} x mL in {0.0, 0.1, 0.3} (the paper's default: 0.4 -> 0.1).

    python3 experiments/fig4_margins.py [--quick]
"""
import statistics

from common import MLP, Study, mean_std, parser, top1

M0 = (0.2, 0.4, 0.6)
ML = (0.0, 0.1, 0.3)


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    s = Study("fig4", args)
    e = str(s.epochs(5))
    grid = [(0.4, 0.1), (0.6, 0.3)] if args.quick else [(a, b) for a in M0 for b in ML]
    rows, means = [], {}
    for m0, ml in grid:
        res = [s.train(MLP + ["--loss", f"mcl:m0={m0},mL={ml}", "--epochs", e, "--head-epochs", e], seed,
                       f"m0={m0} mL={ml}") for seed in s.seeds]
        acc = [top1(r) for r in res]
        means[(m0, ml)] = statistics.mean(acc)
        rows.append([m0, ml, len(res), mean_std(acc)])

    def draw(ax):
        for ml in ML:
            pts = [(m0, 100 * means[(m0, ml)]) for m0 in M0 if (m0, ml) in means]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=f"mL = {ml}")
        ax.set_xlabel("m0 (first layer's margin)")
        ax.set_ylabel("test top-1 % (mean over seeds)")
        ax.set_title("CFF+M MLP[500 3]: margin grid")
        ax.legend()
    s.figure("margins", draw)
    s.write_table("fig4", ["m0", "mL", "seeds", "test top-1 %"], rows)


if __name__ == "__main__":
    main()
