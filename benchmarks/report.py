"""Output: markdown tables on stdout, JSON records, and a PNG chart (matplotlib when installed,
else plain bars drawn with Pillow): % of the matmul peak per convolution, and JAX throughput
over each peer's (ratio > 1: JAX is faster)."""

import json

COLUMNS = {
    "conv": ["name", "shape", "dtype", "direction", "impl", "median_s", "gflop_per_s",
             "pct_of_peak", "vs_torch", "vs_tf"],
    "train": ["model", "batch_size", "image_size", "dtype", "images_per_sec", "median_s",
              "compile_s", "mfu_pct", "vs_torch", "vs_torch_compile", "vs_keras"],
    "input": ["name", "reader", "workers", "batch_size", "images_per_sec", "load_s", "rss_mb"],
}


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    return "—" if value is None else str(value)


def markdown(records):
    out = []
    for kind, columns in COLUMNS.items():
        rows = [r for r in records if r.get("kind") == kind]
        if not rows:
            continue
        out += [f"\n### {kind}\n", "| " + " | ".join(columns) + " |",
                "|" + "---|" * len(columns)]
        out += ["| " + " | ".join(_fmt(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(out)


def write_json(path, meta, records):
    with open(path, "w") as f:
        json.dump({"machine": meta, "records": records}, f, indent=1)


def chart_series(records):
    """[(title, [(label, value)])]: % of peak (float32 'jax' convs) and JAX/peer ratios."""
    peak = [(f"{r['name']} {r['direction']}", r["pct_of_peak"]) for r in records
            if r.get("kind") == "conv" and r["dtype"] == "float32" and r["impl"] == "jax"]
    ratios = []
    for r in records:
        for peer in ("torch", "torch_compile", "keras", "tf"):
            if r.get(f"vs_{peer}") is None:
                continue
            what = (f"{r['model']} train" if r["kind"] == "train"
                    else f"{r['name']} {r['direction']} {r['dtype'][:4]}")
            ratios.append((f"{what} / {peer}", r[f"vs_{peer}"]))
    series = [("% of measured matmul peak (float32 convs)", peak)]
    if ratios:
        series.append(("JAX throughput / peer (>1: JAX faster)", ratios))
    return series


def write_chart(path, records):
    series = [s for s in chart_series(records) if s[1]]
    if not series:
        return
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _pillow_chart(path, series)
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 0.28 * sum(len(s) for _, s in series)
                                                      + 1.5 * len(series)), squeeze=False)
    for ax, (title, items) in zip(axes[:, 0], series):
        ax.barh([label for label, _ in items], [v for _, v in items])
        ax.invert_yaxis()
        ax.set_title(title)
        ax.tick_params(labelsize=7)
        if "/" in title:
            ax.axvline(1.0, color="k", lw=0.8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def _pillow_chart(path, series):
    from PIL import Image, ImageDraw
    row, label_w, bar_w, pad = 16, 330, 420, 8
    height = sum(len(items) * row + 3 * row for _, items in series) + pad
    image = Image.new("RGB", (label_w + bar_w + 80, height), "white")
    draw = ImageDraw.Draw(image)
    y = pad
    for title, items in series:
        draw.text((pad, y), title, fill="black")
        y += 2 * row
        top = max(max(v for _, v in items), 1.0 if "/" in title else 100.0)
        for label, value in items:
            draw.text((pad, y + 2), label[:52], fill="black")
            width = int(bar_w * max(value, 0) / top)
            color = (70, 130, 180) if "/" not in title or value >= 1 else (205, 92, 92)
            draw.rectangle([label_w, y + 2, label_w + width, y + row - 2], fill=color)
            draw.text((label_w + width + 4, y + 2), f"{value:.2f}", fill="black")
            y += row
        if "/" in title:
            x = label_w + int(bar_w / top)
            draw.line([x, y - len(items) * row, x, y], fill="black")
        y += row
    image.save(path)
