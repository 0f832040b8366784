//! The steps of `amazon-ebs`, in the order the build runs them (see [`super::EbsBuilder::steps`]).

mod access;
mod connect;
mod image;
mod instance;
mod key_pair;
mod network;
mod prevalidate;
mod publish;
mod source_ami;

pub use access::{StepAuthorizeAccess, StepSecurityGroup};
pub use connect::StepConnect;
pub use image::{StepCopyImage, StepCreateImage, StepDeregisterAmi};
pub use instance::{StepInstanceAddress, StepModifyInstance, StepRunInstance, StepStopInstance};
pub use key_pair::StepKeyPair;
pub use network::StepNetworkInfo;
pub use prevalidate::StepPreValidate;
pub use publish::{StepCreateTags, StepImageLifecycle, StepModifyAttributes};
pub use source_ami::StepSourceAmi;

use crate::client::Tags;

/// Says each tag as Packer does (`Adding tag: "Name": "Packer Builder"`).
fn report_tags(ui: &kiln_core::Ui, tags: &Tags) {
    for (k, v) in tags {
        ui.message(format!("Adding tag: {k:?}: {v:?}"));
    }
}

/// Renders a tag option with the build data, as a build error when it fails.
fn render_tags(
    state: &super::State,
    tags: &std::collections::BTreeMap<String, String>,
    option: &str,
) -> kiln_core::Result<Tags> {
    crate::common::tags::render_tags(tags, &state.build_data, option).map_err(kiln_core::Error::new)
}
