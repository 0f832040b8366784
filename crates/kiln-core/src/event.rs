//! Events: everything a build says goes through a [`Ui`] as an [`Event`] to one renderer
//! (human, machine-readable CSV or JSON lines, see [`crate::render`]). The `Ui` masks sensitive
//! values before any renderer or log sees the text.

use std::io::Write;
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use kiln_config::mask::Masker;

/// One thing to show the user.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The builds about to run, in order (renderers assign colors).
    Start { builds: Vec<String> },
    /// `==> build: text`: a step or a component telling what it does.
    Say { build: Option<String>, text: String },
    /// `    build: text`: output of a command, details.
    Message { build: Option<String>, text: String },
    /// `==> build: text` in red.
    Error { build: Option<String>, text: String },
    /// A line about a build without the `==> build:` prefix ("Build 'x' finished after …"),
    /// in the build's color (red when `error`).
    BuildLine { build: String, text: String, error: bool },
    /// A line of the end-of-run summary, uncolored, no prefix.
    Plain { text: String },
    /// The end-of-run list of failed builds and their errors.
    ErrorSummary { errors: Vec<(String, String)> },
    /// How many artifacts a build produced (machine-readable `artifact-count`).
    ArtifactCount { build: String, count: usize },
    /// One artifact of a build, in the end-of-run summary.
    Artifact { build: String, index: usize, builder_id: String, id: String, description: String, files: Vec<String> },
    /// Progress of a transfer, a copy or a compression.
    Progress { build: Option<String>, label: String, done: u64, total: Option<u64> },
}

impl Event {
    fn mask(&mut self, secrets: &Masker) {
        if secrets.is_empty() {
            return;
        }
        let m = |s: &mut String| *s = secrets.mask(s);
        match self {
            Event::Start { builds } => builds.iter_mut().for_each(m),
            Event::Say { text, .. }
            | Event::Message { text, .. }
            | Event::Error { text, .. }
            | Event::BuildLine { text, .. }
            | Event::Plain { text } => m(text),
            Event::ArtifactCount { .. } => {}
            Event::ErrorSummary { errors } => errors.iter_mut().for_each(|(_, e)| m(e)),
            Event::Artifact { id, description, files, .. } => {
                m(id);
                m(description);
                files.iter_mut().for_each(m);
            }
            Event::Progress { label, .. } => m(label),
        }
    }
}

/// Turns events into output. Implementations serialize their own writes.
pub trait Renderer: Send + Sync {
    fn emit(&self, time: SystemTime, event: &Event);
}

/// Answers questions (`-debug` pauses, `-on-error=ask`); stdin in the CLI, a script in tests.
pub trait Asker: Send + Sync {
    /// The answer line, or `None` when there is no one to ask (stdin closed).
    fn ask(&self, question: &str) -> Option<String>;
}

/// Reads answers from stdin.
pub struct StdinAsker;

impl Asker for StdinAsker {
    fn ask(&self, _question: &str) -> Option<String> {
        let mut line = String::new();
        match std::io::stdin().read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim().to_string()),
        }
    }
}

struct Inner {
    renderer: Box<dyn Renderer>,
    secrets: RwLock<Masker>,
    log: Option<Mutex<Box<dyn Write + Send>>>,
    asker: Box<dyn Asker>,
    /// One question at a time, whatever the number of parallel builds.
    ask_lock: tokio::sync::Mutex<()>,
}

/// The handle components talk through. Cheap to clone; [`Ui::for_build`] gives one whose
/// `say`/`message`/`error` are prefixed with the build's name.
#[derive(Clone)]
pub struct Ui {
    inner: Arc<Inner>,
    build: Option<Arc<str>>,
}

impl Ui {
    pub fn new(renderer: Box<dyn Renderer>) -> Ui {
        Ui {
            inner: Arc::new(Inner {
                renderer,
                secrets: RwLock::new(Masker::default()),
                log: None,
                asker: Box::new(StdinAsker),
                ask_lock: tokio::sync::Mutex::new(()),
            }),
            build: None,
        }
    }

    /// A `Ui` with a debug log (`PACKER_LOG`) and an asker. Call before cloning.
    pub fn with(renderer: Box<dyn Renderer>, log: Option<Box<dyn Write + Send>>, asker: Box<dyn Asker>) -> Ui {
        Ui {
            inner: Arc::new(Inner {
                renderer,
                secrets: RwLock::new(Masker::default()),
                log: log.map(Mutex::new),
                asker,
                ask_lock: tokio::sync::Mutex::new(()),
            }),
            build: None,
        }
    }

    pub fn for_build(&self, name: &str) -> Ui {
        Ui { inner: Arc::clone(&self.inner), build: Some(Arc::from(name)) }
    }

    pub fn build_name(&self) -> Option<&str> {
        self.build.as_deref()
    }

    /// Registers values that must never be shown; they print as `<sensitive>`
    /// (rules in [`kiln_config::mask`]).
    pub fn add_secrets<I: IntoIterator<Item = String>>(&self, secrets: I) {
        if let Ok(mut s) = self.inner.secrets.write() {
            s.add(secrets);
        }
    }

