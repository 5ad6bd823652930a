//! Keys to hash slots: CRC16 (XMODEM, as Redis's `crc16.c`) of the key or of its
//! `{hash tag}`, modulo 16384; plus the slot bitmap nodes use to list what they serve.

/// Number of hash slots in a cluster.
pub const SLOTS: usize = 16384;

/// CRC16-CCITT (XMODEM): polynomial 0x1021, initial value 0, no reflection.
const fn crc16_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

static CRC16: [u16; 256] = crc16_table();

pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ CRC16[((crc >> 8) as u8 ^ b) as usize]
    })
}

/// The part of `key` that is hashed: the text between the first `{` and the first
/// `}` after it, when that is not empty; otherwise the whole key.
fn hash_part(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else {
        return key;
    };
    match key[open + 1..].iter().position(|&b| b == b'}') {
        Some(0) | None => key,
        Some(len) => &key[open + 1..open + 1 + len],
    }
}

/// Redis's `keyHashSlot`.
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_part(key)) & (SLOTS as u16 - 1)
}

/// One bit per slot (Redis's `clusterNode.slots`).
#[derive(Clone, PartialEq, Eq)]
pub struct SlotBitmap(pub [u8; SLOTS / 8]);

impl std::fmt::Debug for SlotBitmap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotBitmap{:?}", self.ranges())
    }
}

impl Default for SlotBitmap {
    fn default() -> Self {
        SlotBitmap([0; SLOTS / 8])
    }
}

impl SlotBitmap {
    pub fn get(&self, slot: usize) -> bool {
        self.0[slot >> 3] & (1 << (slot & 7)) != 0
    }

    pub fn set(&mut self, slot: usize, on: bool) {
        if on {
            self.0[slot >> 3] |= 1 << (slot & 7);
        } else {
            self.0[slot >> 3] &= !(1 << (slot & 7));
        }
    }

    pub fn count(&self) -> usize {
        self.0.iter().map(|b| b.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&b| b == 0)
    }

    /// The set slots as inclusive ranges, lowest first.
    pub fn ranges(&self) -> Vec<(usize, usize)> {
        let mut out: Vec<(usize, usize)> = Vec::new();
        for slot in (0..SLOTS).filter(|&s| self.get(s)) {
            match out.last_mut() {
                Some((_, end)) if *end + 1 == slot => *end = slot,
                _ => out.push((slot, slot)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_redis() {
        // The check value of CRC16/XMODEM, as in Redis's crc16.c test.
        assert_eq!(crc16(b"123456789"), 0x31c3);
    }

    #[test]
    fn slots_match_redis() {
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"{user1000}.followers"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"user1000"), 3443);
        assert_eq!(key_slot(b""), 0);
        // Empty tag: the whole key is hashed.
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 16383);
        // Only the first tag counts; `}` is searched after the first `{`.
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        assert_eq!(key_slot(b"foo{bar}{zap}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"{a"), crc16(b"{a") & 16383);
    }

    #[test]
    fn bitmap_ranges() {
        let mut b = SlotBitmap::default();
        for s in [0, 1, 2, 5, 16383] {
            b.set(s, true);
        }
        assert_eq!(b.ranges(), vec![(0, 2), (5, 5), (16383, 16383)]);
        assert_eq!(b.count(), 5);
        b.set(1, false);
        assert_eq!(b.ranges(), vec![(0, 0), (2, 2), (5, 5), (16383, 16383)]);
    }
}
