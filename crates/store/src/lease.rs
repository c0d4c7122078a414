//! Leases: work that needs one owner at a time across the nodes sharing a server database (the committer and
//! everything it owns: state, timers, flow runs, campaign sending, the dispatcher) is held under a named lease.
//!
//! The model (ARCHITECTURE.md, "Several nodes"):
//! - a lease row names its holder (a node id), the address other nodes forward requests to, an epoch (raised by
//!   one at every change of holder) and an expiry on the database's clock (no node's clock is trusted);
//! - a node takes a lease only when it is free or expired, claiming the row with `FOR UPDATE SKIP LOCKED` (a
//!   holder inside a transaction is never waited for: it is alive);
//! - the holder renews it well before it expires; a renewal that finds another holder or epoch means the lease
//!   was taken, and the node must stop at once;
//! - fencing: writers opened after [`Leases::fence_writers`] check, at the start of every transaction, that
//!   the lease is still theirs at that epoch and keep the row share-locked until commit. A taker's claim waits
//!   for (or skips) that lock, so once a lease has moved, no transaction of its former holder can commit.
//!
//! An embedded database (SQLite) serves one process and has no leases.

use std::time::Duration;

use crate::Result;

/// A lease this node holds: the fencing token its writers carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub holder: String,
    pub epoch: i64,
}

/// Who holds a lease, as other nodes see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseHolder {
    pub holder: String,
    /// Where the holder takes forwarded requests (`http://host:port`).
    pub address: String,
    pub epoch: i64,
    /// Past its expiry on the database's clock: the holder stopped renewing it (it is probably dead).
    pub expired: bool,
}

pub trait Leases: Send + Sync {
    /// Takes lease `name` for `holder` (reachable at `address`) for `ttl`, if nobody holds it, its holder let it
    /// expire, or its holder advertised `address` (this node listens there now, so that holder is gone: a
    /// restarted node takes its lease back at once; every node must advertise an address of its own); None
    /// while another node holds it.
    fn try_acquire(&self, name: &str, holder: &str, address: &str, ttl: Duration) -> Result<Option<Lease>>;
    /// Extends a held lease by `ttl` from now; false when it was taken by another node (stop at once).
    fn renew(&self, lease: &Lease, ttl: Duration) -> Result<bool>;
    /// Gives a held lease up (a clean stop), so another node can take it without waiting for it to expire.
    fn release(&self, lease: &Lease) -> Result<()>;
    /// The current holder of lease `name`, if it was ever taken.
    fn holder(&self, name: &str) -> Result<Option<LeaseHolder>>;
    /// Writers opened from now on fence every transaction with `lease` (see the module documentation).
    fn fence_writers(&self, lease: &Lease);
}
