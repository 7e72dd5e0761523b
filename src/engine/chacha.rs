//! ChaCha8 computed one 64-byte block at a time.
//!
//! The simulator re-keys a stream for every try of every request and draws only a few words from
//! it. A general-purpose ChaCha generator computes four blocks (256 bytes) per refill, so most of
//! that work was thrown away at the next re-key. [`ChaCha8Block`] yields exactly the same words as
//! `rand_chacha::ChaCha8Rng` seeded with the same key (block counter from 0, stream 0), but
//! computes a block only when the previous one is used up — for a try, usually one block.
//!
//! The block function follows the ChaCha definition (D. J. Bernstein, "ChaCha, a variant of
//! Salsa20", 2008): a 4x4 state of 32-bit words — four constants, the eight key words, a 64-bit
//! block counter and a 64-bit stream number — mixed by quarter-rounds on the columns and then the
//! diagonals (one double round); ChaCha8 does four double rounds and adds the input state.

use rand::RngCore;

/// Words of one ChaCha block.
const BLOCK_WORDS: usize = 16;

/// "expand 32-byte k" as four little-endian words.
const CONSTANTS: [u32; 4] = [0x6170_7865, 0x3320_646e, 0x7962_2d32, 0x6b20_6574];

/// Double rounds of ChaCha8.
const DOUBLE_ROUNDS: usize = 4;

/// One row of the state: four words, processed together (the compiler keeps a row in one vector
/// register).
type Row = [u32; 4];

#[inline(always)]
fn add(a: Row, b: Row) -> Row {
    [
        a[0].wrapping_add(b[0]),
        a[1].wrapping_add(b[1]),
        a[2].wrapping_add(b[2]),
        a[3].wrapping_add(b[3]),
    ]
}

#[inline(always)]
fn xor_rotate(a: Row, b: Row, bits: u32) -> Row {
    [
        (a[0] ^ b[0]).rotate_left(bits),
        (a[1] ^ b[1]).rotate_left(bits),
        (a[2] ^ b[2]).rotate_left(bits),
        (a[3] ^ b[3]).rotate_left(bits),
    ]
}

/// The row rotated left by `by` lanes (lane `i` takes lane `i + by`).
#[inline(always)]
fn lanes(row: Row, by: usize) -> Row {
    [
        row[by % 4],
        row[(by + 1) % 4],
        row[(by + 2) % 4],
        row[(by + 3) % 4],
    ]
}

/// Quarter-rounds on the four columns of the state held as rows `a`, `b`, `c`, `d`.
#[inline(always)]
fn quarter_rounds(a: &mut Row, b: &mut Row, c: &mut Row, d: &mut Row) {
    *a = add(*a, *b);
    *d = xor_rotate(*d, *a, 16);
    *c = add(*c, *d);
    *b = xor_rotate(*b, *c, 12);
    *a = add(*a, *b);
    *d = xor_rotate(*d, *a, 8);
    *c = add(*c, *d);
    *b = xor_rotate(*b, *c, 7);
}

/// The ChaCha8 block for the key `first`, `tail` (32 bytes as four little-endian 64-bit words)
/// at block number `counter` (stream 0), as 16 words.
#[inline]
pub fn chacha8_block(first: u64, tail: &[u64; 3], counter: u64) -> [u32; BLOCK_WORDS] {
    #[cfg(target_arch = "x86_64")]
    {
        sse2::chacha8_block(first, tail, counter)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        chacha8_block_portable(first, tail, counter)
    }
}

