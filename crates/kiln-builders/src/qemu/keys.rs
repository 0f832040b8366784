//! The keys a boot command can press, and how each one reaches the guest: QEMU `QKeyCode`
//! names on a US keyboard layout (what Packer's VNC typing amounts to on QEMU's default `en-us`
//! keymap), with Shift for the shifted characters.

use super::qmp::KeyEvent;

/// A key with a name in the boot command language (`<enter>`, `<leftCtrlOn>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Special {
    Bs,
    Del,
    Enter,
    Return,
    Esc,
    Tab,
    Spacebar,
    Insert,
    Home,
    End,
    PageUp,
    PageDown,
    Up,
    Down,
    Left,
    Right,
    Menu,
    /// `<f1>` … `<f12>`.
    F(u8),
    LeftAlt,
    LeftCtrl,
    LeftShift,
    LeftSuper,
    RightAlt,
    RightCtrl,
    RightShift,
    RightSuper,
}

/// Every named key and its name in the language (as Packer's documentation spells it; matched
/// without regard to case).
pub const SPECIALS: &[(&str, Special)] = &[
    ("bs", Special::Bs),
    ("del", Special::Del),
    ("enter", Special::Enter),
    ("return", Special::Return),
    ("esc", Special::Esc),
    ("tab", Special::Tab),
    ("spacebar", Special::Spacebar),
    ("insert", Special::Insert),
    ("home", Special::Home),
    ("end", Special::End),
    ("pageUp", Special::PageUp),
    ("pageDown", Special::PageDown),
    ("up", Special::Up),
    ("down", Special::Down),
    ("left", Special::Left),
    ("right", Special::Right),
    ("menu", Special::Menu),
    ("f1", Special::F(1)),
    ("f2", Special::F(2)),
    ("f3", Special::F(3)),
    ("f4", Special::F(4)),
    ("f5", Special::F(5)),
    ("f6", Special::F(6)),
    ("f7", Special::F(7)),
    ("f8", Special::F(8)),
    ("f9", Special::F(9)),
    ("f10", Special::F(10)),
    ("f11", Special::F(11)),
    ("f12", Special::F(12)),
    ("leftAlt", Special::LeftAlt),
    ("leftCtrl", Special::LeftCtrl),
    ("leftShift", Special::LeftShift),
    ("leftSuper", Special::LeftSuper),
    ("rightAlt", Special::RightAlt),
    ("rightCtrl", Special::RightCtrl),
    ("rightShift", Special::RightShift),
    ("rightSuper", Special::RightSuper),
];

impl Special {
    /// The named key `name` (`"ENTER"`, `"pageup"` too).
    pub fn by_name(name: &str) -> Option<Special> {
        SPECIALS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, s)| *s)
    }

    pub fn qcode(self) -> &'static str {
        const F: [&str; 12] = ["f1", "f2", "f3", "f4", "f5", "f6", "f7", "f8", "f9", "f10", "f11", "f12"];
        match self {
            Special::Bs => "backspace",
            Special::Del => "delete",
            Special::Enter | Special::Return => "ret",
            Special::Esc => "esc",
            Special::Tab => "tab",
            Special::Spacebar => "spc",
            Special::Insert => "insert",
            Special::Home => "home",
            Special::End => "end",
            Special::PageUp => "pgup",
            Special::PageDown => "pgdn",
            Special::Up => "up",
            Special::Down => "down",
            Special::Left => "left",
            Special::Right => "right",
            Special::Menu => "menu",
            // by_name only makes 1..=12.
            Special::F(n) => F[usize::from(n.clamp(1, 12)) - 1],
            Special::LeftAlt => "alt",
            Special::LeftCtrl => "ctrl",
            Special::LeftShift => "shift",
            Special::LeftSuper => "meta_l",
            Special::RightAlt => "alt_r",
            Special::RightCtrl => "ctrl_r",
            Special::RightShift => "shift_r",
            Special::RightSuper => "meta_r",
        }
    }
}

/// A key the boot command presses: a named one or the key that types a character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Special(Special),
    Char(char),
}

/// The key that types `c` on a US keyboard, and whether Shift is needed. Newline and tab type
/// Enter and Tab. `None`: no key types it (`é`, control characters).
pub fn char_key(c: char) -> Option<(&'static str, bool)> {
    const LOWER: [&str; 26] = [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u", "v",
        "w", "x", "y", "z",
    ];
    const DIGITS: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    let plain = |k| Some((k, false));
    let shifted = |k| Some((k, true));
    match c {
        'a'..='z' => plain(LOWER[(c as u8 - b'a') as usize]),
        'A'..='Z' => shifted(LOWER[(c as u8 - b'A') as usize]),
        '0'..='9' => plain(DIGITS[(c as u8 - b'0') as usize]),
        ' ' => plain("spc"),
        '\n' | '\r' => plain("ret"),
        '\t' => plain("tab"),
        '-' => plain("minus"),
        '=' => plain("equal"),
        '[' => plain("bracket_left"),
        ']' => plain("bracket_right"),
        '\\' => plain("backslash"),
        ';' => plain("semicolon"),
        '\'' => plain("apostrophe"),
        '`' => plain("grave_accent"),
        ',' => plain("comma"),
        '.' => plain("dot"),
        '/' => plain("slash"),
        '!' => shifted("1"),
        '@' => shifted("2"),
        '#' => shifted("3"),
        '$' => shifted("4"),
        '%' => shifted("5"),
        '^' => shifted("6"),
        '&' => shifted("7"),
        '*' => shifted("8"),
        '(' => shifted("9"),
        ')' => shifted("0"),
        '_' => shifted("minus"),
        '+' => shifted("equal"),
        '{' => shifted("bracket_left"),
        '}' => shifted("bracket_right"),
        '|' => shifted("backslash"),
        ':' => shifted("semicolon"),
        '"' => shifted("apostrophe"),
        '~' => shifted("grave_accent"),
        '<' => shifted("comma"),
        '>' => shifted("dot"),
        '?' => shifted("slash"),
        _ => None,
    }
}

