"""PostgreSQL backend, for several nodes sharing one store.

Requires the optional extra ``pg`` (psycopg 3, LGPL-3.0: kept optional so that the MIT
core has only permissive dependencies; it is imported lazily, when a store is opened).

Volume boxes live in a ``cube`` column (the ``cube`` extension ships with PostgreSQL's
contrib, float8, up to 100 dimensions) with a GiST index, queried with ``&&``: a 4D box
(x, y, altitude, time) in one index. PostGIS would index 2D or 3D geometry with time in
another index; the exact footprint test runs in Python on the handful of volumes that a
search finds anyway.

Writers take transaction-scoped advisory locks (``pg_advisory_xact_lock(int4, int4)``):
a shared lock on a global key (exclusive when ``exclusive=True``), then each lock key in
sorted order (so two writers never wait on each other in a cycle). Two writers whose
keys overlap run one after the other; writers elsewhere in the theatre run in parallel.
Transactions run at READ COMMITTED: every read that a decision depends on happens after
the locks are held, so it sees every commit of a writer that shared a key.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Collection, Container, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from skyaccord.errors import InputError, StoreError
from skyaccord.store.base import (
    SCHEMA_VERSION,
    BoxTuple,
    DisplacementRow,
    IntentRow,
    LockKey,
    RequestRow,
    VolumeHits,
    VolumeRow,
    displacements_query,
    search_volumes,
)

if TYPE_CHECKING:
    import psycopg

__all__ = ["GLOBAL_LOCK", "PostgresStore", "redact_url", "split_url"]

#: the advisory lock every writer holds shared (namespace 0)
GLOBAL_LOCK: LockKey = (0, 0)

_SCHEMA = [
    "CREATE TABLE IF NOT EXISTS store_meta (key text PRIMARY KEY, value text NOT NULL)",
    """CREATE TABLE IF NOT EXISTS intents (
        pk bigserial PRIMARY KEY, id text NOT NULL UNIQUE, party text NOT NULL,
        state text NOT NULL, version integer NOT NULL, priority integer NOT NULL,
        body text NOT NULL, nvol integer NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS intents_party ON intents (party, id)",
    "CREATE SEQUENCE IF NOT EXISTS intent_vid_seq",
    """CREATE TABLE IF NOT EXISTS intent_volumes (
        intent_pk bigint NOT NULL REFERENCES intents (pk), idx integer NOT NULL,
        box cube NOT NULL, vid bigint NOT NULL DEFAULT nextval('intent_vid_seq'),
        iid text NOT NULL, party text NOT NULL, version integer NOT NULL,
        priority integer NOT NULL, rec bytea NOT NULL,
        PRIMARY KEY (intent_pk, idx))""",
    "CREATE INDEX IF NOT EXISTS intent_volumes_box ON intent_volumes USING gist (box)",
    "CREATE UNIQUE INDEX IF NOT EXISTS intent_volumes_vid ON intent_volumes (vid)",
    """CREATE TABLE IF NOT EXISTS intent_notices (
        seq bigserial PRIMARY KEY, intent_id text NOT NULL, party text NOT NULL,
        body text NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS intent_notices_party ON intent_notices (party, seq)",
    "CREATE INDEX IF NOT EXISTS intent_notices_intent ON intent_notices (intent_id, seq)",
    """CREATE TABLE IF NOT EXISTS intent_requests (
        key text PRIMARY KEY, digest text NOT NULL, intent_id text NOT NULL,
        version integer NOT NULL)""",
]

_COLS = "i.id, i.party, i.state, i.version, i.priority, i.body"
_VCOLS = "vid, idx, iid, party, version, priority, rec"

#: from schema version 1 (boxes only): volume ids from the sequence, index columns
#: copied from the intents, empty records (the registry then reads the bodies)
_MIGRATE_1 = [
    "CREATE SEQUENCE IF NOT EXISTS intent_vid_seq",
    """ALTER TABLE intent_volumes ADD COLUMN IF NOT EXISTS vid bigint,
        ADD COLUMN IF NOT EXISTS iid text, ADD COLUMN IF NOT EXISTS party text,
        ADD COLUMN IF NOT EXISTS version integer, ADD COLUMN IF NOT EXISTS priority integer,
        ADD COLUMN IF NOT EXISTS rec bytea""",
    """UPDATE intent_volumes v SET vid = nextval('intent_vid_seq'), iid = i.id,
        party = i.party, version = i.version, priority = i.priority, rec = ''::bytea
        FROM intents i WHERE i.pk = v.intent_pk AND v.vid IS NULL""",
    """ALTER TABLE intent_volumes ALTER COLUMN vid SET DEFAULT nextval('intent_vid_seq'),
        ALTER COLUMN vid SET NOT NULL, ALTER COLUMN iid SET NOT NULL,
        ALTER COLUMN party SET NOT NULL, ALTER COLUMN version SET NOT NULL,
        ALTER COLUMN priority SET NOT NULL, ALTER COLUMN rec SET NOT NULL""",
]
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _row(r: Sequence[Any]) -> IntentRow:
    return IntentRow(r[0], r[1], r[2], int(r[3]), int(r[4]), r[5])


def _cube(b: BoxTuple) -> tuple[list[float], list[float]]:
    xmin, xmax, ymin, ymax, zmin, zmax, tmin, tmax = (float(v) for v in b)
    return [xmin, ymin, zmin, tmin], [xmax, ymax, zmax, tmax]


def _cube_text(b: BoxTuple) -> str:
    lo, hi = _cube(b)
    return "(" + ",".join(repr(float(v)) for v in lo) + "),(" + ",".join(
        repr(float(v)) for v in hi) + ")"


class _PgTxn:
    def __init__(self, conn: psycopg.Connection[Any], snapshot: str | None = None,
                 snapshot_cur: psycopg.Cursor[Any] | None = None) -> None:
        self.c = conn
        self.snapshot = snapshot
        # in pipeline mode: the cursor whose result is the snapshot, read when asked for
        self._snapshot_cur = snapshot_cur

    def get(self, intent_id: str) -> IntentRow | None:
        r = self.c.execute(f"SELECT {_COLS} FROM intents i WHERE i.id = %s",
                           (intent_id,)).fetchone()
        return None if r is None else _row(r)

    def generation(self) -> str | None:
        # the snapshot the transaction's reads use, taken at BEGIN (after the locks for a
        # writer): equal snapshots (xmin, xmax and in-progress ids) mean that no
        # transaction wrote and committed in between (any writer gets a transaction id,
        # which moves xmax), so both saw the same data
        if self._snapshot_cur is not None:
            r = self._snapshot_cur.fetchone()
            self._snapshot_cur = None
            self.snapshot = None if r is None else str(r[0])
        return self.snapshot

    def search(self, boxes: Sequence[BoxTuple],
               known: Container[int] = frozenset()) -> VolumeHits:
        return search_volumes(self._volume_ids, self._volume_rows, boxes, known)

    def _volume_ids(self, boxes: Sequence[BoxTuple]) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in boxes]
        for lo in range(0, len(boxes), 100):
            part = boxes[lo:lo + 100]
            args: list[list[float] | int] = []
            for b in part:
                args.extend(_cube(b))
            if len(part) == 1:
                out[lo] = [r[0] for r in self.c.execute(
                    "SELECT vid FROM intent_volumes WHERE box &&"
                    " cube(%s::float8[], %s::float8[])", args).fetchall()]
                continue
            sql = " UNION ALL ".join(
                f"SELECT {k}, vid FROM intent_volumes WHERE box &&"
                " cube(%s::float8[], %s::float8[])" for k in range(len(part)))
            for k, vid in self.c.execute(sql, args).fetchall():
                out[lo + k].append(int(vid))
        return out

    def _volume_rows(self, vids: Sequence[int]) -> list[VolumeRow]:
        rows = self.c.execute(f"SELECT {_VCOLS} FROM intent_volumes WHERE vid = ANY(%s)",
                              (list(vids),)).fetchall()
        return [VolumeRow(int(r[0]), int(r[1]), r[2], r[3], int(r[4]), int(r[5]),
                          bytes(r[6])) for r in rows]

    def put(self, row: IntentRow, boxes: Sequence[BoxTuple],
            records: Sequence[bytes] | None = None) -> None:
        if records is not None and len(records) != len(boxes):
            raise StoreError(f"intent {row.id!r}: {len(records)} records for "
                             f"{len(boxes)} boxes")
        # no statement here reads a result: in pipeline mode they travel with the COMMIT
        self.c.execute(
            "INSERT INTO intents (id, party, state, version, priority, body, nvol)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
            " party = excluded.party, state = excluded.state, version = excluded.version,"
            " priority = excluded.priority, body = excluded.body, nvol = excluded.nvol",
            (row.id, row.party, row.state, row.version, row.priority, row.body,
             len(boxes)))
        self.c.execute("DELETE FROM intent_volumes WHERE intent_pk ="
                       " (SELECT pk FROM intents WHERE id = %s)", (row.id,))
        if boxes:
            recs = records if records is not None else [b""] * len(boxes)
            with self.c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO intent_volumes (intent_pk, idx, box, iid, party, version,"
                    " priority, rec) VALUES ((SELECT pk FROM intents WHERE id = %s), %s,"
                    " cube(%s::float8[], %s::float8[]), %s, %s, %s, %s, %s)",
                    [(row.id, i, *_cube(b), row.id, row.party, row.version, row.priority,
                      bytes(rec)) for i, (b, rec) in enumerate(zip(boxes, recs,
                                                                    strict=True))])

    def rows(self, party: str | None = None, active_only: bool = False,
             ids: Collection[str] | None = None) -> list[IntentRow]:
        sql = f"SELECT {_COLS} FROM intents i WHERE true"
        args: list[str | list[str]] = []
        if party is not None:
            sql += " AND i.party = %s"
            args.append(party)
        if active_only:
            sql += " AND i.nvol > 0"
        if ids is not None:
            sql += " AND i.id = ANY(%s)"
            args.append(list(ids))
        return [_row(r) for r in self.c.execute(sql + " ORDER BY i.id", args).fetchall()]

    def request(self, key: str) -> RequestRow | None:
        r = self.c.execute("SELECT key, digest, intent_id, version FROM intent_requests"
                           " WHERE key = %s", (key,)).fetchone()
        return None if r is None else RequestRow(r[0], r[1], r[2], int(r[3]))

    def put_request(self, row: RequestRow) -> None:
        self.c.execute("INSERT INTO intent_requests VALUES (%s, %s, %s, %s)",
                       (row.key, row.digest, row.intent_id, row.version))

    def put_displacements(self, rows: Sequence[DisplacementRow]) -> None:
        if not rows:
            return
        with self.c.cursor() as cur:
            cur.executemany(
                "INSERT INTO intent_notices (intent_id, party, body) VALUES (%s, %s, %s)",
                [(r.intent_id, r.party, r.body) for r in rows])

    def displacements(self, party: str | None = None, intent_id: str | None = None,
                      after: int = 0) -> list[DisplacementRow]:
        sql, args = displacements_query(party, intent_id, after, "%s")
        return [DisplacementRow(int(r[0]), r[1], r[2], r[3])
                for r in self.c.execute(sql, args).fetchall()]

    def meta(self, key: str) -> str | None:
        r = self.c.execute("SELECT value FROM store_meta WHERE key = %s", (key,)).fetchone()
        return None if r is None else str(r[0])

    def set_meta(self, key: str, value: str) -> None:
        self.c.execute("INSERT INTO store_meta VALUES (%s, %s) ON CONFLICT (key)"
                       " DO UPDATE SET value = excluded.value", (key, value))


class PostgresStore:
    """A store in the PostgreSQL database at ``url`` (``postgresql://...``).

    ``schema`` names the PostgreSQL schema that holds the tables (created when missing),
    so that several registries, or test runs, share one database.
    """

    def __init__(self, url: str, *, schema: str = "skyaccord",
                 connect_timeout_s: int = 10, create: bool = True) -> None:
        if not _SCHEMA_NAME.match(schema):
            raise StoreError(f"PostgreSQL schema name {schema!r} must match "
                             f"{_SCHEMA_NAME.pattern}")
        try:
            import psycopg
        except ImportError as exc:
            raise StoreError("the PostgreSQL store needs psycopg: "
                             "pip install 'skyaccord[pg]'") from exc
        self._psycopg = psycopg
        self.url = url
        self.schema = schema
        try:
            self._conn: psycopg.Connection[Any] = psycopg.connect(
                url, autocommit=True, connect_timeout=connect_timeout_s)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {redact_url(url)}: "
                             f"{exc}".strip()) from exc
        try:
            self._open_schema(create)
        except psycopg.Error as exc:
            self._conn.close()
            raise StoreError(f"{redact_url(url)}: cannot prepare the schema: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    def _open_schema(self, create: bool) -> None:
        """Use the schema as it is when it is at this version (a read, no lock: every
        command opens the store); create or migrate it, once, under the migrators' lock
        otherwise. Never into a schema that holds another program's tables."""
        c = self._conn
        tables = {r[0] for r in c.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (self.schema,)).fetchall()}
        where = f"{redact_url(self.url)} (schema {self.schema})"
        if tables and "store_meta" not in tables:
            raise InputError(f"{where}: holds other tables, not a registry store; give "
                             "the registry a schema of its own (?skyaccord_schema=NAME)")
        if "store_meta" in tables:
            r = c.execute(f'SELECT value FROM "{self.schema}".store_meta'
                          " WHERE key = 'schema_version'").fetchone()
            if r is not None and int(r[0]) == SCHEMA_VERSION:
                c.execute(f'SET search_path TO "{self.schema}", public')
                return
        elif not create:
            raise InputError(f"{where}: no registry store there")
        self._migrate()

    def _migrate(self) -> None:
        c = self._conn
        with c.transaction():
            # one migrator at a time, across every node (namespace 0, key 1)
            c.execute("SELECT pg_advisory_xact_lock(0, 1)")
            c.execute("CREATE EXTENSION IF NOT EXISTS cube")
            c.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
            c.execute(f'SET search_path TO "{self.schema}", public')
            version = None
            if c.execute("SELECT to_regclass('store_meta')").fetchone() != (None,):
                r = c.execute("SELECT value FROM store_meta WHERE key = 'schema_version'"
                              ).fetchone()
                version = None if r is None else int(r[0])
            if version is not None and version > SCHEMA_VERSION:
                raise StoreError(f"{redact_url(self.url)}: schema version {version} is newer "
                                 f"than this skyaccord ({SCHEMA_VERSION})")
            if version == 1:
                for statement in _MIGRATE_1:
                    c.execute(statement)
            for statement in _SCHEMA:
                c.execute(statement)
            _PgTxn(c).set_meta("schema_version", str(SCHEMA_VERSION))
        c.execute(f'SET search_path TO "{self.schema}", public')

    @contextmanager
    def _txn(self, locks: Sequence[LockKey] | None, exclusive: bool,
             pipeline: bool = True) -> Iterator[_PgTxn]:
        psycopg = self._psycopg
        c = self._conn
        stmts: list[str] = []
        if locks is not None:
            fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
            # BEGIN, the global lock, then the keys in sorted order (select-list items
            # are evaluated left to right); keys are int32, checked by write(), so they
            # are written inline
            keys = sorted(set(locks))
            stmts += ["BEGIN", f"SELECT {fn}({GLOBAL_LOCK[0]:d}, {GLOBAL_LOCK[1]:d})" + "".join(
                f", pg_advisory_xact_lock({int(a):d}, {int(b):d})" for a, b in keys)]
        else:
            stmts.append("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        # ... and the snapshot that the reads after it see (a new statement: after the
        # locks; in REPEATABLE READ, the transaction's snapshot)
        snap = "SELECT pg_current_snapshot()::text"
        if not pipeline:  # one simple query, one round trip
            try:
                with c.cursor() as cur:
                    cur.execute("; ".join([*stmts, snap]))
                    while cur.nextset():
                        pass
                    r = cur.fetchone()
            except psycopg.Error as exc:
                self._rollback()
                raise StoreError(f"{redact_url(self.url)}: {exc}") from exc
            try:
                yield _PgTxn(c, None if r is None else str(r[0]))
            except psycopg.Error as exc:
                self._rollback()
                raise StoreError(f"{redact_url(self.url)}: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
            try:
                c.execute("COMMIT")
            except psycopg.Error as exc:
                self._rollback()
                raise StoreError(f"{redact_url(self.url)}: commit failed: {exc}") from exc
            return
        # pipeline mode (psycopg 3, libpq >= 14): statements are sent at once and a round
        # trip happens only when a result is read: BEGIN, the locks and the snapshot go
        # with the transaction's first read, and its writes go with the COMMIT
        committing = False
        try:
            with c.pipeline():
                for q in stmts:
                    c.execute(q)
                t = _PgTxn(c, None, c.execute(snap))
                yield t
                committing = True
                c.execute("COMMIT")
        except psycopg.Error as exc:
            self._rollback()
            what = "commit failed: " if committing else ""
            raise StoreError(f"{redact_url(self.url)}: {what}{exc}") from exc
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        # when the connection is gone, the server has rolled back
        with contextlib.suppress(self._psycopg.Error):
            self._conn.execute("ROLLBACK")

    def read(self) -> AbstractContextManager[_PgTxn]:
        return self._txn(None, False)

    def write(self, locks: Sequence[LockKey] = (), *,
              exclusive: bool = False) -> AbstractContextManager[_PgTxn]:
        for a, b in locks:
            if a == GLOBAL_LOCK[0] or not (-2**31 <= a < 2**31 and -2**31 <= b < 2**31):
                raise StoreError(f"lock key {(a, b)} must be two int32 with a non-zero "
                                 "namespace")
        return self._txn(locks, exclusive)

    def bulk_load(self, rows: Iterable[tuple[IntentRow, Sequence[BoxTuple]]
                                       | tuple[IntentRow, Sequence[BoxTuple], Sequence[bytes]]]
                  ) -> int:
        n = 0
        with self._txn([], True, pipeline=False) as t:
            c = t.c
            empty = c.execute("SELECT NOT EXISTS (SELECT 1 FROM intent_volumes)"
                              ).fetchone() == (True,)
            if empty:  # building the indexes once is faster than growing them
                c.execute("DROP INDEX IF EXISTS intent_volumes_box")
                c.execute("DROP INDEX IF EXISTS intent_volumes_vid")
            r = c.execute("SELECT coalesce(max(pk), 0) FROM intents").fetchone()
            assert r is not None
            pk = int(r[0])
            with c.cursor() as cur:
                vols: list[tuple[float, int, int, BoxTuple, str, str, int, int, bytes]] = []
                with cur.copy("COPY intents (pk, id, party, state, version, priority, body,"
                              " nvol) FROM STDIN") as cp_i:
                    for item in rows:
                        row, boxes = item[0], item[1]
                        recs = item[2] if len(item) == 3 else [b""] * len(boxes)
                        pk += 1
                        n += 1
                        cp_i.write_row((pk, row.id, row.party, row.state, row.version,
                                        row.priority, row.body, len(boxes)))
                        vols.extend((float(b[6]), pk, i, b, row.id, row.party,
                                     row.version, row.priority, bytes(recs[i]))
                                    for i, b in enumerate(boxes))
                if empty:
                    # rows in time order: the GiST index built over them then keeps
                    # nearby windows in the same pages (a dense-area search reads about
                    # a third of the pages it reads over rows in random order)
                    vols.sort(key=lambda v: v[0])
                with cur.copy("COPY intent_volumes (intent_pk, idx, box, iid, party, version,"
                              " priority, rec) FROM STDIN") as cp_v:
                    for v in vols:
                        cp_v.write_row((v[1], v[2], _cube_text(v[3]), *v[4:]))
            c.execute("SELECT setval(pg_get_serial_sequence('intents', 'pk'),"
                      " greatest(%s, 1))", (pk,))
            if empty:
                c.execute("CREATE INDEX intent_volumes_box ON intent_volumes"
                          " USING gist (box)")
                c.execute("CREATE UNIQUE INDEX intent_volumes_vid ON intent_volumes (vid)")
        with self._conn.cursor() as cur:
            cur.execute("ANALYZE intents")
            cur.execute("ANALYZE intent_volumes")
        return n

    def check_integrity(self) -> list[str]:
        problems: list[str] = []
        with self.read() as t:
            r = t.c.execute(
                "SELECT count(*) FROM intents i LEFT JOIN (SELECT intent_pk, count(*) AS n"
                " FROM intent_volumes GROUP BY 1) v ON v.intent_pk = i.pk"
                " WHERE coalesce(v.n, 0) != i.nvol").fetchone()
            if r and r[0]:
                problems.append(f"{r[0]} intents whose box count differs from nvol")
            r = t.c.execute(
                "SELECT count(*) FROM intent_volumes v JOIN intents i ON i.pk = v.intent_pk"
                " WHERE v.iid != i.id OR v.party != i.party OR v.version != i.version"
                " OR v.priority != i.priority").fetchone()
            if r and r[0]:
                problems.append(f"{r[0]} volume rows that disagree with their intent")
        return problems

    def drop(self) -> None:
        """Drop this store's schema and everything in it (tests, throwaway stores)."""
        try:
            self._conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')
        except self._psycopg.Error as exc:
            raise StoreError(f"{redact_url(self.url)}: {exc}") from exc

    def close(self) -> None:
        self._conn.close()

    def __repr__(self) -> str:
        return f"PostgresStore({redact_url(self.url)!r}, schema={self.schema!r})"


def redact_url(url: str) -> str:
    """``url`` without its password."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


def split_url(url: str, default_schema: str) -> tuple[str, str]:
    """(``url`` less its ``skyaccord_schema`` query parameter, the schema that names, else
    ``default_schema``): what a ``postgresql://`` store location means. StoreError for a
    URL that does not parse or a schema name PostgreSQL would need quoted."""
    try:
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        parts.port  # noqa: B018 - parsed when read: a bad port raises here, not later
    except ValueError as exc:
        raise StoreError(f"{redact_url(url)}: not a PostgreSQL URL: {exc}") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreError(f"{redact_url(url)}: not a postgresql:// URL")
    schema = default_schema
    rest = []
    for k, v in query:
        if k == "skyaccord_schema":
            schema = v
        else:
            rest.append((k, v))
    if not _SCHEMA_NAME.match(schema):
        raise StoreError(f"{redact_url(url)}: PostgreSQL schema name {schema!r} must match "
                         f"{_SCHEMA_NAME.pattern}")
    return urlunsplit(parts._replace(query=urlencode(rest))), schema
