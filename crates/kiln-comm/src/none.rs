//! The `none` communicator: for builds without a machine to talk to. Every use is an error
//! that says so.

use std::path::Path;

use kiln_core::communicator::{Reader, Writer};
use kiln_core::{async_trait, Communicator, Error, ExecIo, Result, UploadMeta};

pub struct NoneComm;

fn refuse(what: &str) -> Error {
    Error::new(format!(
        "cannot {what}: the build uses communicator \"none\"; set \"communicator\" (for example to \"ssh\") to reach the machine"
    ))
}

#[async_trait]
impl Communicator for NoneComm {
    async fn exec(&self, _command: &str, _io: ExecIo<'_>) -> Result<Option<i32>> {
        Err(refuse("run a command"))
    }
    async fn upload(&self, _dst: &str, _src: Reader<'_>, _meta: UploadMeta) -> Result<()> {
        Err(refuse("upload"))
    }
    async fn upload_dir(&self, _dst: &str, _src: &Path, _exclude: &[String]) -> Result<()> {
        Err(refuse("upload"))
    }
    async fn download(&self, _src: &str, _dst: Writer<'_>) -> Result<()> {
        Err(refuse("download"))
    }
    async fn download_dir(&self, _src: &str, _dst: &Path, _exclude: &[String]) -> Result<()> {
        Err(refuse("download"))
    }
}
