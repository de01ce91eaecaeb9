//! A log key that remembers the signatures it has checked or made, so reading a request's
//! history again (every change reads it) costs no signature checks for the events already
//! seen. Only exact (text, signature) pairs the key itself vouched for are remembered.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use crate::approval::store::LogKey;

/// How many pairs are remembered before the memory starts over.
const CAPACITY: usize = 200_000;

/// A [`LogKey`] with a memory of good signatures.
#[derive(Debug)]
pub(super) struct Remembering {
    key: Arc<dyn LogKey>,
    good: Mutex<HashSet<String>>,
}

impl Remembering {
    pub(super) fn new(key: Arc<dyn LogKey>) -> Remembering {
        Remembering {
            key,
            good: Mutex::new(HashSet::new()),
        }
    }

    fn remember(&self, pair: String) {
        let mut good = self.good.lock().unwrap_or_else(PoisonError::into_inner);
        if good.len() >= CAPACITY {
            good.clear();
        }
        good.insert(pair);
    }
}

/// One remembered pair (a newline never appears in a hash or a base64 signature).
fn pair(text: &str, signature: &str) -> String {
    format!("{text}\n{signature}")
}

impl LogKey for Remembering {
    fn id(&self) -> &str {
        self.key.id()
    }

    fn sign(&self, text: &str) -> String {
        let signature = self.key.sign(text);
        self.remember(pair(text, &signature));
        signature
    }

    fn verify(&self, text: &str, signature: &str) -> bool {
        let p = pair(text, signature);
        let known = self
            .good
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&p);
        if known {
            return true;
        }
        let ok = self.key.verify(text, signature);
        if ok {
            self.remember(p);
        }
        ok
    }
}

#[cfg(all(test, feature = "permits"))]
mod tests {
    use super::*;
    use crate::approval::permit::LogSigner;

    #[test]
    fn only_what_the_key_vouched_for_is_remembered() {
        let k = Remembering::new(Arc::new(LogSigner::new(&[7; 32], "k")));
        let other = LogSigner::new(&[8; 32], "o");
        let s = k.sign("abc");
        assert!(k.verify("abc", &s));
        assert!(!k.verify("abd", &s), "another text");
        assert!(!k.verify("abc", &other.sign("abc")), "another key");
        assert!(!k.verify("abc", "not a signature"));
        // A failed check is not remembered as good.
        assert!(!k.verify("abc", "not a signature"));
    }
}
