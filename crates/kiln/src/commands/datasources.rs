//! The seam between the template loader and the data source components: the loader asks for a
//! data block's value ([`kiln_template::DataSources`]); kiln-core's runner makes the data source
//! of that type from the registry, configures and executes it. Types kiln has run with the
//! built-in registry; any other type makes kiln look for installed plugins (as Packer finds
//! them, with the template's `required_plugins`; once per command, see [`Components`]) and run
//! the plugin's data source if one has that type.

use std::fmt;
use std::sync::{Arc, OnceLock};

use super::Components;
use kiln_core::datasource::{Request, Runner};
use kiln_template::{DataOutput, DataRequest, Diagnostics, LoadOptions, Value};

struct Bridge {
    components: Arc<Components>,
    builtin: Runner,
    /// The runner over kiln's components and the installed plugins, made on the first data
    /// block of a type kiln does not have.
    with_plugins: OnceLock<Runner>,
}

impl Bridge {
    fn runner_for(&self, r: &DataRequest) -> &Runner {
        use kiln_core::registry::ComponentKind;
        if self.components.builtin().names(ComponentKind::DataSource).contains(&r.ty) {
            return &self.builtin;
        }
        // Discovery's warnings are printed once the template is loaded (Components::registry).
        self.with_plugins.get_or_init(|| Runner::new(Arc::clone(self.components.with_plugins(r.required_plugins))))
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
        let ran = self.runner_for(r).run(&req)?;
        let value = Value::Object(ran.values.iter().map(|(o, v)| (o.name.to_string(), Value::from_json(v))).collect());
        let sensitive = ran.values.iter().filter(|(o, _)| o.sensitive).map(|(o, _)| o.name.to_string()).collect();
        Ok(DataOutput { value, sensitive, warnings: ran.warnings })
    }
}

/// Makes `opts` run the template's data sources with `components` (kiln's, and the installed
/// plugins' when a data block's type is not kiln's).
pub fn run_data_sources(opts: &mut LoadOptions, components: &Arc<Components>) {
    let builtin = Runner::new(Arc::clone(components.builtin()));
    opts.data_sources =
        Some(Arc::new(Bridge { components: Arc::clone(components), builtin, with_plugins: OnceLock::new() }));
}
