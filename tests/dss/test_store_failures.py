"""The database failing under the DSS: the request answers 503 with an ErrorResponse
body naming the store (sqlite3 and psycopg errors become StoreError at the boundary), not
a server crash; a PostgreSQL instance whose connection was killed serves the next
request again, with nothing stored lost."""

from __future__ import annotations

import os
import time

import pytest

from skyaccord.dss.db import PostgresDb, SQLiteDb
from tests.dss.conftest import OIR, SC, Client, circle, intent, new_id

LAT, LNG = 46.2, 6.14


def _put(client: Client, lat: float = LAT) -> tuple[str, int]:
    eid = new_id()
    now = time.time()
    r = client.http.put(OIR.format(entityid=eid), headers=client.authority.headers("a", SC),
                        json=intent(circle(lat, LNG, 300, now + 600, now + 3600)))
    return eid, r.status_code


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_closed_sqlite_file_is_503(client: Client) -> None:
    assert isinstance(client.dss.db, SQLiteDb)
    client.dss.db.close()
    _, status = _put(client)
    r = client.http.get(OIR.format(entityid=new_id()),
                        headers=client.authority.headers("a", SC))
    assert (status, r.status_code) == (503, 503)
    assert "dss.db" in r.json()["message"]


@pytest.mark.parametrize("backend", ["postgres"])
def test_a_killed_postgresql_connection_is_opened_again(client: Client) -> None:
    import psycopg

    db = client.dss.db
    assert isinstance(db, PostgresDb)
    kept, status = _put(client)
    assert status == 201
    url = os.environ["SKYACCORD_PG_URL"]
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (db.backend_pid(),))
    a = client.authority.headers("a", SC)
    first = client.http.get(OIR.format(entityid=kept), headers=a)
    assert first.status_code == 503 and "PostgreSQL" in first.json()["message"]
    again = client.http.get(OIR.format(entityid=kept), headers=a)
    assert again.status_code == 200
    assert again.json()["operational_intent_reference"]["id"] == kept
    assert _put(client, LAT + 1)[1] == 201  # elsewhere: no key needed
