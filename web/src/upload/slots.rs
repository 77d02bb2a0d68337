//! The byte budget of parts in flight over all uploads (read, encrypted, being
//! sent), so several uploads share the memory and bandwidth budget instead of
//! multiplying it, whatever part size the broker chose.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::oneshot;

/// The shared budget.
pub struct Slots {
    free: Cell<u64>,
    taken: Cell<usize>,
    waiting: RefCell<Vec<oneshot::Sender<()>>>,
}

/// Bytes of the budget taken by one part, returned on drop.
pub struct Slot {
    slots: Rc<Slots>,
    bytes: u64,
}

impl Slots {
    /// A budget of `bytes`.
    pub fn new(bytes: u64) -> Rc<Slots> {
        Rc::new(Slots {
            free: Cell::new(bytes),
            taken: Cell::new(0),
            waiting: RefCell::new(Vec::new()),
        })
    }

    /// Takes `bytes` of the budget if they are free — or if nothing is taken
    /// (a part larger than the whole budget goes alone).
    pub fn try_take(self: &Rc<Self>, bytes: u64) -> Option<Slot> {
        let free = self.free.get();
        (bytes <= free || self.taken.get() == 0).then(|| {
            self.free.set(free.saturating_sub(bytes));
            self.taken.set(self.taken.get() + 1);
            Slot {
                slots: self.clone(),
                bytes: bytes.min(free),
            }
        })
    }

    /// Resolves when bytes are returned (then try [`Slots::try_take`] again:
    /// another upload may have been faster).
    pub fn returned(&self) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        self.waiting.borrow_mut().push(sender);
        receiver
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let slots = &self.slots;
        slots.free.set(slots.free.get() + self.bytes);
        slots.taken.set(slots.taken.get() - 1);
        for waiter in slots.waiting.take() {
            let _ = waiter.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg_attr(not(target_arch = "wasm32"), test)]
    #[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
    fn budget_in_bytes() {
        let slots = Slots::new(32);
        let a = slots.try_take(20).expect("fits");
        assert!(slots.try_take(20).is_none());
        let b = slots.try_take(12).expect("fits exactly");
        drop(a);
        let c = slots.try_take(20).expect("returned");
        drop((b, c));
        // Larger than the budget: only alone.
        let big = slots.try_take(64).expect("alone");
        assert!(slots.try_take(1).is_none());
        drop(big);
        assert_eq!(slots.free.get(), 32);
    }
}
