//! ChaCha8 computed one 64-byte block at a time.
//!
//! The simulator re-keys a stream for every try of every request and draws only a few words from
//! it. A general-purpose ChaCha generator computes four blocks (256 bytes) per refill, so most of
//! that work was thrown away at the next re-key. [`ChaCha8Block`] yields exactly the same words as
//! `rand::rngs::ChaCha8Rng` seeded with the same key (block counter from 0, stream 0), but
//! computes a block only when the previous one is used up — for a try, usually one block.
//!
//! A try uses few words, so one block can serve a chain of tries. [`ChaCha8Block::rekey_try`]
//! keeps the first [`OWN_WORDS`] words of the try's block 0 for the try itself (its stream then
//! goes on at block 1) and hands the other [`LINEAGE_WORDS`] out, to be the first words of a
//! descendant's stream ([`ChaCha8Block::rekey_inherited`], whose stream then goes on with its own
//! key's block 0). Every word of every block still goes to exactly one consumer.
//!
//! The block function is RustCrypto's `chacha20` (its ChaCha8 with a zero nonce and the block
//! counter set by seeking: the IETF layout then holds the same words as the original 64-bit
//! counter and stream 0 for every block number below 2^32, far more than a try draws).

use rand::{Rng, TryRng};
use std::convert::Infallible;

/// Words of one ChaCha block.
const BLOCK_WORDS: usize = 16;

/// Words of a try's block 0 that the try itself draws first ([`ChaCha8Block::rekey_try`]).
pub const OWN_WORDS: usize = 4;

/// Words of a try's block 0 handed on to descendants: the rest of the block.
pub const LINEAGE_WORDS: usize = BLOCK_WORDS - OWN_WORDS;

/// The ChaCha8 block for the key `first`, `tail` (32 bytes as four little-endian 64-bit words)
/// at block number `counter` (stream 0), as 16 words. `counter` must be below 2^32.
///
/// Calls the cipher's core directly (no keystream buffer, no XOR with zeros); the back end is
/// chosen in `.cargo/config.toml` (the same words whichever it is).
#[inline]
pub fn chacha8_block(first: u64, tail: &[u64; 3], counter: u64) -> [u32; BLOCK_WORDS] {
    use chacha20::cipher::{KeyIvInit, StreamCipherCore};
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&first.to_le_bytes());
    for (chunk, word) in key[8..].chunks_exact_mut(8).zip(tail) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let mut core = chacha20::ChaChaCore::<chacha20::R8, chacha20::variants::Ietf>::new(
        &key.into(),
        &[0u8; 12].into(),
    );
    if counter > 0 {
        core.set_block_pos(counter as u32);
    }
    let mut bytes = Default::default();
    core.write_keystream_block(&mut bytes);
    let mut words = [0u32; BLOCK_WORDS];
    for (word, chunk) in words.iter_mut().zip(bytes.chunks_exact(4)) {
        *word = u32::from_le_bytes(chunk.try_into().expect("4 bytes"));
    }
    words
}

/// A ChaCha8 random stream computed block by block; re-keyed in place by [`ChaCha8Block::rekey`].
/// Its words are those of `rand::rngs::ChaCha8Rng::from_seed` with the same 32-byte key.
///
/// 120 bytes, laid out (`repr(C)`) for a draw: the position first, then the block's words, then
/// the key (read only to compute the next block). Placed at a cache-line boundary, a draw of
/// any of the first 14 words reads one line. (`rand`'s generator keeps four blocks, 300-odd
/// bytes: a big mesh's thousands of clients each hold one.)
#[derive(Debug, Clone)]
#[repr(C)]
pub struct ChaCha8Block {
    /// Next unused word of `buffer`.
    index: u32,
    /// End of the words of `buffer` this stream may use (`BLOCK_WORDS` but after
    /// [`ChaCha8Block::rekey_try`]); the next block is computed when `index` reaches it.
    limit: u32,
    buffer: [u32; BLOCK_WORDS],
    /// The key's first eight bytes, as a little-endian word.
    first: u64,
    /// Number of the next block to compute.
    counter: u64,
    /// The key's other 24 bytes, as three little-endian words.
    tail: [u64; 3],
}

/// [`BLOCK_WORDS`] as the type of [`ChaCha8Block`]'s positions.
const BLOCK_END: u32 = BLOCK_WORDS as u32;

impl ChaCha8Block {
    /// The stream of the 32-byte `key`, from its start.
    pub fn from_key(key: &[u8; 32]) -> Self {
        let word = |at: usize| u64::from_le_bytes(key[at..at + 8].try_into().expect("8 bytes"));
        ChaCha8Block {
            first: word(0),
            tail: [word(8), word(16), word(24)],
            counter: 0,
            buffer: [0; BLOCK_WORDS],
            index: BLOCK_END,
            limit: BLOCK_END,
        }
    }

    /// Restarts the stream from its start under the key with its first eight bytes replaced by
    /// `first` (little-endian); the other 24 bytes stay. Computes the first block at once, from
    /// `first` as passed (reading it back from memory just after writing it would stall).
    #[inline]
    pub fn rekey(&mut self, first: u64) {
        self.first = first;
        self.buffer = chacha8_block(first, &self.tail, 0);
        self.counter = 1;
        self.index = 0;
        self.limit = BLOCK_END;
    }

