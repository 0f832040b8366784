//! Packer's boot command language, typed into the guest over QMP.
//!
//! `boot_command` is a list of strings, read as one text (Packer joins the entries before
//! parsing, so a `<wait>` may even span two entries). In it:
//!
//! - `<enter>`, `<esc>`, `<tab>`, `<f1>`…, `<up>`… (see [`SPECIALS`]) press a named key;
//!   `<leftCtrlOn>` holds one down and `<leftCtrlOff>` lets it go; `<aOn>`/`<aOff>` do the same
//!   for the key of a character;
//! - `<wait>` waits a second, `<wait5>` five seconds, `<wait1m30s>` a Go duration;
//! - anything else is typed as it is, with Shift for the shifted characters. A `<` that starts
//!   none of the above is typed too, as Packer does (with a warning here when it looks like a
//!   misspelt key: `<entr>`).
//!
//! Names match without regard to case. Each action is located (entry, column) for diagnostics.
//! [`steps`] turns actions into QMP key events with `boot_key_interval` pauses, and [`type_steps`]
//! sends them.

use std::time::Duration;

use kiln_config::golang::parse_go_duration;

use super::keys::{Key, Special, SPECIALS};
use super::qmp::{KeyEvent, Qmp, QmpError};

/// Packer's default pause after each key (`PACKER_KEY_INTERVAL` overrides it, and
/// `boot_key_interval` both).
pub const DEFAULT_KEY_INTERVAL: Duration = Duration::from_millis(100);

/// Where in `boot_command` something is: the entry (0-based) and the column in it (1-based, in
/// characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pos {
    pub entry: usize,
    pub column: usize,
    /// Byte offset and length in the entry.
    pub offset: usize,
    pub len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Press and release.
    Press(Key),
    /// Press and hold (`<leftShiftOn>`, `<aOn>`).
    Down(Key),
    /// Release (`<leftShiftOff>`).
    Up(Key),
    Wait(Duration),
}

/// A problem in a boot command: an error (a character no key types) or a warning (text that is
/// typed as it is but probably meant something else).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub pos: Pos,
    pub message: String,
    pub help: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Parsed {
    pub actions: Vec<(Pos, Action)>,
    pub warnings: Vec<Problem>,
}

