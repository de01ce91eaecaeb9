//! A strict, single-pass JSON scanner for the fast call reader: it validates every byte of
//! the document (strings, escapes, numbers, nesting, trailing text), refuses a key given
//! twice in one object at any depth, and hands the caller only what it asks for.
//!
//! It never guesses: whatever it does not read exactly as `serde_json` with
//! [`super::parse`] would (a lone surrogate escape, a number out of range, an object of
//! very many keys, deep nesting) is a [`Bail`], and the caller reads the text the full
//! way, which gives the decision or the precise error. So a shortcut here can make a call
//! slower, never judge another call than the one that runs.

/// The scanner stops: the full reader must read this text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Bail;

/// Deeper than this, the full reader decides (it refuses arguments nested deeper than
/// [`super::MAX_NESTING`]).
pub(crate) const MAX_DEPTH: usize = 48;

/// Objects with more keys than this go to the full reader (the duplicate check here is
/// quadratic in the keys of one object).
const MAX_KEYS: usize = 64;

/// A string of the document: a span of the text when it has no escapes, else a span of
/// the scratch buffer its unescaped text was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Str {
    Text { start: u32, end: u32 },
    Scratch { start: u32, end: u32 },
}

/// What a scanned value is, and what of it a decision can use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scanned {
    Null,
    Bool(bool),
    /// A number, and its text's span.
    Num {
        value: f64,
        start: u32,
        end: u32,
    },
    Str(Str),
    /// A list, its length, and its text's span.
    List {
        len: u32,
        start: u32,
        end: u32,
    },
    /// An object and its text's span.
    Obj {
        start: u32,
        end: u32,
    },
}

/// The buffers a scan reuses from call to call.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    /// Unescaped strings.
    pub(crate) text: String,
    /// The keys of the objects being read, innermost last: their length and text.
    keys: Vec<(usize, Str)>,
}

impl Scratch {
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.keys.clear();
    }
}

/// A scan of one document.
pub(crate) struct Scanner<'t, 's> {
    text: &'t str,
    pos: usize,
    pub(crate) scratch: &'s mut Scratch,
}

impl<'t, 's> Scanner<'t, 's> {
    pub(crate) fn new(text: &'t str, scratch: &'s mut Scratch) -> Scanner<'t, 's> {
        scratch.clear();
        Scanner {
            text,
            pos: 0,
            scratch,
        }
    }

