//! Renderers: Packer's human output, Packer's `-machine-readable` CSV, and kiln's JSON lines.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::event::{Event, Renderer};

/// Which renderer the CLI flags and environment ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Human { color: bool, timestamps: bool },
    MachineReadable,
    Json,
}

pub fn renderer(format: Format) -> Box<dyn Renderer> {
    renderer_to(format, Box::new(std::io::stdout()))
}

pub fn renderer_to(format: Format, out: Box<dyn Write + Send>) -> Box<dyn Renderer> {
    match format {
        Format::Human { color, timestamps } => Box::new(Human::new(out, color, timestamps)),
        Format::MachineReadable => Box::new(Machine { out: Mutex::new(out) }),
        Format::Json => Box::new(JsonLines { out: Mutex::new(out) }),
    }
}

const ERRORS_HEADER: &str = "==> Some builds didn't complete successfully and had errors:";

/// Packer's build colors, in the order it hands them out.
const COLORS: [u8; 5] = [32, 36, 35, 33, 34];
const RED: u8 = 31;

pub struct Human {
    out: Mutex<Box<dyn Write + Send>>,
    color: bool,
    timestamps: bool,
    colors: Mutex<BTreeMap<String, u8>>,
    /// Progress bars go to stderr, and only when it is a terminal.
    progress: Option<Mutex<std::io::Stderr>>,
}

impl Human {
    pub fn new(out: Box<dyn Write + Send>, color: bool, timestamps: bool) -> Human {
        use std::io::IsTerminal;
        let progress = std::io::stderr().is_terminal().then(|| Mutex::new(std::io::stderr()));
        Human { out: Mutex::new(out), color, timestamps, colors: Mutex::new(BTreeMap::new()), progress }
    }

    fn color_of(&self, build: &Option<String>) -> Option<u8> {
        let b = build.as_ref()?;
        self.colors.lock().ok()?.get(b).copied()
    }

    fn paint(&self, text: &str, color: Option<u8>, bold: bool) -> String {
        match color {
            Some(c) if self.color => format!("\x1b[{};{c}m{text}\x1b[0m", u8::from(bold)),
            _ => text.to_string(),
        }
    }

    fn lines(&self, time: SystemTime, prefix: &str, text: &str, color: Option<u8>, bold: bool) -> String {
        let ts = if self.timestamps { format!("{}: ", rfc3339(time)) } else { String::new() };
        let mut s = String::new();
        for line in text.trim_end_matches('\n').split('\n') {
            s.push_str(&self.paint(&format!("{ts}{prefix}{line}"), color, bold));
            s.push('\n');
        }
        s
    }
}

fn who(build: &Option<String>) -> String {
    build.as_ref().map(|b| format!("{b}: ")).unwrap_or_default()
}

impl Renderer for Human {
    fn emit(&self, time: SystemTime, event: &Event) {
        let text = match event {
            Event::Start { builds } => {
                let mut s = String::new();
                if let Ok(mut colors) = self.colors.lock() {
                    for (i, b) in builds.iter().enumerate() {
                        let c = COLORS[i % COLORS.len()];
                        colors.insert(b.clone(), c);
                        if self.color {
                            s.push_str(&self.paint(&format!("{b}: output will be in this color."), Some(c), true));
                            s.push('\n');
                        }
                    }
                }
                if self.color && !builds.is_empty() {
                    s.push('\n');
                }
                s
            }
            Event::Say { build, text } => {
                self.lines(time, &format!("==> {}", who(build)), text, self.color_of(build), true)
            }
            Event::Message { build, text } => {
                self.lines(time, &format!("    {}", who(build)), text, self.color_of(build), false)
            }
            Event::Error { build, text } => self.lines(time, &format!("==> {}", who(build)), text, Some(RED), true),
            Event::BuildLine { build, text, error } => {
                let c = if *error { Some(RED) } else { self.color_of(&Some(build.clone())) };
                self.lines(time, "", text, c, true)
            }
            Event::Plain { text } => format!("{text}\n"),
            Event::ErrorSummary { errors } => {
                let mut s = format!("\n{ERRORS_HEADER}\n");
                for (b, e) in errors {
                    s.push_str(&format!("--> {b}: {e}\n"));
                }
                s
            }
            Event::ArtifactCount { .. } => String::new(),
            Event::Artifact { build, description, .. } => format!("--> {build}: {description}\n"),
            Event::Progress { build, label, done, total } => {
                if let Some(err) = &self.progress {
                    if let Ok(mut e) = err.lock() {
                        let _ = e.write_all(progress_line(build, label, *done, *total).as_bytes());
                        let _ = e.flush();
                    }
                }
                String::new()
            }
        };
        if let Ok(mut o) = self.out.lock() {
            let _ = o.write_all(text.as_bytes());
            let _ = o.flush();
        }
    }
}