/// The block function on SSE2: one state row per register. SSE2 is part of every x86-64
/// processor (the x86_64 targets enable it), so its intrinsics are always safe to execute; the
/// `unsafe` blocks below are for that alone, and for unaligned loads and stores of 16 bytes.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::{BLOCK_WORDS, CONSTANTS, DOUBLE_ROUNDS};
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_or_si128, _mm_set_epi32, _mm_set_epi64x, _mm_shuffle_epi32,
        _mm_shufflehi_epi16, _mm_shufflelo_epi16, _mm_slli_epi32, _mm_srli_epi32, _mm_storeu_si128,
        _mm_xor_si128,
    };

    /// A row from two 64-bit halves, `low` in lanes 0 and 1.
    #[inline(always)]
    fn row(low: u64, high: u64) -> __m128i {
        // SAFETY: SSE2 only (see the module). (Built from 64-bit values rather than loaded as 16
        // bytes: a 16-byte load of words just written by narrower stores stalls the processor.)
        unsafe { _mm_set_epi64x(high as i64, low as i64) }
    }

    #[inline(always)]
    fn store(value: __m128i, row: &mut [u32]) {
        assert_eq!(row.len(), 4);
        // SAFETY: `row` is 16 writable bytes (checked above); the store is unaligned.
        unsafe { _mm_storeu_si128(row.as_mut_ptr().cast(), value) }
    }

    /// Rotates every word left by 16 (swaps the 16-bit halves of each word).
    #[inline(always)]
    fn rotate16(x: __m128i) -> __m128i {
        // SAFETY: SSE2 only (see the module).
        unsafe { _mm_shufflehi_epi16::<0b10_11_00_01>(_mm_shufflelo_epi16::<0b10_11_00_01>(x)) }
    }

    /// Rotates every word left by `L` bits (`R` = 32 - `L`).
    #[inline(always)]
    fn rotate<const L: i32, const R: i32>(x: __m128i) -> __m128i {
        // SAFETY: SSE2 only (see the module).
        unsafe { _mm_or_si128(_mm_slli_epi32::<L>(x), _mm_srli_epi32::<R>(x)) }
    }

    #[inline(always)]
    fn add(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: SSE2 only (see the module).
        unsafe { _mm_add_epi32(a, b) }
    }

    #[inline(always)]
    fn xor(a: __m128i, b: __m128i) -> __m128i {
        // SAFETY: SSE2 only (see the module).
        unsafe { _mm_xor_si128(a, b) }
    }

    /// Lane `i` of the result is lane `(i + BY) % 4` of `x`, for `BY` in 1..=3 (`IMM` encodes it).
    #[inline(always)]
    fn lanes<const IMM: i32>(x: __m128i) -> __m128i {
        // SAFETY: SSE2 only (see the module).
        unsafe { _mm_shuffle_epi32::<IMM>(x) }
    }

    /// `lanes` immediates for a shift by one, two and three lanes.
    const BY_1: i32 = 0b00_11_10_01;
    const BY_2: i32 = 0b01_00_11_10;
    const BY_3: i32 = 0b10_01_00_11;

    #[inline(always)]
    fn quarter_rounds(a: &mut __m128i, b: &mut __m128i, c: &mut __m128i, d: &mut __m128i) {
        *a = add(*a, *b);
        *d = rotate16(xor(*d, *a));
        *c = add(*c, *d);
        *b = rotate::<12, 20>(xor(*b, *c));
        *a = add(*a, *b);
        *d = rotate::<8, 24>(xor(*d, *a));
        *c = add(*c, *d);
        *b = rotate::<7, 25>(xor(*b, *c));
    }

    pub(super) fn chacha8_block(first: u64, tail: &[u64; 3], counter: u64) -> [u32; BLOCK_WORDS] {
        let [c0, c1, c2, c3] = CONSTANTS.map(|word| word as i32);
        // SAFETY: SSE2 only (see the module).
        let constants = unsafe { _mm_set_epi32(c3, c2, c1, c0) };
        let input = [
            constants,
            row(first, tail[0]),
            row(tail[1], tail[2]),
            row(counter, 0),
        ];
        let [mut a, mut b, mut c, mut d] = input;
        for _ in 0..DOUBLE_ROUNDS {
            quarter_rounds(&mut a, &mut b, &mut c, &mut d);
            // Diagonals become columns: lane i of rows 1, 2, 3 takes lane i+1, i+2, i+3.
            b = lanes::<BY_1>(b);
            c = lanes::<BY_2>(c);
            d = lanes::<BY_3>(d);
            quarter_rounds(&mut a, &mut b, &mut c, &mut d);
            b = lanes::<BY_3>(b);
            c = lanes::<BY_2>(c);
            d = lanes::<BY_1>(d);
        }
        let mut out = [0u32; BLOCK_WORDS];
        for ((chunk, row), start) in out.chunks_exact_mut(4).zip([a, b, c, d]).zip(input) {
            store(add(row, start), chunk);
        }
        out
    }
}

