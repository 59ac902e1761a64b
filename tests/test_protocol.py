"""The accord file: loading, validation errors, canonical hash."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from skyaccord.cli import app
from skyaccord.errors import ProtocolError
from skyaccord.protocol import default_accord, default_accord_text, load_accord, parse_accord

MINIMAL = """
[accord]
id = "test"
version = 2
title = "Two parties"

[[parties]]
id = "aa"
name = "A"

[[parties]]
id = "bb"
name = "B"

[classes]
names = ["manned", "unmanned"]

[[separation]]
classes = ["manned", "manned"]
horizontal_nm = 5
vertical_ft = 1000

[[separation]]
classes = ["unmanned", "manned"]
horizontal_nm = 3
vertical_ft = 1000

[[separation]]
classes = ["unmanned", "unmanned"]
horizontal_nm = 1
vertical_ft = 500

[alerting]
lookahead_s = 300

[[alerting.levels]]
name = "caution"
time_s = 300

[[alerting.levels]]
name = "warning"
time_s = 60
horizontal_nm = 3
vertical_ft = 1000

[communications]
guard_frequencies_mhz = [121.5, 243.0]
notice_lead_time_s = 3600
response_deadline_s = 180
"""

# The same accord: tables and keys in another order, other whitespace, 5.0 for 5.
REORDERED = """
[communications]
response_deadline_s   = 180.0
notice_lead_time_s = 3600.0
guard_frequencies_mhz = [ 121.5 , 243 ]

[alerting]
lookahead_s = 300.0
  [[alerting.levels]]
  time_s = 300
  name = "caution"
  [[alerting.levels]]
  vertical_ft = 1000.0
  horizontal_nm = 3.0
  name = "warning"
  time_s = 60.0

[[separation]]
vertical_ft = 500
horizontal_nm = 1.0
classes = ["unmanned", "unmanned"]
[[separation]]
horizontal_nm = 3
classes = ["manned", "unmanned"]
vertical_ft = 1000
[[separation]]
classes = ["manned", "manned"]
vertical_ft = 1000
horizontal_nm = 5.0

[[parties]]
name = "B"
id = "bb"
[[parties]]
name = "A"
id = "aa"

[classes]
names = ["manned", "unmanned"]

