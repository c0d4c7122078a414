//! Coupons as the committer hands them out: issuing a code of a pool (one per contact), checking a code a message carries at send time, redemptions from orders.

use crate::EngineError;
use crate::coupons::*;
use crate::state::State;
use kairos_domain::{ContactId, Event, JsonMap, SkipReason, SystemEvent, Timestamp, WorkspaceId};
use serde_json::Value;

impl State {
    /// Pools and their issued counts (at start).
    pub(crate) fn load_coupons(&mut self) -> Result<(), EngineError> {
        let mut rows = Vec::new();
        self.w.coupon_tx().pools(&mut |ws, id, data| rows.push((ws, id, data)))?;
        for (ws, id, data) in rows {
            let v: Value = serde_json::from_str(&data).unwrap_or_default();
            if let Ok(p) = parse_pool(&v) {
                let n = self.w.coupon_tx().pool_issued(ws, &id)?;
                self.coupons.issued.insert((ws, id.clone()), n);
                self.load_stock(ws, &p)?;
                self.coupons.pools.insert((ws, id), p);
            }
        }
        Ok(())
    }

    /// A backed pool's stock of codes created in the shop.
    fn load_stock(&mut self, ws: WorkspaceId, p: &Pool) -> Result<(), EngineError> {
        if p.backing().is_some() {
            let stored = self.w.sync_tx().sync_state(ws, &stock_state(p.id()))?;
            self.coupons.stock.insert((ws, p.id().to_string()), parse_stock(stored.as_deref()));
        }
        Ok(())
    }

    fn save_stock(&mut self, ws: WorkspaceId, pool: &str, now: Timestamp) -> Result<(), EngineError> {
        let codes = self.coupons.stock.get(&(ws, pool.to_string())).cloned().unwrap_or_default();
        let text = serde_json::to_string(&codes).unwrap_or_else(|_| "[]".into());
        self.w.sync_tx().put_sync_state(ws, &stock_state(pool), &text, now)?;
        Ok(())
    }

    /// Removes codes the shop no longer accepts from every backed pool's stock of the workspace; answers how many.
    pub(crate) fn withdraw_coupons(
        &mut self,
        ws: WorkspaceId,
        codes: &[String],
        now: Timestamp,
    ) -> Result<usize, EngineError> {
        let mut touched = Vec::new();
        let mut n = 0;
        for ((w, pool), stock) in self.coupons.stock.iter_mut().filter(|((w, _), _)| *w == ws) {
            let before = stock.len();
            stock.retain(|c| !codes.iter().any(|x| x.eq_ignore_ascii_case(c)));
            if stock.len() != before {
                n += before - stock.len();
                touched.push((*w, pool.clone()));
            }
        }
        for (w, pool) in touched {
            self.save_stock(w, &pool, now)?;
        }
        Ok(n)
    }

    /// Adds codes the shop created to a backed pool's stock (unused ones, up to [`COUPON_STOCK_MAX`]); answers
    /// the stock's size.
    pub(crate) fn stock_coupons(
        &mut self,
        ws: WorkspaceId,
        pool: &str,
        codes: Vec<String>,
        now: Timestamp,
    ) -> Result<usize, EngineError> {
        let key = (ws, pool.to_string());
        if self.coupons.pools.get(&key).is_none_or(|p| p.backing().is_none()) {
            return Err(EngineError::NotFound(format!("no coupon pool {pool:?} whose codes a shop creates")));
        }
        for code in codes {
            let stock = self.coupons.stock.entry(key.clone()).or_default();
            if stock.len() >= COUPON_STOCK_MAX || stock.contains(&code) {
                continue;
            }
            if !self.w.coupon_tx().code_used(ws, &code)? {
                self.coupons.stock.entry(key.clone()).or_default().push(code);
            }
        }
        self.save_stock(ws, pool, now)?;
        Ok(self.coupons.stock.get(&key).map_or(0, Vec::len))
    }

    /// `POST /api/v1/coupons` (create or replace a pool).
    pub(crate) fn save_pool(&mut self, ws: WorkspaceId, p: Pool, now: Timestamp) -> Result<PoolInfo, EngineError> {
        self.w.coupon_tx().save_pool(ws, &p.id, &p.json.to_string(), now)?;
        let issued = self.w.coupon_tx().pool_issued(ws, &p.id)?;
        self.coupons.issued.insert((ws, p.id.clone()), issued);
        self.load_stock(ws, &p)?;
        self.coupons.pools.insert((ws, p.id.clone()), p.clone());
        let stock = p.backing().map(|_| self.coupons.stock.get(&(ws, p.id.clone())).map_or(0, Vec::len));
        let active = p.active(issued, now) && stock.is_none_or(|n| n > 0);
        Ok(PoolInfo { active, pool: p, issued, stock })
    }

