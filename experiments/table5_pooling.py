#!/usr/bin/env python3
"""Table 5 of the paper: mean pooling of the image tokens vs a class token, CFF+M on the small
ViT, 5 + 5 epochs, seeds 0-2.

    python3 experiments/table5_pooling.py [--quick]
"""
from common import VIT, Study, mean_std, parser, top1


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    s = Study("table5", args)
    e = str(s.epochs(5))
    rows = []
    for name, flags in (("mean pooling (default)", []), ("class token", ["--class-token"])):
        res = [s.train(VIT + flags + ["--epochs", e, "--head-epochs", e], seed, name) for seed in s.seeds]
        rows.append([name, len(res), mean_std([top1(r) for r in res])])
    s.write_table("table5", ["pooling", "seeds", "test top-1 %"], rows)


if __name__ == "__main__":
    main()