[accord]
title = "Two parties"
version = 2
id = "test"
"""


def test_default_accord_figures() -> None:
    accord = default_accord()
    assert accord.id == "syria-2015"
    assert accord.minima("manned", "manned").horizontal_nm == 5.0
    assert accord.minima("manned", "manned").vertical_ft == 1000.0
    assert accord.minima("unmanned", "manned") == accord.minima("manned", "unmanned")
    assert accord.lookahead_s == 300.0
    assert accord.guard_frequencies_mhz == (121.5, 243.0)
    assert [level.name for level in accord.levels] == ["preventive", "corrective", "warning"]
    assert {p.id for p in accord.parties} >= {"us", "ru", "tr"}


def test_same_accord_same_hash_whatever_order_or_whitespace() -> None:
    a = parse_accord(MINIMAL)
    b = parse_accord(REORDERED)
    assert a.canonical_json() == b.canonical_json()
    assert a.sha256 == b.sha256
    assert re.fullmatch(r"[0-9a-f]{64}", a.sha256)


def test_a_changed_figure_changes_the_hash() -> None:
    a = parse_accord(MINIMAL)
    b = parse_accord(MINIMAL.replace("horizontal_nm = 5\n", "horizontal_nm = 5.5\n"))
    assert a.sha256 != b.sha256
    c = parse_accord(MINIMAL.replace("version = 2", "version = 3"))
    assert a.sha256 != c.sha256


def test_optional_warning_sequence_keys_and_the_hash() -> None:
    """Unset, they stay out of the canonical form (accords without them keep their
    hash); set, they are in it, spelled as int and float, and change the hash."""
    plain = parse_accord(MINIMAL)
    assert plain.warning_count is None and plain.warning_window_s is None
    assert "warning_" not in plain.canonical_json()
    assert "warning_" not in default_accord().canonical_json()
    text = MINIMAL.replace("response_deadline_s = 180\n",
                           "response_deadline_s = 180\nwarning_count = 10\n"
                           "warning_window_s = 300\n")
    a = parse_accord(text)
    assert (a.warning_count, a.warning_window_s) == (10, 300.0)
    assert '"warning_count":10,"warning_window_s":300.0' in a.canonical_json()
    assert a.sha256 != plain.sha256
    b = parse_accord(text.replace("warning_window_s = 300", "warning_window_s = 300.0"))
    assert a.sha256 == b.sha256


def test_roundtrip_through_canonical_dict() -> None:
    from skyaccord.protocol import accord_from_dict

    a = default_accord()
    assert accord_from_dict(a.to_dict()) == a
    b = parse_accord(MINIMAL.replace("response_deadline_s = 180\n",
                                     "response_deadline_s = 180\nwarning_count = 4\n"))
    assert accord_from_dict(b.to_dict()) == b


def test_minima_table_is_symmetric_and_in_metres() -> None:
    a = parse_accord(MINIMAL)
    radius, half = a.minima_table_m()
    assert radius.shape == (2, 2)
    assert radius[0, 1] == radius[1, 0] == 3 * 1852.0
    assert half[1, 1] == pytest.approx(500 * 0.3048)


@pytest.mark.parametrize(
    ("old", "new", "key", "what"),
    [
        ("horizontal_nm = 5\n", "horizontal_nm = -5\n", "separation[0].horizontal_nm",
         "greater than 0"),
        ('horizontal_nm = 5\n', 'horizontal_nm = "five"\n', "separation[0].horizontal_nm",
         "must be a number"),
        ('lookahead_s = 300', 'lookahead_s = 0', "alerting.lookahead_s", "greater than 0"),
        ('id = "aa"\nname = "A"', 'id = "bb"\nname = "A"', "parties[1].id", "duplicate"),
        ('id = "aa"', 'id = "A A"', "parties[0].id", "not a valid id"),
        ('[classes]', '[classes]\ncolour = "red"', "classes.colour", "unknown key"),
        ('classes = ["unmanned", "unmanned"]', 'classes = ["unmanned", "jet"]',
         "separation[2].classes", "unknown class 'jet'"),
        ('version = 2', 'version = "2"', "accord.version", "integer"),
        ('name = "warning"\ntime_s = 60\nhorizontal_nm = 3\n',
         'name = "warning"\ntime_s = 60\n', "alerting.levels[1]", "both"),
        ('guard_frequencies_mhz = [121.5, 243.0]', 'guard_frequencies_mhz = []',
         "communications.guard_frequencies_mhz", "non-empty"),
        ('response_deadline_s = 180\n', 'response_deadline_s = 180\nwarning_count = 0\n',
         "communications.warning_count", "integer from 1 to 1000"),
        ('response_deadline_s = 180\n', 'response_deadline_s = 180\nwarning_count = 2.5\n',
         "communications.warning_count", "integer from 1 to 1000"),
        ('response_deadline_s = 180\n', 'response_deadline_s = 180\nwarning_count = true\n',
         "communications.warning_count", "integer from 1 to 1000"),
        ('response_deadline_s = 180\n', 'response_deadline_s = 180\nwarning_window_s = 0\n',
         "communications.warning_window_s", "greater than 0"),
        ('response_deadline_s = 180\n',
         'response_deadline_s = 180\nwarning_window_s = "5 min"\n',
         "communications.warning_window_s", "must be a number"),
    ],
)
def test_errors_name_file_key_and_problem(tmp_path: Path, old: str, new: str, key: str,
                                          what: str) -> None:
    assert old in MINIMAL
    path = tmp_path / "bad.toml"
    path.write_text(MINIMAL.replace(old, new, 1))
    with pytest.raises(ProtocolError) as info:
        load_accord(path)
    message = str(info.value)
    assert str(path) in message
    assert f"'{key}'" in message
    assert what in message


def test_missing_class_pair_is_named(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        '[[separation]]\nclasses = ["unmanned", "unmanned"]\nhorizontal_nm = 1\n'
        'vertical_ft = 500\n', "")
    with pytest.raises(ProtocolError, match="unmanned/unmanned"):
        parse_accord(text, "x.toml")


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProtocolError, match=r"x\.toml: not valid TOML"):
        parse_accord("[accord\nid=", "x.toml")
    with pytest.raises(ProtocolError, match="cannot read"):
        load_accord(tmp_path / "nope.toml")


def test_public_key_must_be_32_bytes_base64() -> None:
    good = base64.b64encode(bytes(range(32))).decode()
    a = parse_accord(MINIMAL.replace('name = "A"', f'name = "A"\npublic_key = "{good}"'))
    assert a.party("aa").public_key == good
    short = base64.b64encode(b"abc").decode()
    with pytest.raises(ProtocolError, match="32 bytes"):
        parse_accord(MINIMAL.replace('name = "A"', f'name = "A"\npublic_key = "{short}"'))
    with pytest.raises(ProtocolError, match="base64"):
        parse_accord(MINIMAL.replace('name = "A"', 'name = "A"\npublic_key = "!!"'))


def test_with_lookahead_validates() -> None:
    a = default_accord()
    assert a.with_lookahead(120).lookahead_s == 120.0
    with pytest.raises(ProtocolError):
        a.with_lookahead(-1)


def test_cli_check_and_show(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "a.toml"
    path.write_text(default_accord_text())
    result = runner.invoke(app, ["accord", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert default_accord().sha256 in result.output
    result = runner.invoke(app, ["accord", "show", str(path)])
    assert result.exit_code == 0
    assert "preventive" in result.output and "243" in result.output
    result = runner.invoke(app, ["accord", "show", "--json", str(path)])
    assert '"lookahead_s": 300.0' in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text(default_accord_text().replace("lookahead_s = 300.0", "lookahead_s = -3"))
    result = runner.invoke(app, ["accord", "check", str(bad)])
    assert result.exit_code == 2
    assert "alerting.lookahead_s" in result.output
