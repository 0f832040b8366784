//! `sleep`: waits for `duration` (Packer's sleep provisioner), for a machine that needs time
//! to settle between two provisioners. It needs no communicator; a cancel ends the wait at once.

use std::sync::Arc;

use kiln_config::decode::Duration;
use kiln_config::diag::{Diagnostic, Diagnostics};
use kiln_config::golang::format_go_duration;
use kiln_config::node::Node;
use kiln_core::cache::{Cacheable, Inputs};
use kiln_core::{async_trait, BuildInfo, Communicator, GeneratedData, Provisioner, Result, RunContext};
use serde::Deserialize;

/// Options of `sleep`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// How long to wait (`"30s"`, `"1m30s"`; a bare number is nanoseconds, as in Packer).
    /// Unset: no wait.
    #[serde(default)]
    pub duration: Option<Duration>,
}

#[derive(Default)]
pub struct Sleep {
    config: Config,
}

pub fn new() -> Box<dyn Provisioner> {
    Box::<Sleep>::default()
}

#[async_trait]
impl Provisioner for Sleep {
    fn prepare(&mut self, config: &Node, _info: &BuildInfo) -> Result<Vec<Diagnostic>, Diagnostics> {
        self.config = kiln_config::decode::decode_component(config, "the \"sleep\" provisioner")?;
        Ok(Vec::new())
    }

    async fn provision(&self, ctx: &RunContext, _comm: Arc<dyn Communicator>, _data: &GeneratedData) -> Result<()> {
        let d = self.config.duration.map_or(std::time::Duration::ZERO, Duration::get);
        if d.is_zero() {
            return Ok(());
        }
        // Packer waits silently; a long wait that says nothing looks like a hang.
        ctx.ui.say(format!("Sleeping for {}...", format_go_duration(d)));
        ctx.cancel.run(tokio::time::sleep(d)).await
    }

    /// A wait changes nothing on the machine: its configuration is all there is.
    fn inputs(&self, _info: &BuildInfo, _inputs: &mut Inputs) -> Result<Cacheable> {
        Ok(Cacheable::Yes)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use kiln_core::event::{Event, MemoryRenderer};

    use super::*;

    fn prepared(s: &str) -> std::result::Result<Sleep, Diagnostics> {
        let mut p = Sleep::default();
        p.prepare(&kiln_template::testing::json_node("t.json", s).unwrap(), &BuildInfo::default())?;
        Ok(p)
    }

    fn ctx() -> (RunContext, MemoryRenderer) {
        crate::test_context(BuildInfo::default())
    }

    #[tokio::test]
    async fn waits_for_the_duration_and_says_so() {
        let (c, r) = ctx();
        let start = Instant::now();
        prepared(r#"{"duration": "300ms"}"#)
            .unwrap()
            .provision(&c, Arc::new(kiln_comm::NoneComm), &GeneratedData::new())
            .await
            .unwrap();
        assert!(start.elapsed() >= std::time::Duration::from_millis(300), "{:?}", start.elapsed());
        assert_eq!(r.events(), [Event::Say { build: Some("b".into()), text: "Sleeping for 300ms...".into() }]);
        // Unset: no wait, nothing said. A bare number is nanoseconds, as Packer reads it.
        for (text, said) in [("{}", None), (r#"{"duration": 3}"#, Some("Sleeping for 3ns..."))] {
            let (c, r) = ctx();
            prepared(text).unwrap().provision(&c, Arc::new(kiln_comm::NoneComm), &GeneratedData::new()).await.unwrap();
            let want: Vec<Event> =
                said.map(|t| Event::Say { build: Some("b".into()), text: t.into() }).into_iter().collect();
            assert_eq!(r.events(), want, "{text}");
        }
    }

    #[tokio::test]
    async fn a_cancel_ends_the_wait() {
        let (c, _r) = ctx();
        let p = prepared(r#"{"duration": "1h"}"#).unwrap();
        let cancel = c.cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            cancel.cancel();
        });
        let start = Instant::now();
        let e = p.provision(&c, Arc::new(kiln_comm::NoneComm), &GeneratedData::new()).await.unwrap_err();
        assert!(e.cancelled, "{e:?}");
        assert!(start.elapsed() < std::time::Duration::from_secs(5), "{:?}", start.elapsed());
    }

    #[test]
    fn bad_options_are_errors_at_the_option() {
        let e = prepared("{\"duration\": \"abc\"}").err().unwrap();
        assert!(e.0[0].summary.contains("\"abc\""), "{}", e.0[0].summary);
        assert_eq!(e.0[0].span.as_ref().unwrap().line_col(), (1, 14));
        let e = prepared("{\"duration\": \"1s\",\n \"foo\": 1}").err().unwrap();
        assert!(e.0[0].summary.contains("foo"), "{}", e.0[0].summary);
        assert_eq!(e.0[0].span.as_ref().unwrap().line_col().0, 2);
    }
}
