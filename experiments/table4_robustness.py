#!/usr/bin/env python3
"""Table 4 of the paper on Fashion-MNIST: CFF+M vs BP under label noise (0/10/20/30% of the
training labels replaced by a random wrong class) and limited data (0/50/80/90% of the training
images left out), MLP[500 3], 5 + 5 epochs, seeds 0-2: test top-1 and the drop from the clean run.

    python3 experiments/table4_robustness.py [--quick]
"""
from common import MLP, Study, mean_std, parser, top1

SETTINGS = ([("clean", [])] + [(f"noise {p}%", ["--label-noise", str(p / 100)]) for p in (10, 20, 30)] +
            [(f"drop {p}%", ["--drop", str(p / 100)]) for p in (50, 80, 90)])


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    s = Study("table4", args)
    e = str(s.epochs(5))
    rows, clean = [], {}
    settings = SETTINGS if not args.quick else [SETTINGS[0], SETTINGS[2], SETTINGS[5]]
    for name, flags in settings:
        for method, algo in (("CFF+M", "cff+m"), ("BP", "bp")):
            if args.quick and name.startswith("drop"):
                flags = []  # quick mode already trains on a 5% subset
            res = [s.train(MLP + ["--algo", algo, "--epochs", e, "--head-epochs", e] + flags, seed, f"{name} {method}")
                   for seed in s.seeds]
            acc = [top1(r) for r in res]
            if name == "clean":
                clean[method] = acc
            drop = [c - a for c, a in zip(clean[method], acc)]
            rows.append([name, method, len(res), mean_std(acc), mean_std(drop)])
    s.write_table("table4", ["setting", "method", "seeds", "test top-1 %", "drop from clean (points)"], rows)


if __name__ == "__main__":
    main()