/// One redraw of a progress bar: `\r    build: label [=====>    ]  45% 450.0 MiB/1.0 GiB`,
/// ending the line when complete.
pub fn progress_line(build: &Option<String>, label: &str, done: u64, total: Option<u64>) -> String {
    use crate::progress::human_bytes;
    let who = who(build);
    match total.filter(|t| *t > 0) {
        Some(t) => {
            let pct = (u128::from(done.min(t)) * 100 / u128::from(t)) as usize;
            let filled = pct * 30 / 100;
            let bar = format!("{}{}", "=".repeat(filled), " ".repeat(30 - filled));
            let end = if done >= t { "\n" } else { "" };
            format!("\r    {who}{label} [{bar}] {pct:3}% {}/{}{end}", human_bytes(done), human_bytes(t))
        }
        None => format!("\r    {who}{label} {}", human_bytes(done)),
    }
}

/// Packer's `-machine-readable`: `timestamp,target,type,data...`.
pub struct Machine {
    out: Mutex<Box<dyn Write + Send>>,
}

/// Escapes one machine-readable field as Packer does.
pub fn machine_escape(s: &str) -> String {
    s.replace(',', "%!(PACKER_COMMA)").replace('\r', "\\r").replace('\n', "\\n")
}

fn machine_line(time: SystemTime, target: &str, kind: &str, data: &[&str]) -> String {
    let ts = time.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let data: Vec<String> = data.iter().map(|d| machine_escape(d)).collect();
    format!("{ts},{target},{kind},{}\n", data.join(","))
}

impl Renderer for Machine {
    fn emit(&self, time: SystemTime, event: &Event) {
        let ui = |kind: &str, text: String| machine_line(time, "", "ui", &[kind, &text]);
        let text = match event {
            Event::Start { .. } | Event::Progress { .. } => String::new(),
            Event::Say { build, text } => ui("say", format!("==> {}{text}", who(build))),
            Event::Message { build, text } => ui("message", format!("    {}{text}", who(build))),
            Event::Error { build, text } => ui("error", format!("==> {}{text}", who(build))),
            Event::BuildLine { text, error, .. } => ui(if *error { "error" } else { "say" }, text.clone()),
            Event::Plain { text } => ui("say", text.clone()),
            Event::ArtifactCount { build, count } => machine_line(time, build, "artifact-count", &[&count.to_string()]),
            Event::ErrorSummary { errors } => {
                let mut s = machine_line(time, "", "error-count", &[&errors.len().to_string()]);
                s += &ui("error", format!("\n{ERRORS_HEADER}"));
                for (b, e) in errors {
                    s += &machine_line(time, b, "error", &[e]);
                    s += &ui("error", format!("--> {b}: {e}"));
                }
                s
            }
            Event::Artifact { build, index, builder_id, id, description, files } => {
                let i = index.to_string();
                let mut s = machine_line(time, build, "artifact", &[&i, "builder-id", builder_id]);
                s += &machine_line(time, build, "artifact", &[&i, "id", id]);
                s += &machine_line(time, build, "artifact", &[&i, "string", description]);
                s += &machine_line(time, build, "artifact", &[&i, "files-count", &files.len().to_string()]);
                for (n, f) in files.iter().enumerate() {
                    s += &machine_line(time, build, "artifact", &[&i, "file", &n.to_string(), f]);
                }
                s += &machine_line(time, build, "artifact", &[&i, "end"]);
                s += &ui("say", format!("--> {build}: {description}"));
                s
            }
        };
        if let Ok(mut o) = self.out.lock() {
            let _ = o.write_all(text.as_bytes());
            let _ = o.flush();
        }
    }
}

