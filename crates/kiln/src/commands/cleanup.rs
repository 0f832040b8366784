//! `cleanup`: deletes what killed kiln processes left in the cleanup journal (kiln's own
//! command; Packer has none).

use super::Command;
use crate::args::{flag, FlagKind, Parsed};
use crate::ui::Ui;

pub const COMMAND: Command = Command {
    name: "cleanup",
    synopsis: "delete resources that killed kiln runs left behind",
    usage: "cleanup [options]",
    description:
        "Deletes the resources (containers, cloud instances, key pairs, security groups, unfinished AMIs) that kiln \
                  processes wrote into the cleanup journal and never deleted, because they were killed before \
                  their cleanup ran. Entries of kiln processes still running are left alone. Cloud resources are \
                  reached as the build reached them (region, custom endpoint, profile), with credentials from \
                  the environment. The journal lives in $PACKER_CACHE_DIR/journal (default \
                  ~/.cache/kiln/journal).",
    flags: &[flag("dry-run", FlagKind::Bool, "Only list what would be deleted.")],
    run,
};

fn run(ui: &mut Ui, p: Parsed) -> u8 {
    if let Some(extra) = p.args.first() {
        ui.err(&format!("cleanup takes no arguments (got {extra:?})\n\n{}", COMMAND.help(ui.program())));
        return 1;
    }
    let lines = std::sync::Mutex::new(Vec::new());
    let say = |s: &str| lines.lock().unwrap_or_else(|e| e.into_inner()).push(s.to_string());
    let failed = kiln_core::journal::clean_orphans_now(&kiln_components::registry(), p.bool("dry-run"), &say);
    for l in lines.into_inner().unwrap_or_else(|e| e.into_inner()) {
        ui.out(&format!("{l}\n"));
    }
    u8::from(failed > 0)
}