    fn bytes(&self) -> &'t [u8] {
        self.text.as_bytes()
    }

    /// The text of a string read by this scan.
    pub(crate) fn str_of(&self, s: Str) -> &str {
        resolve(self.text, &self.scratch.text, s)
    }

    /// Skips blanks; the next byte, if any.
    pub(crate) fn peek(&mut self) -> Option<u8> {
        while let Some(&b) = self.bytes().get(self.pos) {
            if matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                self.pos += 1;
            } else {
                return Some(b);
            }
        }
        None
    }

    /// Consumes `c` (after blanks).
    pub(crate) fn eat(&mut self, c: u8) -> Result<(), Bail> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// The end of the document: nothing but blanks may follow.
    pub(crate) fn end(&mut self) -> Result<(), Bail> {
        match self.peek() {
            None => Ok(()),
            Some(_) => Err(Bail),
        }
    }

    /// Starts an object: `{`, and the mark its keys are kept from.
    pub(crate) fn open_object(&mut self) -> Result<usize, Bail> {
        self.eat(b'{')?;
        Ok(self.scratch.keys.len())
    }

    /// The next key of the object opened at `mark` (`None` at its end), checked against
    /// the object's other keys.
    pub(crate) fn next_key(&mut self, mark: usize, first: &mut bool) -> Result<Option<Str>, Bail> {
        match self.peek() {
            Some(b'}') => {
                self.pos += 1;
                self.scratch.keys.truncate(mark);
                return Ok(None);
            }
            Some(b',') if !*first => self.pos += 1,
            Some(b'"') if *first => {}
            _ => return Err(Bail),
        }
        *first = false;
        if self.peek() != Some(b'"') {
            return Err(Bail);
        }
        let key = self.string()?;
        self.eat(b':')?;
        let text = self.str_of(key);
        let len = text.len();
        let mine = self.scratch.keys.get(mark..).unwrap_or(&[]);
        if mine.len() >= MAX_KEYS {
            return Err(Bail);
        }
        for &(other_len, other) in mine {
            if other_len == len && resolve(self.text, &self.scratch.text, other) == text {
                return Err(Bail);
            }
        }
        self.scratch.keys.push((len, key));
        Ok(Some(key))
    }

    /// Reads a string (at its opening quote).
    pub(crate) fn string(&mut self) -> Result<Str, Bail> {
        self.eat(b'"')?;
        let start = self.pos;
        let bytes = self.bytes();
        loop {
            match bytes.get(self.pos) {
                Some(b'"') => {
                    let end = self.pos;
                    self.pos += 1;
                    return Ok(Str::Text {
                        start: start as u32,
                        end: end as u32,
                    });
                }
                Some(b'\\') => return self.escaped(start),
                Some(&b) if b < 0x20 => return Err(Bail),
                Some(_) => self.pos += 1,
                None => return Err(Bail),
            }
        }
    }

    /// The rest of a string with escapes, unescaped into the scratch buffer.
    fn escaped(&mut self, start: usize) -> Result<Str, Bail> {
        let out_start = self.scratch.text.len();
        let plain = self.text.get(start..self.pos).ok_or(Bail)?;
        self.scratch.text.push_str(plain);
        let bytes = self.bytes();
        loop {
            let run = self.pos;
            while let Some(&b) = bytes.get(self.pos) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            let chunk = self.text.get(run..self.pos).ok_or(Bail)?;
            self.scratch.text.push_str(chunk);
            match bytes.get(self.pos) {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Str::Scratch {
                        start: out_start as u32,
                        end: self.scratch.text.len() as u32,
                    });
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = self.escape()?;
                    self.scratch.text.push(c);
                }
                _ => return Err(Bail),
            }
        }
    }

    /// One escape, after its backslash.
    fn escape(&mut self) -> Result<char, Bail> {
        let b = *self.bytes().get(self.pos).ok_or(Bail)?;
        self.pos += 1;
        Ok(match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                match hi {
                    0xD800..=0xDBFF => {
                        if self.bytes().get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(Bail);
                        }
                        self.pos += 2;
                        let lo = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&lo) {
                            return Err(Bail);
                        }
                        let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                        char::from_u32(c).ok_or(Bail)?
                    }
                    0xDC00..=0xDFFF => return Err(Bail),
                    c => char::from_u32(c).ok_or(Bail)?,
                }
            }
            _ => return Err(Bail),
        })
    }

    fn hex4(&mut self) -> Result<u32, Bail> {
        let digits = self.bytes().get(self.pos..self.pos + 4).ok_or(Bail)?;
        let mut n = 0u32;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or(Bail)?;
            n = n * 16 + v;
        }
        self.pos += 4;
        Ok(n)
    }

    /// Reads a number by JSON's grammar; a value out of range is a bail.
    fn number(&mut self) -> Result<Scanned, Bail> {
        let start = self.pos;
        let bytes = self.bytes();
        let digits = |pos: &mut usize| {
            let from = *pos;
            while bytes.get(*pos).is_some_and(u8::is_ascii_digit) {
                *pos += 1;
            }
            *pos - from
        };
        let mut pos = self.pos;
        if bytes.get(pos) == Some(&b'-') {
            pos += 1;
        }
        match bytes.get(pos) {
            Some(b'0') => pos += 1,
            Some(b'1'..=b'9') => {
                digits(&mut pos);
            }
            _ => return Err(Bail),
        }
        if bytes.get(pos) == Some(&b'.') {
            pos += 1;
            if digits(&mut pos) == 0 {
                return Err(Bail);
            }
        }
        if matches!(bytes.get(pos), Some(b'e' | b'E')) {
            pos += 1;
            if matches!(bytes.get(pos), Some(b'+' | b'-')) {
                pos += 1;
            }
            if digits(&mut pos) == 0 {
                return Err(Bail);
            }
        }
        let text = self.text.get(start..pos).ok_or(Bail)?;
        let value: f64 = text.parse().map_err(|_| Bail)?;
        if !value.is_finite() {
            return Err(Bail);
        }
        self.pos = pos;
        Ok(Scanned::Num {
            value,
            start: start as u32,
            end: pos as u32,
        })
    }

    fn word(&mut self, w: &[u8]) -> Result<(), Bail> {
        if self.bytes().get(self.pos..self.pos + w.len()) == Some(w) {
            self.pos += w.len();
            Ok(())
        } else {
            Err(Bail)
        }
    }

    /// Reads one value, `depth` containers deep, with `visit` told of each key of each
    /// object in it (with the object's own visitor state) to say what to do with its value.
    pub(crate) fn value<V: Visit>(
        &mut self,
        depth: usize,
        visit: &mut V,
        at: V::At,
    ) -> Result<Scanned, Bail> {
        match self.peek().ok_or(Bail)? {
            b'"' => Ok(Scanned::Str(self.string()?)),
            b'{' => self.object(depth + 1, visit, at),
            b'[' => self.list(depth + 1, visit),
            b't' => self.word(b"true").map(|()| Scanned::Bool(true)),
            b'f' => self.word(b"false").map(|()| Scanned::Bool(false)),
            b'n' => self.word(b"null").map(|()| Scanned::Null),
            _ => self.number(),
        }
    }

    fn object<V: Visit>(
        &mut self,
        depth: usize,
        visit: &mut V,
        at: V::At,
    ) -> Result<Scanned, Bail> {
        if depth > MAX_DEPTH {
            return Err(Bail);
        }
        let start = self.pos;
        let mark = self.open_object()?;
        let mut first = true;
        while let Some(key) = self.next_key(mark, &mut first)? {
            let child = visit.child(at, self.str_of(key));
            let v = self.value(depth, visit, child)?;
            visit.seen(child, v);
        }
        Ok(Scanned::Obj {
            start: start as u32,
            end: self.pos as u32,
        })
    }

    fn list<V: Visit>(&mut self, depth: usize, visit: &mut V) -> Result<Scanned, Bail> {
        if depth > MAX_DEPTH {
            return Err(Bail);
        }
        let start = self.pos;
        self.eat(b'[')?;
        let mut len = 0u32;
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.value(depth, visit, V::NOWHERE)?;
                len += 1;
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(Bail),
                }
            }
        }
        Ok(Scanned::List {
            len,
            start: start as u32,
            end: self.pos as u32,
        })
    }
}

/// What a scan is told of the objects it reads: for each key, where its value is kept
/// (`At`), and the value once read.
pub(crate) trait Visit {
    /// Where a value is kept.
    type At: Copy;
    /// A value kept nowhere (elements of lists, keys nobody reads).
    const NOWHERE: Self::At;
    /// Where the value of key `key` of the object kept at `parent` is kept.
    fn child(&mut self, parent: Self::At, key: &str) -> Self::At;
    /// The value kept at `at`.
    fn seen(&mut self, at: Self::At, v: Scanned);
}

/// The text of a string.
pub(crate) fn resolve<'a>(text: &'a str, scratch: &'a str, s: Str) -> &'a str {
    match s {
        Str::Text { start, end } => text.get(start as usize..end as usize).unwrap_or(""),
        Str::Scratch { start, end } => scratch.get(start as usize..end as usize).unwrap_or(""),
    }
}
