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
        h.bios = std::mem::take(&mut h.bios)
            .into_iter()
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

/// `map` with its keys rewritten by `f` (a `BTreeMap` or a `VecMap`: taken apart in key
/// order and collected again).
fn rekey<M, V>(map: &mut M, f: &mut impl FnMut(&mut ObjId))
where
    M: Default + IntoIterator<Item = (ObjId, V)> + FromIterator<(ObjId, V)>,
{
    *map = std::mem::take(map)
        .into_iter()
        .map(|(mut id, v)| {
            f(&mut id);
            (id, v)
        })
        .collect();
}
