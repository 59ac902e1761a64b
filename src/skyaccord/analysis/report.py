"""``skyaccord report RUN --out DIR``: an HTML report of a recorded run.

One self-contained ``index.html`` (plots embedded as PNG) beside ``summary.json`` (every
number the page shows) and the plots as files: a map of the tracks and encounters over
the borders, separation against time for the worst encounters, conduct per party, and
the line's timeline. Plots by matplotlib (PSF-style licence) on its Agg backend.

A replay's run (``skyaccord replay --record``) has no line: the page says so in place of
the timeline, and the conduct figures that need the line read "n/a".
"""

from __future__ import annotations

import base64
import html
import io
import time
from pathlib import Path
from typing import Any

import numpy as np

from skyaccord.analysis.conduct import Summary, summarize
from skyaccord.analysis.encounters import pair_series
from skyaccord.analysis.rundata import Run, load_run

__all__ = ["write_report"]

_COLOURS = {"us": "#1f5fbf", "ru": "#c0392b", "tr": "#16a085", "civil": "#7f7f7f"}
_SEV_COLOURS = {"A": "#7b0000", "B": "#d9480f", "C": "#f59f00", "D": "#868e96",
                "E": "#adb5bd"}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _hhmm(t: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(t))


def _save(fig: Any, out: Path, name: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    data = buf.getvalue()
    (out / name).write_bytes(data)
    _plt().close(fig)
    return base64.b64encode(data).decode("ascii")


def _map(run: Run, summary: Summary, out: Path) -> str:
    import shapely

    from skyaccord.airspace.zones import theatre_borders

    plt = _plt()
    g = run.grid
    fig, ax = plt.subplots(figsize=(10, 8))
    lat_ok = g.lat[np.isfinite(g.lat)]
    lon_ok = g.lon[np.isfinite(g.lon)]
    if lat_ok.size:
        box = (float(lon_ok.min()) - 0.2, float(lat_ok.min()) - 0.2,
               float(lon_ok.max()) + 0.2, float(lat_ok.max()) + 0.2)
    else:
        box = (34.0, 33.0, 40.0, 38.0)
    clip = shapely.box(*box)
    for z in theatre_borders():
        b = shapely.intersection(z.geometry.boundary, clip)
        for line in getattr(b, "geoms", [b]):
            if line.is_empty or line.geom_type != "LineString":
                continue
            xy = np.asarray(line.coords)
            ax.plot(xy[:, 0], xy[:, 1], color="#444", lw=0.8)
    seen: set[str] = set()
    for k, ident in enumerate(g.ids):
        ok = np.isfinite(g.lat[:, k])
        if not ok.any():
            continue
        party = run.aircraft[ident]["party"]
        label = party if party not in seen else None
        seen.add(party)
        ax.plot(g.lon[ok, k], g.lat[ok, k], color=_COLOURS.get(party, "#555"), lw=0.7,
                alpha=0.75, label=label)
    col = {i: k for k, i in enumerate(g.ids)}
    for e in summary.encounters:
        if e["los_s"] <= 0:
            continue
        j = int(np.argmin(np.abs(g.t - e["t_cpa"])))
        for ident in (e["id1"], e["id2"]):
            k = col[ident]
            if np.isfinite(g.lat[j, k]):
                ax.scatter(g.lon[j, k], g.lat[j, k], s=60, marker="o", facecolors="none",
                           edgecolors=_SEV_COLOURS[e["severity"]], linewidths=2, zorder=5)
        k = col[e["id1"]]
        if np.isfinite(g.lat[j, k]):
            ax.annotate(f"{e['severity']} {e['id1']}/{e['id2']}", (g.lon[j, k], g.lat[j, k]),
                        fontsize=7, xytext=(5, 5), textcoords="offset points")
    for inc in summary.incursions:
        kk = col.get(inc["id"])
        if kk is None:
            continue
        j = int(np.argmin(np.abs(g.t - inc.get("t_in", inc["t"]))))
        ax.scatter(g.lon[j, kk], g.lat[j, kk], s=90, marker="x", color="black", zorder=6)
    ax.set_xlim(box[0], box[2])
    ax.set_ylim(box[1], box[3])
    ax.set_aspect(1 / np.cos(np.radians((box[1] + box[3]) / 2)))
    ax.set_xlabel("longitude (°E)")
    ax.set_ylabel("latitude (°N)")
    ax.set_title(f"{summary.scenario}: tracks {_hhmm(summary.t0)}–{_hhmm(summary.t1)} UTC; "
                 "o losses of separation (colour = severity), x incursions")
    if seen:  # no track (an empty replay): no legend
        ax.legend(loc="lower right", fontsize=8)
    return _save(fig, out, "map.png")


def _separation(run: Run, summary: Summary, out: Path, n: int = 4) -> str | None:
    # between parties; in a replay every pair (a feed's traffic is mostly of no party)
    worst = sorted((e for e in summary.encounters
                    if e["party1"] != e["party2"] or summary.kind == "replay"),
                   key=lambda e: e["ratio"])[:n]
    if not worst:
        return None
    plt = _plt()
    col = {i: k for k, i in enumerate(run.grid.ids)}
    fig, axes = plt.subplots(len(worst), 1, figsize=(9, 2.4 * len(worst)), squeeze=False)
    for ax, e in zip(axes[:, 0], worst, strict=True):
        t, dh, dz = pair_series(run.grid, col[e["id1"]], col[e["id2"]])
        ok = np.isfinite(dh)
        sel = ok & (np.abs(t - e["t_cpa"]) < 600)
        m = (t[sel] - e["t_cpa"]) / 60.0
        ax.plot(m, dh[sel] / 1852, color="#1f5fbf", label="horizontal (NM)")
        ax.axhline(e["minima_nm"], color="#1f5fbf", ls="--", lw=0.8)
        ax2 = ax.twinx()
        ax2.plot(m, dz[sel] / 0.3048, color="#c0392b", label="vertical (ft)")
        ax2.axhline(e["minima_ft"], color="#c0392b", ls="--", lw=0.8)
        ax.set_ylabel("NM", color="#1f5fbf")
        ax2.set_ylabel("ft", color="#c0392b")
        ax.set_title(f"{e['id1']} / {e['id2']}: closest {e['h_miss_nm']:.2f} NM, "
                     f"{e['v_miss_ft']:.0f} ft at {_hhmm(e['t_cpa'])}; severity "
                     f"{e['severity']}", fontsize=9)
        ax.set_ylim(bottom=0)
        ax2.set_ylim(bottom=0)
    axes[-1, 0].set_xlabel("minutes from the closest approach (dashed: the accord's minima)")
    fig.tight_layout()
    return _save(fig, out, "separation.png")


def _timeline(summary: Summary, out: Path) -> str | None:
    line = [m for m in summary.line if m["kind"] not in ("ack", "checkpoint")]
    if not line:
        return None
    plt = _plt()
    lanes = sorted({f"{m['from']}→{m['to']}" for m in line})
    kinds = sorted({m["kind"] for m in line})
    markers = dict(zip(kinds, "o^sDv<>p*h", strict=False))
    fig, ax = plt.subplots(figsize=(10, 0.5 * len(lanes) + 1.5))
    for kind in kinds:
        pts = [m for m in line if m["kind"] == kind]
        ax.scatter([(m["t"] - summary.t0) / 60 for m in pts],
                   [lanes.index(f"{m['from']}→{m['to']}") for m in pts],
                   marker=markers.get(kind, "o"), s=25, label=kind, alpha=0.8)
    ax.set_yticks(range(len(lanes)), lanes)
    ax.set_xlabel(f"minutes after {_hhmm(summary.t0)} UTC")
    ax.legend(fontsize=8, ncol=len(kinds), loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax.set_title("The line: messages sent (acknowledgements left out)")
    return _save(fig, out, "line.png")


def _table(rows: list[list[Any]], head: list[str]) -> str:
    h = "".join(f"<th>{html.escape(x)}</th>" for x in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def _fmt_s(v: float | None, line: bool = True) -> str:
    if not line:
        return _NA
    return "—" if v is None else f"{v / 60:.0f} min"


#: a figure that does not apply (the line's, in a replay): not zero
_NA = "n/a"


def _na(v: object) -> object:
    return _NA if v is None else v


def write_report(run_dir: str | Path, out: str | Path) -> Summary:
    """Write ``index.html``, ``summary.json`` and the plots of a run into ``out``."""
    run = load_run(run_dir)
    summary = summarize(run)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary.write(out / "summary.json")
    images = {"map": _map(run, summary, out), "separation": _separation(run, summary, out),
              "line": _timeline(summary, out)}
    conduct_rows = [[c.party, c.aircraft, c.los_involved, c.los_caused, c.incursions,
                     f"{c.incursion_s:.0f}",
                     *[_na(v) for v in (c.warnings_received, c.warnings_ignored,
                                        c.requests_received, c.responses_on_time,
                                        c.responses_late, c.responses_never, c.intents_filed,
                                        c.intents_refused, c.notices_sent)],
                     _fmt_s(c.notice_lead_min_s, c.has_line),
                     _fmt_s(c.notice_lead_mean_s, c.has_line), _na(c.notices_short)]
                    for c in summary.conduct.values()]
    enc_rows = [[e["id1"], e["id2"], _hhmm(e["t_cpa"]), f"{e['h_miss_nm']:.2f}",
                 f"{e['v_miss_ft']:.0f}", f"{e['angle_deg']:.0f}", f"{e['closure_kt']:.0f}",
                 f"{e['los_s']:.0f}", e["severity"], e["eurocontrol"], e["icao"],
                 e.get("caused_by", "")]
                for e in summary.encounters if e["los_s"] > 0 or e["ratio"] < 2]
    levels = sorted(summary.alerts_by_level)
    if summary.kind == "replay":  # one observer: each party's, then all of them
        alert_rows = [[p, *[c.alerts.get(lv, 0) for lv in levels]]
                      for p, c in summary.conduct.items()]
        alert_rows.append(["all", *[summary.alerts_by_level[lv] for lv in levels]])
    else:
        alert_rows = [[p, *[v.get(lv, 0) for lv in levels]]
                      for p, v in summary.alerts_by_party.items()]
    inc_rows = [[i["id"], i["party"], i["zone"], i["owner"], _hhmm(i.get("t_in", i["t"])),
                 f"{i.get('inside_s', 0):.0f}",
                 i.get("warnings_before", 0) if summary.has_line else _NA]
                for i in summary.incursions]

    def img(key: str) -> str:
        data = images.get(key)
        return f'<img alt="{key}" src="data:image/png;base64,{data}">' if data else \
            "<p>(nothing to plot)</p>"

    sev = ", ".join(f"{k}: {v}" for k, v in summary.severity.items())
    esc = html.escape
    if summary.kind == "replay":
        fmt = run.meta.get("format")
        title = f"Replay of {esc(summary.source or summary.scenario)}" + (
            f" ({esc(str(fmt))})" if fmt else "")
        line_text = ("No line in a replay: not applicable (a surveillance feed carries "
                     "no messages between the parties).")
        alerts_by = "as the replay found them, by the parties of the aircraft in them"
    else:
        title = f"{esc(summary.scenario)} — seed {summary.seed}"
        line_text = (f"Messages sent: {sum(summary.messages.values())}; overdue at the "
                     f"end: {summary.overdue}.")
        alerts_by = "by each party's own node"
    pairs = "" if summary.kind == "replay" else " between parties"
    line_section = img("line") if summary.has_line else (
        "<p>No line in a replay: a recorded surveillance feed carries no messages between "
        "the parties, so there is no timeline, and the conduct figures that need the line "
        "(warnings, requests and responses, intents and notices) are not applicable "
        "(n/a), not zero.</p>")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>skyaccord report: {esc(summary.scenario)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}}
table{{border-collapse:collapse;font-size:0.85em;margin:0.5em 0}}
td,th{{border:1px solid #ccc;padding:2px 6px;text-align:right}}th{{background:#eee}}
img{{max-width:100%}}</style></head><body>
<h1>{title}</h1>
<p>{_hhmm(summary.t0)}–{_hhmm(summary.t1)} UTC, {summary.aircraft} aircraft; accord
{esc(run.accord.id)} (sha256 {run.accord.sha256[:16]}…). Encounters within 10 NM:
{len(summary.encounters)}; by severity {sev}. {line_text}</p>
<h2>Map</h2>{img("map")}
<h2>Encounters</h2>
{_table(enc_rows, ["aircraft 1", "aircraft 2", "closest (UTC)", "NM", "ft", "angle °",
                   "relative kt", "LoS s", "class", "EUROCONTROL", "ICAO AIRPROX",
                   "caused by"])}
<h2>Separation against time (worst encounters{pairs})</h2>{img("separation")}
<h2>Conduct per party</h2>
{_table(conduct_rows, ["party", "aircraft", "LoS involved", "LoS caused", "incursions",
                       "s inside", "warnings received", "warnings ignored",
                       "requests received", "answered on time", "late", "never",
                       "intents filed", "intents refused", "notices sent", "lead min",
                       "lead mean", "under the accord's lead"])}
<h2>Alerts (distinct, highest level, {alerts_by})</h2>
{_table(alert_rows, ["party" if summary.kind == "replay" else "node", *levels])}
<h2>Incursions</h2>
{_table(inc_rows, ["aircraft", "party", "zone", "owner", "entered (UTC)", "s inside",
                   "warnings before"])}
<h2>The line</h2>{line_section}
<p>Severity rule: see <code>skyaccord.analysis.severity</code>; conduct rules:
<code>skyaccord.analysis.conduct</code>.</p>
</body></html>
"""
    (out / "index.html").write_text(page, encoding="utf-8")
    return summary
