//! Random streams keyed by identity.
//!
//! Every random draw comes from a ChaCha8 stream derived from the root seed and the identity of
//! what draws (a workload's arrivals, one try of one request, one client's balancer), never from a
//! shared stream consumed in event order. So changing a policy never changes the offered work:
//! common random numbers across variants.

use super::chacha::{ChaCha8Block, LINEAGE_WORDS, OWN_WORDS};
use rand::rngs::ChaCha8Rng;
use rand::SeedableRng;

/// A ChaCha8 stream that can be re-keyed in place (the hot path re-keys one for every try of every
/// request). It computes one 64-byte block at a time: a try draws a few words, so one block is
/// usually all it computes. Same words as [`StreamFactory::stream`] for the same identity.
pub type RekeyableStream = ChaCha8Block;

/// What a stream is for; part of its key, so that streams of different purposes never coincide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum StreamKind {
    /// A workload's inter-arrival times (open loop) or a user's think times (closed loop).
    Arrivals = 1,
    /// One try of one request: its service time, error draw, call coins and network hops.
    Work = 2,
    /// A client's own choices: balancer picks, retry jitter.
    Client = 3,
    /// An end-to-end request's user key (what `ring_hash` and `maglev` hash).
    UserKey = 4,
}

/// SplitMix64's finaliser: a bijective 64-bit mixer with good avalanche.
pub const fn mix64(mut value: u64) -> u64 {
    value = (value ^ (value >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    value ^ (value >> 31)
}

/// Added to a component before mixing (the golden ratio's 64-bit fraction, as in SplitMix64).
const COMPONENT_OFFSET: u64 = 0x9e37_79b9_7f4a_7c15;

/// The mixed form of the small components (try numbers, call positions), precomputed: a key is
/// derived for every try and every call, and this takes one of the two mixes off that chain.
const MIXED_SMALL_COMPONENTS: [u64; 16] = {
    let mut table = [0u64; 16];
    let mut component = 0;
    while component < table.len() {
        table[component] = mix64((component as u64).wrapping_add(COMPONENT_OFFSET));
        component += 1;
    }
    table
};

/// Combines a key with one more component of identity.
#[inline]
pub fn derive_key(parent: u64, component: u64) -> u64 {
    let mixed_component = match MIXED_SMALL_COMPONENTS.get(component as usize) {
        Some(&mixed) => mixed,
        None => mix64(component.wrapping_add(COMPONENT_OFFSET)),
    };
    mix64(parent ^ mixed_component)
}

/// The root of all streams of one run.
#[derive(Debug, Clone)]
pub struct StreamFactory {
    seed: [u8; 32],
}

impl StreamFactory {
    /// Streams of the run with this seed.
    pub fn new(seed: u64) -> Self {
        let mut bytes = [0u8; 32];
        for (index, chunk) in bytes.chunks_mut(8).enumerate() {
            chunk.copy_from_slice(&mix64(seed ^ mix64(index as u64 + 1)).to_le_bytes());
        }
        StreamFactory { seed: bytes }
    }

    /// The ChaCha key of the stream for `kind` and `identity`: the root key with the mixed
    /// identity folded into its first word (ChaCha's output under any key change is unrelated).
    #[inline]
    fn key_for(&self, kind: StreamKind, identity: u64) -> [u8; 32] {
        let mut key = self.seed;
        let first = u64::from_le_bytes(key[..8].try_into().expect("8 bytes"));
        key[..8].copy_from_slice(&(first ^ derive_key(kind as u64, identity)).to_le_bytes());
        key
    }

    /// A fresh stream for `kind` and `identity`.
    pub fn stream(&self, kind: StreamKind, identity: u64) -> ChaCha8Rng {
        ChaCha8Rng::from_seed(self.key_for(kind, identity))
    }

    /// A stream to re-key with [`StreamFactory::rekey`]; it starts keyed to `(kind, identity)`.
    pub fn rekeyable(&self, kind: StreamKind, identity: u64) -> RekeyableStream {
        ChaCha8Block::from_key(&self.key_for(kind, identity))
    }

    /// Re-points `rng` at `kind` and `identity`, from its start. The same values follow as from
    /// [`StreamFactory::stream`] with the same arguments; the block is computed on the first draw.
    /// `rng` must come from this factory's [`StreamFactory::rekeyable`].
    #[inline]
    pub fn rekey(&self, rng: &mut RekeyableStream, kind: StreamKind, identity: u64) {
        rng.rekey(self.first_key_word(rng, kind, identity));
    }

    /// As [`StreamFactory::rekey`] for a try that hands words on to a descendant
    /// ([`RekeyableStream::rekey_try`]): returns the handed-on words.
    #[inline]
    pub fn rekey_try(
        &self,
        rng: &mut RekeyableStream,
        kind: StreamKind,
        identity: u64,
    ) -> [u32; LINEAGE_WORDS] {
        rng.rekey_try(self.first_key_word(rng, kind, identity))
    }

    /// As [`StreamFactory::rekey`] for a try that starts with words handed on by an ancestor
    /// ([`RekeyableStream::rekey_inherited`]).
    #[inline]
    pub fn rekey_inherited(
        &self,
        rng: &mut RekeyableStream,
        kind: StreamKind,
        identity: u64,
        inherited: [u32; OWN_WORDS],
    ) {
        rng.rekey_inherited(self.first_key_word(rng, kind, identity), inherited);
    }

    /// The first eight bytes of the key of (`kind`, `identity`), as a little-endian word, for
    /// re-keying `rng` (a stream of this factory: the other 24 bytes are already its own).
    #[inline]
    fn first_key_word(&self, rng: &RekeyableStream, kind: StreamKind, identity: u64) -> u64 {
        let key = self.key_for(kind, identity);
        debug_assert_eq!(
            rng.key_tail(),
            ChaCha8Block::from_key(&key).key_tail(),
            "a stream of another factory"
        );
        u64::from_le_bytes(key[..8].try_into().expect("8 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_match_the_two_mixes_for_small_and_large_components() {
        for component in [0u64, 1, 7, 15, 16, 17, 1 << 40, u64::MAX] {
            let parent = 0x0123_4567_89ab_cdef;
            let expected = mix64(parent ^ mix64(component.wrapping_add(0x9e37_79b9_7f4a_7c15)));
            assert_eq!(derive_key(parent, component), expected, "{component}");
        }
    }
    use rand::RngExt;

    #[test]
    fn same_identity_same_stream_other_identity_other_stream() {
        let factory = StreamFactory::new(42);
        let mut a: ChaCha8Rng = factory.stream(StreamKind::Work, 7);
        let mut b = factory.rekeyable(StreamKind::Client, 0);
        let _: u64 = b.random();
        let first: u64 = a.random();
        factory.rekey(&mut b, StreamKind::Work, 7);
        assert_eq!(first, b.random::<u64>());
        let mut c = factory.stream(StreamKind::Work, 8);
        let mut d = StreamFactory::new(43).stream(StreamKind::Work, 7);
        assert_ne!(first, c.random::<u64>());
        assert_ne!(first, d.random::<u64>());
    }
}
