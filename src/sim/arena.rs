//! A slot arena with generation-checked handles: slots are reused, so the steady state allocates
//! nothing, and a stale handle (to a slot freed and reused since) is recognised, not followed.

/// A value stored in an [`Arena`] carries its slot's generation.
pub trait Generational {
    /// The generation of the slot this value occupies.
    fn generation(&self) -> u32;
    /// Sets the generation (done by the arena on insert).
    fn set_generation(&mut self, generation: u32);
}

/// Slots of `T`, with a free list.
#[derive(Debug)]
pub struct Arena<T> {
    slots: Vec<T>,
    /// Generation each slot will carry on its next use; bumped on every free.
    next_generation: Vec<u32>,
    live: Vec<bool>,
    free: Vec<u32>,
}

impl<T: Generational> Default for Arena<T> {
    fn default() -> Self {
        Arena { slots: Vec::new(), next_generation: Vec::new(), live: Vec::new(), free: Vec::new() }
    }
}

impl<T: Generational> Arena<T> {
    /// Stores `value`, returning its slot index and generation.
    pub fn insert(&mut self, mut value: T) -> (u32, u32) {
        match self.free.pop() {
            Some(index) => {
                let generation = self.next_generation[index as usize];
                value.set_generation(generation);
                self.slots[index as usize] = value;
                self.live[index as usize] = true;
                (index, generation)
            }
            None => {
                value.set_generation(0);
                self.slots.push(value);
                self.next_generation.push(0);
                self.live.push(true);
                ((self.slots.len() - 1) as u32, 0)
            }
        }
    }

    /// The value in `index` if it is live and still of `generation`.
    pub fn get(&self, index: u32, generation: u32) -> Option<&T> {
        let i = index as usize;
        (self.live.get(i) == Some(&true) && self.slots[i].generation() == generation)
            .then(|| &self.slots[i])
    }

    /// Mutable access to the value in `index` if it is live and still of `generation`.
    pub fn get_mut(&mut self, index: u32, generation: u32) -> Option<&mut T> {
        let i = index as usize;
        if self.live.get(i) == Some(&true) && self.slots[i].generation() == generation {
            Some(&mut self.slots[i])
        } else {
            None
        }
    }

    /// The live value in `index` whatever its generation. Panics on a free slot (a logic error).
    pub fn at(&self, index: u32) -> &T {
        debug_assert!(self.live[index as usize]);
        &self.slots[index as usize]
    }

    /// Mutable access to the live value in `index`.
    pub fn at_mut(&mut self, index: u32) -> &mut T {
        debug_assert!(self.live[index as usize]);
        &mut self.slots[index as usize]
    }

    /// Frees slot `index`; handles to it become stale.
    pub fn remove(&mut self, index: u32) {
        let i = index as usize;
        if self.live[i] {
            self.live[i] = false;
            self.next_generation[i] = self.slots[i].generation().wrapping_add(1);
            self.free.push(index);
        }
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
        let (a, gen_a) = arena.insert(Item { value: 1, ..Item::default() });
        arena.remove(a);
        let (b, gen_b) = arena.insert(Item { value: 2, ..Item::default() });
        assert_eq!(a, b, "slot reused");
        assert_ne!(gen_a, gen_b);
        assert!(arena.get(a, gen_a).is_none());
        assert_eq!(arena.get(b, gen_b).map(|item| item.value), Some(2));
    }
}
