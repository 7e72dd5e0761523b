//! Software prefetch: a hint that a cache line will be read soon, so that its miss overlaps with
//! other work instead of stalling the load that needs it. A hint only: it changes no value, it
//! cannot fault (any address may be named), and on architectures without the instruction it is
//! nothing at all.

/// Asks the processor to bring the cache line holding the start of `value` into every cache
/// level (x86-64 `prefetcht0`; nothing elsewhere).
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    prefetch_address((value as *const T).cast::<u8>());
}

/// Like [`prefetch`], for the first two cache lines of `value` (a value of up to 128 bytes that
/// starts on a line boundary, such as a slot aligned to 64 bytes).
#[inline(always)]
pub fn prefetch_two_lines<T>(value: &T) {
    let start = (value as *const T).cast::<u8>();
    prefetch_address(start);
    prefetch_address(start.wrapping_add(64));
}

/// Like [`prefetch`], for element `index` of `slice` if it has one (nothing otherwise).
#[inline(always)]
pub fn prefetch_index<T>(slice: &[T], index: usize) {
    if let Some(value) = slice.get(index) {
        prefetch(value);
    }
}

#[inline(always)]
fn prefetch_address(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` (SSE, part of every x86-64) reads nothing architecturally and never
    // faults, whatever the address: it cannot change the program's behaviour.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(address.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefetching_changes_nothing_and_tolerates_any_index() {
        let values = [1u64, 2, 3];
        prefetch(&values[0]);
        prefetch_two_lines(&values);
        prefetch_index(&values, 2);
        prefetch_index(&values, 3); // past the end: nothing
        prefetch_index::<u64>(&[], 0);
        assert_eq!(values, [1, 2, 3]);
    }
}
