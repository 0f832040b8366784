//! The seam between the template loader and the data source components: the loader asks for a
//! data block's value ([`kiln_template::DataSources`]); kiln-core's runner makes the data source
//! of that type from the registry, configures and executes it.

use std::fmt;
use std::sync::Arc;

use kiln_core::datasource::{Request, Runner};
use kiln_core::registry::Registry;
use kiln_template::{DataOutput, DataRequest, Diagnostics, LoadOptions, Value};

struct Bridge {
    runner: Runner,
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("data sources of the component registry")
    }
}

impl kiln_template::DataSources for Bridge {
    fn run(&self, r: &DataRequest) -> Result<DataOutput, Diagnostics> {
        let req = Request { ty: r.ty, config: r.config, type_span: Some(r.type_span), block_span: Some(r.block_span) };
        let ran = self.runner.run(&req)?;
        let value = Value::Object(ran.values.iter().map(|(o, v)| (o.name.to_string(), Value::from_json(v))).collect());
        let sensitive = ran.values.iter().filter(|(o, _)| o.sensitive).map(|(o, _)| o.name.to_string()).collect();
        Ok(DataOutput { value, sensitive, warnings: ran.warnings })
    }
}

/// Makes `opts` run the template's data sources with the components of `registry`.
pub fn run_data_sources(opts: &mut LoadOptions, registry: Arc<Registry>) {
    opts.data_sources = Some(Arc::new(Bridge { runner: Runner::new(registry) }));
}
