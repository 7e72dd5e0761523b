//! Consistent hashing for the `ring_hash` and `maglev` balancers (Envoy's), and the 64-bit hash
//! both use.
//!
//! - [`xxh64`]: xxHash64 (Yann Collet's published algorithm), Envoy's default hash function for
//!   both balancers. Written here from the algorithm's description (about sixty lines) rather
//!   than taken from a crate; its unit test checks it against the reference C library's values.
//! - [`RingHash`]: Ketama-style ring. Each host is hashed several times in proportion to its
//!   weight (`"{service}#{index}_{i}"`, as Envoy hashes `"{address}_{i}"`); the ring has at least
//!   Envoy's `minimum_ring_size` (1024) points; a request's hash goes to the first point at or
//!   after it, wrapping around (the next host clockwise). Removing a host moves only its keys.
//! - [`Maglev`]: the Maglev paper's lookup table of 65537 entries (Envoy's default size), each host
//!   filling the next free slot of its own permutation (`offset + j * skip mod M`, from two hashes
//!   of its name) in turn; a request goes to `table[hash mod M]`. Equal weights give every host
//!   `floor(M/N)` or `ceil(M/N)` entries.
//! - [`HashTables`]: tables shared by every client that balances over the same replicas of the
//!   same service, built when first asked for and dropped when no client holds them.

use super::policy::BalancerKind;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

const PRIME_1: u64 = 0x9E37_79B1_85EB_CA87;
const PRIME_2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const PRIME_3: u64 = 0x1656_67B1_9E37_79F9;
const PRIME_4: u64 = 0x85EB_CA77_C2B2_AE63;
const PRIME_5: u64 = 0x27D4_EB2F_1656_67C5;

/// Envoy's `minimum_ring_size` default: the ring has at least this many points.
pub const MIN_RING_SIZE: f64 = 1024.0;
/// Envoy's `maximum_ring_size` default: the ring never has more points than this.
pub const MAX_RING_SIZE: f64 = 8_388_608.0;
/// Size of a Maglev lookup table (Envoy's default; a prime, as the paper requires).
pub const MAGLEV_TABLE_SIZE: usize = 65_537;

/// A table slot no host holds yet.
const EMPTY: u32 = u32::MAX;

fn read_u64(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"))
}

fn read_u32(bytes: &[u8]) -> u64 {
    u64::from(u32::from_le_bytes(bytes[..4].try_into().expect("4 bytes")))
}

fn round(accumulator: u64, lane: u64) -> u64 {
    accumulator
        .wrapping_add(lane.wrapping_mul(PRIME_2))
        .rotate_left(31)
        .wrapping_mul(PRIME_1)
}

fn merge_round(accumulator: u64, value: u64) -> u64 {
    (accumulator ^ round(0, value))
        .wrapping_mul(PRIME_1)
        .wrapping_add(PRIME_4)
}

/// xxHash64 of `bytes` with `seed`.
pub fn xxh64(bytes: &[u8], seed: u64) -> u64 {
    let mut rest = bytes;
    let mut hash = if bytes.len() >= 32 {
        let mut lanes = [
            seed.wrapping_add(PRIME_1).wrapping_add(PRIME_2),
            seed.wrapping_add(PRIME_2),
            seed,
            seed.wrapping_sub(PRIME_1),
        ];
        while rest.len() >= 32 {
            for (index, lane) in lanes.iter_mut().enumerate() {
                *lane = round(*lane, read_u64(&rest[index * 8..]));
            }
            rest = &rest[32..];
        }
        let mut hash = lanes[0]
            .rotate_left(1)
            .wrapping_add(lanes[1].rotate_left(7))
            .wrapping_add(lanes[2].rotate_left(12))
            .wrapping_add(lanes[3].rotate_left(18));
        for lane in lanes {
            hash = merge_round(hash, lane);
        }
        hash
    } else {
        seed.wrapping_add(PRIME_5)
    };
    hash = hash.wrapping_add(bytes.len() as u64);
    while rest.len() >= 8 {
        hash ^= round(0, read_u64(rest));
        hash = hash
            .rotate_left(27)
            .wrapping_mul(PRIME_1)
            .wrapping_add(PRIME_4);
        rest = &rest[8..];
    }
    if rest.len() >= 4 {
        hash ^= read_u32(rest).wrapping_mul(PRIME_1);
        hash = hash
            .rotate_left(23)
            .wrapping_mul(PRIME_2)
            .wrapping_add(PRIME_3);
        rest = &rest[4..];
    }
    for &byte in rest {
        hash ^= u64::from(byte).wrapping_mul(PRIME_5);
        hash = hash.rotate_left(11).wrapping_mul(PRIME_1);
    }
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(PRIME_2);
    hash ^= hash >> 29;
    hash = hash.wrapping_mul(PRIME_3);
    hash ^ (hash >> 32)
}