impl Key {
    /// Whether any key types this (a character may have none).
    pub fn is_typeable(self) -> bool {
        match self {
            Key::Special(_) => true,
            Key::Char(c) => char_key(c).is_some(),
        }
    }

    fn qcode_shift(self) -> Option<(&'static str, bool)> {
        match self {
            Key::Special(s) => Some((s.qcode(), false)),
            Key::Char(c) => char_key(c),
        }
    }

    /// The events that press and release the key (with Shift around it for shifted characters).
    pub fn press(self) -> Vec<KeyEvent> {
        let mut v = self.down();
        v.extend(self.up());
        v
    }

    /// The events that press the key and keep it down (`<aOn>`, `<leftCtrlOn>`).
    pub fn down(self) -> Vec<KeyEvent> {
        match self.qcode_shift() {
            Some((q, true)) => vec![KeyEvent { qcode: "shift", down: true }, KeyEvent { qcode: q, down: true }],
            Some((q, false)) => vec![KeyEvent { qcode: q, down: true }],
            None => Vec::new(),
        }
    }

    /// The events that release a key pressed with [`Key::down`].
    pub fn up(self) -> Vec<KeyEvent> {
        match self.qcode_shift() {
            Some((q, true)) => vec![KeyEvent { qcode: q, down: false }, KeyEvent { qcode: "shift", down: false }],
            Some((q, false)) => vec![KeyEvent { qcode: q, down: false }],
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every printable ASCII character has a key, and the table agrees with a US keyboard's
    /// rows written out independently.
    #[test]
    fn printable_ascii_is_typeable_on_a_us_layout() {
        let rows = [
            ("`1234567890-=", "~!@#$%^&*()_+"),
            ("qwertyuiop[]\\", "QWERTYUIOP{}|"),
            ("asdfghjkl;'", "ASDFGHJKL:\""),
            ("zxcvbnm,./", "ZXCVBNM<>?"),
        ];
        for (plain, shifted) in rows {
            for (p, s) in plain.chars().zip(shifted.chars()) {
                let (qp, sp) = char_key(p).unwrap_or_else(|| panic!("{p:?} has no key"));
                let (qs, ss) = char_key(s).unwrap_or_else(|| panic!("{s:?} has no key"));
                assert_eq!((qp, sp, ss), (qs, false, true), "{p:?} and {s:?} share a key, shifted once");
            }
        }
        for c in ' '..='~' {
            assert!(char_key(c).is_some(), "{c:?}");
        }
        assert_eq!(char_key(' '), Some(("spc", false)));
        assert_eq!(char_key('\n'), Some(("ret", false)));
        assert_eq!(char_key('é'), None);
        assert_eq!(char_key('\u{7}'), None);
    }

    /// Every QKeyCode this table produces exists in QEMU's QKeyCode enumeration (the list is
    /// from QEMU's qapi/ui.json, the names kiln uses).
    #[test]
    fn qcodes_are_qemu_names() {
        const QEMU: &[&str] = &[
            "shift",
            "shift_r",
            "alt",
            "alt_r",
            "ctrl",
            "ctrl_r",
            "menu",
            "esc",
            "1",
            "2",
            "3",
            "4",
            "5",
            "6",
            "7",
            "8",
            "9",
            "0",
            "minus",
            "equal",
            "backspace",
            "tab",
            "q",
            "w",
            "e",
            "r",
            "t",
            "y",
            "u",
            "i",
            "o",
            "p",
            "bracket_left",
            "bracket_right",
            "ret",
            "a",
            "s",
            "d",
            "f",
            "g",
            "h",
            "j",
            "k",
            "l",
            "semicolon",
            "apostrophe",
            "grave_accent",
            "backslash",
            "z",
            "x",
            "c",
            "v",
            "b",
            "n",
            "m",
            "comma",
            "dot",
            "slash",
            "spc",
            "f1",
            "f2",
            "f3",
            "f4",
            "f5",
            "f6",
            "f7",
            "f8",
            "f9",
            "f10",
            "f11",
            "f12",
            "home",
            "pgup",
            "pgdn",
            "end",
            "left",
            "up",
            "down",
            "right",
            "insert",
            "delete",
            "meta_l",
            "meta_r",
        ];
        for (name, s) in SPECIALS {
            assert!(QEMU.contains(&s.qcode()), "<{name}> -> {}", s.qcode());
            assert_eq!(Special::by_name(&name.to_uppercase()), Some(*s));
        }
        for c in ' '..='~' {
            let (q, _) = char_key(c).unwrap();
            assert!(QEMU.contains(&q), "{c:?} -> {q}");
        }
        assert_eq!(SPECIALS.iter().filter(|(_, s)| matches!(s, Special::F(_))).count(), 12);
    }

    #[test]
    fn shifted_characters_hold_shift_around_the_key() {
        let ev = |v: Vec<KeyEvent>| {
            v.into_iter().map(|e| format!("{}{}", if e.down { "+" } else { "-" }, e.qcode)).collect::<Vec<_>>()
        };
        assert_eq!(ev(Key::Char('A').press()), ["+shift", "+a", "-a", "-shift"]);
        assert_eq!(ev(Key::Char('a').press()), ["+a", "-a"]);
        assert_eq!(ev(Key::Special(Special::LeftCtrl).down()), ["+ctrl"]);
        assert_eq!(ev(Key::Char('?').up()), ["-slash", "-shift"]);
        assert!(Key::Char('é').press().is_empty());
    }
}
