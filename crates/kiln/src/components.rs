//! The one registry table: every component type kiln runs, by the name templates use.

use kiln_core::registry::Registry;

pub fn registry() -> Registry {
    Registry::new()
        // Builders
        .builder("file", kiln_builders::file::new)
        .builder("null", kiln_builders::null::new)
        // Provisioners
        .provisioner("breakpoint", kiln_provisioners::breakpoint::new)
        .provisioner("file", kiln_provisioners::file::new)
        .provisioner("shell", kiln_provisioners::shell::new)
        .provisioner("shell-local", kiln_provisioners::shell_local::new)
        // Post-processors
        .post_processor("artifice", kiln_post::artifice::new)
        .post_processor("checksum", kiln_post::checksum::new)
        .post_processor("compress", kiln_post::compress::new)
        .post_processor("manifest", kiln_post::manifest::new)
        .post_processor("shell-local", kiln_post::shell_local::new)
}