    /// As [`ChaCha8Block::rekey`], for a try that hands words on: the stream is words
    /// `0..OWN_WORDS` of block 0, then blocks 1, 2, ...; returns the block's other words
    /// (`OWN_WORDS..16`), which this stream never draws.
    #[inline]
    pub fn rekey_try(&mut self, first: u64) -> [u32; LINEAGE_WORDS] {
        self.rekey(first);
        self.limit = OWN_WORDS as u32;
        let mut lineage = [0u32; LINEAGE_WORDS];
        lineage.copy_from_slice(&self.buffer[OWN_WORDS..]);
        lineage
    }

    /// Restarts the stream under the key with first eight bytes `first`, as `inherited` (words
    /// handed on by an ancestor's [`ChaCha8Block::rekey_try`]) followed by the key's own blocks
    /// 0, 1, ... Computes no block until `inherited` is used up.
    #[inline]
    pub fn rekey_inherited(&mut self, first: u64, inherited: [u32; OWN_WORDS]) {
        self.first = first;
        self.counter = 0;
        self.buffer[BLOCK_WORDS - OWN_WORDS..].copy_from_slice(&inherited);
        self.index = (BLOCK_WORDS - OWN_WORDS) as u32;
        self.limit = BLOCK_END;
    }

    /// Bytes 8..32 of the key, as three little-endian 64-bit words.
    pub fn key_tail(&self) -> [u64; 3] {
        self.tail
    }

    #[inline]
    fn refill(&mut self) {
        self.buffer = chacha8_block(self.first, &self.tail, self.counter);
        self.counter = self.counter.wrapping_add(1);
        self.index = 0;
        self.limit = BLOCK_END;
    }
}

impl ChaCha8Block {
    /// [`TryRng::try_next_u64`] when the two words lie on either side of a refill.
    #[inline(never)]
    fn next_u64_across(&mut self) -> u64 {
        let low = u64::from(self.next_u32());
        low | (u64::from(self.next_u32()) << 32)
    }
}

/// The stream of a 32-byte key, as [`ChaCha8Block::from_key`] (so `seed_from_u64` gives the
/// words of `rand`'s `ChaCha8Rng::seed_from_u64`).
impl rand::SeedableRng for ChaCha8Block {
    type Seed = [u8; 32];

    fn from_seed(seed: [u8; 32]) -> Self {
        ChaCha8Block::from_key(&seed)
    }
}

/// Never fails: [`rand::Rng`] (`next_u32`, `next_u64`, `fill_bytes`) comes with it.
impl TryRng for ChaCha8Block {
    type Error = Infallible;

