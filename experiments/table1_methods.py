#!/usr/bin/env python3
"""Table 1 of the paper on Fashion-MNIST: FF, SymBa, CFF, CFF+M and BP, test top-1 (mean ± std
over seeds 0-2) with the library's defaults and each method's best-by-validation epoch within
the budget (libcff's default: the epoch with the lowest validation loss of the last layer is
kept), for MLP[500 3] (10 + 10 epochs) and the small ViT (5 + 5 epochs). Also the FF models'
accuracy with the one-pass head. Fig. 6 and Table 2 read these runs.

    python3 experiments/table1_methods.py [--quick] [--only mlp|vit]
"""
from common import MLP, VIT, Study, mean_std, parser, top1

METHODS = (("FF", ["--algo", "ff"]), ("SymBa", ["--algo", "symba"]), ("CFF", ["--algo", "cff"]),
           ("CFF+M", ["--algo", "cff+m"]), ("BP", ["--algo", "bp"]))


def plan(study, only=None):
    """(model title, flags, epochs) of the table's two models."""
    out = [("MLP[500 3]", MLP, study.epochs(10)), ("ViT[64 4 3] p7", VIT, study.epochs(5))]
    return [p for p in out if only is None or p[0].lower().startswith(only)]


def runs(study, only=None):
    """{(model, method): [result per seed]}: the table's runs (cached)."""
    out = {}
    for title, model, epochs in plan(study, only):
        for name, flags in METHODS:
            argv = model + flags + ["--epochs", str(epochs), "--head-epochs", str(epochs)]
            out[(title, name)] = [study.train(argv, seed, f"{title} {name}") for seed in study.seeds]
    return out


def main():
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("mlp", "vit"))
    args = ap.parse_args()
    s = Study("table1", args)
    results = runs(s, args.only)
    rows = []
    for (title, name), res in results.items():
        epochs = res[0]["history"][-1]["epoch"] if res[0]["history"] else 0
        best = "/".join(str(r["best_epoch"]) for r in res)
        rows.append([title, name, len(res), mean_std([top1(r) for r in res]), best])
    s.write_table("table1", ["model", "method", "seeds", "test top-1 %", "stage-1 epoch kept (per seed)"], rows)


if __name__ == "__main__":
    main()
