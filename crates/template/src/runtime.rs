//! The Liquid runtime Kairos renders with: lenient lookups over [`Node`] data, without copies.
//!
//! liquid's own runtime copies every value it looks up (`{{ contact.first_name }}` clones the string) and errors on
//! a missing variable or key. This one answers lookups with borrowed nodes, so plain output and loops over the data
//! allocate nothing, and a missing variable is nil. Values the template assigns are stored once, in an append-only
//! arena, so they can be lent out the same way; a byte budget bounds what a loop of assignments can hold.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{BTreeSet, HashMap};

use liquid_core::model::{KString, KStringCow, KStringRef, ScalarCow, Value, ValueCow, ValueView};
use liquid_core::runtime::{PartialStore, Registers};
use liquid_core::{Error, Result, Runtime};

use crate::data::{ABSENT, NIL, Node, Step};
use crate::globals::Globals;

/// Most bytes of text that the template's own assignments (`assign`, `capture`) may hold during one render.
pub const ASSIGNED_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Chunk `k` of the arena holds `FIRST_CHUNK << k` slots, so 40 chunks never run out.
const FIRST_CHUNK: usize = 8;
const CHUNKS: usize = 40;

/// An append-only store whose entries keep their address, so `&Node`s into it can be lent out through `&self`.
/// Built from `OnceCell`s: safe code, no `unsafe`.
struct Arena {
    chunks: [OnceCell<Box<[OnceCell<Node>]>>; CHUNKS],
    len: Cell<usize>,
}

impl Arena {
    fn new() -> Self {
        Self { chunks: std::array::from_fn(|_| OnceCell::new()), len: Cell::new(0) }
    }

    fn locate(i: usize) -> (usize, usize) {
        let j = i / FIRST_CHUNK + 1;
        let k = (usize::BITS - 1 - j.leading_zeros()) as usize;
        (k, i - FIRST_CHUNK * ((1 << k) - 1))
    }

    fn push(&self, node: Node) -> Option<usize> {
        let i = self.len.get();
        let (k, off) = Self::locate(i);
        let chunk = self.chunks.get(k)?.get_or_init(|| (0..FIRST_CHUNK << k).map(|_| OnceCell::new()).collect());
        chunk[off].set(node).ok()?;
        self.len.set(i + 1);
        Some(i)
    }

    fn get(&self, i: usize) -> Option<&Node> {
        let (k, off) = Self::locate(i);
        self.chunks.get(k)?.get()?.get(off)?.get()
    }
}

/// Approximate bytes of text held by a node.
fn text_bytes(n: &Node) -> usize {
    match n {
        Node::Text(s, e) => s.len() + e.as_ref().map_or(0, |e| e.len()),
        Node::Lit(s) => s.len(),
        Node::Array(a) => a.iter().map(text_bytes).sum::<usize>() + 16 * a.len(),
        Node::Object(o) => o.iter().map(|(k, v)| k.len() + text_bytes(v)).sum::<usize>() + 16 * o.len(),
        _ => 8,
    }
}

/// The root scope of one render.
pub(crate) struct KairosRuntime<'a> {
    globals: &'a Globals,
    /// The rendered body inside a layout (`{{ content }}`).
    content: Option<&'a Node>,
    partials: &'a dyn PartialStore,
    assigned: Arena,
    assigned_names: RefCell<HashMap<KString, usize>>,
    assigned_bytes: Cell<usize>,
    over_budget: Cell<bool>,
    indexes: RefCell<HashMap<KString, Value>>,
    registers: Registers,
}

impl<'a> KairosRuntime<'a> {
    pub fn new(globals: &'a Globals, content: Option<&'a Node>, partials: &'a dyn PartialStore) -> Self {
        Self {
            globals,
            content,
            partials,
            assigned: Arena::new(),
            assigned_names: RefCell::default(),
            assigned_bytes: Cell::new(0),
            over_budget: Cell::new(false),
            indexes: RefCell::default(),
            registers: Registers::default(),
        }
    }

    /// True when the template tried to assign more than [`ASSIGNED_BYTES_MAX`].
    pub fn over_budget(&self) -> bool {
        self.over_budget.get()
    }

