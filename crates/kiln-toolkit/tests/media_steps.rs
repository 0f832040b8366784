//! The CD and floppy steps: images written into a temporary directory, read back with the real
//! tools (isoinfo, mtools), removed by the cleanup.

mod support;

use std::collections::BTreeMap;
use std::process::Command;

use kiln_core::step::{Outcome, Step};
use kiln_toolkit::media_steps::{CdConfig, FloppyConfig, StepCreateCd, StepCreateFloppy};
use kiln_toolkit::testing::context;
use kiln_toolkit::CommonState;
use support::{run, tool};

#[tokio::test]
async fn a_cloud_init_cd_is_written_and_removed() {
    let Some(isoinfo) = tool("isoinfo", "genisoimage") else { return };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("extra.sh"), "echo hi\n").unwrap();
    let mut content = BTreeMap::new();
    content.insert("user-data".to_string(), "#cloud-config\n".to_string());
    content.insert("meta-data".to_string(), "instance-id: kiln\n".to_string());
    let config = CdConfig { cd_files: vec!["extra.sh".into()], cd_content: content, cd_label: "cidata".into() };
    let step = StepCreateCd::new(&config, tmp.path());
    let (ctx, rec) = context();
    let mut state = CommonState::default();
    step.run(&mut state, &ctx).await.unwrap();
    let iso = state.cd_path.clone().unwrap();
    assert_eq!(rec.says(), ["Creating CD disk..."]);
    let pvd = run(Command::new(&isoinfo).arg("-d").arg("-i").arg(&iso));
    assert!(pvd.contains("Volume id: cidata"), "{pvd}");
    let read = |name: &str| run(Command::new(&isoinfo).args(["-R", "-i"]).arg(&iso).args(["-x", &format!("/{name}")]));
    assert_eq!(read("user-data"), "#cloud-config\n");
    assert_eq!(read("meta-data"), "instance-id: kiln\n");
    assert_eq!(read("extra.sh"), "echo hi\n");
    assert_eq!(
        <StepCreateCd as Step<CommonState>>::cleans(&step, &state),
        Some(format!("deleting the CD {}", iso.display()))
    );
    step.cleanup(&mut state, &ctx, Outcome::default()).await;
    assert!(!iso.exists() && !iso.parent().unwrap().exists());
    assert!(state.cd_path.is_none());
}

#[tokio::test]
async fn a_floppy_is_written_and_removed_and_nothing_is_made_without_options() {
    let Some(mtype) = tool("mtype", "mtools") else { return };
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("drivers")).unwrap();
    std::fs::write(tmp.path().join("drivers/a.inf"), "[Version]\n").unwrap();
    let config =
        FloppyConfig { floppy_files: vec!["drivers".into()], floppy_label: "KILN".into(), ..FloppyConfig::default() };
    let step = StepCreateFloppy::new(&config, tmp.path());
    let (ctx, rec) = context();
    let mut state = CommonState::default();
    step.run(&mut state, &ctx).await.unwrap();
    let img = state.floppy_path.clone().unwrap();
    assert_eq!(std::fs::metadata(&img).unwrap().len(), 1_474_560);
    assert_eq!(run(Command::new(&mtype).arg("-i").arg(&img).arg("::/a.inf")), "[Version]\n");
    assert_eq!(rec.says(), ["Creating floppy disk..."]);
    step.cleanup(&mut state, &ctx, Outcome { failed: true, cancelled: false }).await;
    assert!(!img.exists());

    let mut state = CommonState::default();
    StepCreateFloppy::new(&FloppyConfig::default(), tmp.path()).run(&mut state, &ctx).await.unwrap();
    assert!(state.floppy_path.is_none());
    // A missing file fails the step with the media writer's message; the cleanup still removes
    // the temporary directory.
    let bad = FloppyConfig { floppy_files: vec!["missing.txt".into()], ..FloppyConfig::default() };
    let step = StepCreateFloppy::new(&bad, tmp.path());
    let mut state = CommonState::default();
    let e = step.run(&mut state, &ctx).await.unwrap_err();
    assert!(e.message.starts_with("creating the floppy disk: "), "{e}");
    let dir = state.floppy_path.clone().unwrap().parent().unwrap().to_path_buf();
    step.cleanup(&mut state, &ctx, Outcome { failed: true, cancelled: false }).await;
    assert!(!dir.exists());
}
