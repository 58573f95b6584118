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

/// Where UIDs and random name suffixes come from.
pub trait IdSource: Send + Sync + std::fmt::Debug {
    fn fill(&self, bytes: &mut [u8]);

    /// A random (version 4) UUID, as metadata.uid carries.
    fn uuid(&self) -> String {
        let mut b = [0u8; 16];
        self.fill(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
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
