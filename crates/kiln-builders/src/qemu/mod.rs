//! The `qemu` builder's own parts: everything that knows QEMU. The builder composes them with
//! the toolkit's common steps:
//!
//! | step | this module |
//! |---|---|
//! | StepCreateDisk | [`disk::DiskPlan::new`], [`disk::DiskPlan::create`] |
//! | StepRun (start the VM) | [`accel::detect`], [`tpm::Swtpm`] (`vtpm`), [`args::command_line`], [`vm::Vm::start`], [`vm::Vm::connect_qmp`], [`accel::watch_start`] |
//! | StepTypeBootCommand | [`bootcommand::parse`], [`bootcommand::steps`], [`bootcommand::type_steps`] |
//! | StepConnectWhenUp | [`netwatch`]: connect once the guest's network is up and its sshd answers |
//! | StepDriveUploads | [`upload::DriveUpload`]: large uploads through a hot-plugged disk |
//! | (while provisioning) | [`vm::watch`]: the guest died, fail now |
//! | StepWaitForShutdown | [`vm::Vm::wait_timeout`], [`vm::Vm::stop`] |
//! | StepConvertDisk | [`disk::DiskPlan::finish`] |
//!
//! [`config`] holds the options and [`config::Config::check`] their checks. Child processes
//! (QEMU, qemu-img) go through [`process`]: their own process group, killed on drop.

pub mod accel;
pub mod args;
pub mod bootcommand;
mod builder;
mod check;
pub mod config;
pub mod disk;
pub mod keys;
pub mod netwatch;
pub mod process;
pub mod qmp;
mod snapshot;
mod state;
mod steps;
pub mod tpm;
pub mod upload;
pub mod vm;

pub use builder::{new, QemuBuilder, BUILDER_ID, GENERATED};
pub use config::{BootConfig, Config};
pub use snapshot::{clean_snapshot, CACHE_SNAPSHOT};
