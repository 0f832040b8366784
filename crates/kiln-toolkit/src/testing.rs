//! For tests of toolkit steps and of builders made of them: a [`RunContext`] whose events are
//! recorded, so a test can check what a step said.

use std::sync::Arc;

use kiln_core::event::{Event, MemoryRenderer};
use kiln_core::{BuildInfo, Cancel, RunContext, Ui};

/// What a test context recorded.
#[derive(Clone, Default)]
pub struct Recorded(MemoryRenderer);

impl Recorded {
    pub fn events(&self) -> Vec<Event> {
        self.0.events()
    }
    /// The `==> build: …` lines.
    pub fn says(&self) -> Vec<String> {
        self.filter(|e| if let Event::Say { text, .. } = e { Some(text.clone()) } else { None })
    }
    /// The indented detail lines.
    pub fn messages(&self) -> Vec<String> {
        self.filter(|e| if let Event::Message { text, .. } = e { Some(text.clone()) } else { None })
    }
    /// The error lines.
    pub fn errors(&self) -> Vec<String> {
        self.filter(|e| if let Event::Error { text, .. } = e { Some(text.clone()) } else { None })
    }
    fn filter(&self, f: impl Fn(&Event) -> Option<String>) -> Vec<String> {
        self.events().iter().filter_map(f).collect()
    }
}

/// A context for the build `test` with `info`, and what it records.
pub fn context_with(info: BuildInfo) -> (RunContext, Recorded) {
    let r = Recorded::default();
    let ui = Ui::new(Box::new(r.0.clone())).for_build("test");
    (RunContext { ui, cancel: Cancel::new(), info: Arc::new(info) }, r)
}

/// A context for a build named `test`.
pub fn context() -> (RunContext, Recorded) {
    context_with(BuildInfo { name: "test".into(), ..BuildInfo::default() })
}
