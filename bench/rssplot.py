"""The import's memory over time as a small SVG (and a one-line sparkline for the console).

Issue 18 asks for the peak RSS of the whole process tree to be sampled through a large import
and plotted: flat memory is a shape, not a number. The samples are the sampler's timeline
(``bench/rss.py``): RSS and anonymous RSS of the tree every two seconds.
"""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 640, 240, 40
_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int = 60) -> str:
    if not values:
        return ""
    step = max(1, len(values) // width)
    picked = [max(values[i : i + step]) for i in range(0, len(values), step)]
    top = max(picked) or 1.0
    return "".join(_BARS[min(len(_BARS) - 1, int(v / top * (len(_BARS) - 1)))] for v in picked)


def svg(timeline: list[dict], title: str, limit_mb: float = 300.0) -> str:
    """RSS (solid) and anonymous RSS (dashed) of the tree in MB against seconds, the limit in red."""
    points = [p for p in timeline if "t" in p and "rss_mb" in p]
    t_max = max((p["t"] for p in points), default=1.0) or 1.0
    y_max = max([limit_mb * 1.2, *(p["rss_mb"] for p in points)])

    def xy(t: float, mb: float) -> str:
        x = PAD + (WIDTH - 2 * PAD) * t / t_max
        y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * mb / y_max
        return f"{x:.1f},{y:.1f}"

    def line(key: str, style: str) -> str:
        path = " ".join(xy(p["t"], p.get(key, 0.0)) for p in points)
        return f'<polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" {style} points="{path}"/>'

    limit_y = xy(0, limit_mb).split(",")[1]
    ticks = "".join(
        f'<text x="{PAD - 4}" y="{xy(0, mb).split(",")[1]}" text-anchor="end" font-size="10">{mb:.0f}</text>'
        for mb in (0, y_max / 2, y_max))
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<text x="{PAD}" y="16" font-size="12">{escape(title)}</text>'
        f'<line x1="{PAD}" x2="{WIDTH - PAD}" y1="{limit_y}" y2="{limit_y}" stroke="#c0392b" stroke-dasharray="4 3"/>'
        f'<text x="{WIDTH - PAD}" y="{float(limit_y) - 3}" text-anchor="end" font-size="10" fill="#c0392b">'
        f'{limit_mb:.0f} MB</text>{ticks}'
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle" font-size="10">seconds (0 to {t_max:.0f}); '
        f'solid: RSS of the process tree, dashed: anonymous RSS (MB)</text>'
        + line("rss_mb", "") + line("anon_mb", 'stroke-dasharray="5 3"') + "</svg>\n"
    )
