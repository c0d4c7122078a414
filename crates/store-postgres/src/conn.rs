//! One PostgreSQL connection with its prepared statements, and the pool of read connections.
//!
//! The store's traits are synchronous (the committer is a plain thread; reads run on blocking threads), so the
//! connection is `postgres::Client`, the blocking façade of `tokio-postgres` by the same maintainers. Statements
//! written as `&'static str` are prepared once per connection and kept (one round trip per call after the
//! first); statements built at run time go through the `_dyn` methods, prepared each time.

use std::collections::HashMap;
use std::sync::Mutex;

use kairos_store::{Result, StoreError};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use crate::pg_error;

/// A pooled connection idle this long is checked (an empty query) before it is lent again.
const IDLE_CHECK_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
/// How long that check may take.
const IDLE_CHECK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Parameters of a statement.
pub(crate) type Params<'a> = [&'a (dyn ToSql + Sync)];

/// A connection and the statements prepared on it.
pub(crate) struct Conn {
    /// Always Some until dropped (see `Drop`).
    client: Option<Client>,
    prepared: HashMap<&'static str, Statement>,
    /// When it last went back to the pool (a connection idle a while is checked before it is lent again).
    idle_since: std::time::Instant,
}

impl Conn {
    pub(crate) fn connect(config: &postgres::Config) -> Result<Conn> {
        let client = config.connect(NoTls).map_err(|e| connect_error(config, &e))?;
        Ok(Conn { client: Some(client), prepared: HashMap::new(), idle_since: std::time::Instant::now() })
    }

