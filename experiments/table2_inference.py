#!/usr/bin/env python3
"""Table 2 of the paper: inference cost. For the Table 1 MLP[500 3] models (seed 0): milliseconds
per image of prediction in batches of 512, measured as the difference between `cff eval` over
the 60,000 training images and over the 10,000 test images (best of 3 each, so start-up and
loading the model cancel out), for CFF+M (one pass), FF predicting by goodness (one pass per
class: C = 10) and FF with its one-pass head; with each one's test top-1.

    python3 experiments/table2_inference.py [--quick]
"""
import json
import subprocess
import time

import table1_methods
from common import Study, parser


def timed_eval(cff, model, data, extra):
    best, out = float("inf"), None
    for _ in range(3):
        t0 = time.perf_counter()
        p = subprocess.run([cff, "eval", model, data, "--json", "--quiet"] + extra, capture_output=True, text=True,
                           check=True)
        best = min(best, time.perf_counter() - t0)
        out = json.loads(p.stdout)
    return best, out


def main():
    args = parser(__doc__.splitlines()[0]).parse_args()
    s = Study("table2", args)
    t1 = Study("table1", args)
    t1.need_models = True
    results = table1_methods.runs(t1, "mlp")
    cases = [("CFF+M (one pass)", "CFF+M", []), ("FF, goodness (10 passes)", "FF", ["--ff-predict", "goodness"]),
             ("FF, one-pass head", "FF", ["--ff-predict", "head"])]
    rows = []
    for name, method, extra in cases:
        model = results[("MLP[500 3]", method)][0]["model_file"]
        t_test, test = timed_eval(args.cff, model, args.data, extra + ["--part", "test"])
        t_train, train = timed_eval(args.cff, model, args.data, extra + ["--part", "train"])
        per_image = 1000 * (t_train - t_test) / (train["count"] - test["count"])
        rows.append([name, f"{per_image:.4f}", f"{100 * test['top1']:.2f}"])
    s.write_table("table2", ["prediction", "ms per image", "test top-1 %"], rows)


if __name__ == "__main__":
    main()
