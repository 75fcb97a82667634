#!/usr/bin/env python3
"""The learning-rate schedule at every training budget: the default (`auto`, now constant, as the
authors' code) against a cosine decay to 0 over each stage (the old default, which starved short
stages). The small ViT (batch 512, crop + flip) at 2 + 2, 10 + 10 and 30 + 30 epochs, MLP[500 3]
at 10 + 10; seeds 0-2 where the budget allows (10 + 10 and 30 + 30 ViT: seed 0).

    python3 experiments/schedule.py [--quick]
"""
from common import MLP, VIT, Study, mean_std, parser, top1

SCHEDULES = ("auto", "cosine")


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    s = Study("schedule", args)
    if args.quick:
        plan = [("ViT[64 4 3] p7", VIT, 1, s.seeds), ("MLP[500 3]", MLP, 1, s.seeds)]
    else:
        plan = [("ViT[64 4 3] p7", VIT, 2, s.seeds), ("ViT[64 4 3] p7", VIT, 10, (0,)),
                ("ViT[64 4 3] p7", VIT, 30, (0,)), ("MLP[500 3]", MLP, 10, s.seeds)]
    rows = []
    for title, model, epochs, seeds in plan:
        for sched in SCHEDULES:
            res = [s.train(model + ["--batch", "512", "--epochs", str(epochs), "--head-epochs", str(epochs),
                                    "--lr-schedule", sched], seed, f"{title} {epochs}+{epochs} {sched}")
                   for seed in seeds]
            name = "auto (= constant, the default)" if sched == "auto" else sched
            rows.append([title, f"{epochs} + {epochs}", name, len(seeds), mean_std([top1(r) for r in res])])
    s.write_table("schedule", ["model", "epochs", "lr schedule", "seeds", "test top-1 %"], rows)


if __name__ == "__main__":
    main()