    /// Gives `contact` a code of `pool`: the one it already holds while that one can still be used, else a new
    /// one (a unique pool's code that expired or was redeemed is not handed out again); None when the pool has
    /// none.
    pub(crate) fn issue_coupon(
        &mut self,
        ws: WorkspaceId,
        pool: &str,
        contact: ContactId,
        now: Timestamp,
    ) -> Result<Option<Coupon>, EngineError> {
        let Some(p) = self.coupons.pools.get(&(ws, pool.to_string())).cloned() else { return Ok(None) };
        if let Some((code, at)) = self.w.coupon_tx().issued_code(ws, pool, contact)? {
            let held = p.coupon(&code, at);
            if matches!(p.kind, Kind::Shared { .. }) || self.coupon_problem(ws, &held, contact, now)?.is_none() {
                return Ok(Some(held));
            }
        }
        if !self.coupons.available(ws, pool, now) {
            return Ok(None);
        }
        let code = match &p.kind {
            Kind::Shared { code } => code.clone(),
            // A code the shop created, from the stock (`available` said there is one).
            Kind::Unique { .. } if p.backing().is_some() => {
                let Some(code) = self.coupons.stock.get_mut(&(ws, pool.to_string())).and_then(|s| s.pop()) else {
                    return Ok(None);
                };
                self.save_stock(ws, pool, now)?;
                code
            }
            Kind::Unique { .. } => loop {
                let code = p.new_codes(1).pop().expect("a unique pool makes codes");
                if !self.w.coupon_tx().code_used(ws, &code)? {
                    break code;
                }
            },
        };
        self.w.coupon_tx().issue_code(ws, pool, &code, contact, now)?;
        *self.coupons.issued.entry((ws, pool.to_string())).or_default() += 1;
        let coupon = p.coupon(&code, now);
        let mut props = JsonMap::new();
        props.insert("pool".into(), Value::from(pool));
        props.insert("code".into(), Value::from(code.as_str()));
        props.insert("expires_at".into(), coupon.expires_at.map_or(Value::Null, |t| Value::from(t.to_string())));
        let ev = Event::emitted(SystemEvent::CouponIssued, format!("kairos-coupon-{code}"), props, now);
        self.emit(ws, contact, ev, crate::work::Reach::Everything);
        Ok(Some(coupon))
    }

    /// The coupon a message carries (`trigger`'s run coupon), fresh at send time (SPEC 17): kept while it can be
    /// used; a unique code that expired or was redeemed meanwhile is replaced in `trigger` by a new code of its
    /// pool; otherwise (a shared code, a pool that ran out or ended) why the message cannot go.
    pub(crate) fn fresh_coupon(
        &mut self,
        ws: WorkspaceId,
        trigger: &mut JsonMap,
        contact: ContactId,
        now: Timestamp,
    ) -> Result<Option<SkipReason>, EngineError> {
        let Some(coupon) = run_coupon(trigger) else { return Ok(None) };
        let Some(problem) = self.coupon_problem(ws, &coupon, contact, now)? else { return Ok(None) };
        let unique =
            self.coupons.pools.get(&(ws, coupon.pool.clone())).is_some_and(|p| matches!(p.kind, Kind::Unique { .. }));
        if !unique {
            return Ok(Some(problem));
        }
        match self.issue_coupon(ws, &coupon.pool, contact, now)? {
            Some(fresh) if fresh.code != coupon.code => {
                tracing::debug!(pool = %coupon.pool, "coupon replaced at send time: {}", problem.as_str());
                trigger.insert(RUN_COUPON_KEY.into(), serde_json::to_value(&fresh).unwrap_or_default());
                Ok(None)
            }
            _ => Ok(Some(problem)),
        }
    }

    /// Why a coupon a message carries can no longer be promoted (at send time), if it cannot.
    pub(crate) fn coupon_problem(
        &mut self,
        ws: WorkspaceId,
        coupon: &Coupon,
        contact: ContactId,
        now: Timestamp,
    ) -> Result<Option<SkipReason>, EngineError> {
        if coupon.expires_at.is_some_and(|t| t <= now) {
            return Ok(Some(SkipReason::CouponExpired));
        }
        match self.w.coupon_tx().coupon_code(ws, &coupon.code, Some(contact))? {
            Some(c) if c.redeemed_at.is_some() => Ok(Some(SkipReason::CouponRedeemed)),
            _ => Ok(None),
        }
    }

    /// `Order Completed` with a `coupon` property: the contact's code is redeemed (once).
    pub(crate) fn redeem_from_order(
        &mut self,
        ws: WorkspaceId,
        contact: ContactId,
        ev: &Event,
        now: Timestamp,
    ) -> Result<(), EngineError> {
        if ev.name.as_deref() != Some("Order Completed") || self.coupons.pools.keys().all(|(w, _)| *w != ws) {
            return Ok(());
        }
        let Some(code) = ev.properties.get("coupon").and_then(Value::as_str) else { return Ok(()) };
        let order = ev.properties.get("order_id").map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        let issued = self.w.coupon_tx().coupon_code(ws, code, Some(contact))?;
        if issued.is_none() {
            // A shared code used by someone it was not sent to: recorded as theirs, redeemed.
            let shared = self
                .coupons
                .pools
                .iter()
                .find(|((w, _), p)| *w == ws && matches!(&p.kind, Kind::Shared { code: c } if c == code))
                .map(|((_, id), _)| id.clone());
            match shared {
                Some(pool) => {
                    self.w.coupon_tx().issue_code(ws, &pool, code, contact, now)?;
                }
                None => return Ok(()),
            }
        }
        self.w.coupon_tx().redeem_code(ws, code, contact, order.as_deref().unwrap_or(""), now)?;
        Ok(())
    }
}
