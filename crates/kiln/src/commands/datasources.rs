//! The seam between the template loader and the data source components: the loader asks for a
//! data block's value ([`kiln_template::DataSources`]); kiln-core's runner makes the data source
//! of that type from the registry, configures and executes it. Types kiln has run with the
//! built-in registry; any other type makes kiln look for installed plugins once (as Packer finds
//! them) and run the plugin's data source if one has that type.

use std::fmt;
use std::sync::{Arc, OnceLock};

use kiln_core::datasource::{Request, Runner};
use kiln_core::registry::Registry;
use kiln_template::{DataOutput, DataRequest, Diagnostics, LoadOptions, Value};

struct Bridge {
    builtin: Arc<Registry>,
    runner: Runner,
    /// Built-in components and installed plugins, discovered on the first data block of a type
    /// kiln does not have.
    with_plugins: OnceLock<Runner>,
}

impl Bridge {
    fn runner_for(&self, ty: &str) -> &Runner {
        use kiln_core::registry::ComponentKind;
        if self.builtin.names(ComponentKind::DataSource).contains(&ty) {
            return &self.runner;
        }
        self.with_plugins.get_or_init(|| {
            let settings = kiln_plugin::discover::Settings::from_env();
            // Discovery's warnings are printed once the template is loaded (commands::registry).
            let found = kiln_plugin::discover::discover(&settings, &[]);
            Runner::new(Arc::new(kiln_plugin::discover::register(
                kiln_components::registry(),
                &found,
                &settings.preference,
            )))
        })
    }
}

impl fmt::Debug for Bridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("data sources of the component registry")
    }
}

impl kiln_template::DataSources for Bridge {
    fn run(&self, r: &DataRequest) -> Result<DataOutput, Diagnostics> {
        let req = Request { ty: r.ty, config: r.config, type_span: Some(r.type_span), block_span: Some(r.block_span) };
        let ran = self.runner_for(r.ty).run(&req)?;
        let value = Value::Object(ran.values.iter().map(|(o, v)| (o.name.to_string(), Value::from_json(v))).collect());
        let sensitive = ran.values.iter().filter(|(o, _)| o.sensitive).map(|(o, _)| o.name.to_string()).collect();
        Ok(DataOutput { value, sensitive, warnings: ran.warnings })
    }
}

/// Makes `opts` run the template's data sources with the components of `registry`.
pub fn run_data_sources(opts: &mut LoadOptions, registry: Arc<Registry>) {
    let runner = Runner::new(Arc::clone(&registry));
    opts.data_sources = Some(Arc::new(Bridge { builtin: registry, runner, with_plugins: OnceLock::new() }));
}
