"""``intents overlap`` prints what the shared cells cover, not thousands of cell keys
(issue 18). Checked against the geometry: two identical circles, grown by half the
accord's minima on each side, share a disc whose area, centre, band and window are known
by hand."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.protocol import default_accord
from skyaccord.strategic.private import CellGrid, summarize_cells

H3_RES7_EDGE_KM = 1.406  # mean edge length at resolution 7 (H3's published table)


def circle(tmp: Path, id_: str, party: str) -> str:
    doc = {"type": "Feature", "geometry": {"type": "Point", "coordinates": [38.5, 35.0]},
           "properties": {"id": id_, "party": party, "radius_m": 2000,
                          "alt_lower_ft": 10000, "alt_upper_ft": 12000,
                          "time_start": "2025-06-01T10:00:00Z",
                          "time_end": "2025-06-01T11:00:00Z"}}
    p = tmp / f"{id_}.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    return str(p)


def test_summary_of_two_identical_circles(tmp_path: Path) -> None:
    m = default_accord().minima("manned", "manned")
    # each side grows by half the minima: the shared disc has radius 2 km + m/2
    r_km = 2.0 + m.horizontal_m / 2 / 1000
    result = CliRunner().invoke(app, ["intents", "overlap", circle(tmp_path, "a", "us"),
                                      circle(tmp_path, "b", "ru")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert len(out.splitlines()) <= 4, out  # a summary, not the cell keys
    area = float(re.search(r"(\d+) km²", out).group(1))  # type: ignore[union-attr]
    # cells meeting the disc cover it, and reach at most two cell widths beyond it
    assert math.pi * r_km**2 <= area <= math.pi * (r_km + 2 * 2 * H3_RES7_EDGE_KM)**2
    lo_ft = math.floor((10000 - m.vertical_ft / 2) / 1000) * 1000
    hi_ft = (math.floor((12000 + m.vertical_ft / 2) / 1000) + 1) * 1000
    assert f"{lo_ft}–{hi_ft} ft" in out
    assert "2025-06-01T10:00:00Z/11:00:00Z" in out  # 15-minute slots, aligned
    lats = re.search(r"within ([\d.]+)–([\d.]+)° N", out)
    assert lats is not None
    # a cell meeting the disc has its centre within one circumradius (an edge) beyond it
    reach_deg = (r_km + H3_RES7_EDGE_KM * 1.1) / 111.0
    assert 35.0 - reach_deg <= float(lats.group(1)) < 35.0 < float(lats.group(2)) \
        <= 35.0 + reach_deg
    with_cells = CliRunner().invoke(app, ["intents", "overlap", "--cells",
                                          circle(tmp_path, "a", "us"),
                                          circle(tmp_path, "b", "ru")])
    shared = int(re.search(r"shared: (\d+)", out).group(1))  # type: ignore[union-attr]
    keys = [ln for ln in with_cells.output.splitlines() if ln.count("|") == 2]
    assert len(keys) == shared


def test_summary_counts_each_hexagon_once() -> None:
    grid = CellGrid()
    cells = {f"872830828ffffff|{z}|{t}" for z in (10, 11) for t in (100, 101, 102)}
    s = summarize_cells(cells, grid)
    assert s is not None and (s.cells, s.hexes) == (6, 1)
    assert s.alt_ft == (10000.0, 12000.0) and s.time_s == (90000.0, 92700.0)
    assert summarize_cells(set(), grid) is None
