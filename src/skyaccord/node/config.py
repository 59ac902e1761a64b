"""A node's configuration file (``node.toml``), read and checked; written by ``node init``.

A TOML file; relative paths are relative to the file::

    [node]
    party = "us"
    key = "us.key"              # Ed25519 seed, owner-only (mode 0600)
    db = "us.db"                # the line's log: a SQLite file, or a PostgreSQL schema
                                # "postgresql://user@host/dbname?skyaccord_schema=line_us"
    registry = "us-registry.db" # optional: SQLite file or postgresql:// URL of the intents
                                # registry (default: beside db, "<db stem>-registry.db"; for
                                # a postgresql:// db, its server, schema "<schema>_registry")
    accord = "accord.toml"      # optional: the shipped default accord otherwise
    host = "127.0.0.1"          # optional
    port = 8701
    skew_s = 30.0               # optional: clock-skew window of the line, s
    tick_s = 1.0                # optional: detection period, s
    max_track_age_s = 60.0      # optional: a track without reports for longer is dropped
    max_body_bytes = 8388608    # optional: larger request bodies are refused (413)
    tokens = "tokens.json"      # optional: operator tokens (hashed), default beside db
                                # (beside this file, "<party>-tokens.json", for a URL db)
    tls_cert = "cert.pem"       # optional, with tls_key: serve HTTPS
    tls_key = "key.pem"
    peer_ca = "ca.pem"          # optional: CA bundle that verifies the peers' HTTPS
    rules = "rules.toml"        # optional: party/class rules for unlabelled tracks
    zones = "zones.geojson"     # optional: more zones besides the accord's
    borders = true              # optional: the shipped theatre borders as zones
    feeds = ["tcp://127.0.0.1:30003", "recording.jsonl"]   # optional
    tiles = "https://tiles.example/{z}/{x}/{y}.png"   # optional: the picture's raster basemap

    [peers]
    ru = "https://127.0.0.1:8702"

    [dss]                       # optional: ASTM F3548-21 (skyaccord.dss)
    audience = "dss.us.example" # serve /dss/v1 beside the node's API: tokens' aud
    public_keys = ["authority.pem"]  # PEM RSA keys that sign the access tokens accepted
    issuer = "https://auth.example/token"  # optional: tokens' iss must be it
    db = "us-dss.db"            # optional: SQLite file or postgresql:// URL (default:
                                # the registry's database, tables dss_*)
    rate_per_s = 50.0           # optional: requests per second per client (429 beyond)
    rate_burst = 100            # optional
    max_subscriptions_per_manager = 1000  # optional
    max_body_bytes = 2097152    # optional (413 beyond)
    publish_to = "http://127.0.0.1:8701"  # optional: a DSS (this node's or another) where
                                # the node publishes its intents as F3548 references
    uss_base_url = "http://127.0.0.1:8701"  # with publish_to: where USSs reach our /uss/v1
    signing_key = "us-uss.pem"  # with publish_to: RSA private key (0600) of our tokens
    publish_audience = "dss.us.example"  # optional: that DSS's aud (default: audience)
    manager = "us"              # optional: our tokens' sub (default: the party)
    dss_ca = "ca.pem"           # optional: CA bundle of publish_to's HTTPS

Flags of ``skyaccord serve`` override the file (:func:`merge_overrides`).
"""

from __future__ import annotations

import math
import os
import stat
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from skyaccord.errors import InputError, StoreError
from skyaccord.line.logstore import is_url
from skyaccord.line.logstore.postgres import DEFAULT_SCHEMA as LOG_SCHEMA
from skyaccord.store.postgres import split_url

__all__ = [
    "DEFAULT_MAX_BODY_BYTES",
    "DssSettings",
    "NodeSettings",
    "load_settings",
    "parse_peer",
    "require_owner_only",
    "write_owner_only",
]

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
_MAX_CONFIG_BYTES = 1 << 20

_KEYS = {"party", "key", "db", "registry", "accord", "host", "port", "skew_s", "tick_s",
         "max_track_age_s", "max_body_bytes", "tokens", "tls_cert", "tls_key", "peer_ca",
         "rules", "zones", "borders", "feeds", "tiles"}


_DSS_KEYS = {"audience", "public_keys", "issuer", "db", "rate_per_s", "rate_burst",
             "max_subscriptions_per_manager", "max_body_bytes", "publish_to", "uss_base_url",
             "signing_key", "publish_audience", "manager", "dss_ca"}


