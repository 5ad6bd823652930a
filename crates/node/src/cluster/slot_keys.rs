//! The keys of each hash slot of a database, kept only in cluster mode, for CLUSTER
//! COUNTKEYSINSLOT / GETKEYSINSLOT and for emptying slots (Redis's slots_to_keys).

use super::slots::{key_slot, SLOTS};
use crate::db::{HashSet, SmallBytes};

pub struct SlotKeys {
    slots: Vec<HashSet<SmallBytes>>,
}

impl Default for SlotKeys {
    fn default() -> Self {
        SlotKeys {
            slots: (0..SLOTS).map(|_| HashSet::default()).collect(),
        }
    }
}

impl SlotKeys {
    pub fn add(&mut self, key: &[u8]) {
        self.slots[key_slot(key) as usize].insert(SmallBytes::new(key));
    }

    pub fn remove(&mut self, key: &[u8]) {
        self.slots[key_slot(key) as usize].swap_remove(key);
    }

    pub fn count(&self, slot: usize) -> usize {
        self.slots[slot].len()
    }

    /// Up to `max` keys of `slot`, newest first like Redis 7.0's per-slot lists
    /// (exactly so while no key of the slot was deleted).
    pub fn keys(&self, slot: usize, max: usize) -> impl Iterator<Item = &SmallBytes> {
        self.slots[slot].iter().rev().take(max)
    }
}
