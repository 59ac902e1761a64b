"""Scenario files: the shipped theatre reads; bad files are refused naming the line."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from skyaccord.sim.scenario import ScenarioError, load_scenario, parse_scenario, scenario_path

GOOD = textwrap.dedent("""\
    name: t
    date: 2015-11-24
    start: "10:00"
    end: "11:00"
    centre: [35.5, 36.5]
    places:
      a: {lat: 35.4, lon: 36.0}
    missions:
      - id: M1
        party: us
        type: F-16C
        start: "10:05"
        route: [{at: a, alt_ft: 20000}, [35.6, 36.6, 21000]]
    """)


def test_the_shipped_theatre_reads_with_its_cited_bases() -> None:
    s = load_scenario(scenario_path("syria2015"))
    assert s.name == "syria2015"
    # Hmeimim 35°24'05"N 35°56'54"E, Incirlik 37°00'07"N 35°25'33"E (cited in the file)
    assert s.places["hmeimim"].lat == pytest.approx(35 + 24 / 60 + 5 / 3600, abs=1e-3)
    assert s.places["hmeimim"].lon == pytest.approx(35 + 56 / 60 + 54 / 3600, abs=1e-3)
    assert s.places["incirlik"].lat == pytest.approx(37 + 0 / 60 + 7 / 3600, abs=1e-3)
    assert s.places["incirlik"].lon == pytest.approx(35 + 25 / 60 + 33 / 3600, abs=1e-3)
    assert {m.party for m in s.missions} == {"us", "ru", "tr"}
    assert s.busiest is not None and s.t_start < s.time(s.busiest[0]) < s.t_end


def test_times_of_day_and_iso() -> None:
    s = parse_scenario(GOOD)
    assert s.t_start == pytest.approx(1448359200.0)  # 2015-11-24T10:00:00Z
    assert s.time("2015-11-24T10:30:00Z") == s.t_start + 1800


@pytest.mark.parametrize(("change", "line", "words"), [
    (("type: F-16C", "type: Su-27"), 11, "missions[0].type: unknown aircraft type 'Su-27'"),
    (("{at: a, alt_ft: 20000}", "{at: b, alt_ft: 20000}"), 13,
     "missions[0].route[0].at: unknown place 'b'"),
    (('start: "10:05"', 'start: "25:99"'), 12, "missions[0].start"),
    (("lat: 35.4", "lat: 135.4"), 7, "places.a.lat"),
    (("[35.6, 36.6, 21000]", "[35.6, 36.6]"), 13, "a waypoint list is [lat, lon, alt_ft]"),
    (('end: "11:00"', 'end: "09:00"'), 4, "end: must be after start"),
])
def test_errors_name_the_line_and_field(change: tuple[str, str], line: int,
                                        words: str) -> None:
    bad = GOOD.replace(*change)
    assert bad != GOOD
    with pytest.raises(ScenarioError) as err:
        parse_scenario(bad, "x.yaml")
    assert f"x.yaml:{line}:" in str(err.value)
    assert words in str(err.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(GOOD.replace("  a: {lat: 35.4, lon: 36.0}", "  a: {lat: 35.4, lon: [36.0}"))
    with pytest.raises(ScenarioError, match=r"s\.yaml:7: not valid YAML"):
        load_scenario(p)


def test_unknown_key_is_refused() -> None:
    with pytest.raises(ScenarioError, match=r":11: missions\[0\]\.colour: Extra inputs"):
        parse_scenario(GOOD.replace("    party: us", "    party: us\n    colour: red"))
