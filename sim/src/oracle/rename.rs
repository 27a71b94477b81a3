//! The object identifiers the oracles' history holds, for the symmetry reduction
//! ([`crate::symmetry`]): the bios in flight (keys, and a writeback bio's io_end), the
//! conversions and the landed sectors of writeback io_ends (keys).

use model::state::ObjId;

use super::Observer;

impl Observer {
    /// Visits every object identifier of the history, letting `f` rewrite it (as
    /// [`crate::symmetry::visit_objects`] does the state's).
    pub fn visit_objects(&mut self, f: &mut impl FnMut(&mut ObjId)) {
        let h = &mut self.history;
        let mut bios = std::mem::take(&mut h.bios);
        h.bios = std::iter::from_fn(|| bios.pop_first())
            .map(|(mut id, mut record)| {
                if let Some(io_end) = &mut record.io_end {
                    f(io_end);
                }
                f(&mut id);
                (id, record)
            })
            .collect();
        rekey(&mut h.conversions, f);
        rekey(&mut h.landed, f);
        rekey(&mut h.landed_superseded, f);
    }
}

/// `map` with its keys rewritten by `f`.
fn rekey<V>(map: &mut std::collections::BTreeMap<ObjId, V>, f: &mut impl FnMut(&mut ObjId)) {
    let mut old = std::mem::take(map);
    *map = std::iter::from_fn(|| old.pop_first())
        .map(|(mut id, v)| {
            f(&mut id);
            (id, v)
        })
        .collect();
}