    #[inline]
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        if self.index >= self.limit {
            self.refill();
        }
        let value = self.buffer[self.index as usize];
        self.index += 1;
        Ok(value)
    }

    /// Two consecutive words, the first as the low half (across a block boundary too).
    #[inline(always)]
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let index = self.index;
        if index + 1 < self.limit {
            self.index = index + 2;
            let index = index as usize;
            Ok(u64::from(self.buffer[index]) | (u64::from(self.buffer[index + 1]) << 32))
        } else {
            Ok(self.next_u64_across())
        }
    }

    /// Whole words in order; the unused bytes of a last partial word are dropped.
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), Infallible> {
        for chunk in dest.chunks_mut(4) {
            let Ok(word) = self.try_next_u32();
            chunk.copy_from_slice(&word.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::ChaCha8Rng;
    use rand::{Rng, RngExt, SeedableRng};

    fn key(salt: u8) -> [u8; 32] {
        std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(salt))
    }

    /// Hex text as bytes.
    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|at| u8::from_str_radix(&text[at..at + 2], 16).expect("hex"))
            .collect()
    }

    #[test]
    fn blocks_match_the_published_chacha8_test_vector() {
        // draft-strombergson-chacha-test-vectors-01, TC1 (all-zero 256-bit key and 64-bit IV,
        // 8 rounds): keystream blocks 0 and 1, an independent reference for the block function.
        let expected = [
            "3e00ef2f895f40d67f5bb8e81f09a5a12c840ec3ce9a7f3b181be188ef711a1e\
             984ce172b9216f419f445367456d5619314a42a3da86b001387bfdb80e0cfe42",
            "d2aefa0deaa5c151bf0adb6c01f2a5adc0fd581259f9a2aadcf20f8fd566a26b\
             5032ec38bbc5da98ee0c6f568b872a65a08abf251deb21bb4b56e5d8821e68aa",
        ];
        for (counter, text) in expected.iter().enumerate() {
            let words = chacha8_block(0, &[0; 3], counter as u64);
            let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
            assert_eq!(bytes, hex(text), "block {counter}");
        }
    }

    #[test]
    #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
    fn the_sse2_back_end_is_selected() {
        // `.cargo/config.toml` passes `--cfg chacha20_backend="sse2"` to every crate; without it
        // chacha20 picks its back end at run time: same words, another speed. This fails when the
        // switch is lost (a RUSTFLAGS variable replaces the config's flags; chacha20 renamed it
        // before: `chacha20_force_sse2` in 0.9).
        let selected = cfg!(chacha20_backend = "sse2");
        assert!(
            std::hint::black_box(selected),
            "built without --cfg chacha20_backend=\"sse2\" (is RUSTFLAGS set?)"
        );
    }

    #[test]
    fn words_match_rand_chacha8rng_across_several_blocks() {
        // rand's ChaCha8Rng computes four blocks at a time, with the original layout (64-bit
        // counter and stream), through another path of the chacha20 crate.
        for salt in [0u8, 1, 200] {
            let mut ours = ChaCha8Block::from_key(&key(salt));
            let mut reference = ChaCha8Rng::from_seed(key(salt));
            for _ in 0..(BLOCK_WORDS * 9) {
                assert_eq!(ours.next_u32(), reference.next_u32());
            }
        }
    }

    #[test]
    fn seeded_from_a_number_it_draws_the_words_of_rand_chacha8rng() {
        // Clients' streams replaced `ChaCha8Rng`: the same seed must give the same words.
        for seed in [0u64, 9, u64::MAX] {
            let mut ours = ChaCha8Block::seed_from_u64(seed);
            let mut reference = ChaCha8Rng::seed_from_u64(seed);
            for _ in 0..(BLOCK_WORDS * 3) {
                assert_eq!(ours.next_u32(), reference.next_u32());
            }
        }
    }

    #[test]
    fn a_draw_reads_the_position_and_the_first_words_in_one_line() {
        use std::mem::offset_of;
        assert_eq!(offset_of!(ChaCha8Block, index), 0);
        assert_eq!(offset_of!(ChaCha8Block, buffer), 8);
        assert!(offset_of!(ChaCha8Block, first) >= 8 + 4 * BLOCK_WORDS);
    }

    #[test]
    fn u64_and_bytes_match_rand_chacha8rng_at_odd_offsets() {
        let mut ours = ChaCha8Block::from_key(&key(9));
        let mut reference = ChaCha8Rng::from_seed(key(9));
        for step in 0..200u32 {
            match step % 4 {
                0 => assert_eq!(ours.next_u32(), reference.next_u32()),
                1 | 2 => assert_eq!(ours.next_u64(), reference.next_u64()),
                _ => {
                    let (mut a, mut b) = ([0u8; 7], [0u8; 7]);
                    ours.fill_bytes(&mut a);
                    reference.fill_bytes(&mut b);
                    assert_eq!(a, b);
                }
            }
            assert_eq!(ours.random::<f64>(), reference.random::<f64>());
        }
    }

    #[test]
    fn a_try_draws_its_own_words_then_block_one_and_hands_on_the_rest() {
        // Reference: ChaCha8Rng's words of the same key, block 0 = words 0..16.
        let mut ours = ChaCha8Block::from_key(&key(5));
        let first = u64::from_le_bytes(key(5)[..8].try_into().unwrap());
        let lineage = ours.rekey_try(first);
        let mut reference = ChaCha8Rng::from_seed(key(5));
        let words: Vec<u32> = (0..48).map(|_| reference.next_u32()).collect();
        assert_eq!(lineage[..], words[OWN_WORDS..16]);
        // A u64 across the end of the own words takes its high half from block 1.
        assert_eq!(ours.next_u32(), words[0]);
        assert_eq!(
            ours.next_u64(),
            u64::from(words[1]) | (u64::from(words[2]) << 32)
        );
        assert_eq!(
            ours.next_u64(),
            u64::from(words[3]) | (u64::from(words[16]) << 32)
        );
        for &word in &words[17..40] {
            assert_eq!(ours.next_u32(), word);
        }
    }

    #[test]
    fn an_inheriting_stream_draws_the_handed_words_then_its_own_key() {
        let mut ours = ChaCha8Block::from_key(&key(6));
        let first = u64::from_le_bytes(key(8)[..8].try_into().unwrap());
        let mut own = key(6);
        own[..8].copy_from_slice(&first.to_le_bytes());
        ours.rekey_inherited(first, [11, 12, 13, 14]);
        assert_eq!(ours.next_u64(), 11 | (12 << 32));
        assert_eq!(ours.next_u32(), 13);
        let mut reference = ChaCha8Rng::from_seed(own);
        assert_eq!(
            ours.next_u64(),
            14 | (u64::from(reference.next_u32()) << 32)
        );
        for _ in 0..40 {
            assert_eq!(ours.next_u32(), reference.next_u32());
        }
    }

    #[test]
    fn rekey_restarts_from_the_start_of_the_new_key() {
        let mut ours = ChaCha8Block::from_key(&key(3));
        let _ = ours.next_u64();
        ours.rekey(0x0123_4567_89ab_cdef);
        let mut bytes = key(3);
        bytes[..8].copy_from_slice(&0x0123_4567_89ab_cdef_u64.to_le_bytes());
        let mut reference = ChaCha8Rng::from_seed(bytes);
        for _ in 0..40 {
            assert_eq!(ours.next_u64(), reference.next_u64());
        }
    }
}