/// Parses `entries` (already rendered: `{{ .HTTPIP }}` replaced) into actions.
pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Parsed, Vec<Problem>> {
    // One text, as Packer reads it; `starts` maps offsets back to entries.
    let mut text = String::new();
    let mut starts = Vec::with_capacity(entries.len());
    for e in entries {
        starts.push(text.len());
        text.push_str(e.as_ref());
    }
    let locate = |offset: usize, len: usize| {
        let entry = starts.iter().rposition(|&s| s <= offset && (s < text.len() || offset == s)).unwrap_or(0);
        let start = starts[entry];
        let column = text[start..offset].chars().count() + 1;
        Pos { entry, column, offset: offset - start, len }
    };
    let mut out = Parsed::default();
    let mut errors = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        if let Some((action, len)) = expression(rest) {
            out.actions.push((locate(i, len), action));
            i += len;
            continue;
        }
        if let Some(p) = near_miss(rest) {
            out.warnings.push(Problem { pos: locate(i, p.0), message: p.1, help: p.2 });
        }
        let Some(c) = rest.chars().next() else { break };
        let pos = locate(i, c.len_utf8());
        if Key::Char(c).is_typeable() {
            out.actions.push((pos, Action::Press(Key::Char(c))));
        } else {
            errors.push(Problem {
                pos,
                message: format!("{c:?} cannot be typed: no key of a US keyboard types it"),
                help: Some("kiln types boot commands as key presses on QEMU's US layout; use ASCII, or the guest's input methods (an answer file on the HTTP server)".into()),
            });
        }
        i += c.len_utf8();
    }
    // Keys still held at the end stay down in the guest.
    let mut held: Vec<(Pos, Key)> = Vec::new();
    for (pos, a) in &out.actions {
        match a {
            Action::Down(k) => held.push((*pos, *k)),
            Action::Up(k) => held.retain(|(_, h)| h != k),
            _ => {}
        }
    }
    for (pos, k) in held {
        out.warnings.push(Problem {
            pos,
            message: format!("{} is pressed here and never released", key_name(k)),
            help: Some("add the matching ...Off> later in boot_command".into()),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// A `<...>` expression at the start of `s`: the action and the bytes it takes.
fn expression(s: &str) -> Option<(Action, usize)> {
    let body = s.strip_prefix('<')?;
    let end = body.find(['>', '<'])?;
    if body.as_bytes()[end] != b'>' {
        return None;
    }
    let name = &body[..end];
    let len = end + 2;
    if let Some(d) = wait_duration(name) {
        return Some((Action::Wait(d), len));
    }
    if let Some(k) = Special::by_name(name) {
        return Some((Action::Press(Key::Special(k)), len));
    }
    let lower = name.to_ascii_lowercase();
    let (base, on) = if let Some(b) = lower.strip_suffix("on") {
        (&name[..b.len()], true)
    } else if let Some(b) = lower.strip_suffix("off") {
        (&name[..b.len()], false)
    } else {
        return None;
    };
    let key = match Special::by_name(base) {
        Some(k) => Key::Special(k),
        None => {
            let mut cs = base.chars();
            match (cs.next(), cs.next()) {
                (Some(c), None) if Key::Char(c).is_typeable() => Key::Char(c),
                _ => return None,
            }
        }
    };
    Some((if on { Action::Down(key) } else { Action::Up(key) }, len))
}

/// `wait` (1 s), `wait10` (seconds), `wait1m30s` (a Go duration).
fn wait_duration(name: &str) -> Option<Duration> {
    let rest = name.get(..4).filter(|w| w.eq_ignore_ascii_case("wait")).map(|_| &name[4..])?;
    if rest.is_empty() {
        return Some(Duration::from_secs(1));
    }
    if rest.bytes().all(|b| b.is_ascii_digit()) {
        return rest.parse().ok().map(Duration::from_secs);
    }
    if rest.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return parse_go_duration(rest).ok();
    }
    None
}

/// A `<word>` that is not an expression but looks meant as one: (length, warning, help).
fn near_miss(s: &str) -> Option<(usize, String, Option<String>)> {
    let body = s.strip_prefix('<')?;
    let end = body.find('>')?;
    let name = &body[..end];
    if name.is_empty() || name.len() > 24 || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '.') {
        return None;
    }
    let len = end + 2;
    if name.len() > 4 && name[..4].eq_ignore_ascii_case("wait") {
        return Some((
            len,
            format!("<{name}> is not a wait: it is typed as text"),
            Some("write <wait>, <wait10> (seconds) or a Go duration such as <wait1m30s>".into()),
        ));
    }
    let mut names: Vec<String> = SPECIALS.iter().map(|(n, _)| n.to_string()).collect();
    names.extend(SPECIALS.iter().flat_map(|(n, _)| [format!("{n}On"), format!("{n}Off")]));
    let lower = name.to_ascii_lowercase();
    let best = names
        .iter()
        .map(|n| (kiln_config::diag::edit_distance(&lower, &n.to_ascii_lowercase()), n))
        .min_by_key(|(d, _)| *d)?;
    let help = (best.0 <= 2).then(|| format!("did you mean <{}>?", best.1));
    Some((len, format!("<{name}> is not a key name: it is typed as text"), help))
}

fn key_name(k: Key) -> String {
    match k {
        Key::Char(c) => format!("<{c}On>"),
        Key::Special(s) => {
            let name = SPECIALS.iter().find(|(_, x)| *x == s).map(|(n, _)| *n).unwrap_or("?");
            format!("<{name}On>")
        }
    }
}

/// One thing to do while typing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeStep {
    Keys(Vec<KeyEvent>),
    Sleep(Duration),
}

/// The QMP events for `actions`, pausing `interval` after each key action (as Packer's VNC
/// typing does) and for each wait.
pub fn steps(actions: &[(Pos, Action)], interval: Duration) -> Vec<TypeStep> {
    let mut out = Vec::new();
    for (_, a) in actions {
        let events = match a {
            Action::Wait(d) => {
                out.push(TypeStep::Sleep(*d));
                continue;
            }
            Action::Press(k) => k.press(),
            Action::Down(k) => k.down(),
            Action::Up(k) => k.up(),
        };
        out.push(TypeStep::Keys(events));
        if !interval.is_zero() {
            out.push(TypeStep::Sleep(interval));
        }
    }
    out
}

/// How long typing `steps` takes at least (the pauses).
pub fn duration(steps: &[TypeStep]) -> Duration {
    steps.iter().map(|s| if let TypeStep::Sleep(d) = s { *d } else { Duration::ZERO }).sum()
}

/// Sends `steps` to the guest. Cancel by dropping the future.
pub async fn type_steps(qmp: &Qmp, steps: &[TypeStep]) -> Result<(), QmpError> {
    for s in steps {
        match s {
            TypeStep::Keys(ev) => qmp.input_send_event(ev).await?,
            TypeStep::Sleep(d) => tokio::time::sleep(*d).await,
        }
    }
    Ok(())
}

