//! Alerts in the store: time-ordered ids, durable appends, filtered cursor pages, retention.
//!
//! Invariants:
//! - An alert's id is `ts_ms << 20 | seq` with `seq` unique within that millisecond; ids are
//!   allocated under the alert lock, from the highest id stored (found at open) and, for an
//!   alert older than that, from the highest id stored in its millisecond. In the (absurd)
//!   case of 2^20 alerts in one millisecond, the rest spill into the next millisecond.
//! - `meta.alert_count` changes in the same atomic batch as the alerts it counts.
//! - Every call is bounded: an append takes at most [`MAX_ALERT_BATCH`] alerts, a page at most
//!   [`MAX_ALERT_PAGE`] alerts and a query reads at most [`MAX_ALERT_SCAN`] alerts; retention
//!   deletes in chunks of [`RETENTION_CHUNK`], releasing the lock between them.
use super::db::{Db, Dir, Durability};
use super::schema::{alert_id, alert_id_ms, AlertSchema, MetaKey, MetaSchema, ALERT_MAX_MS, ALERT_MAX_SEQ};
use super::{lock, Store, StoreError};
use crate::model::{Alert, AlertKind};
use std::collections::HashMap;

/// Most alerts one [`Store::append_alerts`] call takes.
pub const MAX_ALERT_BATCH: usize = 10_000;
/// Most alerts one page of [`Store::query_alerts`] holds.
pub const MAX_ALERT_PAGE: usize = 1000;
/// Most alerts one [`Store::query_alerts`] call reads while filtering.
pub const MAX_ALERT_SCAN: usize = 100_000;
/// Most alerts deleted in one atomic retention batch.
pub const RETENTION_CHUNK: u64 = 10_000;

/// A query over alerts. Empty or `None` filters match everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AlertQuery {
    /// Alerts at or after this time.
    pub from_ms: Option<u64>,
    /// Alerts at or before this time.
    pub to_ms: Option<u64>,
    /// Alerts of one of these kinds.
    pub kinds: Vec<AlertKind>,
    /// Alerts at least this severe: severity 1 is the highest, so this keeps
    /// `severity <= min_severity`.
    pub min_severity: Option<u8>,
    /// Alerts whose source or destination group is this one.
    pub group: Option<String>,
    /// Continue after this cursor (the `next_cursor` of the previous page).
    pub after: Option<u64>,
    /// Page size, 1 to [`MAX_ALERT_PAGE`] (0 means the maximum).
    pub limit: usize,
    /// Newest first instead of oldest first; `after` then continues towards older alerts.
    pub newest_first: bool,
}

impl AlertQuery {
    fn matches(&self, a: &Alert) -> bool {
        self.from_ms.iter().all(|&t| a.ts_ms >= t)
            && self.to_ms.iter().all(|&t| a.ts_ms <= t)
            && (self.kinds.is_empty() || self.kinds.contains(&a.kind))
            && self.min_severity.iter().all(|&s| a.severity <= s)
            && self.group.iter().all(|g| &a.from_group == g || &a.to_group == g)
    }
}

/// The alert lock's state.
pub(crate) struct AlertState {
    /// The highest id allocated (stored, or allocated by a write that failed).
    last_id: Option<u64>,
    /// Alerts stored (mirrors `meta.alert_count`).
    count: u64,
}

impl AlertState {
    pub(crate) fn load(db: &Db) -> Result<AlertState, StoreError> {
        let last_id = db.iter::<AlertSchema>(None, Dir::Reverse)?.next_key().transpose()?;
        let count = db.get::<MetaSchema>(&MetaKey::AlertCount)?.unwrap_or(0);
        Ok(AlertState { last_id, count })
    }

    /// Allocates an id for an alert at `ms`. `late` holds, for milliseconds before `last_id`,
    /// the next free sequence number (filled from the store on first use).
    fn allocate(&mut self, db: &Db, ms: u64, late: &mut HashMap<u64, u64>) -> Result<u64, StoreError> {
        let mut ms = ms.min(ALERT_MAX_MS);
        loop {
            let last_ms = self.last_id.map(alert_id_ms);
            let seq = match last_ms {
                None => Some(0),
                Some(l) if ms > l => Some(0),
                Some(l) if ms == l => {
                    let s = self.last_id.map_or(0, |id| (id & ALERT_MAX_SEQ) + 1);
                    (s <= ALERT_MAX_SEQ).then_some(s)
                }
                Some(_) => {
                    let next = match late.get(&ms) {
                        Some(&n) => n,
                        None => {
                            let top = alert_id(ms, ALERT_MAX_SEQ).to_be_bytes();
                            match db.iter::<AlertSchema>(Some(&top), Dir::Reverse)?.next_key().transpose()? {
                                Some(id) if alert_id_ms(id) == ms => (id & ALERT_MAX_SEQ) + 1,
                                _ => 0,
                            }
                        }
                    };
                    if next <= ALERT_MAX_SEQ {
                        late.insert(ms, next + 1);
                        return Ok(alert_id(ms, next));
                    }
                    None
                }
            };
            match seq {
                Some(s) => {
                    let id = alert_id(ms, s);
                    // The millisecond `last_id` leaves behind may get late alerts of this
                    // batch, before the batch is in the store to be looked up.
                    if let Some(prev) = self.last_id.filter(|&p| alert_id_ms(p) < ms) {
                        late.insert(alert_id_ms(prev), (prev & ALERT_MAX_SEQ) + 1);
                    }
                    self.last_id = Some(id);
                    return Ok(id);
                }
                // This millisecond is full: spill into the next one.
                None if ms < ALERT_MAX_MS => ms += 1,
                None => {
                    return Err(StoreError::TooLarge {
                        what: "alerts in the last representable millisecond",
                        n: ALERT_MAX_SEQ as usize + 1,
                        max: ALERT_MAX_SEQ as usize,
                    })
                }
            }
        }
    }
}

