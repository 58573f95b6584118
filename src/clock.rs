//! Injectable time and identity: the [`Clock`] that stamps creationTimestamps and the
//! [`IdSource`] that mints UIDs and generated-name suffixes. Real ones by default; a fixed
//! clock and a seeded source make a whole instance deterministic for snapshot tests.

use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The instance's notion of now.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> SystemTime;

    /// Seconds since the Unix epoch.
    fn unix_seconds(&self) -> i64 {
        self.now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
    }
}

/// The wall clock.
#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that stands still until [`FixedClock::advance`] moves it.
#[derive(Debug)]
pub struct FixedClock {
    micros_since_epoch: AtomicI64,
}

impl FixedClock {
    pub fn at_unix_seconds(seconds: i64) -> Self {
        FixedClock { micros_since_epoch: AtomicI64::new(seconds * 1_000_000) }
    }

    pub fn advance(&self, by: Duration) {
        self.micros_since_epoch.fetch_add(by.as_micros() as i64, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_micros(self.micros_since_epoch.load(Ordering::SeqCst).max(0) as u64)
    }
}

/// 16 random bytes as a version 4 UUID: `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
fn format_uuid(random: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(36);
    for (i, byte) in random.iter().enumerate() {
        let byte = match i {
            6 => (byte & 0x0f) | 0x40,
            8 => (byte & 0x3f) | 0x80,
            _ => *byte,
        };
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(HEX[usize::from(byte >> 4)] as char);
        text.push(HEX[usize::from(byte & 0x0f)] as char);
    }
    text
}

/// Where UIDs and random name suffixes come from.
pub trait IdSource: Send + Sync + std::fmt::Debug {
    fn fill(&self, bytes: &mut [u8]);

    /// A random (version 4) UUID, as metadata.uid carries.
    fn uuid(&self) -> String {
        let mut bytes = [0u8; 16];
        self.fill(&mut bytes);
        format_uuid(&bytes)
    }

    /// `count` UUIDs from one draw of randomness (a new server's bootstrap objects); the same
    /// as `count` calls of [`IdSource::uuid`].
    fn uuids(&self, count: usize) -> Vec<String> {
        let mut bytes = vec![0u8; 16 * count];
        self.fill(&mut bytes);
        bytes.chunks_exact(16).map(format_uuid).collect()
    }

    /// The 5-character suffix generateName appends, from the same alphabet as
    /// `k8s.io/apimachinery/pkg/util/rand.String` (no vowels, no confusable digits).
    fn name_suffix(&self) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut b = [0u8; 5];
        self.fill(&mut b);
        b.iter().map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char).collect()
    }
}

/// Operating-system randomness.
#[derive(Debug, Default)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn fill(&self, bytes: &mut [u8]) {
        use ring::rand::SecureRandom;
        ring::rand::SystemRandom::new().fill(bytes).expect("the operating system provides randomness");
    }
}

/// A reproducible sequence from a seed (splitmix64).
#[derive(Debug)]
pub struct SeededIds {
    state: Mutex<u64>,
}

impl SeededIds {
    pub fn new(seed: u64) -> Self {
        SeededIds { state: Mutex::new(seed) }
    }
}

impl IdSource for SeededIds {
    fn fill(&self, bytes: &mut [u8]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for chunk in bytes.chunks_mut(8) {
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_in_bulk_are_the_same_sequence_as_one_by_one() {
        let (bulk, single) = (SeededIds::new(42), SeededIds::new(42));
        let one_by_one: Vec<String> = (0..3).map(|_| single.uuid()).collect();
        assert_eq!(bulk.uuids(3), one_by_one);
        for uuid in one_by_one {
            let groups: Vec<usize> = uuid.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{uuid}");
            assert_eq!(uuid.as_bytes()[14], b'4', "version 4: {uuid}");
            assert!(matches!(uuid.as_bytes()[19], b'8' | b'9' | b'a' | b'b'), "RFC 4122 variant: {uuid}");
        }
    }

    #[test]
    fn seeded_ids_repeat_and_random_ids_do_not() {
        assert_eq!(SeededIds::new(7).uuid(), SeededIds::new(7).uuid());
        assert_ne!(RandomIds.uuid(), RandomIds.uuid());
        let uuid = RandomIds.uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        let suffix = SeededIds::new(1).name_suffix();
        assert_eq!(suffix.len(), 5);
        assert!(suffix.chars().all(|c| "bcdfghjklmnpqrstvwxz2456789".contains(c)));
    }

    #[test]
    fn fixed_clock_moves_only_when_advanced() {
        let clock = FixedClock::at_unix_seconds(1_700_000_000);
        assert_eq!(clock.unix_seconds(), 1_700_000_000);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.unix_seconds(), 1_700_000_090);
    }
}