/// The hash of a request's user key (its 8 little-endian bytes), as Envoy hashes a header value.
pub fn hash_user_key(key: u64) -> u64 {
    xxh64(&key.to_le_bytes(), 0)
}

/// A Ketama-style hash ring: points sorted by hash, each owned by a replica.
#[derive(Debug, Clone, Default)]
pub struct RingHash {
    points: Vec<(u64, u32)>,
}

impl RingHash {
    /// The ring of `members` (replica indices of `service`), each with `weights[index]` (a
    /// weight of 0 counts as 1). Envoy's sizing: the lightest host gets
    /// `ceil(its share x 1024)` points and every host points in proportion to its weight.
    pub fn build(service: &str, members: &[u32], weights: &[u32]) -> Self {
        let weight =
            |replica: u32| f64::from(weights.get(replica as usize).copied().unwrap_or(1).max(1));
        let total: f64 = members.iter().map(|&r| weight(r)).sum();
        if members.is_empty() {
            return RingHash::default();
        }
        let lightest = members
            .iter()
            .map(|&r| weight(r) / total)
            .fold(f64::INFINITY, f64::min);
        let scale = ((lightest * MIN_RING_SIZE).ceil() / lightest).min(MAX_RING_SIZE);
        let mut points = Vec::with_capacity(scale as usize + members.len());
        let (mut target, mut placed) = (0.0, 0.0);
        let mut name = String::new();
        for &replica in members {
            target += scale * weight(replica) / total;
            let mut copy = 0u64;
            while placed < target {
                name.clear();
                let _ = write!(name, "{service}#{replica}_{copy}");
                points.push((xxh64(name.as_bytes(), 0), replica));
                copy += 1;
                placed += 1.0;
            }
        }
        points.sort_unstable();
        RingHash { points }
    }

    /// The replica owning `hash`: the first point at or after it, wrapping around.
    pub fn lookup(&self, hash: u64) -> Option<u32> {
        let index = self.points.partition_point(|&(point, _)| point < hash);
        self.points
            .get(index)
            .or_else(|| self.points.first())
            .map(|&(_, replica)| replica)
    }

    /// Number of points on the ring.
    pub fn len(&self) -> usize {
        self.points.len()
    }

