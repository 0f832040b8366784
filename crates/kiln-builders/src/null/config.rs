//! Options of the `null` builder: only the communicator's (see [`kiln_comm::Config`]).

use serde::Deserialize;

/// The null builder has no options of its own.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Config {}
