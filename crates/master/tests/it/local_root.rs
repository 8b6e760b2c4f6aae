//! Local software release URLs follow the proxy's directory when it moves.

use crate::support::{attr, attr_str, Master};

#[tokio::test]
async fn moving_the_local_root_rebases_local_urls_only() {
    let master = Master::sqlite().await;
    let old = master.store_dir().join("0/opt");
    let new = master.store_dir().join("1/opt");
    let old_root = old.display().to_string();
    let local_url = format!("{old_root}/soft/software.cfg");
    master.store.rebase_local_software_root(&old_root).await.expect("first root");
    for url in [local_url.as_str(), "http://sr//"] {
        master.post("/supplySupply", &[("url", url), ("computer_id", "computer"), ("state", "available")]).await;
    }
    master.store.rebase_local_software_root(&new.display().to_string()).await.expect("moved root");
    let computer = master.computer("computer").await;
    let urls: Vec<String> = attr(&computer, "_software_release_list")
        .as_seq()
        .expect("list")
        .iter()
        .map(|r| attr_str(r, "_software_release").to_owned())
        .collect();
    assert_eq!(urls, [format!("{}/soft/software.cfg", new.display()), "http://sr//".to_owned()]);
    // Moving into a subpath of the root rebases nothing.
    master.store.rebase_local_software_root(&format!("{}/sub", new.display())).await.expect("subpath");
    let again = master.computer("computer").await;
    assert_eq!(attr(&again, "_software_release_list"), attr(&computer, "_software_release_list"));
}