    /// Whether the ring has no point (no member).
    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

/// A Maglev lookup table: `MAGLEV_TABLE_SIZE` slots, each holding a replica index.
#[derive(Debug, Clone, Default)]
pub struct Maglev {
    table: Vec<u32>,
}

impl Maglev {
    /// The table of `members` (replica indices of `service`) with `weights[index]` (0 counts as
    /// 1). The paper's population: hosts take turns, each claiming the next slot of its own
    /// permutation that is still free, until the table is full. With unequal weights a host takes
    /// its turn in round `r` only while it holds fewer than `r x weight / max weight` slots.
    pub fn build(service: &str, members: &[u32], weights: &[u32]) -> Self {
        if members.is_empty() {
            return Maglev::default();
        }
        let size = MAGLEV_TABLE_SIZE as u64;
        let weight =
            |replica: u32| u64::from(weights.get(replica as usize).copied().unwrap_or(1).max(1));
        let heaviest = members.iter().map(|&r| weight(r)).max().unwrap_or(1);
        let mut name = String::new();
        // Per member: offset, skip, next position in its permutation, slots held.
        let mut hosts: Vec<(u64, u64, u64, u64)> = members
            .iter()
            .map(|&replica| {
                name.clear();
                let _ = write!(name, "{service}#{replica}");
                let offset = xxh64(name.as_bytes(), 0) % size;
                let skip = xxh64(name.as_bytes(), 1) % (size - 1) + 1;
                (offset, skip, 0, 0)
            })
            .collect();
        let mut table = vec![EMPTY; MAGLEV_TABLE_SIZE];
        let mut filled = 0usize;
        let mut turn = 1u64;
        while filled < MAGLEV_TABLE_SIZE {
            for (host, &replica) in hosts.iter_mut().zip(members) {
                let (offset, skip, next, held) = host;
                if *held * heaviest >= turn * weight(replica) {
                    continue; // ahead of its weight's pace
                }
                loop {
                    let slot = ((*offset + *next * *skip) % size) as usize;
                    *next += 1;
                    if table[slot] == EMPTY {
                        table[slot] = replica;
                        break;
                    }
                }
                *held += 1;
                filled += 1;
                if filled == MAGLEV_TABLE_SIZE {
                    break;
                }
            }
            turn += 1;
        }
        Maglev { table }
    }

    /// The replica at `hash mod M`.
    pub fn lookup(&self, hash: u64) -> Option<u32> {
        if self.table.is_empty() {
            return None;
        }
        Some(self.table[(hash % MAGLEV_TABLE_SIZE as u64) as usize])
    }

    /// Slots held by `replica`.
    pub fn slots_of(&self, replica: u32) -> usize {
        self.table.iter().filter(|&&r| r == replica).count()
    }
}

/// A built consistent-hash table.
#[derive(Debug, Clone)]
pub enum HashTable {
    /// `ring_hash`.
    Ring(RingHash),
    /// `maglev`.
    Maglev(Maglev),
}

impl HashTable {
    /// The table of `kind` (`RingHash` or `Maglev`; anything else builds a ring) over `members`.
    pub fn build(kind: BalancerKind, service: &str, members: &[u32], weights: &[u32]) -> Self {
        match kind {
            BalancerKind::Maglev => HashTable::Maglev(Maglev::build(service, members, weights)),
            _ => HashTable::Ring(RingHash::build(service, members, weights)),
        }
    }

    /// The replica a request hashing to `hash` goes to (`None`: no member).
    #[inline]
    pub fn lookup(&self, hash: u64) -> Option<u32> {
        match self {
            HashTable::Ring(ring) => ring.lookup(hash),
            HashTable::Maglev(maglev) => maglev.lookup(hash),
        }
    }
}

/// Which table: service index, whether Maglev, and the member replicas in view order.
type TableKey = (u32, bool, Vec<u32>);

/// Consistent-hash tables shared by clients: one per (service, kind, member set). A Maglev table
/// is 256 KiB, so clients balancing over the same replicas share one rather than each building
/// its own. Tables no client holds are dropped when the next one is built.
#[derive(Debug, Default)]
pub struct HashTables {
    tables: BTreeMap<TableKey, Arc<HashTable>>,
}

impl HashTables {
    /// The table of `kind` for `members` of service `service` (named `name`), built if needed.
    pub fn table(
        &mut self,
        kind: BalancerKind,
        service: u32,
        name: &str,
        members: &[u32],
        weights: &[u32],
    ) -> Arc<HashTable> {
        let key = (service, kind == BalancerKind::Maglev, members.to_vec());
        if let Some(table) = self.tables.get(&key) {
            return Arc::clone(table);
        }
        self.tables.retain(|_, table| Arc::strong_count(table) > 1);
        let table = Arc::new(HashTable::build(kind, name, members, weights));
        self.tables.insert(key, Arc::clone(&table));
        table
    }