impl Store {
    /// Stores alerts in one atomic, `fsync`ed batch and returns their ids (in input order).
    /// When it returns, the alerts survive a crash of the process or of the machine.
    pub fn append_alerts(&self, alerts: &[Alert]) -> Result<Vec<u64>, StoreError> {
        if alerts.len() > MAX_ALERT_BATCH {
            return Err(StoreError::TooLarge { what: "alerts", n: alerts.len(), max: MAX_ALERT_BATCH });
        }
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        let mut st = lock(&self.alerts);
        let mut late = HashMap::new();
        let mut ids = Vec::with_capacity(alerts.len());
        let mut b = self.db.batch();
        for a in alerts {
            let id = st.allocate(&self.db, a.ts_ms, &mut late)?;
            b.put::<AlertSchema>(&id, &Alert { id, ..a.clone() })?;
            ids.push(id);
        }
        let count = st.count + alerts.len() as u64;
        b.put::<MetaSchema>(&MetaKey::AlertCount, &count)?;
        self.db.write(b, Durability::Sync, "alerts")?;
        st.count = count;
        Ok(ids)
    }

    pub fn get_alert(&self, id: u64) -> Result<Option<Alert>, StoreError> {
        self.db.get::<AlertSchema>(&id)
    }

    /// How many alerts the store holds.
    pub fn alert_count(&self) -> u64 {
        lock(&self.alerts).count
    }

    /// One page of alerts matching `q`, in time order (or newest first), and the cursor to
    /// pass as `after` for the next page. `None` means there is nothing more; a page may be
    /// shorter than `limit` (even empty) while the cursor is `Some`, when the query read
    /// [`MAX_ALERT_SCAN`] alerts without filling the page.
    pub fn query_alerts(&self, q: &AlertQuery) -> Result<(Vec<Alert>, Option<u64>), StoreError> {
        let limit = if q.limit == 0 { MAX_ALERT_PAGE } else { q.limit.min(MAX_ALERT_PAGE) };
        let first_id = q.from_ms.map_or(0, |t| alert_id(t, 0));
        let last_id = q.to_ms.map_or(u64::MAX, |t| alert_id(t, ALERT_MAX_SEQ));
        let (start, dir) = if q.newest_first {
            let start = match q.after {
                Some(0) => return Ok((Vec::new(), None)),
                Some(c) => last_id.min(c - 1),
                None => last_id,
            };
            (start, Dir::Reverse)
        } else {
            let start = match q.after {
                Some(u64::MAX) => return Ok((Vec::new(), None)),
                Some(c) => first_id.max(c + 1),
                None => first_id,
            };
            (start, Dir::Forward)
        };
        let in_range = |id: u64| id >= first_id && id <= last_id;
        let start_key = start.to_be_bytes();
        let mut out = Vec::new();
        let mut scanned = 0;
        for r in self.db.iter::<AlertSchema>(Some(&start_key), dir)? {
            let (id, alert) = r?;
            if !in_range(id) {
                return Ok((out, None));
            }
            if q.matches(&alert) {
                out.push(alert);
                if out.len() == limit {
                    return Ok((out, Some(id)));
                }
            }
            scanned += 1;
            if scanned == MAX_ALERT_SCAN {
                return Ok((out, Some(id)));
            }
        }
        Ok((out, None))
    }

    /// Removes alerts older than `alert_max_age_ms` before `now_ms`, then the oldest alerts
    /// beyond `alert_max_count`. Returns how many it removed.
    pub fn enforce_retention(&self, now_ms: u64) -> Result<u64, StoreError> {
        let cutoff = alert_id(now_ms.saturating_sub(self.config.alert_max_age_ms), 0);
        let mut removed = 0;
        loop {
            let n = self.remove_oldest(RETENTION_CHUNK, Some(cutoff))?;
            removed += n;
            if n < RETENTION_CHUNK {
                break;
            }
        }
        loop {
            let excess = lock(&self.alerts).count.saturating_sub(self.config.alert_max_count);
            if excess == 0 {
                break;
            }
            let n = self.remove_oldest(excess.min(RETENTION_CHUNK), None)?;
            removed += n;
            if n == 0 {
                break;
            }
        }
        Ok(removed)
    }

    /// Deletes up to `max` of the oldest alerts, only those with ids below `below`, in one
    /// atomic batch (a range delete). Returns how many.
    fn remove_oldest(&self, max: u64, below: Option<u64>) -> Result<u64, StoreError> {
        let mut st = lock(&self.alerts);
        let mut it = self.db.iter::<AlertSchema>(None, Dir::Forward)?;
        let mut first = None;
        let mut last = None;
        let mut n = 0;
        let mut exhausted = true;
        while n < max {
            let Some(id) = it.next_key().transpose()? else { break };
            if below.is_some_and(|b| id >= b) {
                break;
            }
            first.get_or_insert(id);
            last = Some(id);
            n += 1;
        }
        if n == max {
            exhausted = it.next_key().is_none();
        }
        let (Some(first), Some(last)) = (first, last) else {
            return Ok(0);
        };
        // If the store ran out of alerts, no alert is left: correct a drifted count.
        let count = if below.is_none() && exhausted { 0 } else { st.count.saturating_sub(n) };
        let mut b = self.db.batch();
        b.delete_range::<AlertSchema>(&first, &last)?;
        b.delete::<AlertSchema>(&last)?;
        b.put::<MetaSchema>(&MetaKey::AlertCount, &count)?;
        self.db.write(b, Durability::Sync, "alert retention")?;
        st.count = count;
        Ok(n)
    }
}