    /// Whether the connection is gone (a pool drops those rather than lending them again).
    pub(crate) fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(Client::is_closed)
    }

    /// Whether the server still answers on it. The blocking client only notices a server that went away when
    /// it next talks to it, so an idle connection is checked before it is lent (after a database restart, the
    /// first query on a stale connection would fail otherwise).
    fn answers(&mut self) -> bool {
        self.client().is_valid(IDLE_CHECK_TIMEOUT).is_ok()
    }

    /// What cancels the statement running on this connection, from another thread.
    pub(crate) fn cancel_token(&mut self) -> postgres::CancelToken {
        self.client().cancel_token()
    }

    fn client(&mut self) -> &mut Client {
        self.client.as_mut().expect("a connection has its client until dropped")
    }

    fn prepare(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client().prepare(sql).map_err(pg_error)?;
        self.prepared.insert(sql, s.clone());
        Ok(s)
    }

    pub(crate) fn query(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Vec<Row>> {
        let s = self.prepare(sql)?;
        self.client().query(&s, params).map_err(pg_error)
    }

    pub(crate) fn query_opt(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Option<Row>> {
        let s = self.prepare(sql)?;
        self.client().query_opt(&s, params).map_err(pg_error)
    }

    pub(crate) fn query_one(&mut self, sql: &'static str, params: &Params<'_>) -> Result<Row> {
        let s = self.prepare(sql)?;
        self.client().query_one(&s, params).map_err(pg_error)
    }

    /// Runs a statement; returns the rows it changed.
    pub(crate) fn execute(&mut self, sql: &'static str, params: &Params<'_>) -> Result<u64> {
        let s = self.prepare(sql)?;
        self.client().execute(&s, params).map_err(pg_error)
    }

    /// Streams the rows of a query to `f` without holding them all (large scans: events by name, history).
    pub(crate) fn for_each(
        &mut self,
        sql: &'static str,
        params: &Params<'_>,
        f: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        let s = self.prepare(sql)?;
        let mut rows = self.client().query_raw(&s, params.iter().copied()).map_err(pg_error)?;
        while let Some(row) = postgres::fallible_iterator::FallibleIterator::next(&mut rows).map_err(pg_error)? {
            f(&row)?;
        }
        Ok(())
    }

    pub(crate) fn query_dyn(&mut self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>> {
        self.client().query(sql, params).map_err(pg_error)
    }

    pub(crate) fn query_one_dyn(&mut self, sql: &str, params: &Params<'_>) -> Result<Row> {
        self.client().query_one(sql, params).map_err(pg_error)
    }

    pub(crate) fn execute_dyn(&mut self, sql: &str, params: &Params<'_>) -> Result<u64> {
        self.client().execute(sql, params).map_err(pg_error)
    }

    /// Streams rows into `sql` (a `COPY ... FROM STDIN (FORMAT binary)` of columns of `types`), each written by
    /// `write`: PostgreSQL's bulk path, with no statement to parse and no arrays to unpack. A failure inside
    /// `write` abandons the COPY (and with it the transaction it is part of).
    pub(crate) fn copy_in_binary(
        &mut self,
        sql: &str,
        types: &[postgres::types::Type],
        write: impl FnOnce(&mut postgres::binary_copy::BinaryCopyInWriter<'_>) -> Result<()>,
    ) -> Result<u64> {
        let sink = self.client().copy_in(sql).map_err(pg_error)?;
        let mut writer = postgres::binary_copy::BinaryCopyInWriter::new(sink, types);
        write(&mut writer)?;
        writer.finish().map_err(pg_error)
    }

    /// Runs statements separated by `;`, without parameters (transactions, schema).
    pub(crate) fn batch(&mut self, sql: &str) -> Result<()> {
        self.client().batch_execute(sql).map_err(pg_error)
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Closing a blocking client blocks on its own runtime, which panics inside an async one (a store
        // dropped at the end of `block_on`, a read connection dropped on an async thread): close it elsewhere.
        if let Some(client) = self.client.take() {
            crate::off_runtime(move || drop(client));
        }
    }
}

/// Errors while connecting name the server and the problem (a wrong host, a refused connection, a wrong
/// password, a missing database), never the password.
fn connect_error(config: &postgres::Config, e: &postgres::Error) -> StoreError {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .zip(config.get_ports().iter().chain(std::iter::repeat(&5432)))
        .map(|(h, port)| match h {
            postgres::config::Host::Tcp(h) => format!("{h}:{port}"),
            postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let mut cause = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        cause.push_str(&format!(": {s}"));
        source = s.source();
    }
    StoreError::Unavailable(format!(
        "cannot connect to PostgreSQL at {} (database {:?}, user {:?}): {cause}",
        if hosts.is_empty() { "localhost".to_string() } else { hosts.join(", ") },
        config.get_dbname().unwrap_or("(default)"),
        config.get_user().unwrap_or("(default)"),
    ))
}

/// Read connections kept open for queries; a reader returns its connection when dropped.
pub struct ReadPool {
    config: postgres::Config,
    conns: Mutex<Vec<Conn>>,
}

impl std::fmt::Debug for ReadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadPool").finish_non_exhaustive()
    }
}

impl ReadPool {
    pub(crate) fn new(config: postgres::Config) -> ReadPool {
        ReadPool { config, conns: Mutex::new(Vec::new()) }
    }

    /// A pooled connection (a new one when all are busy).
    pub(crate) fn get(&self) -> Result<Pooled<'_>> {
        let pooled = self.conns.lock().map_err(|_| StoreError::corrupt("read pool", "poisoned"))?.pop();
        let fresh = |c: &mut Conn| !c.is_closed() && (c.idle_since.elapsed() < IDLE_CHECK_AFTER || c.answers());
        let conn = match pooled {
            Some(mut c) => {
                if fresh(&mut c) {
                    c
                } else {
                    // One stale connection means the server restarted: the others are stale too.
                    self.conns.lock().map_err(|_| StoreError::corrupt("read pool", "poisoned"))?.clear();
                    Conn::connect(&self.config)?
                }
            }
            None => Conn::connect(&self.config)?,
        };
        Ok(Pooled { conn: Some(conn), pool: self })
    }
}

/// A connection on loan from the pool.
pub(crate) struct Pooled<'a> {
    /// Always Some until dropped.
    conn: Option<Conn>,
    pool: &'a ReadPool,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("a pooled connection is present until dropped")
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("a pooled connection is present until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(mut conn) = self.conn.take().filter(|c| !c.is_closed())
            && let Ok(mut pool) = self.pool.conns.lock()
            && pool.len() < crate::READ_POOL_CONNECTIONS_KEPT
        {
            conn.idle_since = std::time::Instant::now();
            pool.push(conn);
        }
    }
}
