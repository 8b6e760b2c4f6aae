//! Racing requesters: exactly one winner per slot, nothing half-written,
//! also across two masters sharing one database.

use axum::http::StatusCode;
use master::{AppState, MasterConfig, Store};

use crate::on_both_engines;
use crate::support::{attr, attr_str, partitions, Master, Order};

const RACERS: usize = 50;

async fn race_for_last_slot(master: Master) {
    master.format("computer", 1).await;
    let master = std::sync::Arc::new(master);
    let mut tasks = Vec::new();
    for i in 0..RACERS {
        let master = master.clone();
        tasks.push(tokio::spawn(async move { Order::new(&format!("racer{i}")).send(&master).await }));
    }
    let mut winners = 0;
    for task in tasks {
        let (status, _, body) = task.await.expect("task");
        match status {
            StatusCode::OK => winners += 1,
            StatusCode::NOT_FOUND => assert!(body.contains("No free computer partition found for: racer"), "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(winners, 1, "exactly one racer gets the last slot");
    let computer = master.computer("computer").await;
    let busy: Vec<_> = partitions(&computer).into_iter().filter(|p| attr(p, "_need_modification") == &proto::Value::Int(1)).collect();
    assert_eq!(busy.len(), 1);
}
on_both_engines!(fifty_requesters_race_for_the_last_slot, race_for_last_slot);

async fn race_on_one_title(master: Master) {
    master.format("computer", 5).await;
    let master = std::sync::Arc::new(master);
    let tasks: Vec<_> = (0..RACERS)
        .map(|_| {
            let master = master.clone();
            tokio::spawn(async move { Order::new("same").ok(&master).await })
        })
        .collect();
    let mut slots = std::collections::BTreeSet::new();
    for task in tasks {
        slots.insert(attr_str(&task.await.expect("task"), "slap_computer_partition_id").to_owned());
    }
    assert_eq!(slots.len(), 1, "one instance, one slot: {slots:?}");
}
on_both_engines!(concurrent_identical_requests_allocate_once, race_on_one_title);

/// Two masters (two pools, no shared process state) on one PostgreSQL
/// database never hand out one slot twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_masters_on_one_postgres_never_share_a_slot() {
    let Some(admin) = crate::support::postgres_admin_uri() else { return };
    let (uri, name) = crate::support::fresh_postgres_database(&admin).await;
    let first = Store::open(&uri).await.expect("first master store");
    let second = Store::open(&uri).await.expect("second master store");
    let apps = [
        master::app(AppState::new(first.clone(), MasterConfig::new("computer"))),
        master::app(AppState::new(second.clone(), MasterConfig::new("computer"))),
    ];
    // Format through the first master (the fixture only lends its helpers).
    let mut formatter = Master::sqlite().await;
    formatter.app = apps[0].clone();
    formatter.format("computer", 10).await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let app = apps[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut through = Master::sqlite().await;
            through.app = app;
            Order::new(&format!("i{i}")).send(&through).await
        }));
    }
    let mut slots = Vec::new();
    for task in tasks {
        let (status, value, _) = task.await.expect("task");
        if status == StatusCode::OK {
            slots.push(attr_str(&value.expect("answer"), "slap_computer_partition_id").to_owned());
        }
    }
    assert_eq!(slots.len(), 10, "ten slots, ten winners: {slots:?}");
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), 10, "no slot handed out twice");
    first.close().await;
    second.close().await;
    crate::support::drop_postgres_database(&admin, &name).await;
}
