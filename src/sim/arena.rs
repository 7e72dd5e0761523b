//! A slot arena with generation-checked handles: slots are reused, so the steady state allocates
//! nothing, and a stale handle (to a slot freed and reused since) is recognised, not followed.

/// A value stored in an [`Arena`] carries its slot's generation.
pub trait Generational {
    /// The generation of the slot this value occupies.
    fn generation(&self) -> u32;
    /// Sets the generation (done by the arena on insert).
    fn set_generation(&mut self, generation: u32);
}

/// Slots of `T`, with a free list. Freeing a slot bumps its generation at once, so a handle is
/// valid exactly when its generation matches the slot's (no separate liveness flag to load).
#[derive(Debug)]
pub struct Arena<T> {
    slots: Vec<T>,
    free: Vec<u32>,
}

impl<T: Generational> Default for Arena<T> {
    fn default() -> Self {
        Arena {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<T: Generational> Arena<T> {
    /// Stores `value`, returning its slot index and generation. (Always inlined, so that a value
    /// built in the caller is written straight into its slot rather than copied there.)
    #[inline(always)]
    pub fn insert(&mut self, mut value: T) -> (u32, u32) {
        match self.free.pop() {
            Some(index) => {
                let generation = self.slots[index as usize].generation();
                value.set_generation(generation);
                self.slots[index as usize] = value;
                (index, generation)
            }
            None => {
                value.set_generation(0);
                self.slots.push(value);
                ((self.slots.len() - 1) as u32, 0)
            }
        }
    }

    /// The value in `index` if it is live and still of `generation`.
    #[inline]
    pub fn get(&self, index: u32, generation: u32) -> Option<&T> {
        self.slots
            .get(index as usize)
            .filter(|slot| slot.generation() == generation)
    }

    /// Mutable access to the value in `index` if it is live and still of `generation`.
    #[inline]
    pub fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut T> {
        self.slots
            .get_mut(index as usize)
            .filter(|slot| slot.generation() == generation)
    }

    /// The live value in `index`. Only for handles known to be live (a logic error otherwise).
    #[inline]
    pub fn at(&self, index: u32) -> &T {
        &self.slots[index as usize]
    }

    /// Every slot, live or free (for prefetch hints, which may name any slot).
    #[inline(always)]
    pub fn slots(&self) -> &[T] {
        &self.slots
    }

    /// Mutable access to the live value in `index`.
    #[inline]
    pub fn at_mut(&mut self, index: u32) -> &mut T {
        &mut self.slots[index as usize]
    }

    /// The values in use (not freed), in slot order. Allocates a mark per slot: for the end of
    /// a run, not for the event loop.
    pub fn live(&self) -> impl Iterator<Item = &T> {
        let mut free = vec![false; self.slots.len()];
        for &index in &self.free {
            free[index as usize] = true;
        }
        self.slots
            .iter()
            .zip(free)
            .filter(|(_, free)| !free)
            .map(|(value, _)| value)
    }

    /// Frees slot `index`; every handle to it becomes stale. Freeing twice is a logic error.
    pub fn remove(&mut self, index: u32) {
        let slot = &mut self.slots[index as usize];
        slot.set_generation(slot.generation().wrapping_add(1));
        self.free.push(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default)]
    struct Item {
        generation: u32,
        value: u32,
    }
    impl Generational for Item {
        fn generation(&self) -> u32 {
            self.generation
        }
        fn set_generation(&mut self, generation: u32) {
            self.generation = generation;
        }
    }

    #[test]
    fn stale_handles_are_refused_after_reuse() {
        let mut arena = Arena::default();
        let (a, gen_a) = arena.insert(Item {
            value: 1,
            ..Item::default()
        });
        arena.remove(a);
        let (b, gen_b) = arena.insert(Item {
            value: 2,
            ..Item::default()
        });
        assert_eq!(a, b, "slot reused");
        assert_ne!(gen_a, gen_b);
        assert!(arena.get(a, gen_a).is_none());
        assert_eq!(arena.get(b, gen_b).map(|item| item.value), Some(2));
    }
}