/// The ChaCha8 block for `key` at block number `counter` (stream 0), as 16 words: portable code
/// (the compiler does not vectorise it well; used where no SIMD version is written).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn chacha8_block_portable(first: u64, tail: &[u64; 3], counter: u64) -> [u32; BLOCK_WORDS] {
    let halves = |word: u64| [word as u32, (word >> 32) as u32];
    let row = |low: u64, high: u64| {
        let ([a, b], [c, d]) = (halves(low), halves(high));
        [a, b, c, d]
    };
    let input = [
        CONSTANTS,
        row(first, tail[0]),
        row(tail[1], tail[2]),
        row(counter, 0),
    ];
    let [mut a, mut b, mut c, mut d] = input;
    for _ in 0..DOUBLE_ROUNDS {
        quarter_rounds(&mut a, &mut b, &mut c, &mut d);
        // Diagonals become columns: shift row 1 by one lane, row 2 by two, row 3 by three.
        b = lanes(b, 1);
        c = lanes(c, 2);
        d = lanes(d, 3);
        quarter_rounds(&mut a, &mut b, &mut c, &mut d);
        b = lanes(b, 3);
        c = lanes(c, 2);
        d = lanes(d, 1);
    }
    let rows = [
        add(a, input[0]),
        add(b, input[1]),
        add(c, input[2]),
        add(d, input[3]),
    ];
    let mut out = [0u32; BLOCK_WORDS];
    for (chunk, row) in out.chunks_exact_mut(4).zip(rows) {
        chunk.copy_from_slice(&row);
    }
    out
}

/// A ChaCha8 random stream computed block by block; re-keyed in place by [`ChaCha8Block::rekey`].
/// Its words are those of `rand_chacha::ChaCha8Rng::from_seed` with the same 32-byte key.
#[derive(Debug, Clone)]
pub struct ChaCha8Block {
    /// The key's first eight bytes, as a little-endian word.
    first: u64,
    /// Number of the next block to compute.
    counter: u64,
    /// The key's other 24 bytes, as three little-endian words.
    tail: [u64; 3],
    buffer: [u32; BLOCK_WORDS],
    /// Next unused word of `buffer` (`BLOCK_WORDS`: none left).
    index: usize,
}

impl ChaCha8Block {
    /// The stream of the 32-byte `key`, from its start.
    pub fn from_key(key: &[u8; 32]) -> Self {
        let word = |at: usize| u64::from_le_bytes(key[at..at + 8].try_into().expect("8 bytes"));
        ChaCha8Block {
            first: word(0),
            tail: [word(8), word(16), word(24)],
            counter: 0,
            buffer: [0; BLOCK_WORDS],
            index: BLOCK_WORDS,
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
    }
}

impl RngCore for ChaCha8Block {
    #[inline]
    fn next_u32(&mut self) -> u32 {
        if self.index >= BLOCK_WORDS {
            self.refill();
        }
        let value = self.buffer[self.index];
        self.index += 1;
        value
    }

    /// Two consecutive words, the first as the low half (across a block boundary too).
    #[inline]
    fn next_u64(&mut self) -> u64 {
        let index = self.index;
        if index < BLOCK_WORDS - 1 {
            self.index = index + 2;
            u64::from(self.buffer[index]) | (u64::from(self.buffer[index + 1]) << 32)
        } else {
            let low = u64::from(self.next_u32());
            low | (u64::from(self.next_u32()) << 32)
        }
    }

    /// Whole words in order; the unused bytes of a last partial word are dropped.
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(4) {
            let bytes = self.next_u32().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn key(salt: u8) -> [u8; 32] {
        std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(salt))
    }

    #[test]
    fn words_match_rand_chacha_across_several_blocks() {
        // rand_chacha computes four blocks at a time with other code: an independent reference.
        for salt in [0u8, 1, 200] {
            let mut ours = ChaCha8Block::from_key(&key(salt));
            let mut reference = ChaCha8Rng::from_seed(key(salt));
            for _ in 0..(BLOCK_WORDS * 9) {
                assert_eq!(ours.next_u32(), reference.next_u32());
            }
        }
    }

    #[test]
    fn portable_block_matches_the_dispatched_one() {
        let tail = [u64::MAX, 0x0123_4567_89ab_cdef, 42];
        for counter in [0, 1, 7, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(
                chacha8_block_portable(1, &tail, counter),
                chacha8_block(1, &tail, counter)
            );
        }
    }

    #[test]
    fn u64_and_bytes_match_rand_chacha_at_odd_offsets() {
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
