#!/usr/bin/env python3
"""Table 6 of the paper: one-forward CFF+M (one augmented view per image, `--algo cff1`) vs the
two-forward default: test top-1 and seconds per stage-1 epoch (the model's history), MLP[500 3]
and the small ViT, 5 + 5 epochs, seeds 0-2.

    python3 experiments/table6_views.py [--quick]
"""
import statistics

from common import MLP, VIT, Study, mean_std, parser, top1


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    s = Study("table6", args)
    e = str(s.epochs(5))
    rows = []
    for title, model in (("MLP[500 3]", MLP), ("ViT[64 4 3] p7", VIT)):
        for name, algo in (("two forward (default)", "cff+m"), ("one forward", "cff1")):
            res = [s.train(model + ["--algo", algo, "--epochs", e, "--head-epochs", e], seed, f"{title} {name}")
                   for seed in s.seeds]
            sec = [statistics.mean(h["seconds"] for h in r["history"] if h["stage"] == 1) for r in res]
            rows.append([title, name, len(res), mean_std([top1(r) for r in res]), mean_std(sec, 1.0, 1)])
    s.write_table("table6", ["model", "views", "seeds", "test top-1 %", "seconds per stage-1 epoch"], rows)


if __name__ == "__main__":
    main()