    /// Masks the registered secrets in `text`.
    pub fn mask(&self, text: &str) -> String {
        let mut e = Event::Plain { text: text.to_string() };
        if let Ok(s) = self.inner.secrets.read() {
            e.mask(&s);
        }
        match e {
            Event::Plain { text } => text,
            _ => String::new(),
        }
    }

    pub fn emit(&self, mut event: Event) {
        if let Ok(s) = self.inner.secrets.read() {
            event.mask(&s);
        }
        let now = SystemTime::now();
        if self.inner.log.is_some() {
            if let Some(line) = log_line(&event) {
                self.write_log(&line);
            }
        }
        self.inner.renderer.emit(now, &event);
    }

    fn owner(&self) -> Option<String> {
        self.build.as_deref().map(String::from)
    }

    pub fn say(&self, text: impl Into<String>) {
        self.emit(Event::Say { build: self.owner(), text: text.into() });
    }

    pub fn message(&self, text: impl Into<String>) {
        self.emit(Event::Message { build: self.owner(), text: text.into() });
    }

    pub fn error(&self, text: impl Into<String>) {
        self.emit(Event::Error { build: self.owner(), text: text.into() });
    }

    pub fn progress(&self, label: &str, done: u64, total: Option<u64>) {
        self.emit(Event::Progress { build: self.owner(), label: label.to_string(), done, total });
    }

    /// A line for the debug log only (`PACKER_LOG=1`), masked like everything else.
    pub fn log(&self, text: impl AsRef<str>) {
        if self.inner.log.is_some() {
            let t = self.mask(text.as_ref());
            match &self.build {
                Some(b) => self.write_log(&format!("{b}: {t}")),
                None => self.write_log(&t),
            }
        }
    }

    fn write_log(&self, line: &str) {
        if let Some(log) = &self.inner.log {
            if let Ok(mut w) = log.lock() {
                let _ = writeln!(w, "{} {line}", crate::render::go_log_time(SystemTime::now()));
            }
        }
    }

    /// Asks the user a question and waits for a line (one question at a time across builds).
    pub async fn ask(&self, question: &str) -> Option<String> {
        let _guard = self.inner.ask_lock.lock().await;
        self.say(question);
        let inner = Arc::clone(&self.inner);
        let q = question.to_string();
        tokio::task::spawn_blocking(move || inner.asker.ask(&q)).await.ok().flatten()
    }
}

/// How an event reads in the debug log (Packer logs `ui: ...` / `ui error: ...`).
fn log_line(e: &Event) -> Option<String> {
    let who = |b: &Option<String>| b.as_ref().map(|b| format!("{b}: ")).unwrap_or_default();
    Some(match e {
        Event::Say { build, text } => format!("ui: ==> {}{text}", who(build)),
        Event::Message { build, text } => format!("ui: {}{text}", who(build)),
        Event::Error { build, text } => format!("ui error: ==> {}{text}", who(build)),
        Event::BuildLine { text, .. } | Event::Plain { text } => format!("ui: {}", text.trim_start_matches('\n')),
        Event::Artifact { build, description, .. } => format!("ui: --> {build}: {description}"),
        Event::ErrorSummary { errors } => {
            errors.iter().map(|(b, e)| format!("ui error: --> {b}: {e}")).collect::<Vec<_>>().join("\n")
        }
        Event::Start { .. } | Event::ArtifactCount { .. } | Event::Progress { .. } => return None,
    })
}

/// Keeps events in memory: for tests, and for anyone who wants to inspect a run.
#[derive(Clone, Default)]
pub struct MemoryRenderer {
    pub events: Arc<Mutex<Vec<Event>>>,
}

impl MemoryRenderer {
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Renderer for MemoryRenderer {
    fn emit(&self, _time: SystemTime, event: &Event) {
        if let Ok(mut e) = self.events.lock() {
            e.push(event.clone());
        }
    }
}

/// Answers from a fixed list, then `None`.
pub struct ScriptedAsker(pub Mutex<Vec<String>>);

impl Asker for ScriptedAsker {
    fn ask(&self, _question: &str) -> Option<String> {
        let mut a = self.0.lock().ok()?;
        if a.is_empty() {
            None
        } else {
            Some(a.remove(0))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_before_rendering() {
        let r = MemoryRenderer::default();
        let ui = Ui::new(Box::new(r.clone()));
        ui.add_secrets(["hunter2".to_string(), "hunter2-long".to_string(), String::new()]);
        let b = ui.for_build("null");
        b.say("password is hunter2-long and hunter2");
        b.message("nothing secret");
        assert_eq!(
            r.events(),
            [
                Event::Say { build: Some("null".into()), text: "password is <sensitive> and <sensitive>".into() },
                Event::Message { build: Some("null".into()), text: "nothing secret".into() },
            ]
        );
        assert_eq!(ui.mask("x hunter2"), "x <sensitive>");
    }
}