    /// Number of tables kept.
    pub fn len(&self) -> usize {
        self.tables.len()
    }

    /// Whether no table is kept.
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys 0..100k, hashed as requests hash them.
    fn keys() -> impl Iterator<Item = u64> {
        (0..100_000u64).map(hash_user_key)
    }

    #[test]
    fn xxh64_matches_the_reference_implementation() {
        // Values from the reference C library (libxxhash 0.8.1, XXH64), computed outside Rust.
        let long: Vec<u8> = (0..100u8).collect();
        let cases: [(&[u8], u64, u64); 8] = [
            (b"", 0, 0xef46db3751d8e999),
            (b"", 1, 0xd5afba1336a3be4b),
            (b"a", 0, 0xd24ec4f1a98c6e5b),
            (b"abc", 0, 0x44bc2cf5ad770999),
            (b"0123456789abcdef0123456789abcdef", 0, 0x642a94958e71e6c5),
            (
                b"Nobody inspects the spammish repetition",
                0,
                0xfbcea83c8a378bf1,
            ),
            (&long, 0, 0x6ac1e58032166597),
            (&long, 1, 0x3d19a3a2098a7023),
        ];
        for (bytes, seed, expected) in cases {
            assert_eq!(xxh64(bytes, seed), expected, "{bytes:?} seed {seed}");
        }
        assert_eq!(hash_user_key(12345), 0xf641f64ab4ebb803);
    }

    #[test]
    fn same_key_same_host() {
        let members: Vec<u32> = (0..7).collect();
        let ring = RingHash::build("api", &members, &[1; 7]);
        let maglev = Maglev::build("api", &members, &[1; 7]);
        for hash in keys().take(1000) {
            assert_eq!(ring.lookup(hash), ring.lookup(hash));
            assert_eq!(maglev.lookup(hash), maglev.lookup(hash));
            // A table built again from the same members is the same table.
            assert_eq!(
                RingHash::build("api", &members, &[1; 7]).lookup(hash),
                ring.lookup(hash)
            );
        }
    }

    #[test]
    fn ring_has_envoys_size_and_wraps_around() {
        let ring = RingHash::build("api", &[0, 1, 2], &[1, 1, 1]);
        // Equal weights: each host gets ceil(1024 / 3) = 342 points.
        assert_eq!(ring.len(), 3 * 342);
        let last = ring.points.last().unwrap();
        let first = ring.points[0];
        assert_eq!(ring.lookup(last.0), Some(last.1));
        assert_eq!(
            ring.lookup(last.0.wrapping_add(1)),
            Some(first.1),
            "past the end: first"
        );
        assert_eq!(ring.lookup(0), Some(first.1));
        assert_eq!(RingHash::build("api", &[], &[]).lookup(5), None);
    }

    /// Ring shares of `replica`: the arcs ending at its points, as a fraction of the circle.
    fn arc_share(ring: &RingHash, replica: u32) -> f64 {
        let points = &ring.points;
        let mut share = 0.0;
        for (index, &(hash, owner)) in points.iter().enumerate() {
            if owner == replica {
                let previous = points[(index + points.len() - 1) % points.len()].0;
                share += hash.wrapping_sub(previous) as f64 / 2f64.powi(64);
            }
        }
        share
    }

    /// Keys that change replica between the two rings, and those that were on `removed`.
    fn movement(before: &RingHash, after: &RingHash, removed: u32) -> (u32, u32) {
        let (mut moved, mut on_removed) = (0, 0);
        for hash in keys() {
            let old = before.lookup(hash).unwrap();
            on_removed += u32::from(old == removed);
            moved += u32::from(old != after.lookup(hash).unwrap());
        }
        (moved, on_removed)
    }

