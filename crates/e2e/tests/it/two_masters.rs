//! Several master processes serve one PostgreSQL behind a load balancer:
//! two real `slapos master serve` processes take requests concurrently and
//! never allocate one slot twice.

use client::{ClientConfig, MasterUrl, RequestResult, RequestSpec, SlapClient};
use proto::Value;

use crate::process::Server;

const SLOTS: usize = 20;
const REQUESTS: usize = 60;

fn postgres_admin_uri() -> Option<String> {
    match std::env::var("SLAPOS_TEST_POSTGRES_URI") {
        Ok(uri) if !uri.is_empty() => Some(uri),
        _ => {
            assert!(std::env::var_os("CI").is_none(), "SLAPOS_TEST_POSTGRES_URI is not set under CI: run tests/run.sh");
            eprintln!("skipping: SLAPOS_TEST_POSTGRES_URI is not set (tests/run.sh sets it)");
            None
        }
    }
}

async fn drop_database(admin: &str, name: &str) {
    use sqlx::Connection;
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin).await {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await;
    }
}

fn database_name() -> String {
    format!("slapos_e2e_{}", std::process::id())
}

async fn fresh_database(admin: &str) -> String {
    use sqlx::Connection;
    let name = database_name();
    let mut conn = sqlx::PgConnection::connect(admin).await.expect("connect to the test PostgreSQL");
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn).await.expect("drop");
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut conn).await.expect("create");
    let (base, _) = admin.rsplit_once('/').expect("admin uri has a database");
    format!("{base}/{name}")
}

fn client(url: &str) -> SlapClient {
    SlapClient::new(ClientConfig::new(MasterUrl::parse(url).expect("url"))).expect("client")
}

fn computer_description() -> Value {
    let partitions = (0..SLOTS)
        .map(|i| {
            Value::dict_from([
                ("reference", Value::String(format!("slappart{i}"))),
                ("tap", Value::dict_from([("name", Value::str("lo"))])),
                ("address_list", Value::List(Vec::new())),
            ])
        })
        .collect();
    Value::dict_from([
        ("reference", Value::str("computer")),
        ("address", Value::str("127.0.0.1")),
        ("netmask", Value::str("255.0.0.0")),
        ("partition_list", Value::List(partitions)),
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_master_processes_on_one_postgres_never_allocate_a_slot_twice() {
    let Some(admin) = postgres_admin_uri() else { return };
    let database = fresh_database(&admin).await;
    let args = ["master", "serve", "--listen", "127.0.0.1:0", "--computer-id", "computer", "--database-uri", &database];
    let first = Server::start(&args);
    let second = Server::start(&args);
    let clients = [std::sync::Arc::new(client(&first.url)), std::sync::Arc::new(client(&second.url))];
    clients[0].load_computer_configuration(&computer_description()).await.expect("format");

    let mut tasks = Vec::new();
    for i in 0..REQUESTS {
        let client = clients[i % 2].clone();
        tasks.push(tokio::spawn(async move {
            client.request(&RequestSpec::new("http://sr/", format!("instance{i}"))).await
        }));
    }
    let mut slots = Vec::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(RequestResult::Ready(instance)) => slots.push(instance.partition_id.clone()),
            Ok(RequestResult::NotReady) => panic!("the master never answers 408"),
            Err(error) if error.is_not_found() => refused += 1,
            Err(error) => panic!("unexpected error: {error}"),
        }
    }
    assert_eq!((slots.len(), refused), (SLOTS, REQUESTS - SLOTS), "{slots:?}");
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), SLOTS, "a slot was handed out twice");
    // Both masters see the same store.
    for client in &clients {
        let computer = client.full_computer_information("computer").await.expect("computer");
        assert_eq!(computer.partitions.iter().filter(|p| p.need_modification).count(), SLOTS);
    }
    drop(clients);
    drop((first, second));
    drop_database(&admin, &database_name()).await;
}
