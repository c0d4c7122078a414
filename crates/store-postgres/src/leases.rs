//! Leases on PostgreSQL (`kairos_store::lease`): one row per lease in `leases`, expiring on the database's
//! clock, claimed with `FOR UPDATE SKIP LOCKED`. Calls run on a connection of their own, so a heartbeat never
//! queues behind the committer's transaction.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use kairos_store::{Lease, LeaseHolder, Leases, Result, StoreError};

use crate::conn::Conn;

pub(crate) struct PgLeases {
    config: postgres::Config,
    conn: Mutex<Option<Conn>>,
    /// The lease writers opened from now on fence their transactions with (shared with `PgStore`).
    pub(crate) fence: Arc<RwLock<Option<Lease>>>,
}

fn ttl_ms(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX)
}

impl PgLeases {
    pub(crate) fn new(config: postgres::Config, fence: Arc<RwLock<Option<Lease>>>) -> PgLeases {
        PgLeases { config, conn: Mutex::new(None), fence }
    }

    /// Runs `f` on the lease connection, opening it again when it was lost.
    fn with<T>(&self, f: impl FnOnce(&mut Conn) -> Result<T>) -> Result<T> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_none_or(Conn::is_closed) {
            *guard = Some(Conn::connect(&self.config)?);
        }
        let conn = guard.as_mut().expect("connected above");
        let out = f(conn);
        if out.is_err() {
            // Leave no transaction open behind a failed call; a lost connection is replaced on the next one.
            let _ = conn.batch("ROLLBACK");
        }
        out
    }
}

impl Leases for PgLeases {
    fn try_acquire(&self, name: &str, holder: &str, address: &str, ttl: Duration) -> Result<Option<Lease>> {
        crate::off_runtime(|| {
            self.with(|c| {
                c.execute(
                    "INSERT INTO leases (name, holder, address, epoch, expires_at) \
                     VALUES ($1, '', '', 0, '-infinity') ON CONFLICT (name) DO NOTHING",
                    &[&name],
                )?;
                c.batch("BEGIN")?;
                // A holder inside a transaction has the row share-locked: it is alive, so skip it, never wait.
                // A holder that advertised the address this node now listens on is gone (a restart).
                let free = c.query_opt(
                    "SELECT epoch FROM leases WHERE name = $1 \
                     AND (expires_at < clock_timestamp() OR holder = '' OR address = $2) \
                     FOR UPDATE SKIP LOCKED",
                    &[&name, &address],
                )?;
                let Some(row) = free else {
                    c.batch("COMMIT")?;
                    return Ok(None);
                };
                let epoch: i64 = row.try_get::<_, i64>(0).map_err(crate::pg_error)? + 1;
                c.execute(
                    "UPDATE leases SET holder = $2, address = $3, epoch = $4, \
                     expires_at = clock_timestamp() + $5::BIGINT * interval '1 millisecond' WHERE name = $1",
                    &[&name, &holder, &address, &epoch, &ttl_ms(ttl)],
                )?;
                c.batch("COMMIT")?;
                Ok(Some(Lease { name: name.to_string(), holder: holder.to_string(), epoch }))
            })
        })
    }

    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool> {
        crate::off_runtime(|| {
            self.with(|c| {
                let n = c.execute(
                    "UPDATE leases SET expires_at = clock_timestamp() + $4::BIGINT * interval '1 millisecond' \
                     WHERE name = $1 AND holder = $2 AND epoch = $3",
                    &[&lease.name, &lease.holder, &lease.epoch, &ttl_ms(ttl)],
                )?;
                Ok(n == 1)
            })
        })
    }

    fn release(&self, lease: &Lease) -> Result<()> {
        crate::off_runtime(|| {
            self.with(|c| {
                c.execute(
                    "UPDATE leases SET expires_at = '-infinity' WHERE name = $1 AND holder = $2 AND epoch = $3",
                    &[&lease.name, &lease.holder, &lease.epoch],
                )?;
                Ok(())
            })
        })
    }

    fn holder(&self, name: &str) -> Result<Option<LeaseHolder>> {
        crate::off_runtime(|| {
            self.with(|c| {
                let row = c.query_opt(
                    "SELECT holder, address, epoch, expires_at < clock_timestamp() FROM leases \
                     WHERE name = $1 AND holder <> ''",
                    &[&name],
                )?;
                row.map(|r| {
                    Ok(LeaseHolder {
                        holder: r.try_get(0).map_err(crate::pg_error)?,
                        address: r.try_get(1).map_err(crate::pg_error)?,
                        epoch: r.try_get(2).map_err(crate::pg_error)?,
                        expired: r.try_get(3).map_err(crate::pg_error)?,
                    })
                })
                .transpose()
            })
        })
    }

    fn fence_writers(&self, lease: &Lease) {
        *self.fence.write().unwrap_or_else(|p| p.into_inner()) = Some(lease.clone());
    }
}

/// The fencing check at the start of a writer's transaction: the lease must still be this writer's at its
/// epoch, and its row stays share-locked until the transaction ends (a taker's claim skips or waits for it).
pub(crate) fn check_fence(conn: &mut Conn, lease: &Lease) -> Result<()> {
    let held = conn.query_opt(
        "SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND epoch = $3 FOR SHARE",
        &[&lease.name, &lease.holder, &lease.epoch],
    )?;
    match held {
        Some(_) => Ok(()),
        None => Err(StoreError::Unavailable(format!(
            "this node no longer holds the {:?} lease (epoch {}): another node took over; nothing was written",
            lease.name, lease.epoch
        ))),
    }
}