    fn root(&self, name: &str) -> &Node {
        let assigned = self.assigned_names.borrow().get(name).copied();
        if let Some(node) = assigned.and_then(|i| self.assigned.get(i)) {
            return node;
        }
        if name == "content"
            && let Some(c) = self.content
        {
            return c;
        }
        self.globals.var(name).unwrap_or(&NIL)
    }

    fn lookup(&self, path: &[ScalarCow<'_>]) -> ValueCow<'_> {
        let Some((first, rest)) = path.split_first() else {
            return ValueCow::Borrowed(&ABSENT);
        };
        let mut node = self.root(first.to_kstr().as_str());
        for (i, index) in rest.iter().enumerate() {
            match node.index(index) {
                Step::Node(next) => node = next,
                // A computed size can only be the last step (a number has nothing to index).
                Step::Size(n) if i + 1 == rest.len() => return ValueCow::Owned(Value::scalar(n)),
                Step::Size(_) => return ValueCow::Borrowed(&ABSENT),
            }
        }
        match node {
            Node::Nil => ValueCow::Borrowed(&ABSENT),
            n => ValueCow::Borrowed(n),
        }
    }
}

impl Runtime for KairosRuntime<'_> {
    fn partials(&self) -> &dyn PartialStore {
        self.partials
    }

    fn name(&self) -> Option<KStringRef<'_>> {
        None
    }

    fn roots(&self) -> BTreeSet<KStringCow<'_>> {
        let mut roots: BTreeSet<KStringCow<'_>> = self.globals.names().map(KStringCow::from_ref).collect();
        roots.extend(self.assigned_names.borrow().keys().map(|k| KStringCow::from_string(k.to_string())));
        roots
    }

    fn try_get(&self, path: &[ScalarCow<'_>]) -> Option<ValueCow<'_>> {
        Some(self.lookup(path))
    }

    fn get(&self, path: &[ScalarCow<'_>]) -> Result<ValueCow<'_>> {
        Ok(self.lookup(path))
    }

    fn set_global(&self, name: KString, val: Value) -> Option<Value> {
        let node = Node::from_value(&val);
        let bytes = self.assigned_bytes.get() + text_bytes(&node);
        if bytes > ASSIGNED_BYTES_MAX {
            // `set_global` cannot fail: remember it, store nil, and let the render report `TooLarge`.
            self.over_budget.set(true);
            let _ = self.assigned.push(Node::Nil).map(|i| self.assigned_names.borrow_mut().insert(name, i));
            return None;
        }
        self.assigned_bytes.set(bytes);
        let slot = self.assigned.push(node)?;
        let old = self.assigned_names.borrow_mut().insert(name, slot);
        old.and_then(|i| self.assigned.get(i)).map(Node::to_value)
    }

    fn set_index(&self, name: KString, val: Value) -> Option<Value> {
        self.indexes.borrow_mut().insert(name, val)
    }

    fn get_index<'b>(&'b self, name: &str) -> Option<ValueCow<'b>> {
        self.indexes.borrow().get(name).map(|v| ValueCow::Owned(v.clone()))
    }

    fn registers(&self) -> &Registers {
        &self.registers
    }
}

/// A partial store with no partials (for renderers built without any).
#[derive(Debug, Default)]
pub(crate) struct NoPartials;

impl PartialStore for NoPartials {
    fn contains(&self, _name: &str) -> bool {
        false
    }

    fn names(&self) -> Vec<&str> {
        Vec::new()
    }

    fn try_get(&self, _name: &str) -> Option<std::sync::Arc<dyn liquid_core::Renderable>> {
        None
    }

    fn get(&self, name: &str) -> Result<std::sync::Arc<dyn liquid_core::Renderable>> {
        Err(Error::with_msg("Unknown partial").context("name", name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_keeps_every_entry() {
        let a = Arena::new();
        for i in 0..1000 {
            assert_eq!(a.push(Node::Int(i)), Some(i as usize));
        }
        for i in 0..1000 {
            assert!(matches!(a.get(i), Some(Node::Int(x)) if *x == i as i64));
        }
        assert!(a.get(1000).is_none());
        assert_eq!(Arena::locate(7), (0, 7));
        assert_eq!(Arena::locate(8), (1, 0));
        assert_eq!(Arena::locate(24), (2, 0));
    }
}
