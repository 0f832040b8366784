// Baseline: tokio alone, doing something the optimiser cannot remove.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let n = std::env::args().count();
    tokio::time::sleep(std::time::Duration::from_millis(n as u64)).await;
    println!("{n}");
}