/// kiln's own JSON lines: one object per event, `{"time":…,"type":…,"build":…,…}`.
pub struct JsonLines {
    out: Mutex<Box<dyn Write + Send>>,
}

impl Renderer for JsonLines {
    fn emit(&self, time: SystemTime, event: &Event) {
        use serde_json::json;
        let t = rfc3339(time);
        let v = match event {
            Event::Start { builds } => json!({"time": t, "type": "start", "builds": builds}),
            Event::Say { build, text } => json!({"time": t, "type": "say", "build": build, "text": text}),
            Event::Message { build, text } => json!({"time": t, "type": "message", "build": build, "text": text}),
            Event::Error { build, text } => json!({"time": t, "type": "error", "build": build, "text": text}),
            Event::BuildLine { build, text, error } => {
                json!({"time": t, "type": if *error { "build-error" } else { "build-done" }, "build": build, "text": text})
            }
            Event::Plain { text } => json!({"time": t, "type": "summary", "text": text}),
            Event::ErrorSummary { errors } => json!({
                "time": t, "type": "errors",
                "errors": errors.iter().map(|(b, e)| json!({"build": b, "error": e})).collect::<Vec<_>>(),
            }),
            Event::ArtifactCount { build, count } => {
                json!({"time": t, "type": "artifact-count", "build": build, "count": count})
            }
            Event::Artifact { build, index, builder_id, id, description, files } => json!({
                "time": t, "type": "artifact", "build": build, "index": index, "builder_id": builder_id,
                "id": id, "description": description, "files": files,
            }),
            Event::Progress { build, label, done, total } => {
                json!({"time": t, "type": "progress", "build": build, "label": label, "done": done, "total": total})
            }
        };
        if let Ok(mut o) = self.out.lock() {
            let _ = writeln!(o, "{v}");
            let _ = o.flush();
        }
    }
}

/// `2026-11-21T11:00:26Z` (UTC, seconds).
pub fn rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
}

/// Go's `log` prefix: `2026/11/21 11:00:26`.
pub fn go_log_time(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s) = civil(t);
    format!("{y:04}/{mo:02}/{d:02} {h:02}:{mi:02}:{s:02}")
}

/// UTC calendar date and time of `t` (the epoch for a time before it, as before).
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32) {
    let t = if t < UNIX_EPOCH { UNIX_EPOCH } else { t };
    let c = kiln_config::civil::DateTime::from_system(t);
    (c.year, c.month, c.day, c.hour, c.minute, c.second)
}