@dataclass(frozen=True)
class DssSettings:
    """The node's ``[dss]`` table: serve the F3548 DSS (``audience``), publish the node's
    intents to one (``publish_to``), or both."""

    audience: str | None = None
    public_keys: tuple[Path, ...] = ()
    issuer: str | None = None
    db: str | None = None
    rate_per_s: float = 50.0
    rate_burst: float = 100.0
    max_subscriptions_per_manager: int = 1000
    max_body_bytes: int = 2 * 1024 * 1024
    publish_to: str | None = None
    uss_base_url: str | None = None
    signing_key: Path | None = None
    publish_audience: str | None = None
    manager: str | None = None
    dss_ca: Path | None = None

    @property
    def serves(self) -> bool:
        return self.audience is not None

    @property
    def publishes(self) -> bool:
        return self.publish_to is not None


@dataclass(frozen=True)
class NodeSettings:
    """Everything a node needs to start; paths are absolute or relative to the cwd."""

    party: str
    key: Path
    db: Path
    """the line's SQLite log; with :attr:`db_url`, only where the files that default to
    beside the log go (``<party>.db`` beside the config file, never created)"""
    port: int
    registry: str | None = None
    accord: Path | None = None
    host: str = "127.0.0.1"
    skew_s: float = 30.0
    tick_s: float = 1.0
    max_track_age_s: float = 60.0
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    tokens: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    peer_ca: Path | None = None
    rules: Path | None = None
    zones: Path | None = None
    borders: bool = True
    feeds: tuple[str, ...] = ()
    peers: dict[str, str] = field(default_factory=dict)
    tiles: str | None = None
    """an XYZ raster tile URL template (``{z}``, ``{x}``, ``{y}``) for the operating
    picture's basemap; default: the shipped borders only"""
    db_url: str | None = None
    """the line's log on PostgreSQL (``postgresql://...``), in place of :attr:`db`"""
    dss: DssSettings | None = None
    """the ``[dss]`` table (ASTM F3548-21): none, no DSS and no publishing"""

    @property
    def dss_db(self) -> str:
        """The DSS's database: as configured, else the registry's (tables ``dss_*``)."""
        return (self.dss.db if self.dss is not None and self.dss.db else self.registry_url)

    @property
    def line_db(self) -> str:
        """Where the line's log is: :attr:`db_url`, else the SQLite file :attr:`db`."""
        return self.db_url or str(self.db)

    @property
    def registry_url(self) -> str:
        """The registry's store: as configured, else beside the line's log: a SQLite
        file ``<db stem>-registry.db``, or on the log's PostgreSQL server the schema
        ``<log schema>_registry`` (the two never share a schema by default)."""
        if self.registry:
            return self.registry
        if self.db_url:
            url, schema = split_url(self.db_url, LOG_SCHEMA)
            sep = "&" if "?" in url else "?"
            return f"{url}{sep}skyaccord_schema={schema}_registry"
        return str(self.db.with_name(self.db.stem + "-registry.db"))

    @property
    def tokens_path(self) -> Path:
        return self.tokens or self.db.with_name(self.db.stem + "-tokens.json")

    @property
    def tls(self) -> bool:
        return self.tls_cert is not None


def parse_peer(text: str) -> tuple[str, str]:
    """``ru=http://host:port`` → (``ru``, URL)."""
    party, sep, url = text.partition("=")
    if not sep or not party.strip() or not url.strip().startswith(("http://", "https://")):
        raise InputError(f"peer {text!r}: expected PARTY=http(s)://HOST:PORT")
    return party.strip(), url.strip().rstrip("/")


def _number(where: str, value: Any, *, positive: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
            value) or (positive and value <= 0):
        raise InputError(f"{where}: must be a positive number, got {value!r}")
    return float(value)


