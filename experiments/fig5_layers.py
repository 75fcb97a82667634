#!/usr/bin/env python3
"""Fig. 5 of the paper: per layer, the Fisher criterion tr(S_W^-1 S_B), the share of positive
pairs inside the margin band, and the mean cosine of same- and different-class pairs
(`cff inspect` on 2000 test images), with each layer's training and validation loss curves, for
the CFF+M MLP[500 3] and ViT models of Table 1 (seeds 0-2; the curves: seed 0).

    python3 experiments/fig5_layers.py [--quick] [--only mlp|vit]
"""
import json
import statistics
import subprocess

import table1_methods
from common import Study, parser


def main():
    ap = parser(__doc__.splitlines()[0])
    ap.add_argument("--only", choices=("mlp", "vit"))
    args = ap.parse_args()
    s = Study("fig5", args)
    t1 = Study("table1", args)
    t1.need_models = True
    results = table1_methods.runs(t1, args.only)
    rows = []
    for title, _, _ in table1_methods.plan(t1, args.only):
        per_seed = []
        for r in results[(title, "CFF+M")]:
            p = subprocess.run([args.cff, "inspect", r["model_file"], args.data, "--samples", "2000", "--json",
                                "--quiet"], capture_output=True, text=True, check=True)
            per_seed.append(json.loads(p.stdout)["layers"])
        for layer in range(len(per_seed[0])):
            cells = [title, layer + 1]
            for key in ("fisher", "band_share", "cos_same", "cos_diff"):
                v = [seed[layer][key] for seed in per_seed]
                cells.append(f"{statistics.mean(v):.3f}" + (f" ± {statistics.stdev(v):.3f}" if len(v) > 1 else ""))
            rows.append(cells)

        def curves(ax, hist=results[(title, "CFF+M")][0]["history"], title=title):
            stage1 = [h for h in hist if h["stage"] == 1]
            for layer in range(len(stage1[0]["train_loss"])):
                x = [h["epoch"] for h in stage1]
                line, = ax.plot(x, [h["train_loss"][layer] for h in stage1], label=f"layer {layer + 1} train")
                if stage1[0]["val_loss"]:
                    ax.plot(x, [h["val_loss"][layer] for h in stage1], "--", color=line.get_color(),
                            label=f"layer {layer + 1} val")
            ax.set_xlabel("stage-1 epoch")
            ax.set_ylabel("local loss")
            ax.set_title(f"CFF+M {title}: per-layer losses (seed 0)")
            ax.legend(fontsize=7)
        s.figure("losses_" + title.split("[")[0].lower(), curves)

    def fisher(ax):
        for title in {r[0] for r in rows}:
            mine = [r for r in rows if r[0] == title]
            ax.plot([r[1] for r in mine], [float(r[2].split(" ")[0]) for r in mine], "o-", label=title)
        ax.set_xlabel("layer")
        ax.set_ylabel("Fisher criterion (mean over seeds)")
        ax.set_title("CFF+M: class separation by depth")
        ax.legend()
    s.figure("fisher", fisher)
    s.write_table("fig5", ["model", "layer", "Fisher criterion", "margin-band share", "same-class cosine",
                           "different-class cosine"], rows)


if __name__ == "__main__":
    main()