/// Packer's human durations: the two largest non-zero units, "1 second 855 milliseconds".
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    let units: [(&str, u128); 7] = [
        ("week", 7 * 86_400_000_000),
        ("day", 86_400_000_000),
        ("hour", 3_600_000_000),
        ("minute", 60_000_000),
        ("second", 1_000_000),
        ("millisecond", 1_000),
        ("microsecond", 1),
    ];
    let mut rest = us;
    let mut parts = Vec::new();
    for (name, size) in units {
        let n = rest / size;
        rest %= size;
        if n > 0 && parts.len() < 2 {
            parts.push(format!("{n} {name}{}", if n == 1 { "" } else { "s" }));
        }
    }
    if parts.is_empty() {
        "0 seconds".to_string()
    } else {
        parts.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    impl Buf {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    fn say(b: &str, t: &str) -> Event {
        Event::Say { build: Some(b.into()), text: t.into() }
    }

    #[test]
    fn human_output_like_packer() {
        let buf = Buf::default();
        let r = Human::new(Box::new(buf.clone()), true, false);
        let now = SystemTime::now();
        r.emit(now, &Event::Start { builds: vec!["f".into(), "null".into()] });
        r.emit(now, &say("null", "Running local shell script: /tmp/x"));
        r.emit(now, &Event::Message { build: Some("f".into()), text: "hi\nthere".into() });
        r.emit(now, &Event::Error { build: Some("f".into()), text: "err".into() });
        assert_eq!(
            buf.text(),
            "\x1b[1;32mf: output will be in this color.\x1b[0m\n\x1b[1;36mnull: output will be in this color.\x1b[0m\n\n\
             \x1b[1;36m==> null: Running local shell script: /tmp/x\x1b[0m\n\
             \x1b[0;32m    f: hi\x1b[0m\n\x1b[0;32m    f: there\x1b[0m\n\x1b[1;31m==> f: err\x1b[0m\n"
        );
        let buf = Buf::default();
        let r = Human::new(Box::new(buf.clone()), false, true);
        r.emit(now, &Event::Start { builds: vec!["null".into()] });
        r.emit(UNIX_EPOCH + Duration::from_secs(1_795_258_826), &say("null", "x"));
        assert_eq!(buf.text(), "2026-11-21T11:00:26Z: ==> null: x\n");
    }

    #[test]
    fn machine_readable_like_packer() {
        let buf = Buf::default();
        let r = Machine { out: Mutex::new(Box::new(buf.clone())) };
        let t = UNIX_EPOCH + Duration::from_secs(1_795_258_815);
        r.emit(t, &say("null", "a, b\nc"));
        r.emit(t, &Event::ArtifactCount { build: "f".into(), count: 1 });
        r.emit(
            t,
            &Event::Artifact {
                build: "f".into(),
                index: 0,
                builder_id: "packer.file".into(),
                id: "File".into(),
                description: "Stored file: out.txt".into(),
                files: vec!["out.txt".into()],
            },
        );
        r.emit(t, &Event::ErrorSummary { errors: vec![("null".into(), "it broke".into())] });
        assert_eq!(
            buf.text(),
            "1795258815,,ui,say,==> null: a%!(PACKER_COMMA) b\\nc\n\
             1795258815,f,artifact-count,1\n\
             1795258815,f,artifact,0,builder-id,packer.file\n\
             1795258815,f,artifact,0,id,File\n\
             1795258815,f,artifact,0,string,Stored file: out.txt\n\
             1795258815,f,artifact,0,files-count,1\n\
             1795258815,f,artifact,0,file,0,out.txt\n\
             1795258815,f,artifact,0,end\n\
             1795258815,,ui,say,--> f: Stored file: out.txt\n\
             1795258815,,error-count,1\n\
             1795258815,,ui,error,\\n==> Some builds didn't complete successfully and had errors:\n\
             1795258815,null,error,it broke\n\
             1795258815,,ui,error,--> null: it broke\n"
        );
    }

    #[test]
    fn json_lines_are_json() {
        let buf = Buf::default();
        let r = JsonLines { out: Mutex::new(Box::new(buf.clone())) };
        r.emit(UNIX_EPOCH, &say("null", "x\"y"));
        let v: serde_json::Value = serde_json::from_str(buf.text().trim()).unwrap();
        assert_eq!(v["type"], "say");
        assert_eq!(v["text"], "x\"y");
        assert_eq!(v["time"], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn progress_lines() {
        let b = Some("null".to_string());
        assert_eq!(
            progress_line(&b, "up", 512, Some(1024)),
            "\r    null: up [===============               ]  50% 512 B/1.0 KiB"
        );
        assert!(progress_line(&b, "up", 1024, Some(1024)).ends_with("100% 1.0 KiB/1.0 KiB\n"));
    }

    #[test]
    fn durations_like_packer() {
        assert_eq!(format_duration(Duration::from_micros(1_855_321)), "1 second 855 milliseconds");
        assert_eq!(format_duration(Duration::from_micros(223_678)), "223 milliseconds 678 microseconds");
        assert_eq!(format_duration(Duration::from_micros(3)), "3 microseconds");
        assert_eq!(format_duration(Duration::from_micros(1_025_000)), "1 second 25 milliseconds");
        assert_eq!(format_duration(Duration::from_secs(61)), "1 minute 1 second");
        assert_eq!(format_duration(Duration::ZERO), "0 seconds");
    }
}
