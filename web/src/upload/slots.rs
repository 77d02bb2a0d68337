//! A counting semaphore for parts in flight over all uploads, so several
//! uploads share the memory and bandwidth budget instead of multiplying it.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use futures::channel::oneshot;

/// The shared budget.
pub struct Slots {
    free: Cell<usize>,
    waiting: RefCell<Vec<oneshot::Sender<()>>>,
}

/// One taken slot, returned on drop.
pub struct Slot(Rc<Slots>);

impl Slots {
    /// A budget of `count` slots.
    pub fn new(count: usize) -> Rc<Slots> {
        Rc::new(Slots {
            free: Cell::new(count),
            waiting: RefCell::new(Vec::new()),
        })
    }

    /// Takes a slot if one is free.
    pub fn try_take(self: &Rc<Self>) -> Option<Slot> {
        let free = self.free.get();
        (free > 0).then(|| {
            self.free.set(free - 1);
            Slot(self.clone())
        })
    }

    /// Resolves when a slot is returned (then try [`Slots::try_take`] again:
    /// another upload may have been faster).
    pub fn returned(&self) -> oneshot::Receiver<()> {
        let (sender, receiver) = oneshot::channel();
        self.waiting.borrow_mut().push(sender);
        receiver
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.free.set(self.0.free.get() + 1);
        for waiter in self.0.waiting.take() {
            let _ = waiter.send(());
        }
    }
}