    #[test]
    fn ring_hash_removing_one_of_n_moves_exactly_its_keys_when_the_ring_keeps_its_points() {
        // 50 -> 49 hosts: ceil(1024/50) = ceil(1024/49) = 21 points per host either way, so the
        // survivors' points stay where they were and only the removed host's arcs change owner.
        const N: u32 = 50;
        let all: Vec<u32> = (0..N).collect();
        let ring = RingHash::build("api", &all, &[1; N as usize]);
        let removed = 17;
        let rest: Vec<u32> = all.iter().copied().filter(|&r| r != removed).collect();
        let smaller = RingHash::build("api", &rest, &[1; N as usize]);
        assert_eq!((ring.len(), smaller.len()), (50 * 21, 49 * 21));
        let (moved, on_removed) = movement(&ring, &smaller, removed);
        assert_eq!(moved, on_removed, "only the removed host's keys move");
        // Those are its arcs' share of 100k uniform hashes: binomial, within 5 sd.
        let share = arc_share(&ring, removed);
        let sd = (100_000.0 * share * (1.0 - share)).sqrt();
        assert!((f64::from(moved) - 100_000.0 * share).abs() < 5.0 * sd);
        // And that share is about 1/N: a sum of k = 21 arcs, relative sd 1/sqrt(k); 4 sd.
        assert!(
            (share * f64::from(N) - 1.0).abs() < 4.0 / 21f64.sqrt(),
            "{share}"
        );
    }

    #[test]
    fn ring_hash_removing_one_of_ten_also_moves_the_keys_of_the_points_survivors_gain() {
        // Envoy re-sizes the ring for the hosts present: 10 hosts get ceil(102.4) = 103 points
        // each, 9 get ceil(113.8) = 114, so the survivors gain 9 x 11 = 99 points, each taking
        // over the arc before it. Moved: the removed host's arcs (about 1/N = 0.1, relative sd
        // 1/sqrt(103)) plus up to 99 arcs of a 1026-point ring (0.0965, relative sd 1/sqrt(99)).
        const N: u32 = 10;
        let all: Vec<u32> = (0..N).collect();
        let ring = RingHash::build("api", &all, &[1; N as usize]);
        let removed = 4;
        let rest: Vec<u32> = all.iter().copied().filter(|&r| r != removed).collect();
        let smaller = RingHash::build("api", &rest, &[1; N as usize]);
        assert_eq!((ring.len(), smaller.len()), (10 * 103, 9 * 114));
        let gained: Vec<u64> = rest
            .iter()
            .flat_map(|r| {
                (103..114).map(move |copy| xxh64(format!("api#{r}_{copy}").as_bytes(), 0))
            })
            .collect();
        let (mut moved, mut on_removed) = (0u32, 0u32);
        for hash in keys() {
            let old = ring.lookup(hash).unwrap();
            let index = smaller.points.partition_point(|&(point, _)| point < hash);
            let (point, new) = smaller.points[index % smaller.len()];
            on_removed += u32::from(old == removed);
            if old != new {
                moved += 1;
                assert!(
                    old == removed || gained.contains(&point),
                    "a key moves only off the removed host or onto a gained point"
                );
            }
        }
        let removed_share = f64::from(on_removed) / 1e5;
        assert!(
            (removed_share * 10.0 - 1.0).abs() < 4.0 / 103f64.sqrt(),
            "{removed_share}"
        );
        let share = f64::from(moved) / 1e5;
        let sd = (0.1f64.powi(2) / 103.0 + (99.0 / 1026f64).powi(2) / 99.0).sqrt();
        assert!(
            share > removed_share && share < 0.1 + 99.0 / 1026.0 + 4.0 * sd,
            "{share}"
        );
    }

    #[test]
    fn ring_hash_honours_weights_roughly_in_proportion() {
        let weights = [1, 2, 3, 4];
        let ring = RingHash::build("api", &[0, 1, 2, 3], &weights);
        // Envoy's scale: lightest share 0.1, ceil(0.1 x 1024) / 0.1 = 1030 points in all.
        assert_eq!(ring.len(), 1030);
        let mut counts = [0u32; 4];
        for hash in keys() {
            counts[ring.lookup(hash).unwrap() as usize] += 1;
        }
        for (replica, &weight) in weights.iter().enumerate() {
            let points = 103.0 * f64::from(weight);
            let share = f64::from(counts[replica]) / 100_000.0;
            let expected = f64::from(weight) / 10.0;
            // Relative sd of a share held by k points is about 1/sqrt(k): four of them.
            let bound = 4.0 / points.sqrt();
            assert!(
                (share / expected - 1.0).abs() < bound,
                "replica {replica}: share {share}, expected {expected} within {bound}: {counts:?}"
            );
        }
    }

