#!/usr/bin/env python3
"""The anchors Kairos's ingestion is compared with (issue 17), on the same file of Segment batch lines that
`kairos bench ingest --events FILE` sends (make it with `kairos bench gen-events`):

  sqlite    plain SQLite: one table of events with a unique index on the message id, WAL, synchronous=FULL
            (Kairos's durability), 1 000 rows per transaction, INSERT OR IGNORE (dedup on the message id).
  postgres  PostgreSQL's binary COPY of the same rows into the same table shape, one COPY per 100 000 rows,
            against the server of DATABASE_URL (scripts/pg.sh start with KAIROS_PG_DURABLE=1 for a durable one).

  scripts/anchor-baselines.py sqlite FILE
  DATABASE_URL=postgres://... scripts/anchor-baselines.py postgres FILE

Prints rows per second; parsing the JSON lines is done before the clock starts (both baselines get the rows
ready-made: what is timed is the database taking them).
"""

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

SQLITE_TXN_ROWS = 1000
PG_COPY_ROWS = 100_000


def rows(path):
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            for e in json.loads(line)["batch"]:
                out.append(
                    (
                        e["messageId"],
                        e.get("userId"),
                        e.get("anonymousId"),
                        e["type"],
                        e.get("event") or e.get("name"),
                        e.get("timestamp"),
                        json.dumps(e, separators=(",", ":")),
                    )
                )
    return out


def sqlite_baseline(data):
    d = tempfile.mkdtemp(prefix="anchor-sqlite-")
    db = sqlite3.connect(os.path.join(d, "events.db"), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, message_id TEXT NOT NULL, user_id TEXT, anonymous_id TEXT,"
        " type TEXT NOT NULL, name TEXT, ts TEXT, body TEXT NOT NULL)"
    )
    db.execute("CREATE UNIQUE INDEX events_message_id ON events (message_id)")
    t0 = time.perf_counter()
    for i in range(0, len(data), SQLITE_TXN_ROWS):
        db.execute("BEGIN")
        db.executemany(
            "INSERT OR IGNORE INTO events (message_id, user_id, anonymous_id, type, name, ts, body)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            data[i : i + SQLITE_TXN_ROWS],
        )
        db.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    subprocess.run(["rm", "-rf", d], check=False)
    return elapsed, size


def postgres_baseline(data):
    try:
        import psycopg
    except ImportError:
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "psycopg[binary]"], check=True)
        import psycopg
    url = os.environ["DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS anchor_events")
        conn.execute(
            "CREATE TABLE anchor_events (seq bigserial PRIMARY KEY, message_id text NOT NULL, user_id text,"
            " anonymous_id text, type text NOT NULL, name text, ts text, body jsonb NOT NULL)"
        )
        conn.execute("CREATE UNIQUE INDEX anchor_events_message_id ON anchor_events (message_id)")
        t0 = time.perf_counter()
        for i in range(0, len(data), PG_COPY_ROWS):
            with conn.transaction():
                with conn.cursor() as cur:
                    with cur.copy(
                        "COPY anchor_events (message_id, user_id, anonymous_id, type, name, ts, body)"
                        " FROM STDIN (FORMAT BINARY)"
                    ) as copy:
                        copy.set_types(["text", "text", "text", "text", "text", "text", "jsonb"])
                        for r in data[i : i + PG_COPY_ROWS]:
                            copy.write_row(r)
        elapsed = time.perf_counter() - t0
        size = conn.execute("SELECT pg_total_relation_size('anchor_events')").fetchone()[0]
        conn.execute("DROP TABLE anchor_events")
    return elapsed, size


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("sqlite", "postgres"):
        print(__doc__)
        sys.exit(2)
    which, path = sys.argv[1], sys.argv[2]
    data = rows(path)
    elapsed, size = (sqlite_baseline if which == "sqlite" else postgres_baseline)(data)
    print(
        f"{which} baseline: {len(data)} rows in {elapsed:.2f} s = {len(data) / elapsed:,.0f} rows/s,"
        f" {size / len(data):,.0f} bytes per row on disk"
    )


if __name__ == "__main__":
    main()