def load_settings(path: str | Path) -> NodeSettings:
    """Read and check a node configuration file; errors name the file and key."""
    p = Path(path)
    try:
        if p.stat().st_size > _MAX_CONFIG_BYTES:
            raise InputError(f"{p}: a node config is at most {_MAX_CONFIG_BYTES} bytes")
        tree: dict[str, Any] = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
        raise InputError(f"{p}: cannot read node config: {exc}") from None
    node = tree.get("node")
    if not isinstance(node, dict):
        raise InputError(f"{p}: missing table [node]")
    for top in tree:
        if top not in ("node", "peers", "dss"):
            raise InputError(f"{p}: unknown table [{top}]; tables are [node], [peers] "
                             "and [dss]")
    for k in node:
        if k not in _KEYS:
            raise InputError(f"{p}: key 'node.{k}': unknown; allowed: {', '.join(sorted(_KEYS))}")
    for k in ("party", "key", "db", "port"):
        if k not in node:
            raise InputError(f"{p}: key 'node.{k}': missing")
    for k in ("party", "key", "db", "registry", "accord", "host", "tokens", "tls_cert",
              "tls_key", "peer_ca", "rules", "zones"):
        if k in node and not (isinstance(node[k], str) and node[k]):
            raise InputError(f"{p}: key 'node.{k}': must be a non-empty string")
    port = node["port"]
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise InputError(f"{p}: key 'node.port': must be a port number, got {port!r}")
    body = node.get("max_body_bytes", DEFAULT_MAX_BODY_BYTES)
    if isinstance(body, bool) or not isinstance(body, int) or not 1024 <= body <= 1 << 30:
        raise InputError(f"{p}: key 'node.max_body_bytes': an integer from 1024 to 2^30")
    feeds = node.get("feeds", [])
    if not isinstance(feeds, list) or not all(isinstance(f, str) and f for f in feeds):
        raise InputError(f"{p}: key 'node.feeds': must be a list of sources (strings)")
    borders = node.get("borders", True)
    if not isinstance(borders, bool):
        raise InputError(f"{p}: key 'node.borders': must be true or false")
    tiles = node.get("tiles")
    if tiles is not None and not (
            isinstance(tiles, str) and tiles.startswith(("http://", "https://", "/"))
            and all(f"{{{c}}}" in tiles for c in "zxy") and len(tiles) <= 500
            and tiles.isprintable() and not any(c in tiles for c in " '\";")):
        raise InputError(f"{p}: key 'node.tiles': an http(s) or /path URL template with "
                         "{z}, {x} and {y}, e.g. \"https://tiles.example/{z}/{x}/{y}.png\"")
    peers = tree.get("peers", {})
    if not isinstance(peers, dict):
        raise InputError(f"{p}: table [peers] must map party ids to http(s) URLs")
    checked_peers = dict(parse_peer(f"{k}={v}") if isinstance(v, str) else
                         parse_peer(f"{k}=?") for k, v in peers.items())
    base = p.parent

    def path_of(k: str) -> Path | None:
        return base / str(node[k]) if k in node else None

    registry = node.get("registry")
    if registry is not None and not registry.startswith(("postgresql://", "postgres://")):
        registry = str(base / registry)
    db_url = str(node["db"]) if is_url(str(node["db"])) else None
    settings = NodeSettings(
        party=str(node["party"]), key=base / str(node["key"]),
        db=base / (f"{node['party']}.db" if db_url else str(node["db"])), db_url=db_url,
        port=port, registry=registry, accord=path_of("accord"),
        host=str(node.get("host", "127.0.0.1")),
        skew_s=_number(f"{p}: key 'node.skew_s'", node.get("skew_s", 30.0)),
        tick_s=_number(f"{p}: key 'node.tick_s'", node.get("tick_s", 1.0)),
        max_track_age_s=_number(f"{p}: key 'node.max_track_age_s'",
                                node.get("max_track_age_s", 60.0)),
        max_body_bytes=body, tokens=path_of("tokens"), tls_cert=path_of("tls_cert"),
        tls_key=path_of("tls_key"), peer_ca=path_of("peer_ca"), rules=path_of("rules"),
        zones=path_of("zones"), borders=borders,
        feeds=tuple(f if f.startswith("tcp://") else str(base / f) for f in feeds),
        peers=checked_peers, tiles=tiles,
        dss=_dss_table(tree["dss"], base, str(p)) if "dss" in tree else None)
    return check_settings(settings, str(p))


def _http_url(where: str, value: Any) -> str:
    if not (isinstance(value, str) and value.startswith(("http://", "https://"))
            and len(value) <= 2048 and value.isprintable() and " " not in value):
        raise InputError(f"{where}: must be an http(s) URL, got {str(value)[:80]!r}")
    return value.rstrip("/")