    #[test]
    fn maglev_table_is_balanced_to_one_entry() {
        for n in [1u32, 2, 3, 7, 10, 64] {
            let members: Vec<u32> = (0..n).collect();
            let maglev = Maglev::build("api", &members, &vec![1; n as usize]);
            let low = MAGLEV_TABLE_SIZE / n as usize;
            let high = MAGLEV_TABLE_SIZE.div_ceil(n as usize);
            let mut total = 0;
            for &replica in &members {
                let slots = maglev.slots_of(replica);
                total += slots;
                // Hosts fill one slot per turn until the table is full: counts differ by <= 1.
                assert!(
                    slots == low || slots == high,
                    "n = {n}: replica {replica} holds {slots}, expected {low} or {high}"
                );
            }
            assert_eq!(total, MAGLEV_TABLE_SIZE, "every slot is held");
        }
    }

    #[test]
    fn maglev_removing_one_of_n_moves_its_keys_and_at_most_about_twice_as_many() {
        const N: u32 = 10;
        let all: Vec<u32> = (0..N).collect();
        let maglev = Maglev::build("api", &all, &[1; N as usize]);
        let removed = 4;
        let rest: Vec<u32> = all.iter().copied().filter(|&r| r != removed).collect();
        let smaller = Maglev::build("api", &rest, &[1; N as usize]);
        let (mut moved, mut on_removed) = (0u32, 0u32);
        for hash in keys() {
            let (before, after) = (maglev.lookup(hash).unwrap(), smaller.lookup(hash).unwrap());
            if before == removed {
                on_removed += 1;
                assert_ne!(after, removed);
            }
            if before != after {
                moved += 1;
            }
        }
        // The removed host held 1/N of the table (to one slot), so its keys are 1/N of 100k
        // within binomial noise (sd = sqrt(100k x 0.1 x 0.9) = 95; 5 sd).
        assert!((i64::from(on_removed) - 10_000).abs() < 475, "{on_removed}");
        // Envoy documents Maglev moving about twice ring hash's 1/N: allow 2.5/N.
        let share = f64::from(moved) / 100_000.0;
        assert!(
            share >= f64::from(on_removed) / 100_000.0 && share < 2.5 / f64::from(N),
            "moved {share}"
        );
    }

    #[test]
    fn maglev_honours_weights() {
        let maglev = Maglev::build("api", &[0, 1], &[1, 3]);
        // Host 1 takes a turn every round, host 0 every third: 1:3 to within a turn.
        let light = maglev.slots_of(0) as f64;
        let heavy = maglev.slots_of(1) as f64;
        assert!((heavy / light - 3.0).abs() < 0.01, "{light} {heavy}");
    }

    #[test]
    fn tables_are_shared_and_dropped_when_unused() {
        let mut tables = HashTables::default();
        let first = tables.table(BalancerKind::Maglev, 0, "api", &[0, 1, 2], &[1; 3]);
        let second = tables.table(BalancerKind::Maglev, 0, "api", &[0, 1, 2], &[1; 3]);
        assert!(Arc::ptr_eq(&first, &second), "same members: one table");
        let ring = tables.table(BalancerKind::RingHash, 0, "api", &[0, 1, 2], &[1; 3]);
        assert_eq!(tables.len(), 2);
        drop((first, second, ring));
        let _other = tables.table(BalancerKind::Maglev, 0, "api", &[0, 1], &[1; 3]);
        assert_eq!(tables.len(), 1, "unheld tables are dropped");
    }
}