/// The typing for a configured `boot_command` or boot step: each entry rendered with `data`
/// (`HTTPIP`, `HTTPPort`, `Name` …), then parsed and paced with `interval` (what
/// StepTypeBootCommand sends after `boot_wait`). Errors name the entry (`name(index)`) and
/// column.
pub fn prepare(
    entries: &[String],
    name: &dyn Fn(usize) -> String,
    data: &std::collections::BTreeMap<String, String>,
    interval: Duration,
) -> kiln_core::Result<Vec<TypeStep>> {
    let mut rendered = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let r = kiln_core::late::render(e, data)
            .map_err(|err| kiln_core::Error::new(format!("{}: {}", name(i), err.message)))?;
        rendered.push(r);
    }
    let parsed = parse(&rendered).map_err(|errors| {
        let list: Vec<String> =
            errors.iter().map(|p| format!("{}, column {}: {}", name(p.pos.entry), p.pos.column, p.message)).collect();
        kiln_core::Error::new(list.join("; "))
    })?;
    Ok(steps(&parsed.actions, interval))
}

/// `{{ ... }}` actions replaced by as many `x` as they have characters, so a boot command can be
/// checked before its template values are known, with columns unchanged. The actions are found
/// by kiln-gotmpl's lexer; text it rejects is left as it is (rendering reports the error).
pub fn mask_template_actions(s: &str) -> String {
    let Ok(spans) = kiln_gotmpl::action_spans(s) else { return s.to_string() };
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    for span in spans {
        out.push_str(&s[pos..span.start]);
        out.extend(std::iter::repeat_n('x', s[span.start..span.end].chars().count()));
        pos = span.end;
    }
    out.push_str(&s[pos..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acts(entries: &[&str]) -> Vec<Action> {
        parse(entries).unwrap().actions.into_iter().map(|(_, a)| a).collect()
    }

    const fn sp(s: Special) -> Key {
        Key::Special(s)
    }

    #[test]
    fn every_named_key_any_case_with_on_and_off() {
        for (name, s) in SPECIALS {
            for n in [name.to_string(), name.to_uppercase(), name.to_lowercase()] {
                assert_eq!(acts(&[&format!("<{n}>")]), [Action::Press(sp(*s))], "<{n}>");
                assert_eq!(acts(&[&format!("<{n}On>")]), [Action::Down(sp(*s))], "<{n}On>");
                assert_eq!(acts(&[&format!("<{n}Off>")]), [Action::Up(sp(*s))], "<{n}Off>");
            }
        }
    }

    #[test]
    fn waits() {
        let s = Duration::from_secs;
        assert_eq!(acts(&["<wait>"]), [Action::Wait(s(1))]);
        assert_eq!(acts(&["<wait5>"]), [Action::Wait(s(5))]);
        assert_eq!(acts(&["<wait10>"]), [Action::Wait(s(10))]);
        assert_eq!(acts(&["<wait1m30s>"]), [Action::Wait(s(90))]);
        assert_eq!(acts(&["<wait500ms>"]), [Action::Wait(Duration::from_millis(500))]);
        assert_eq!(acts(&["<wait1.5s>"]), [Action::Wait(Duration::from_millis(1500))]);
        assert_eq!(acts(&["<WAIT2>"]), [Action::Wait(s(2))]);
        // Joined before parsing, as Packer does.
        assert_eq!(acts(&["<wa", "it3>"]), [Action::Wait(s(3))]);
    }

    #[test]
    fn text_with_shifted_characters_and_char_toggles() {
        let c = |c| Key::Char(c);
        assert_eq!(
            acts(&["Hi <aOn>x<aOff>"]),
            [
                Action::Press(c('H')),
                Action::Press(c('i')),
                Action::Press(c(' ')),
                Action::Down(c('a')),
                Action::Press(c('x')),
                Action::Up(c('a')),
            ]
        );
        // Not expressions: typed as they are.
        let typed: String = acts(&["a<b <c>d> <>"])
            .into_iter()
            .map(|a| match a {
                Action::Press(Key::Char(c)) => c,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(typed, "a<b <c>d> <>");
    }

    #[test]
    fn a_typical_installer_command() {
        let p = parse(&[
            "<esc><wait>",
            "install preseed/url=http://10.0.2.2:8123/preseed.cfg ",
            "debian-installer=en_US.UTF-8 auto <enter>",
        ])
        .unwrap();
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert_eq!(p.actions[0].1, Action::Press(sp(Special::Esc)));
        assert_eq!(p.actions[1].1, Action::Wait(Duration::from_secs(1)));
        let (pos, last) = p.actions.last().unwrap();
        assert_eq!(*last, Action::Press(sp(Special::Enter)));
        assert_eq!((pos.entry, pos.column, pos.offset, pos.len), (2, 35, 34, 7));
    }

    #[test]
    fn untypeable_characters_are_located_errors() {
        let e = parse(&["<enter>", "ok", "caf\u{e9} <tab>\u{1f600}"]).unwrap_err();
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].pos.entry, e[0].pos.column), (2, 4));
        assert!(e[0].message.starts_with("'é' cannot be typed"), "{}", e[0].message);
        assert_eq!((e[1].pos.entry, e[1].pos.column), (2, 11));
    }

    #[test]
    fn near_misses_are_typed_with_a_warning() {
        let p = parse(&["x<entr>", "<wait5x>", "<leftCtrlOn>"]).unwrap();
        let w: Vec<_> = p.warnings.iter().map(|w| (w.pos.entry, w.pos.column, w.help.clone())).collect();
        assert_eq!(w[0], (0, 2, Some("did you mean <enter>?".into())));
        assert_eq!((w[1].0, w[1].1), (1, 1));
        assert!(p.warnings[1].message.contains("not a wait"));
        assert_eq!((w[2].0, w[2].1), (2, 1));
        assert!(p.warnings[2].message.contains("never released"), "{}", p.warnings[2].message);
        assert_eq!(p.actions.iter().filter(|(_, a)| matches!(a, Action::Press(Key::Char(_)))).count(), 1 + 6 + 8);
    }

    #[test]
    fn steps_pace_each_key_action() {
        let p = parse(&["A<wait2><leftCtrlOn>c<leftCtrlOff>"]).unwrap();
        let st = steps(&p.actions, Duration::from_millis(10));
        let ms = Duration::from_millis;
        let k = |q: &'static str, down| KeyEvent { qcode: q, down };
        assert_eq!(
            st,
            [
                TypeStep::Keys(vec![k("shift", true), k("a", true), k("a", false), k("shift", false)]),
                TypeStep::Sleep(ms(10)),
                TypeStep::Sleep(ms(2000)),
                TypeStep::Keys(vec![k("ctrl", true)]),
                TypeStep::Sleep(ms(10)),
                TypeStep::Keys(vec![k("c", true), k("c", false)]),
                TypeStep::Sleep(ms(10)),
                TypeStep::Keys(vec![k("ctrl", false)]),
                TypeStep::Sleep(ms(10)),
            ]
        );
        assert_eq!(duration(&st), ms(2040));
        // No interval: only the wait sleeps.
        assert_eq!(steps(&p.actions, Duration::ZERO).len(), 5);
    }

    #[test]
    fn prepare_renders_the_templates_first() {
        let data = [("HTTPIP", "10.0.2.2"), ("HTTPPort", "8100")].map(|(k, v)| (k.to_string(), v.to_string())).into();
        let entry = |i: usize| format!("boot_command entry {}", i + 1);
        let st = prepare(&["url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/<enter>".into()], &entry, &data, Duration::ZERO)
            .unwrap();
        let typed: String = st
            .iter()
            .filter_map(|s| match s {
                TypeStep::Keys(k) => k.iter().find(|e| e.down && e.qcode != "shift").map(|e| e.qcode),
                TypeStep::Sleep(_) => None,
            })
            .map(|q| match q {
                "dot" => ".".to_string(),
                "semicolon" => ":".into(),
                "slash" => "/".into(),
                "equal" => "=".into(),
                "ret" => "\\n".into(),
                other => other.to_string(),
            })
            .collect();
        assert_eq!(typed, "url=http://10.0.2.2:8100/\\n");
        let e = prepare(&["ok".into(), "{{ .Missing }}".into()], &entry, &data, Duration::ZERO).unwrap_err();
        assert!(e.message.starts_with("boot_command entry 2:"), "{e}");
        let e = prepare(&["{{ .HTTPIP }} \u{e9}".into()], &entry, &data, Duration::ZERO).unwrap_err();
        assert!(e.message.starts_with("boot_command entry 1, column 10: 'é'"), "{e}");
        // A boot step's problems name the step.
        let e = prepare(&["ab\u{e9}".into()], &|_| "boot_steps step 3".into(), &data, Duration::ZERO).unwrap_err();
        assert!(e.message.starts_with("boot_steps step 3, column 3: 'é'"), "{e}");
    }

    #[test]
    fn template_actions_are_masked_keeping_columns() {
        assert_eq!(mask_template_actions("a {{ .HTTPIP }}:{{.HTTPPort}}/x"), "a xxxxxxxxxxxxx:xxxxxxxxxxxxx/x");
        assert_eq!(mask_template_actions("open {{ only"), "open {{ only");
        let p = parse(&[mask_template_actions("<tab> url=http://{{ .HTTPIP }}/p <enter>")]).unwrap();
        assert!(p.warnings.is_empty());
    }
}