def _dss_table(t: Any, base: Path, where: str) -> DssSettings:
    if not isinstance(t, dict):
        raise InputError(f"{where}: [dss] must be a table")
    for k in t:
        if k not in _DSS_KEYS:
            raise InputError(f"{where}: key 'dss.{k}': unknown; allowed: "
                             f"{', '.join(sorted(_DSS_KEYS))}")
    for k in ("audience", "issuer", "db", "signing_key", "publish_audience", "manager",
              "dss_ca"):
        if k in t and not (isinstance(t[k], str) and t[k] and len(t[k]) <= 2048):
            raise InputError(f"{where}: key 'dss.{k}': must be a non-empty string")
    keys = t.get("public_keys", [])
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys) \
            or len(keys) > 64:
        raise InputError(f"{where}: key 'dss.public_keys': a list of PEM files (at most 64)")

    def whole(k: str, default: int, lo: int, hi: int) -> int:
        v = t.get(k, default)
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise InputError(f"{where}: key 'dss.{k}': an integer from {lo} to {hi}")
        return v

    db = t.get("db")
    if db is not None and not is_url(db):
        db = str(base / db)
    return DssSettings(
        audience=t.get("audience"), public_keys=tuple(base / k for k in keys),
        issuer=t.get("issuer"), db=db,
        rate_per_s=_number(f"{where}: key 'dss.rate_per_s'", t.get("rate_per_s", 50.0)),
        rate_burst=float(whole("rate_burst", 100, 1, 1_000_000)),
        max_subscriptions_per_manager=whole("max_subscriptions_per_manager", 1000, 1,
                                            1_000_000),
        max_body_bytes=whole("max_body_bytes", 2 * 1024 * 1024, 1024, 1 << 30),
        publish_to=(_http_url(f"{where}: key 'dss.publish_to'", t["publish_to"])
                    if "publish_to" in t else None),
        uss_base_url=(_http_url(f"{where}: key 'dss.uss_base_url'", t["uss_base_url"])
                      if "uss_base_url" in t else None),
        signing_key=base / t["signing_key"] if "signing_key" in t else None,
        publish_audience=t.get("publish_audience"), manager=t.get("manager"),
        dss_ca=base / t["dss_ca"] if "dss_ca" in t else None)


def check_settings(s: NodeSettings, where: str = "node settings") -> NodeSettings:
    """Cross-field checks (also after flags override the file)."""
    if (s.tls_cert is None) != (s.tls_key is None):
        raise InputError(f"{where}: tls_cert and tls_key go together")
    if s.tick_s > 60:
        raise InputError(f"{where}: tick_s is at most 60 s, got {s.tick_s:g}")
    if s.party in s.peers:
        raise InputError(f"{where}: [peers] names this node's own party {s.party!r}")
    for key in ("db", "registry"):  # the registry's default derives from the db URL
        url = s.db_url if key == "db" else s.registry_url
        if url is not None and is_url(url):
            try:
                split_url(url, LOG_SCHEMA)
            except StoreError as exc:
                raise InputError(f"{where}: key 'node.{key}': {exc}") from None
    return s


def merge_overrides(s: NodeSettings, **flags: Any) -> NodeSettings:
    """``s`` with every flag that is not None put in its place (then checked again)."""
    changes = {k: v for k, v in flags.items() if v is not None}
    if "db" in changes:  # a log file named on the command line replaces a URL
        changes.setdefault("db_url", None)
    return check_settings(replace(s, **changes))


def write_owner_only(path: Path, data: str, *, overwrite: bool = False) -> None:
    """Write ``data`` to ``path`` readable by its owner only (0600), never through a
    symlink; replaces atomically when ``overwrite``."""
    path = Path(path)
    if path.is_symlink():
        raise InputError(f"{path}: is a symbolic link; refusing to write a secret through it")
    if path.exists() and not overwrite:
        raise InputError(f"{path}: exists; refusing to replace it")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write: {exc}") from None


def require_owner_only(path: Path, what: str) -> None:
    """Refuse a secret file that its group or others can read or write."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise InputError(f"{path}: cannot read the {what}: {exc}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(f"{path}: the {what} is readable by others (mode "
                         f"{stat.S_IMODE(mode):04o}); run: chmod 600 {path}")
